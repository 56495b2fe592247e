"""``manage.py create_api_key --dealer <number> --scopes <scope,...> [--name <label>]``; prints the key once.

``--manufacturer`` instead of ``--dealer`` makes a key of the manufacturer's channels (``intake:write``).
The only output on stdout is the key, on one line; bad arguments exit non-zero with a one-line reason.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError, CommandParser

from dealers.actors import Actor
from dealers.api_keys import create_api_key
from dealers.commands import ContractCommand
from dealers.models import ApiKey, Dealer


class Command(ContractCommand):
    help = "Create an API key and print it once (the only time it can be seen)."

    def add_arguments(self, parser: CommandParser) -> None:
        owner = parser.add_mutually_exclusive_group(required=True)
        owner.add_argument("--dealer", metavar="NUMBER", help="Dealer number of the dealership the key is for.")
        owner.add_argument(
            "--manufacturer", action="store_true", help="A manufacturer key (lead intake), not a dealership's."
        )
        parser.add_argument(
            "--scopes",
            required=True,
            help="Comma-separated scopes. Dealership: "
            + ", ".join(ApiKey.DEALER_SCOPES)
            + "; manufacturer: "
            + ", ".join(ApiKey.MANUFACTURER_SCOPES),
        )
        parser.add_argument("--name", default="", help="A label, e.g. the dealer system's product name.")

    def handle(self, *args: Any, **options: Any) -> None:
        dealer = None
        if not options["manufacturer"]:
            number = (options["dealer"] or "").strip()
            dealer = Dealer.objects.filter(number=number).first()
            if dealer is None:
                raise CommandError(f"no dealership with dealer number {number!r}")
            if not dealer.is_active:
                raise CommandError(f"dealership {number} is inactive")
        scopes = [scope for scope in options["scopes"].split(",") if scope.strip()]
        name = options["name"].strip() or ("manufacturer intake" if dealer is None else "dealer system")
        try:
            issued = create_api_key(dealer=dealer, name=name, scopes=scopes, actor=Actor.system("create_api_key"))
        except ValidationError as error:
            messages = "; ".join(f"{field}: {' '.join(m)}" for field, m in error.message_dict.items())
            raise CommandError(messages) from error
        self.stdout.write(issued.plaintext)
