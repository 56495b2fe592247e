"""``manage.py sync_status [--dealer <number>]``: one line per dealership, starting with its dealer number."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from dealers.commands import ContractCommand
from dealers.models import Dealer
from sync.models import Destination
from sync.outbound.selectors import destination_statuses, status_line


class Command(ContractCommand):
    help = "Sync status per dealership: state, backlog, oldest undelivered, last success, failures, dead letters."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dealer", help="only this dealership (dealer number)")
        parser.add_argument(
            "--all", action="store_true", help="also dealerships without a destination (default: only configured ones)"
        )

    def handle(self, *args: Any, dealer: str | None = None, all: bool = False, **options: Any) -> None:
        if dealer is not None:
            found = Dealer.objects.filter(number=dealer.strip()).first()
            if found is None:
                raise CommandError(f"no dealership with number {dealer!r}")
            dealers = [found]
        elif all:
            dealers = list(Dealer.objects.order_by("number"))
        else:
            ids = Destination.objects.values_list("dealer_id", flat=True).distinct()
            dealers = list(Dealer.objects.filter(pk__in=ids).order_by("number"))
        statuses = destination_statuses(dealer_ids=[d.pk for d in dealers])
        by_dealer: dict[int, list] = {}
        for status in statuses:
            by_dealer.setdefault(status.dealer_id, []).append(status)
        for found in dealers:
            self.stdout.write(status_line(by_dealer.get(found.pk, []), found.number))
