"""The replica alias and router without a standby (crm/replica.py); tests/crm/test_replica_reads.py has one."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from crm import replica
from crm.models import Prospect
from tests.support.servers import ROOT


def test_without_a_replica_every_eligible_read_goes_to_the_primary(settings) -> None:
    assert "replica" not in settings.DATABASES
    assert replica.read_alias() == "default"
    assert replica.read_with_fallback(lambda using: using) == "default"


def test_writes_go_to_the_primary_whatever_an_instance_was_read_from_and_the_replica_is_never_migrated() -> None:
    router = replica.PrimaryWritesRouter()
    read_there = Prospect()
    read_there._state.db = "replica"
    assert router.db_for_write(Prospect, instance=read_there) == "default"
    assert router.db_for_read(Prospect) is None  # reads stay on the default unless a caller chose
    assert router.allow_migrate("replica", "crm") is False
    assert router.allow_migrate("default", "crm") is None


def test_the_replica_alias_takes_the_primarys_options_with_a_short_pool_wait_and_checked_connections() -> None:
    script = """
import json
from django.conf import settings
replica, default = settings.DATABASES["replica"], settings.DATABASES["default"]
print(json.dumps({
    "host": replica["HOST"], "port": replica["PORT"], "name": replica["NAME"],
    "checks": replica["CONN_HEALTH_CHECKS"], "mirror": replica["TEST"]["MIRROR"],
    "timeout": replica["OPTIONS"]["pool"]["timeout"], "default_timeout": default["OPTIONS"]["pool"]["timeout"],
    "reset": replica["OPTIONS"]["pool"]["reset"] is default["OPTIONS"]["pool"]["reset"],
    "options": replica["OPTIONS"].get("options") == default["OPTIONS"].get("options"),
}))
"""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "crm.settings",
        "DATABASE_URL": "postgres://crm_app:x@10.0.0.1:5432/crm",
        "DATABASE_REPLICA_URL": "postgres://crm_app:x@10.0.0.2:5433/crm",
        "DB_CONNECT_TIMEOUT": "2",
        "DB_POOL_TIMEOUT": "10",
    }
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    assert json.loads(result.stdout) == {
        "host": "10.0.0.2",
        "port": 5433,
        "name": "crm",
        "checks": True,
        "mirror": "default",
        "timeout": 2.0,
        "reset": True,
        "default_timeout": 10.0,
        "options": True,
    }
