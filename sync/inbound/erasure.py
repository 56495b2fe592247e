"""sync's copies of an erased person (crm.services.erasure.erasure_hooks): intake documents as received,
parked intake leads, file imports and their row errors, routing records.

Runs inside the erasing transaction. Documents without a dealership (rejected, or parked for the lead
desk) are the manufacturer's rows, so the search runs manufacturer-wide, but only over this dealership's
rows and those without one: the same person's documents at another dealership are not this erasure's.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from django.apps import apps
from django.db import connection
from django.db.models import Q

from crm.services.erasure import ErasedPerson
from dealers.rls import manufacturer_wide
from sync.models import ImportRowError, ImportRun, IntakeDocument, LeadRouting

logger = logging.getLogger(__name__)


def scrub_erased_person(person: ErasedPerson) -> None:
    with manufacturer_wide(reason="erasure", dealer_id=person.dealer_id, prospect_id=str(person.prospect_id)):
        document_ids = _intake_documents(person)
        _scrub_parked_leads(person, document_ids)
        _scrub_imports(person)
        for routing in LeadRouting.objects.filter(lead_id__in=person.lead_ids):
            decisions = person.scrub(routing.decisions)
            if decisions != routing.decisions:
                LeadRouting.objects.filter(pk=routing.pk).update(decisions=decisions)


def _byte_needles(person: ErasedPerson) -> list[bytes]:
    """The identifying needles as a stored file may spell them (its bytes are searched case-sensitively)."""
    variants = {spelling for needle in person.identifying for spelling in (needle, needle.title(), needle.upper())}
    return sorted(variant.encode() for variant in variants)


def _mentioning(table: str, column: str, person: ErasedPerson, extra_where: str, params: list[Any]) -> list[Any]:
    needles = _byte_needles(person)
    if not needles:
        return []
    found = " OR ".join(f"position(%s::bytea in {column}) > 0" for _needle in needles)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id FROM {table} WHERE ({extra_where}) AND ({found})", [*params, *needles])  # noqa: S608 -- names are constants
        return [row[0] for row in cursor.fetchall()]


def _intake_documents(person: ErasedPerson) -> list[Any]:
    """Blank the bodies of the person's documents (their leads', or mentioning them); returns their ids."""
    mentioning = _mentioning(
        "sync_intakedocument", "body", person, "dealer_id = %s OR dealer_id IS NULL", [person.dealer_id]
    )
    ids: set[Any] = set(mentioning) | set(
        IntakeDocument.objects.filter(lead_id__in=person.lead_ids).values_list("pk", flat=True)
    )
    for document in IntakeDocument.objects.filter(pk__in=ids):
        document.body = b""
        document.reason = "" if person.mentions(document.reason) else document.reason
        document.errors = person.scrub(document.errors)
        document.contact_keys = []  # the person's e-mail and numbers
        document.save(update_fields=["body", "reason", "errors", "contact_keys"])
    return list(ids)


def _scrub_parked_leads(person: ErasedPerson, document_ids: list[Any]) -> None:
    try:
        parked = apps.get_model("sync", "UnroutedLead")  # the lead desk's queue, where installed
    except LookupError:
        return
    for lead in parked._default_manager.filter(document_id__in=document_ids):
        lead.customer_name = ""
        lead.city = ""
        lead.payload = person.scrub(lead.payload)
        lead.routing = person.scrub(lead.routing)
        lead.save(update_fields=["customer_name", "city", "payload", "routing"])


def _scrub_imports(person: ErasedPerson) -> None:
    """Drop the person's lines from stored import files (and the kept file), blank their row errors."""
    for run in ImportRun.objects.filter(
        pk__in=_mentioning("sync_importrun", "content", person, "dealer_id = %s", [person.dealer_id])
    ):
        run.content = _without_person(bytes(run.content or b""), run.encoding or "utf-8", person)
        run.save(update_fields=["content"])
        if run.stored_path and Path(run.stored_path).is_file():
            kept = Path(run.stored_path)
            kept.write_bytes(_without_person(kept.read_bytes(), run.encoding or "utf-8", person))
    mentioning = Q(pk__in=[])
    for needle in person.identifying:
        mentioning |= Q(row__icontains=needle) | Q(message__icontains=needle)
    # A refused row of the person is theirs as a whole: it keeps its line number, not its cells.
    for error in ImportRowError.objects.filter(mentioning, run__dealer_id=person.dealer_id):
        message = "" if person.mentions(error.message) else error.message  # e.g. "0170... is not a valid number"
        ImportRowError.objects.filter(pk=error.pk).update(row={}, message=message)


def _without_person(content: bytes, encoding: str, person: ErasedPerson) -> bytes:
    try:
        text = content.decode(encoding)
    except (LookupError, UnicodeDecodeError):
        text, encoding = content.decode("utf-8", errors="replace"), "utf-8"
    kept = [line for line in text.splitlines(keepends=True) if not person.mentions(line, identifying_only=True)]
    return "".join(kept).encode(encoding, errors="replace")
