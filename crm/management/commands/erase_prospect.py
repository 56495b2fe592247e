"""``manage.py erase_prospect --dealer <number> (--id <uuid> | --email <address> | --phone <number>)``.

Erases a person's data at one dealership (right to erasure, crm.services.erasure) and prints the
erased prospects' ids, one a line. Every prospect of the dealership with the email or phone number
is erased: they are the same person. Exit codes: 0 erased (or already erased), 1 no such prospect,
2 bad arguments.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.core.management.base import CommandError, CommandParser

from crm.models import Prospect
from crm.services.erasure import erase_prospect, prospects_matching
from dealers.actors import Actor
from dealers.commands import ContractCommand
from dealers.models import Dealer


class Command(ContractCommand):
    help = "Erase a person's personal data at one dealership (right to erasure); prints the erased prospects' ids."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dealer", required=True, help="the dealer number, e.g. 10001")
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--id", type=UUID, help="the prospect's id")
        which.add_argument("--email", help="every prospect of the dealership with this email address")
        which.add_argument("--phone", help="every prospect of the dealership with this phone or mobile number")
        parser.add_argument("--dry-run", action="store_true", help="print what would be erased, erase nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        dealer = Dealer.objects.filter(number=options["dealer"]).first()
        if dealer is None:
            raise CommandError(f"no dealership with number {options['dealer']}")
        if options["id"] is not None:
            prospects = list(Prospect.objects.filter(dealer=dealer, pk=options["id"], merged_into__isnull=True))
        else:
            emails = [options["email"]] if options["email"] else []
            phones = [options["phone"]] if options["phone"] else []
            prospects = list(prospects_matching(emails=emails, phones=phones, dealer_id=dealer.pk))
        if not prospects:
            raise CommandError(f"no prospect of dealership {dealer.number} matches")
        actor = Actor.system("erase_prospect command")
        for prospect in prospects:
            if not options["dry_run"]:
                erase_prospect(prospect=prospect, actor=actor)
            self.stdout.write(str(prospect.pk))
