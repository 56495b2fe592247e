"""``manage.py feed_epoch [--bump --reason TEXT]``: show or start the change feed's epoch (after a restore)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from crm.api.feed import current_epoch
from crm.services.feed import start_new_feed_epoch
from dealers.actors import Actor
from dealers.commands import ContractCommand


class Command(ContractCommand):
    help = "Print the change feed's epoch; --bump starts a new one and tells every dealer system to resync."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--bump", action="store_true", help="start a new epoch: old cursors get 410 Gone")
        parser.add_argument("--reason", default="", help="why (e.g. 'restored from backup'); required with --bump")

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["bump"]:
            self.stdout.write(str(current_epoch()))
            return
        reason = options["reason"].strip()
        if not reason:
            raise CommandError("--bump needs --reason, e.g. --reason 'restored from backup'")
        self.stdout.write(str(start_new_feed_epoch(actor=Actor.system("feed_epoch command"), reason=reason)))
