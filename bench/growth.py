"""The growth curve: p99 per endpoint against data size, from full runs at several sizes.

``python -m bench chart bench/results/rows-1000000.json bench/results/rows-3000000.json ...`` draws
``docs/performance-growth.png`` (matplotlib, ``pip install -e .[bench]``) and prints the Markdown table
for docs/performance.md. Each file is what ``make bench`` wrote for one loaded size (``rows-<n>.json``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# results that carry a p99 (extra["p99_ms"] or the value itself, in ms), in the order of the table
SERIES = (
    "size_api_detail",
    "size_lead_inbox",
    "size_prospect_list",
    "size_dashboard",
    "size_change_feed",
    "api_prospect_list_p99",
    "deep_page_api",
    "deep_page_ui",
    "lead_intake_to_delivery",
    "search_substring_name",
    "search_substring_email",
    "search_substring_phone",
    "search_no_match",
    "search_typo_top20",
)


def p99_of(result: dict[str, Any]) -> float | None:
    if "p99_ms" in result.get("extra", {}):
        return float(result["extra"]["p99_ms"])
    if result.get("unit") == "ms":
        return float(result["value"])
    return None


def table(runs: list[dict[str, Any]]) -> str:
    """Markdown: one row per endpoint, one column per size (p99 ms), and the verdicts of the largest run."""
    sizes = [run["rows"] for run in runs]
    head = "| p99 (ms) | " + " | ".join(f"{n:,}" for n in sizes) + " |"
    lines = [head, "|---|" + "---:|" * len(sizes)]
    for name in SERIES:
        cells = []
        for run in runs:
            found = next((r for r in run["results"] if r["name"] == name), None)
            value = p99_of(found) if found else None
            cells.append("" if value is None else f"{value:.1f}")
        if any(cells):
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def chart(paths: list[Path], output: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = sorted((json.loads(p.read_text()) for p in paths), key=lambda run: run["rows"])
    figure, axes = plt.subplots(figsize=(10.5, 5.5), dpi=110)
    palette = plt.get_cmap("tab20")  # one colour per series (the default cycle repeats after ten)
    colours = [palette(i / max(1, len(SERIES) - 1)) for i in range(len(SERIES))]
    for number, name in enumerate(SERIES):
        points = []
        for run in runs:
            found = next((r for r in run["results"] if r["name"] == name), None)
            value = p99_of(found) if found else None
            if value is not None:
                points.append((run["rows"], value))
        if points:
            xs, ys = zip(*points, strict=True)
            style = "--" if name.startswith("search_") else "-"
            axes.plot(xs, ys, style, marker="o", label=name, color=colours[number])
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("prospects in the database")
    axes.set_ylabel("p99 latency (ms)")
    machine = runs[-1]["machine"] if runs else {}
    axes.set_title(f"p99 against data size ({machine.get('cores', '?')} cores, {machine.get('cpu', '')[:40]})")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    figure.tight_layout()
    output.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(output)
    print(table(runs))
    print(f"\nwrote {output}")
