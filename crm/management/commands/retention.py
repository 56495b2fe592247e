"""``manage.py retention [--dry-run]``: apply the retention rules now, or show what the next run would do.

Prints one line per enabled rule (``<kind>: <count> to <action>``) and, with ``--dry-run`` or ``-v 2``,
the ids; the run's report is kept as a ``RetentionRun`` row either way. Exit code 0, or 1 when a row failed.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from crm.models import RetentionRun
from crm.services.retention import run_retention
from dealers.actors import Actor
from dealers.commands import ContractCommand


class Command(ContractCommand):
    help = "Apply the data protection officer's retention rules; --dry-run only reports what would be done."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="change nothing; list what the next run takes")

    def handle(self, *args: Any, **options: Any) -> None:
        dry_run = options["dry_run"]
        run = run_retention(
            actor=Actor.system("retention command"), trigger=RetentionRun.Trigger.COMMAND, dry_run=dry_run
        )
        self.stdout.write(f"retention {'dry run' if dry_run else 'run'} {run.pk}")
        failed = False
        for kind, entry in run.report.items():
            verb = "would" if dry_run else "did"
            line = f"{kind}: {entry.get('count', 0)} ({verb} {entry.get('action')})"
            if entry.get("skipped"):
                line += f" skipped: {entry['skipped']}"
            if entry.get("failed"):
                failed = True
                line += f" failed: {len(entry['failed'])}"
            self.stdout.write(line)
            if dry_run or options["verbosity"] >= 2:
                for pk in entry.get("ids", []):
                    self.stdout.write(f"  {pk}")
        if failed:
            raise SystemExit(1)
