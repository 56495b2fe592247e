"""The growth curve: p99 against data size per endpoint (work in progress: lands in a later commit)."""

from __future__ import annotations

from pathlib import Path


def chart(results: list[Path], output: Path) -> None:
    raise NotImplementedError("bench/growth.py: the chart lands in a later commit")
