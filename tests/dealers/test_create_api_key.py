"""``manage.py create_api_key``: prints the new key once on one line; bad arguments exit non-zero with one line."""

from __future__ import annotations

import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from dealers.api_keys import verify_api_key
from dealers.models import ApiKey
from tests.conftest import DealerSetup
from tests.support.app_role import owner_url

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str) -> str:
    out = StringIO()
    call_command("create_api_key", *args, stdout=out)
    return out.getvalue()


def test_prints_only_the_new_key_on_one_line(dealer_a: DealerSetup) -> None:
    output = _run("--dealer", dealer_a.dealer.number, "--scopes", "prospects:read,changes:read", "--name", "Autoline")
    assert output.endswith("\n")
    assert output.count("\n") == 1
    key = verify_api_key(output.strip())
    assert key is not None
    assert (key.dealer_id, key.name, key.scopes) == (dealer_a.dealer.pk, "Autoline", ["prospects:read", "changes:read"])


def test_manufacturer_key_for_intake(db: None) -> None:
    key = verify_api_key(_run("--manufacturer", "--scopes", "intake:write").strip())
    assert key is not None
    assert (key.dealer_id, key.scopes) == (None, ["intake:write"])


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["--dealer", "99999", "--scopes", "prospects:read"], "no dealership"),
        (["--dealer", "{number}", "--scopes", "prospects:delete"], "scopes"),
        (["--dealer", "{number}", "--scopes", "intake:write"], "scopes"),
        (["--manufacturer", "--scopes", "leads:read"], "scopes"),
        (["--dealer", "{number}", "--scopes", ","], "scopes"),
    ],
)
def test_bad_arguments_raise_a_command_error_and_create_nothing(args, reason, dealer_a: DealerSetup) -> None:
    with pytest.raises(CommandError, match=reason):
        _run(*[a.format(number=dealer_a.dealer.number) for a in args])
    assert not ApiKey.objects.exists()


@pytest.mark.parametrize(
    "args",
    [
        ["--scopes", "prospects:read"],  # neither --dealer nor --manufacturer
        ["--dealer", "12345", "--manufacturer", "--scopes", "intake:write"],
        ["--dealer", "99999", "--scopes", "prospects:read"],
    ],
)
def test_from_the_shell_bad_arguments_exit_non_zero_with_one_line(args: list[str], db: None, settings) -> None:
    env = {**os.environ, "DATABASE_URL": owner_url(settings.DATABASES["default"]), "DJANGO_ENV": "test"}
    result = subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "create_api_key", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert result.stdout == ""
    lines = [line for line in result.stderr.splitlines() if line.strip() and "level=" not in line]
    assert len(lines) == 1, result.stderr
