"""Bulk upserts of prospects by the dealer system's id: CSV imports and the API's batch endpoint.

Writing one prospect at a time costs about eight statements per row (look-up, insert or update, change
row, audit row, tombstone check, each with its round trip). This path writes a whole batch set-based, at a
speed near PostgreSQL's ``COPY``, with the same outcome row by row as ``create_prospect`` and
``update_prospect``:

1. the batch's existing prospects are read under ``FOR UPDATE`` in one query (pk order: no deadlock);
2. each item is validated and merged in memory by the services' own rules (fieldspecs normalisers,
   column lengths, "a name or a contact", an anonymised prospect refuses changes, empty data changes
   nothing), its search fields derived, and an erased person coming back flagged from one tombstone query;
3. the rows to write, with their change-log payload and audit details, are ``COPY``-ed into a temporary
   staging table, and one statement inserts or updates them (``INSERT ... ON CONFLICT (dealer_id,
   external_id) DO UPDATE``) and inserts their change-log and audit rows (``INSERT ... SELECT``).
   Row-level security applies: the statement runs in the caller's dealership scope.

A new row that lost a race (another transaction inserted the same id since step 1) is not overwritten:
the conflict's ``WHERE id = EXCLUDED.id`` leaves it alone and the item is tried again as an update. The
same external id twice in one call is applied in order, as a row-by-row import would. The relays are woken
once per call (``crm.changes.announce``).
"""

from __future__ import annotations

import functools
import json
import logging
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from uuid import UUID

from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator
from django.db import connection, models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm import changes, fieldspecs
from crm.models import Change, ErasureTombstone, Prospect
from crm.normalize import dialling_region
from crm.payloads import prospect_payload
from crm.services._common import apply_changes
from crm.services.erasure import identity_digests
from crm.services.prospects import _require_name, fill_search_fields
from dealers.actors import Actor
from dealers.ids import uuid7
from dealers.models import AuditEvent, User
from dealers.selectors import dealer_country

logger = logging.getLogger(__name__)

EDITABLE_FIELDS = fieldspecs.PROSPECT.editable
MAX_ATTEMPTS = 3  # rounds an item may lose an insert race before it is reported


@dataclass(frozen=True)
class Item:
    """One prospect to create or update: ``data`` holds model attributes; a key left out stays as it is."""

    key: int  # the caller's reference (a file's line, a request's item index), echoed in errors and outcomes
    external_id: str
    data: Mapping[str, Any]


@dataclass(frozen=True)
class ItemError:
    key: int
    field: str  # the model attribute, or "" for the item as a whole
    message: str


@dataclass(frozen=True)
class Outcome:
    key: int
    prospect_id: UUID
    version: int
    status: Literal["created", "updated", "unchanged"]


@dataclass
class BulkResult:
    outcomes: list[Outcome] = field(default_factory=list)
    errors: list[ItemError] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for outcome in self.outcomes if outcome.status == status)


@dataclass
class _Pending:
    item: Item
    prospect: Prospect
    status: Literal["created", "updated"]
    changed: list[str]
    attempt: int


_CONCRETE = [f for f in Prospect._meta.concrete_fields]
_COLUMNS: list[str] = [f.column for f in _CONCRETE if f.column]
_ATTNAMES = [f.attname for f in _CONCRETE]
_MAX_LENGTHS = {
    f.attname: f.max_length for f in _CONCRETE if isinstance(f, models.CharField) and f.max_length is not None
}
# A new row starts from the model's defaults, built positionally (Django's fast path for many instances).
_STATIC_DEFAULTS = [None if callable(f.default) else f.get_default() for f in _CONCRETE]
_POSITION = {name: index for index, name in enumerate(_ATTNAMES)}
_CALLABLE_DEFAULTS = [(f.attname, f) for f in _CONCRETE if callable(f.default)]
_FIXED = {"id", "dealer_id", "external_id", "created_at"}  # never changed by the update branch
# Named after its columns, so a session that outlived a migration never writes into an old shape.
_STAGE = f"bulk_prospect_stage_{zlib.crc32(','.join(_COLUMNS).encode()):08x}"
_EXTRA = ["ord", "change_type", "change_data", "event_id", "audit_data"]


def _quoted(names: Iterable[str]) -> str:
    return ", ".join(connection.ops.quote_name(name) for name in names)


def _write_sql(*, actor: Actor) -> tuple[str, list[Any]]:
    prospect, change, audit = Prospect._meta.db_table, Change._meta.db_table, AuditEvent._meta.db_table
    columns = _quoted(_COLUMNS)
    updates = ", ".join(
        f"{connection.ops.quote_name(c)} = EXCLUDED.{connection.ops.quote_name(c)}" for c in _COLUMNS if c not in _FIXED
    )
    sql = f"""
        WITH written AS (
            INSERT INTO {prospect} ({columns})
            SELECT {columns} FROM {_STAGE} ORDER BY ord
            ON CONFLICT (dealer_id, external_id) WHERE external_id IS NOT NULL
            DO UPDATE SET {updates} WHERE {prospect}.id = EXCLUDED.id
            RETURNING id
        ), logged AS (
            INSERT INTO {change} (dealer_id, event_id, type, object_type, object_id, version, occurred_at, data)
            SELECT s.dealer_id, s.event_id, s.change_type, 'prospect', s.id, s.version, s.updated_at, s.change_data
            FROM {_STAGE} s JOIN written w ON w.id = s.id ORDER BY s.ord
        ), audited AS (
            INSERT INTO {audit} (dealer_id, actor_id, actor_label, action, object_type, object_id, data, at)
            SELECT s.dealer_id, %s, %s, s.change_type, 'crm.prospect', s.id::text, s.audit_data, s.updated_at
            FROM {_STAGE} s JOIN written w ON w.id = s.id ORDER BY s.ord
        )
        SELECT id FROM written
    """  # noqa: S608 -- identifiers from the models, values as parameters
    return sql, [actor.user_id, actor.label]


def _ensure_stage(cursor: Any) -> None:
    cursor.execute(
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {_STAGE} (LIKE {Prospect._meta.db_table}, ord integer, "
        "change_type text, change_data jsonb, event_id uuid, audit_data jsonb) ON COMMIT DELETE ROWS"
    )
    cursor.execute(f"TRUNCATE {_STAGE}")


def _rounds(items: Sequence[Item]) -> Iterable[list[Item]]:
    """Consecutive slices in which each external id occurs once: a repeated id waits for the next slice."""
    current: list[Item] = []
    seen: set[str] = set()
    for item in items:
        if item.external_id in seen:
            yield current
            current, seen = [], set()
        current.append(item)
        seen.add(item.external_id)
    if current:
        yield current


def _field_errors(key: int, error: ValidationError) -> list[ItemError]:
    if hasattr(error, "error_dict"):
        return [
            ItemError(key, "" if name == "__all__" else name, str(message))
            for name, messages in error.message_dict.items()
            for message in messages
        ]
    return [ItemError(key, "", str(message)) for message in error.messages]


_NORMALISERS = {spec.attribute: spec.normalise for spec in fieldspecs.PROSPECT.fields if spec.normalise}


@functools.lru_cache(maxsize=65536)
def _normalised_text(attribute: str, value: str, region: str) -> Any:
    """One field's normaliser (``Resource.normalised``'s), remembered: parsing a phone number costs far more
    than writing the row, and a dealer system sends the same numbers again with every full export.
    ``region`` is the dealership's country national numbers are read in (part of the key: 0664 ... differs)."""
    with dialling_region(region):
        return _NORMALISERS[attribute](value)


def _normalised(data: Mapping[str, Any], region: str) -> dict[str, Any]:
    result = dict(data)
    for attribute, value in data.items():
        if attribute not in _NORMALISERS:
            continue
        try:
            if isinstance(value, str):
                result[attribute] = _normalised_text(attribute, value, region)
            else:
                with dialling_region(region):
                    result[attribute] = _NORMALISERS[attribute](value)
        except ValidationError as error:
            raise ValidationError({attribute: error.messages}) from error
    return result


def _clean(item: Item, region: str) -> dict[str, Any]:
    """The item's data through the services' normalisers and the columns' lengths; ``ValidationError`` if not.

    National phone numbers are read in ``region``, the dealership's country.
    """
    unknown = set(item.data) - EDITABLE_FIELDS
    if unknown:
        raise ValueError(f"{', '.join(sorted(unknown))} cannot be changed here")
    data = _normalised(item.data, region)
    for name in ("external_id", *data):
        value = item.external_id if name == "external_id" else data[name]
        limit = _MAX_LENGTHS.get(name)
        if limit is not None and isinstance(value, str) and len(value) > limit:
            try:
                MaxLengthValidator(limit)(value)
            except ValidationError as error:
                raise ValidationError({name: error.messages}) from error
    data.pop("external_id", None)
    return data


@transaction.atomic
def upsert_prospects(
    *,
    dealer_id: int,
    actor: Actor,
    items: Sequence[Item],
    create_defaults: Mapping[str, Any] | None = None,
    refuse_merged: bool = False,
) -> BulkResult:
    """Create or update the dealership's prospects by external id, set-based; one transaction (or savepoint).

    ``create_defaults`` apply to created prospects only (an import's ``origin``). ``refuse_merged``: an item
    naming a merged prospect is an error (the API's rule) instead of an update of the tombstone.
    """
    result = BulkResult()
    retry: list[tuple[Item, int]] = []
    for batch in _rounds(items):
        work = [(item, 1) for item in batch]
        while work:
            retry = _round(
                dealer_id=dealer_id,
                actor=actor,
                work=work,
                defaults=create_defaults or {},
                refuse_merged=refuse_merged,
                result=result,
            )
            work = retry
    result.outcomes.sort(key=lambda outcome: outcome.key)
    if any(outcome.status != "unchanged" for outcome in result.outcomes):
        changes.announce(dealer_id)
    return result


def _round(
    *,
    dealer_id: int,
    actor: Actor,
    work: list[tuple[Item, int]],
    defaults: Mapping[str, Any],
    refuse_merged: bool,
    result: BulkResult,
) -> list[tuple[Item, int]]:
    """Apply items with distinct external ids; returns those that lost an insert race, to try again."""
    existing = {
        p.external_id: p
        for p in Prospect.objects.for_dealer(dealer_id)
        .filter(external_id__in=[item.external_id for item, _attempt in work])
        .order_by("pk")
        .select_for_update()
    }
    now = timezone.now()
    pending: list[_Pending] = []
    region = dealer_country(dealer_id)
    for item, attempt in work:
        try:
            data = _clean(item, region)
            prospect = existing.get(item.external_id)
            if prospect is None:
                prospect = _new_prospect(
                    {**defaults, **data, "id": uuid7(), "dealer_id": dealer_id, "external_id": item.external_id},
                    now=now,
                )
                _require_name(prospect)
                pending.append(_Pending(item, prospect, "created", [], attempt))
                continue
            if refuse_merged and prospect.merged_into_id:
                raise ValidationError(
                    {
                        "external_id": _("This prospect was merged into %(id)s; write to that one.")
                        % {"id": prospect.merged_into_id}
                    }
                )
            if prospect.erased_at:
                raise ValidationError(_("This prospect was anonymised and cannot be changed."))
            changed = apply_changes(prospect, data, EDITABLE_FIELDS)
            if not changed:
                result.outcomes.append(Outcome(item.key, prospect.pk, prospect.version, "unchanged"))
                continue
            _require_name(prospect)
            prospect.version += 1
            prospect.updated_at = now
            pending.append(_Pending(item, prospect, "updated", changed, attempt))
        except ValidationError as error:
            result.errors.extend(_field_errors(item.key, error))
    if not pending:
        return []
    for entry in pending:
        fill_search_fields(entry.prospect)
    _flag_erased_people(dealer_id, [entry.prospect for entry in pending])
    written = _write(dealer_id=dealer_id, actor=actor, pending=pending)
    again: list[tuple[Item, int]] = []
    for entry in pending:
        if entry.prospect.pk in written:
            result.outcomes.append(Outcome(entry.item.key, entry.prospect.pk, entry.prospect.version, entry.status))
        elif entry.attempt < MAX_ATTEMPTS:
            again.append((entry.item, entry.attempt + 1))  # another transaction inserted this id meanwhile
        else:
            result.errors.append(
                ItemError(entry.item.key, "external_id", _("Could not save this prospect, please retry."))
            )
    return again


def _new_prospect(values: Mapping[str, Any], *, now: Any) -> Prospect:
    row = list(_STATIC_DEFAULTS)
    given = {**values, "created_at": now, "updated_at": now}
    for name, spec in _CALLABLE_DEFAULTS:
        if name not in given:
            row[_POSITION[name]] = spec.get_default()
    for name, value in given.items():
        row[_POSITION[name]] = value
    return Prospect(*row)  # type: ignore[misc]  # positional: every concrete field in order


def _flag_erased_people(dealer_id: int, prospects: list[Prospect]) -> None:
    """``previously_erased_at`` for prospects whose email or phone matches a tombstone (one query a batch)."""
    candidates = [p for p in prospects if not p.previously_erased_at and not p.erased_at]
    if not candidates or not ErasureTombstone.objects.filter(dealer_id=dealer_id).exists():
        return
    digests = {
        p.pk: [d for _kind, d in identity_digests(email=p.email, phones=(p.phone, p.mobile))] for p in candidates
    }
    erased: dict[str, Any] = {}
    for digest, at in ErasureTombstone.objects.filter(
        dealer_id=dealer_id, digest__in={d for ds in digests.values() for d in ds}
    ).values_list("digest", "erased_at"):
        erased[digest] = max(at, erased.get(digest, at))
    for prospect in candidates:
        times = [erased[d] for d in digests[prospect.pk] if d in erased]
        if times:
            prospect.previously_erased_at = max(times)
            logger.warning("erased_person_came_back", extra={"dealer_id": dealer_id, "prospect_id": str(prospect.pk)})


def _write(*, dealer_id: int, actor: Actor, pending: list[_Pending]) -> set[UUID]:
    """Stage the rows with their change-log and audit data, then write all of them in one statement."""
    owner_ids = {entry.prospect.owner_id for entry in pending if entry.prospect.owner_id}
    owners = dict(User.objects.filter(pk__in=owner_ids).values_list("pk", "email")) if owner_ids else {}
    with connection.cursor() as cursor:
        _ensure_stage(cursor)
        copy_sql = f"COPY {_STAGE} ({_quoted([*_COLUMNS, *_EXTRA])}) FROM STDIN"
        with cursor.cursor.copy(copy_sql) as copy:
            for ord_, entry in enumerate(pending):
                prospect = entry.prospect
                payload = prospect_payload(prospect, owner_email=owners.get(prospect.owner_id or 0))
                details: dict[str, Any] = {"changed": entry.changed} if entry.status == "updated" else {}
                copy.write_row(
                    [
                        *(getattr(prospect, name) for name in _ATTNAMES),
                        ord_,
                        f"prospect.{entry.status}",
                        json.dumps({**payload, **details}),
                        uuid7(),
                        json.dumps({"version": prospect.version, **details}),
                    ]
                )
        sql, params = _write_sql(actor=actor)
        cursor.execute(sql, params)
        written = {row[0] for row in cursor.fetchall()}
    logger.info("prospects_bulk_written", extra={"dealer_id": dealer_id, "count": len(written)})
    return written
