"""Operator commands are contracts (docs/commands.md): bad arguments exit 2 with one line, no usage dump."""

from __future__ import annotations

import subprocess
import sys

import pytest
from django.core.management import get_commands, load_command_class

from dealers.commands import ContractCommand
from tests.support.servers import ROOT

OUR_APPS = {"crm", "dealers", "sync", "ha"}
OUR_COMMANDS = sorted(name for name, app in get_commands().items() if app in OUR_APPS)


def test_the_contracted_commands_exist() -> None:
    assert {"seed_demo", "create_api_key", "ha", "sync_status", "sync_replay"} <= set(OUR_COMMANDS)


@pytest.mark.parametrize("name", OUR_COMMANDS)
def test_every_operator_command_is_a_contract_command(name: str) -> None:
    assert isinstance(load_command_class(get_commands()[name], name), ContractCommand)


@pytest.mark.parametrize("name", ["sync_replay", "sync_status", "create_api_key", "seed_demo"])
def test_bad_arguments_exit_non_zero_with_one_line(name: str) -> None:
    result = subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", name, "--no-such-option"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode != 0
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
