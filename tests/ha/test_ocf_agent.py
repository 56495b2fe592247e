"""The OCF resource agent passes the cluster stack's own conformance tester (ocf-tester)."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
from django.db import connection

from tests.support.servers import ROOT, database_url, free_port

AGENT = ROOT / "ha" / "ocf" / "dealer-crm"


@pytest.mark.django_db(transaction=True)
def test_resource_agent_passes_ocf_tester(tmp_path) -> None:
    tester = shutil.which("ocf-tester")
    assert tester, "ocf-tester missing: `make test` installs Debian's resource-agents"
    env_file = tmp_path / "crm.env"
    env_file.write_text(
        f"DATABASE_URL={database_url(connection.settings_dict)}\nDJANGO_ENV=test\nHA_STATE_DIR={tmp_path / 'ha'}\n"
    )
    result = subprocess.run(  # noqa: S603
        [
            tester,
            "-n",
            "crm",
            "-o",
            f"app_dir={ROOT}",
            "-o",
            f"python={sys.executable}",
            "-o",
            f"env_file={env_file}",
            "-o",
            f"bind=127.0.0.1:{free_port()}",
            "-o",
            f"pidfile={tmp_path / 'gunicorn.pid'}",
            str(AGENT),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "passed all tests" in result.stdout
