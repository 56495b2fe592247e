"""``manage.py mail_intake [--host H] [--port P]``: the SMTP server that takes replies in (docs/messaging.md).

Listens on ``CRM_MAIL_INTAKE_HOST``:``CRM_MAIL_INTAKE_PORT`` (default 127.0.0.1:2525) until SIGINT/SIGTERM,
accepting mail for ``<dealer number>@`` and ``reply+<token>@CRM_INBOUND_MAIL_DOMAIN`` only. Prints one line
``mail_intake listening on HOST:PORT for DOMAIN``. Exit code 2 (one line) without the domain setting.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import CommandError, CommandParser

from crm.messaging.intake import serve
from crm.messaging.services import inbound_domain
from dealers.commands import ContractCommand


class Command(ContractCommand):
    help = "Run the SMTP server that attaches replies to prospects and leads (CRM_INBOUND_MAIL_DOMAIN)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=settings.CRM_MAIL_INTAKE_HOST, help="address to listen on")
        parser.add_argument("--port", type=int, default=settings.CRM_MAIL_INTAKE_PORT, help="port to listen on")

    def handle(self, *args: Any, **options: Any) -> None:
        domain = inbound_domain()
        if not domain:
            raise CommandError("CRM_INBOUND_MAIL_DOMAIN is not set: no address to take mail for", returncode=2)
        serve(host=options["host"], port=options["port"], announce=self._announce)

    def _announce(self, line: str) -> None:
        self.stdout.write(line)
        self.stdout.flush()
