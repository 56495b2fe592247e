"""The right to erasure: anonymise a person everywhere the CRM held their data, and remember that it happened.

``erase_prospect`` is the one service the prospect page, the admin (one prospect or a pasted list of
emails and phone numbers), the API and the ``erase_prospect`` command all call. In one transaction it

- blanks the prospect's personal fields (the postcode keeps its region) and the free text of its
  leads, activities, tasks and consents, bumping every version so clients' ETags stop matching;
- rewrites the change log's earlier payloads of these records (the change feed and ``sync_replay``
  serve them again), lead events, audit rows and stored API responses: ids, types, stages and dates
  stay, personal values go;
- runs ``erasure_hooks``: other apps scrub their own copies (sync: intake documents, file imports,
  routing records), since ``crm`` never imports them;
- leaves keyed-hash tombstones of the normalised email and phone numbers, so a later intake, import or
  API upsert of the same person at this dealership is flagged (``Prospect.previously_erased_at``);
- records ``prospect.erased`` (the dealer systems' webhook) and an audit row with counts only.

Statistics keep working: rows stay, with their dealership, stages, sources and dates.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.crypto import salted_hmac

from crm import changes
from crm.models import Activity, Change, Consent, ErasureTombstone, Lead, LeadEvent, Prospect, Task
from crm.normalize import normalize_email, normalize_phone
from crm.services._common import bump, bump_and_record, locked
from dealers.actors import Actor
from dealers.models import AuditEvent, IdempotencyRecord

logger = logging.getLogger(__name__)

# Stands in for required free text (a won lead's close note, a task's title): not personal, visibly erased.
ERASED_TEXT = "[erased]"
# JSON keys whose string values are free text someone typed about the person: blanked wherever they occur.
FREE_TEXT_KEYS = frozenset({"note", "close_note", "message", "body", "subject", "notes", "title", "comment"})
# Values shorter than this are not searched for in other rows (a two-letter name would blank half the log).
_MIN_NEEDLE = 3
_HMAC_SALT = "crm.erasure.tombstone"

PERSONAL_FIELDS = (
    "salutation",
    "title",
    "first_name",
    "last_name",
    "company",
    "email",
    "phone",
    "mobile",
    "street",
    "city",
)
# Free text of the records that belong to the person: blanked (or ERASED_TEXT when required).
_LEAD_TEXT = {"message": "", "vin": "", "close_note": ERASED_TEXT}
_ACTIVITY_TEXT = {"subject": "", "body": ""}
_TASK_TEXT = {"title": ERASED_TEXT, "notes": ""}


@dataclass(frozen=True)
class ErasedPerson:
    """What an erasure hook needs to find its copies of the person: ids, and the values to look for.

    ``needles`` (lower case) live only in memory during the erasure; nothing stores them. Within rows that
    belong to the person every needle is blanked; ``identifying`` ones (email, phone numbers, full name,
    street) also find rows that do not name the person's ids, such as stored files, where a shared last
    name alone must not delete another person's document.
    """

    dealer_id: int
    prospect_id: UUID
    lead_ids: tuple[UUID, ...]
    object_ids: tuple[UUID, ...]  # the prospect's own and every lead, activity, task and consent of it
    needles: tuple[str, ...] = field(repr=False)
    identifying: tuple[str, ...] = field(default=(), repr=False)

    def mentions(self, text: str, *, identifying_only: bool = False) -> bool:
        folded = text.lower()
        return any(needle in folded for needle in (self.identifying if identifying_only else self.needles))

    def scrub(self, value: Any) -> Any:
        """``value`` (JSON) with every string mentioning the person, and every free-text entry, blanked."""
        if isinstance(value, dict):
            return {
                key: "" if key in FREE_TEXT_KEYS and isinstance(item, str) else self.scrub(item)
                for key, item in value.items()
            }
        if isinstance(value, list):
            return [self.scrub(item) for item in value]
        if isinstance(value, str) and self.mentions(value):
            return ""
        return value


# Filled at start-up by apps holding copies crm cannot see (sync.apps): called inside the erasing transaction.
erasure_hooks: list[Callable[[ErasedPerson], None]] = []


# Tombstones ----------------------------------------------------------------------------------------


def tombstone_digest(value: str) -> str:
    """HMAC-SHA256 of a normalised email or phone number; the key is ``ERASURE_TOMBSTONE_KEY`` or SECRET_KEY.

    A dedicated key lets SECRET_KEY rotate without losing the tombstones.
    """
    key = settings.ERASURE_TOMBSTONE_KEY or settings.SECRET_KEY
    return salted_hmac(_HMAC_SALT, value, secret=key, algorithm="sha256").hexdigest()


def identity_digests(*, email: str = "", phones: Iterable[str] = ()) -> list[tuple[str, str]]:
    """(kind, digest) of the normalised email and each phone number that normalises."""
    digests = []
    if normalized_email := normalize_email(email):
        digests.append((ErasureTombstone.Kind.EMAIL.value, tombstone_digest(normalized_email)))
    for phone in phones:
        if normalized_phone := normalize_phone(phone):
            digests.append((ErasureTombstone.Kind.PHONE.value, tombstone_digest(normalized_phone)))
    return digests


def erased_on(*, dealer_id: int, email: str = "", phones: Iterable[str] = ()) -> datetime | None:
    """When this dealership erased a person with this email or phone number (the latest time), else None."""
    digests = [digest for _kind, digest in identity_digests(email=email, phones=phones)]
    if not digests:
        return None
    return (
        ErasureTombstone.objects.filter(dealer_id=dealer_id, digest__in=digests)
        .order_by("-erased_at")
        .values_list("erased_at", flat=True)
        .first()
    )


def flag_if_erased_before(prospect: Prospect) -> bool:
    """Set ``previously_erased_at`` (unsaved) when the prospect's contact data matches a tombstone."""
    if prospect.previously_erased_at or prospect.erased_at:
        return False
    at = erased_on(dealer_id=prospect.dealer_id, email=prospect.email, phones=(prospect.phone, prospect.mobile))
    if at is None:
        return False
    prospect.previously_erased_at = at
    logger.warning("erased_person_came_back", extra={"dealer_id": prospect.dealer_id, "prospect_id": str(prospect.pk)})
    return True


# Finding the person ---------------------------------------------------------------------------------


def prospects_matching(
    *, emails: Iterable[str] = (), phones: Iterable[str] = (), dealer_id: int | None = None
) -> QuerySet[Prospect]:
    """Not yet erased prospects with one of these emails or phone numbers (normalised), in every dealership
    the session sees (the DPO's search runs manufacturer-wide), or in ``dealer_id`` only."""
    normalized_emails = {e for e in (normalize_email(v) for v in emails) if e}
    normalized_phones = {p for p in (normalize_phone(v) for v in phones) if p}
    if not normalized_emails and not normalized_phones:
        return Prospect.objects.none()
    match = Q(email_normalized__in=normalized_emails) | Q(phone__in=normalized_phones) | Q(mobile__in=normalized_phones)
    queryset = Prospect.objects.filter(match, erased_at__isnull=True, merged_into__isnull=True)
    if dealer_id is not None:
        queryset = queryset.filter(dealer_id=dealer_id)
    return queryset.select_related("dealer").order_by("dealer__number", *Prospect.NAME_ORDER)


# Erasure -------------------------------------------------------------------------------------------


def _needles(*values: str) -> tuple[str, ...]:
    return tuple(sorted({v.strip().lower() for v in values if v and len(v.strip()) >= _MIN_NEEDLE}))


def _identifying(prospect: Prospect) -> tuple[str, ...]:
    full_name = " ".join(p for p in (prospect.first_name, prospect.last_name) if p)
    return _needles(
        prospect.email,
        prospect.email_normalized,
        prospect.phone,
        prospect.mobile,
        prospect.phone.removeprefix("+49"),  # the national number, as a form may have sent it
        prospect.mobile.removeprefix("+49"),
        full_name if prospect.first_name and prospect.last_name else "",
        prospect.street,
    )


@transaction.atomic
def erase_prospect(*, prospect: Prospect, actor: Actor) -> Prospect:
    """Anonymise a prospect (right to erasure) everywhere; sales history kept without the person."""
    prospect = locked(Prospect, prospect.pk)
    if prospect.erased_at:
        return prospect
    erased_at = timezone.now()
    person = _person(prospect)
    digests = identity_digests(email=prospect.email, phones=(prospect.phone, prospect.mobile))
    ErasureTombstone.objects.bulk_create(
        ErasureTombstone(
            dealer_id=prospect.dealer_id, prospect_id=prospect.pk, kind=kind, digest=digest, erased_at=erased_at
        )
        for kind, digest in digests
    )
    # The change log's earlier payloads first: the rows recorded below carry blanks already.
    _rewrite_history(person)
    for hook in erasure_hooks:
        hook(person)

    for name in PERSONAL_FIELDS:
        setattr(prospect, name, "")
    prospect.postcode = prospect.postcode[:2]  # keeps the region for reports, not the person
    prospect.erased_at = erased_at
    prospect.email_normalized = ""
    prospect.name_key = ""
    prospect.sort_name = ""
    prospect.search_text = ""
    bump(prospect, [*PERSONAL_FIELDS, "postcode", "erased_at", *Prospect.SEARCH_FIELDS])
    counts = {
        "leads": _blank(Lead.objects.filter(prospect=prospect), _LEAD_TEXT, "lead.updated", actor),
        "activities": _blank(Activity.objects.filter(prospect=prospect), _ACTIVITY_TEXT, "activity.updated", actor),
        "tasks": _blank(_tasks_of(prospect), _TASK_TEXT, "task.updated", actor),
        "consents": Consent.objects.filter(prospect=prospect).update(evidence={}, source=""),
    }
    changes.record(dealer_id=prospect.dealer_id, type="prospect.erased", obj=prospect, actor=actor, audit=counts)
    logger.info("prospect_erased", extra={"dealer_id": prospect.dealer_id, "prospect_id": str(prospect.pk)})
    return prospect


def _person(prospect: Prospect) -> ErasedPerson:
    lead_ids = tuple(Lead.objects.filter(prospect=prospect).values_list("pk", flat=True))
    object_ids = [prospect.pk, *lead_ids]
    for queryset in (
        Activity.objects.filter(prospect=prospect),
        _tasks_of(prospect),
        Consent.objects.filter(prospect=prospect),
    ):
        object_ids += queryset.values_list("pk", flat=True)
    identifying = _identifying(prospect)
    return ErasedPerson(
        dealer_id=prospect.dealer_id,
        prospect_id=prospect.pk,
        lead_ids=lead_ids,
        object_ids=tuple(object_ids),
        needles=_needles(*identifying, prospect.last_name, prospect.company),
        identifying=identifying,
    )


def _tasks_of(prospect: Prospect) -> QuerySet[Task]:
    """The prospect's tasks, and those of its leads that name no prospect."""
    return Task.objects.filter(Q(prospect=prospect) | Q(lead__prospect=prospect))


def _blank(queryset: Any, text: dict[str, str], type: str, actor: Actor) -> int:
    """Blank the free text of each row (keeping required text as ERASED_TEXT); each gets a new version."""
    count = 0
    for obj in queryset.order_by("pk"):
        changed = []
        for name, erased in text.items():
            value = getattr(obj, name)
            replacement = erased if value else ""
            if value != replacement:
                setattr(obj, name, replacement)
                changed.append(name)
        bump_and_record(obj, changed, type=type, actor=actor, extra={"changed": changed})
        count += 1
    return count


def _blank_payload(data: dict[str, Any], object_type: str) -> dict[str, Any]:
    blanks: dict[str, Any] = {}
    if object_type == "prospect":
        blanks = {name: "" for name in PERSONAL_FIELDS if name in data}
        if isinstance(data.get("postcode"), str):
            blanks["postcode"] = data["postcode"][:2]
    elif object_type == "lead":
        blanks = {name: (erased if data.get(name) else "") for name, erased in _LEAD_TEXT.items() if name in data}
    elif object_type == "activity":
        blanks = {name: "" for name in _ACTIVITY_TEXT if name in data}
    elif object_type == "task":
        blanks = {name: (erased if data.get(name) else "") for name, erased in _TASK_TEXT.items() if name in data}
    elif object_type == "consent":
        blanks = {"evidence": {}, "source": ""}
    return {**data, **blanks}


def _rewrite_history(person: ErasedPerson) -> None:
    """Earlier change-log payloads, lead events, audit rows and stored API answers, without the person."""
    for change in Change.objects.filter(dealer_id=person.dealer_id, object_id__in=person.object_ids):
        data = person.scrub(_blank_payload(change.data, change.object_type))
        if data != change.data:
            Change.objects.filter(pk=change.pk).update(data=data)
    for event in LeadEvent.objects.filter(lead_id__in=person.lead_ids):
        data = person.scrub(event.data)
        if data != event.data:
            LeadEvent.objects.filter(pk=event.pk).update(data=data)
    mentioning = Q(object_id__in=[str(pk) for pk in person.object_ids])
    for needle in person.needles:
        mentioning |= Q(data__icontains=needle)  # e.g. an export's search filter naming the person
    for audit in AuditEvent.objects.filter(mentioning, dealer_id=person.dealer_id):
        data = person.scrub(audit.data)
        if data != audit.data:
            AuditEvent.objects.filter(pk=audit.pk).update(data=data)
    _scrub_idempotency_records(person)


def _scrub_idempotency_records(person: ErasedPerson) -> None:
    """Stored first answers (replayed on a retried request) lose the person; the replay still works."""
    mentioning = Q(pk__in=[])
    for text in (*person.needles, *(str(pk) for pk in person.object_ids)):
        mentioning |= Q(response_body__icontains=text)
    for record in IdempotencyRecord.objects.filter(mentioning, api_key__dealer_id=person.dealer_id):
        try:
            body = json.loads(record.response_body)
        except ValueError:
            body = ""
        scrubbed = person.scrub(_blank_payload(body, "prospect") if _is_person_record(body, person) else body)
        IdempotencyRecord.objects.filter(pk=record.pk).update(
            response_body=json.dumps(scrubbed, ensure_ascii=False),
            response_headers=person.scrub(record.response_headers),
        )


def _is_person_record(body: Any, person: ErasedPerson) -> bool:
    return isinstance(body, dict) and body.get("id") == str(person.prospect_id)
