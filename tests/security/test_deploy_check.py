"""``manage.py check --deploy`` with production settings is clean (issue 9, item 8; Django's deployment checklist)."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.security.production import PRODUCTION_ENV
from tests.support.servers import ROOT


def test_check_deploy_with_production_settings_reports_nothing() -> None:
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "SECURE_", "HA_", "METRICS_"))}
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={**inherited, **PRODUCTION_ENV},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert "WARNINGS" not in result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout
