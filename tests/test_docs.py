"""The documentation lives in the repository: no link leads outside it, and no link leads nowhere.

Anyone with only a clone must find every public contract in ``docs/``; a reference to a planning
document outside the checkout (a sibling ``shared`` folder), or to a ``docs/`` page that does not
exist, fails here. Checked: Markdown links in ``docs/`` and ``README.md``, and ``docs/<page>.md``
mentions in every text file of the repository (code comments and docstrings included), and that every
setting a docs table lists is read by the code.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("**/*.md"))]
SKIPPED_DIRS = {".git", ".venv", ".var", "node_modules", "__pycache__", ".mypy_cache", ".ruff_cache", "staticfiles"}
TEXT_SUFFIXES = {".py", ".md", ".toml", ".cfg", ".ini", ".txt", ".html", ".sh", ".yml", ".yaml", ".json", ".po"}
TEXT_NAMES = {"Makefile", "dealer-crm", "run"}
# Assembled, so this file does not match itself.
OUTSIDE = ("/".join(["..", "shared"]), "/".join(["", "work", "shared"]), "DESIGN" + ".md")
MARKDOWN_LINK = re.compile(r"\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
DOCS_MENTION = re.compile(r"(?<![\w/.-])docs/([\w./-]+?\.md)\b")


def _text_files() -> list[Path]:
    files = []
    for path in ROOT.rglob("*"):
        if any(part in SKIPPED_DIRS for part in path.relative_to(ROOT).parts):
            continue
        if path.is_file() and (path.suffix in TEXT_SUFFIXES or path.name in TEXT_NAMES):
            files.append(path)
    return files


def _relative(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_the_documentation_has_the_guides_it_promises() -> None:
    names = {path.name for path in DOCS}
    assert {"api.md", "intake.md", "sync.md", "files.md", "high-availability.md", "security.md"} <= names
    assert {"architecture.md", "commands.md", "development.md"} <= names


@pytest.mark.parametrize("page", DOCS, ids=_relative)
def test_every_markdown_link_of_the_documentation_stays_inside_the_repository_and_exists(page: Path) -> None:
    broken = []
    for target in MARKDOWN_LINK.findall(page.read_text("utf-8")):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue  # an absolute URL (http:, mailto:) or an anchor on the same page
        resolved = (page.parent / target.split("#", 1)[0]).resolve()
        if not resolved.is_relative_to(ROOT) or not resolved.exists():
            broken.append(target)
    assert broken == [], f"{_relative(page)} links to what the repository does not have"


def test_the_documentation_names_no_document_outside_the_repository() -> None:
    found = [f"{_relative(page)}: {marker}" for page in DOCS for marker in OUTSIDE if marker in page.read_text("utf-8")]
    assert found == []


def test_no_file_of_the_repository_points_outside_it() -> None:
    found = [
        f"{_relative(path)}: {marker}"
        for path in _text_files()
        for marker in OUTSIDE
        if marker in path.read_text("utf-8", errors="replace")
    ]
    assert found == []


def test_every_docs_page_the_code_and_the_documentation_mention_exists() -> None:
    missing = sorted(
        {
            f"{_relative(path)}: docs/{name}"
            for path in _text_files()
            for name in DOCS_MENTION.findall(path.read_text("utf-8", errors="replace"))
            if not (ROOT / "docs" / name).is_file()
        }
    )
    assert missing == []


def test_the_link_checks_find_what_they_look_for() -> None:
    missing_page = "docs/" + "nowhere.md"  # assembled, so the scan of this file does not find it
    text = f"see [the guide](sync.md#retries), [home](https://example.org/), docs/sync.md and {missing_page}"
    assert MARKDOWN_LINK.findall(text) == ["sync.md#retries", "https://example.org/"]
    assert DOCS_MENTION.findall(text) == ["sync.md", "nowhere.md"]


SETTING_NAME = re.compile(r"`([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)`")
CODE_PACKAGES = ("crm", "dealers", "sync", "ha", "devstack", "bench", "drill")


def _documented_settings() -> dict[str, str]:
    """Names in the first column of every docs table headed ``setting`` or ``name``, with their page."""
    found: dict[str, str] = {}
    for page in DOCS:
        header = ""
        for line in page.read_text("utf-8").splitlines():
            if not line.startswith("|"):
                header = ""
                continue
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            if not header:
                header = cells[0].lower()
            elif header in {"setting", "name", "variable"}:
                for name in SETTING_NAME.findall(cells[0]):
                    found.setdefault(name, _relative(page))
    return found


def test_every_setting_the_documentation_lists_is_read_by_the_code() -> None:
    """EMAIL_HOST, EMAIL_PORT and the SMTP login were documented but never read: an operator's value did nothing.

    So were the NOTIFICATIONS_* settings, which the code looked up with a default of its own.
    """
    documented = _documented_settings()
    assert "EMAIL_HOST" in documented  # the scan finds the tables
    code = "\n".join(path.read_text("utf-8") for package in CODE_PACKAGES for path in (ROOT / package).rglob("*.py"))
    # A default at the place of use is no setting an operator can give: crm/settings.py must read it.
    code = re.sub(r'getattr\(settings, "[A-Z0-9_]+"', "", code)
    unread = sorted(f"{page}: {name}" for name, page in documented.items() if f'"{name}"' not in code)
    assert unread == []
