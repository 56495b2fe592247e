"""German is the default language: every string has a German translation, and the compiled catalogue is current.

The .po file is parsed with a small stdlib parser (no msgfmt needed, so these tests never skip); the .mo file is
read with gettext.GNUTranslations, exactly as Django reads it.
"""

from __future__ import annotations

import ast
import gettext
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

LOCALE_DIR = Path(settings.BASE_DIR) / "locale"
GERMAN_PO = LOCALE_DIR / "de" / "LC_MESSAGES" / "django.po"
GERMAN_MO = LOCALE_DIR / "de" / "LC_MESSAGES" / "django.mo"

# %(name)s, %(n)d, %(m)02d, %s, %d and {name} / {}: what the code substitutes into a message.
PLACEHOLDER = re.compile(r"%\(\w+\)[-+ #0]*\d*(?:\.\d+)?[sdfir]|%[sdifr]|\{\w*\}")


@dataclass
class Entry:
    line: int
    flags: set[str] = field(default_factory=set)
    msgctxt: str | None = None
    msgid: str = ""
    msgid_plural: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)  # index 0 for a singular message

    @property
    def key(self) -> str:
        return self.msgid if self.msgctxt is None else f"{self.msgctxt}\x04{self.msgid}"

    def __str__(self) -> str:
        return f"line {self.line}: {self.msgid!r}"


def parse_po(path: Path) -> list[Entry]:
    """The active (non-obsolete) entries of a .po file, the header excluded."""
    entries: list[Entry] = []
    current: Entry | None = None
    target: tuple[str, int] | None = None  # which field continuation lines ("...") extend

    def append(text: str) -> None:
        assert current is not None, "a continuation line outside an entry"
        assert target is not None, "a continuation line before any keyword"
        name, index = target
        if name == "msgstr":
            current.msgstr[index] = current.msgstr.get(index, "") + text
        else:
            setattr(current, name, (getattr(current, name) or "") + text)

    def start(lineno: int) -> Entry:
        entry = Entry(line=lineno)
        entries.append(entry)
        return entry

    for lineno, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#~"):  # blank line ends an entry; #~ marks obsolete ones
            if not line:
                current, target = None, None
            continue
        if line.startswith("#,"):
            current = current or start(lineno)
            current.flags |= {flag.strip() for flag in line[2:].split(",")}
            continue
        if line.startswith("#"):
            current = current or start(lineno)
            continue
        keyword, _, rest = line.partition(" ")
        if line.startswith('"'):
            append(ast.literal_eval(line))
            continue
        current = current or start(lineno)
        if current.msgid and keyword in ("msgctxt", "msgid"):  # a new entry without a separating blank line
            current = start(lineno)
        match = re.fullmatch(r"msgstr\[(\d+)\]", keyword)
        if match:
            target = ("msgstr", int(match.group(1)))
        elif keyword == "msgstr":
            target = ("msgstr", 0)
        elif keyword in ("msgctxt", "msgid", "msgid_plural"):
            target = (keyword, 0)
        else:
            raise AssertionError(f"{path}:{lineno}: cannot parse {raw!r}")
        append(ast.literal_eval(rest))
    return [e for e in entries if e.msgid or e.msgctxt]  # drop comment-only blocks and the header (msgid "")


@pytest.fixture(scope="module")
def german() -> list[Entry]:
    entries = parse_po(GERMAN_PO)
    assert len(entries) > 100, "the German catalogue looks truncated"
    return entries


def test_every_german_message_is_translated(german: list[Entry]) -> None:
    untranslated = [
        str(e)
        for e in german
        if not e.msgstr or any(not text for text in e.msgstr.values()) or (e.msgid_plural and len(e.msgstr) < 2)
    ]
    assert untranslated == [], "run makemessages, then translate these:\n" + "\n".join(untranslated)


def test_no_german_message_is_fuzzy(german: list[Entry]) -> None:
    fuzzy = [str(e) for e in german if "fuzzy" in e.flags]
    assert fuzzy == [], "check these suggestions and remove the fuzzy flag:\n" + "\n".join(fuzzy)


def test_german_messages_keep_the_placeholders_of_the_english(german: list[Entry]) -> None:
    broken = []
    for e in german:
        for index, text in e.msgstr.items():
            source = e.msgid_plural if (index > 0 and e.msgid_plural) else e.msgid
            if sorted(PLACEHOLDER.findall(text)) != sorted(PLACEHOLDER.findall(source)):
                broken.append(f"{e} -> {text!r}")
    assert broken == [], "placeholders differ:\n" + "\n".join(broken)


def test_compiled_german_catalogue_matches_the_po_file(german: list[Entry]) -> None:
    """A stale .mo (someone forgot compilemessages) shows English or old wording in the running app."""
    with GERMAN_MO.open("rb") as fp:
        catalog = gettext.GNUTranslations(fp)._catalog
    stale = []
    for e in german:
        if e.msgid_plural:
            compiled = {i: catalog.get((e.key, i)) for i in e.msgstr}
            if compiled != e.msgstr:
                stale.append(str(e))
        elif catalog.get(e.key) != e.msgstr.get(0):
            stale.append(str(e))
    assert stale == [], "run `manage.py compilemessages`; the .mo lacks or differs for:\n" + "\n".join(stale)


def test_parser_reads_plurals_contexts_flags_and_continuations(tmp_path: Path) -> None:
    po = tmp_path / "django.po"
    po.write_text(
        'msgid ""\nmsgstr ""\n"Language: de\\n"\n\n'
        '#: a.py:1\n#, fuzzy, python-format\nmsgid "%(n)s row"\nmsgid_plural "%(n)s rows"\n'
        'msgstr[0] "%(n)s Eintrag"\nmsgstr[1] ""\n\n'
        'msgctxt "month"\nmsgid ""\n"May"\nmsgstr "Mai"\n\n'
        '#~ msgid "Gone"\n#~ msgstr ""\n',
        encoding="utf-8",
    )
    rows, may = parse_po(po)
    assert (rows.msgid, rows.msgid_plural, rows.msgstr) == ("%(n)s row", "%(n)s rows", {0: "%(n)s Eintrag", 1: ""})
    assert rows.flags == {"fuzzy", "python-format"}
    assert (may.key, may.msgstr) == ("month\x04May", {0: "Mai"})


@pytest.mark.parametrize(
    ("language", "expected", "absent"),
    [
        ("de", ["Anmelden", "Passwort vergessen?", "E-Mail-Adresse", "Passwort"], ["Sign in", "Forgot your password?"]),
        ("en", ["Sign in", "Forgot your password?", "Email address", "Password"], ["Anmelden", "Passwort vergessen?"]),
    ],
)
def test_login_page_speaks_the_requested_language(
    client, db: None, language: str, expected: list[str], absent: list[str]
) -> None:
    response = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE=language)
    html = response.content.decode()
    assert response.status_code == 200
    assert f'<html lang="{language}">' in html
    for text in expected:
        assert text in html
    for text in absent:
        assert text not in html


def test_login_page_is_german_without_a_language_preference(client, db: None) -> None:
    html = client.get(reverse("login")).content.decode()
    assert "Anmelden" in html
    assert "Sign in" not in html


@pytest.mark.parametrize(
    ("language", "expected", "absent"),
    [
        ("de", ["Übersicht", "Interessenten", "Aufgaben", "Berichte", "Abmelden", "Kennzahlen"], ["Sign out", "Tasks"]),
        ("en", ["Dashboard", "Prospects", "Tasks", "Reports", "Sign out", "Key figures"], ["Abmelden", "Aufgaben"]),
    ],
)
def test_dashboard_speaks_the_requested_language(
    dealer_a, client_for, language: str, expected: list[str], absent: list[str]
) -> None:
    client = client_for(dealer_a.user("sales_manager"))
    response = client.get(reverse("dashboard"), HTTP_ACCEPT_LANGUAGE=language)
    html = response.content.decode()
    assert response.status_code == 200
    for text in expected:
        assert text in html
    for text in absent:
        assert text not in html
