"""``manage.py restore FILE [--into NAME] [--replace] [--with-files] [--no-reapply]``: a backup, into a fresh database.

Steps: read the erasure tombstones of the database in use; create the database NAME (default
``<current>_restored_<time>``) and pg_restore FILE into it; re-apply there the erasures recorded after
the backup and start a new change-feed epoch (``feed_epoch --bump``), both in one ``manage.py``
process against NAME. ``--with-files`` puts the file drop folders back
(what is there now moves aside); ``--replace`` then gives NAME the app database's name, and the
replaced database stays under ``<current>_before_restore_<time>``.

Prints the restored database's name. Exit codes: 0 done, 1 a step failed (one line on stderr;
nothing of the database in use is changed unless ``--replace`` was reached), 2 bad arguments.
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.core.management import call_command
from django.core.management.base import CommandError, CommandParser
from django.db import DatabaseError

from crm import backups
from crm.backups import Backup, BackupError
from dealers.actors import Actor
from dealers.commands import ContractCommand

_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class Command(ContractCommand):
    help = "Restore a backup into a fresh database, re-apply later erasures and bump the feed epoch."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", nargs="?", type=Path, help="the backup's .dump file")
        parser.add_argument(
            "--into", default="", help="name of the fresh database (default: <current>_restored_<time>)"
        )
        parser.add_argument(
            "--replace", action="store_true", help="afterwards the restored database takes the app's name"
        )
        parser.add_argument("--with-files", action="store_true", help="also put the file drop folders back")
        parser.add_argument(
            "--no-reapply",
            action="store_true",
            help="the database in use is lost: restore without re-applying its erasures (say so to the DPO)",
        )
        # The step run against the restored database: re-apply the erasures, then start a new feed epoch.
        parser.add_argument("--reapply-erasures", type=Path, help=argparse.SUPPRESS)
        parser.add_argument("--bump-reason", default="", help=argparse.SUPPRESS)

    def handle(self, *args: Any, **options: Any) -> None:
        if options["reapply_erasures"]:
            self._reapply(options["reapply_erasures"])
            call_command("feed_epoch", "--bump", "--reason", options["bump_reason"], stdout=self.stdout)
            return
        if options["file"] is None:
            raise CommandError("the backup's .dump file is required, e.g. backups/crm-<time>.dump", returncode=2)
        into = options["into"] or f"{backups.database_name()}_restored_{datetime.now(UTC):%Y%m%d%H%M%S}"
        if not _NAME.match(into):
            raise CommandError(f"--into {into!r}: a lower-case name of letters, digits and _", returncode=2)
        try:
            self._restore(Backup.named(options["file"]), into, options)
        except (BackupError, DatabaseError) as error:
            self.stderr.write(f"restore: {error}")
            raise SystemExit(1) from error

    def _restore(self, backup: Backup, into: str, options: dict[str, Any]) -> None:
        if not backup.dump.is_file():
            raise BackupError(f"no such backup: {backup.dump}")
        tombstones = [] if options["no_reapply"] else backups.tombstones_in_use()
        backups.create_database(into)
        backups.restore_dump(backup, into)
        with tempfile.NamedTemporaryFile("w", suffix=".json", prefix="tombstones-") as file:
            json.dump(tombstones, file)
            file.flush()
            reason = f"restored from backup {backup.dump.name}"
            step = ["restore", "--reapply-erasures", file.name, "--bump-reason", reason]
            self.stderr.write(backups.manage_py(step, dbname=into).strip())
        if options["with_files"]:
            for name, path in backups.restore_files(backup).items():
                self.stderr.write(f"files {name} restored to {path}")
        if options["replace"]:
            aside = backups.swap_databases(current=backups.database_name(), restored=into)
            self.stderr.write(f"the replaced database is kept as {aside}")
            into = backups.database_name()
        self.stdout.write(into)

    def _reapply(self, path: Path) -> None:
        tombstones = json.loads(path.read_text())
        counts = backups.reapply_erasures(tombstones, actor=Actor.system("restore"))
        self.stdout.write(f"erasures re-applied: {counts['erased']} prospects, {counts['tombstones']} tombstones")
