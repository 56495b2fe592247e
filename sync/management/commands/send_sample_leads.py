"""``manage.py send_sample_leads [--count N] [--format json|adf|both] [--url URL --key KEY]``: demo intake leads.

Without ``--url`` the leads go through the intake service in this process (as the endpoint would);
with ``--url`` they are POSTed to a running server with the manufacturer key ``--key``. One line per
lead: the HTTP status, the lead id (or the error), the dealer number and the format.
"""

from __future__ import annotations

from typing import Any

import httpx
from django.core.management.base import CommandError, CommandParser

from dealers.actors import Actor
from dealers.commands import ContractCommand
from sync.inbound.intake import receive_intake
from sync.inbound.samples import sample_leads

FORMATS = {"json": ("json",), "adf": ("adf",), "both": ("json", "adf")}


class Command(ContractCommand):
    help = "Submit sample leads (JSON and/or ADF) to the lead intake, for demos."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--count", type=int, default=10)
        parser.add_argument("--format", choices=sorted(FORMATS), default="both")
        parser.add_argument("--seed", type=int, default=None)
        parser.add_argument("--url", default="", help="base URL of a running server, e.g. http://localhost:8000")
        parser.add_argument("--key", default="", help="manufacturer API key with intake:write (with --url)")

    def handle(self, *args: Any, count: int, format: str, seed: int | None, url: str, key: str, **opts: Any) -> None:
        if not 1 <= count <= 10_000:
            raise CommandError("--count must be between 1 and 10000")
        if url and not key:
            raise CommandError("--url needs --key (a manufacturer key with intake:write)")
        failed = 0
        for lead in sample_leads(count, seed=seed, formats=FORMATS[format]):
            fmt = "adf" if lead.content_type.endswith("xml") else "json"
            if url:
                try:
                    response = httpx.post(
                        url.rstrip("/") + "/api/v1/intake/leads/",
                        content=lead.body,
                        headers={
                            "Authorization": f"Bearer {key}",
                            "Content-Type": lead.content_type,
                            "Idempotency-Key": lead.reference,
                        },
                        timeout=30,
                    )
                except httpx.HTTPError as error:
                    raise CommandError(f"cannot reach {url}: {error}") from error
                status, body = response.status_code, response.json()
            else:
                outcome = receive_intake(
                    body=lead.body, content_type=lead.content_type, actor=Actor.system("sample-leads")
                )
                status, body = outcome.status, outcome.body or {"detail": outcome.detail, "errors": outcome.errors}
            if status == 201:
                self.stdout.write(f"{status} {body['lead_id']} {body['dealer']['number']} {fmt}")
            else:
                failed += 1
                self.stdout.write(f"{status} {body.get('detail', '')} {fmt}")
        if failed:
            raise CommandError(f"{failed} of {count} sample leads were refused")
