"""``manage.py check --deploy`` with production settings is clean (issue 9, item 8; Django's deployment checklist)."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.security.production import PRODUCTION_ENV
from tests.support.servers import ROOT


def _check_deploy(**extra: str) -> subprocess.CompletedProcess[str]:
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "SECURE_", "HA_", "METRICS_"))}
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={**inherited, **PRODUCTION_ENV, **extra},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_deploy_with_production_settings_reports_nothing() -> None:
    result = _check_deploy()

    assert result.returncode == 0, result.stderr
    assert "WARNINGS" not in result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_an_operator_may_opt_out_of_hsts_preload_and_still_deploy_cleanly() -> None:
    """Preloading is a commitment for every subdomain; it is on by default, and switching it off is a choice."""
    result = _check_deploy(SECURE_HSTS_PRELOAD="false")

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues (1 silenced)." in result.stdout
