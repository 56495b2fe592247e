"""``manage.py sync_replay --dealer <number> --since <ISO time or event id>``: deliver a stream again."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError, CommandParser

from dealers.actors import Actor
from dealers.commands import ContractCommand
from dealers.models import Dealer
from sync.outbound import services


class Command(ContractCommand):
    help = "Deliver a dealership's stream again from a point in time or an event id (receivers dedupe by event id)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dealer", required=True, help="dealer number")
        parser.add_argument("--since", required=True, help="ISO 8601 time (e.g. 2025-03-01T08:00:00Z) or an event id")

    def handle(self, *args: Any, dealer: str, since: str, **options: Any) -> None:
        found = Dealer.objects.filter(number=dealer.strip()).first()
        if found is None:
            raise CommandError(f"no dealership with number {dealer!r}")
        try:
            replayed = services.replay_dealer(dealer=found, actor=Actor.system("sync_replay"), since=since)
        except ValidationError as error:
            messages = error.message_dict.get("since") if hasattr(error, "error_dict") else error.messages
            raise CommandError(f"--since: {' '.join(messages or error.messages)}") from None
        if not replayed:
            raise CommandError(f"dealership {found.number} has no destination that delivers")
        for destination in replayed:
            self.stdout.write(
                f"{found.number} destination={destination.pk} transport={destination.transport}"
                f" replay_from_change={destination.cursor_change_id + 1}"
            )
