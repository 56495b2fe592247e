"""Demo of e-mail from the CRM: no data of its own; where ``make run``'s reply intake listens.

``make run`` starts the SMTP reply intake beside the web (``python -m crm.messaging.intake_server``, its
address in ``MESSAGING_MAIL_INTAKE_URL``); :func:`follow_servers`, called on every start
(``manage.py demo_servers --follow``), prints where replies go, so the run's output names the port.
"""

from __future__ import annotations

import os
import random
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from crm.messaging.services import inbound_domain
from dealers.demo import DemoResult

INTAKE_URL = "MESSAGING_MAIL_INTAKE_URL"


def seed(*, rng: random.Random, options: Mapping[str, Any]) -> DemoResult | None:
    """Nothing to load: templates are the dealer admins' own, replies come from the intake."""
    return None


def intake_address() -> str:
    """``host:port`` of this run's intake (``devstack run`` sets ``MESSAGING_MAIL_INTAKE_URL``), else the default."""
    from django.conf import settings

    url = urlsplit(os.environ.get(INTAKE_URL, ""))
    if url.hostname and url.port:
        return f"{url.hostname}:{url.port}"
    return f"{settings.CRM_MAIL_INTAKE_HOST}:{settings.CRM_MAIL_INTAKE_PORT}"


def follow_servers() -> str:
    """One line: the SMTP address replies go to and the addresses it takes mail for."""
    domain = inbound_domain()
    if not domain:
        return f"reply intake at smtp://{intake_address()} takes no mail: CRM_INBOUND_MAIL_DOMAIN is not set"
    return (
        f"replies by SMTP to smtp://{intake_address()} "
        f"for <dealer number>@{domain} and reply+<token>@{domain} (e.g. swaks --server {intake_address()})"
    )
