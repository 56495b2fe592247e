"""Where the stack keeps its state and which resolution step a caller forces."""

from __future__ import annotations

import enum
import os
from collections.abc import Mapping
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


class DevstackError(Exception):
    """A failure the user can act on; its message is shown as one line, without a traceback."""


class Source(enum.StrEnum):
    """The resolution steps of docs/development.md, in the order they are tried."""

    ENV = "env"
    LOCAL = "local"
    PRIVATE = "private"
    EMBEDDED = "embedded"


def var_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The state directory: ``CRM_VAR_DIR`` so tests can use a temporary one, else ``.var`` in the repository."""
    environ = os.environ if environ is None else environ
    configured = environ.get("CRM_VAR_DIR")
    path = Path(configured).resolve() if configured else REPO_ROOT / ".var"
    path.mkdir(parents=True, exist_ok=True)
    return path


def forced_source(environ: Mapping[str, str] | None = None) -> Source | None:
    """``CRM_DEVSTACK_FORCE`` pins one step (and disables the fallbacks) so each path can be tested on any machine."""
    environ = os.environ if environ is None else environ
    value = environ.get("CRM_DEVSTACK_FORCE", "").strip().lower()
    if not value:
        return None
    try:
        return Source(value)
    except ValueError:
        choices = ", ".join(source.value for source in Source)
        raise DevstackError(f"CRM_DEVSTACK_FORCE must be one of {choices}, not {value!r}") from None
