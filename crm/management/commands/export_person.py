"""``manage.py export_person --email E | --phone P [--dealer N] --out FILE.zip``: a person's data (GDPR Art. 15/20).

Finds the prospects of every dealership (or dealership ``N``) with the same normalised email or phone
and writes everything about them to one ZIP (crm.services.subject_access). Exit 1 when nobody matches
(nothing is written), 2 for bad arguments. Prints counts and dealer numbers, never personal data.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser

from crm.services import subject_access
from dealers.commands import ContractCommand


class Command(ContractCommand):
    help = "Export everything about one person (all dealerships, or --dealer) as a ZIP of JSON and CSV."

    def add_arguments(self, parser: CommandParser) -> None:
        who = parser.add_mutually_exclusive_group(required=True)
        who.add_argument("--email", default="", help="the person's email address (compared normalised)")
        who.add_argument("--phone", default="", help="the person's phone or mobile number (compared as E.164)")
        parser.add_argument("--dealer", default="", help="only this dealership (dealer number)")
        parser.add_argument("--out", required=True, help="where to write the ZIP (refused if it exists)")

    def handle(self, *args: Any, **options: Any) -> None:
        out = Path(options["out"])
        if out.exists():
            raise CommandError(f"{out} exists; name a new file")
        search = {"email": options["email"], "phone": options["phone"], "dealer": options["dealer"]}
        prospects = subject_access.find_subject(
            email=search["email"], phone=search["phone"], dealer_number=search["dealer"]
        )
        if not prospects:
            raise CommandError("no prospect has this email address or phone number")
        export = subject_access.export_for_officer(prospects=prospects, by="command:export_person", search=search)
        try:  # personal data: created for the operator only, never over an existing file
            fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError as error:
            raise CommandError(f"{out} exists; name a new file") from error
        with os.fdopen(fd, "wb") as file:
            file.write(export.content)
        dealers = ", ".join(sorted({p.dealer.number for p in prospects}))
        self.stdout.write(f"{export.prospect_count} prospect(s) at dealership(s) {dealers} written to {out}")
