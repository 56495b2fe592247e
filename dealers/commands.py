"""Base class for operator commands, whose arguments and output are contracts (docs/commands.md).

Operator commands work manufacturer-wide in the database (row-level security, dealers.rls), with the
longer command timeouts; each run logs ``rls_manufacturer_wide`` with ``reason=command:<name>``.
"""

from __future__ import annotations

import sys
from typing import Any, NoReturn

from django.core.management.base import BaseCommand, CommandError, CommandParser

from dealers import rls


class ContractCommand(BaseCommand):
    """Bad arguments end the command with exit code 2 and one line on stderr, never a usage dump or traceback."""

    def execute(self, *args: Any, **options: Any) -> str | None:
        name = type(self).__module__.rpartition(".")[2]
        with rls.manufacturer_wide(reason=f"command:{name}", profile="command"):
            return super().execute(*args, **options)

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)

        def error(message: str) -> NoReturn:
            if parser.called_from_command_line:
                sys.stderr.write(f"{prog_name} {subcommand}: error: {message}\n")
                raise SystemExit(2)
            raise CommandError(message)

        parser.error = error  # type: ignore[method-assign]
        return parser
