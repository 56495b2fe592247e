"""The e-mails of an erased person (crm.services.erasure.erasure_hooks): sent e-mails and inbound mail.

Runs inside the erasing transaction. Rows stay (dates, dealership, purpose: statistics), their personal
content goes: addresses, subject, text, the raw message. Inbound dead letters without a dealership are the
manufacturer's rows, so the search runs manufacturer-wide, over this dealership's rows and those without one
that come from one of the person's addresses.
"""

from __future__ import annotations

from django.db.models import Q

from crm.messaging.models import InboundEmail, SentEmail
from crm.services.erasure import ERASED_TEXT, ErasedPerson
from dealers.rls import manufacturer_wide


def scrub_erased_person(person: ErasedPerson) -> None:
    SentEmail.objects.filter(dealer_id=person.dealer_id, prospect_id=person.prospect_id).update(
        to_address="", subject=ERASED_TEXT, body="", attachments=[]
    )
    with manufacturer_wide(reason="erasure", dealer_id=person.dealer_id, prospect_id=str(person.prospect_id)):
        mine = Q(dealer_id=person.dealer_id, prospect_id=person.prospect_id)
        candidates = InboundEmail.objects.filter(
            Q(dealer_id=person.dealer_id) | Q(dealer__isnull=True), prospect__isnull=True
        ).only("id", "from_address", "envelope_from")
        mentioning = [
            row.pk
            for row in candidates
            if person.mentions(f"{row.from_address} {row.envelope_from}", identifying_only=True)
        ]
        InboundEmail.objects.filter(mine | Q(pk__in=mentioning)).update(
            from_address="", envelope_from="", subject=ERASED_TEXT, body="", in_reply_to="", raw=b""
        )
