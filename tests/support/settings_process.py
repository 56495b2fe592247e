"""Run Python in a fresh process under ``crm.settings`` with a given environment, as a node would start."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SETUP = "import django; django.setup(); from django.conf import settings; "


def run_with_settings(
    env: dict[str, str], code: str = "", *, drop: Callable[[str], bool] = lambda name: False
) -> subprocess.CompletedProcess[str]:
    """``code`` after ``django.setup()`` (``settings`` imported), with ``env`` over this process's environment
    less the variables ``drop`` names."""
    inherited = {name: value for name, value in os.environ.items() if not drop(name)}
    return subprocess.run(  # noqa: S603
        [sys.executable, "-c", SETUP + code],
        cwd=ROOT,
        env={**inherited, "DJANGO_SETTINGS_MODULE": "crm.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
