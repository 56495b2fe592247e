"""``manage.py backup [--into DIR]``: the database (pg_dump, custom format) and the file drop folders.

Prints the dump's path on stdout. Exit codes: 0 done, 1 a step failed (one line on stderr), 2 bad arguments.
The folder defaults to ``CRM_BACKUP_DIR`` or ``backups/`` beside manage.py (git ignores it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import CommandParser

from crm.backups import BackupError, make_backup
from dealers.commands import ContractCommand


class Command(ContractCommand):
    help = "Back up the database and the file drop folders (docs/data-protection.md, Backups)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--into", type=Path, default=None, help="folder for the backup (default: backups/)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            backup = make_backup(options["into"])
        except BackupError as error:
            self.stderr.write(f"backup: {error}")
            raise SystemExit(1) from error
        self.stdout.write(str(backup.dump))
