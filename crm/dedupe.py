"""Likely duplicate prospects: the same normalized email, the same phone number, or the same name and postcode.

Two readers: the duplicates page (``duplicate_groups``) and lead intake, which matches an incoming
lead to an existing prospect (``find_matches``). Both compare the same keys:

- email: ``Prospect.email_normalized`` (trimmed, lower-case);
- phone: E.164 (``crm.normalize.normalize_phone``), either of ``phone`` or ``mobile``;
- name + postcode: the last name folded to ``a-z0-9`` (Müller, Mueller and MÜLLER are one key), stored as
  ``Prospect.name_key`` by the services (``name_key`` below), and the exact postcode.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.db.models import Case, Count, IntegerField, Q, QuerySet, Value, When

from crm.models import Prospect
from crm.normalize import fold, normalize_email, normalize_phone


def name_key(value: str | None) -> str:
    """The folded last name duplicate detection compares: ``Müller-Lüdenscheidt`` -> ``muellerluedenscheidt``."""
    return re.sub(r"[^a-z0-9]", "", fold(value))


def _match_filter(
    *, email: str | None = None, phone: str | None = None, last_name: str | None = None, postcode: str | None = None
) -> Q | None:
    """The condition a prospect must meet to be a likely duplicate of these contact data (None: no key given)."""
    condition = Q()
    email_key = normalize_email(email)
    if email_key:
        condition |= Q(email_normalized=email_key)
    phone_key = normalize_phone(phone) if phone else ""
    if phone_key:
        condition |= Q(phone=phone_key) | Q(mobile=phone_key)
    last = name_key(last_name)
    postcode_key = (postcode or "").strip()
    if last and postcode_key:
        condition |= Q(postcode=postcode_key, name_key=last)
    return condition or None


def find_matches(
    *,
    dealer_id: int,
    email: str | None = None,
    phone: str | None = None,
    last_name: str | None = None,
    postcode: str | None = None,
    queryset: QuerySet[Prospect] | None = None,
) -> QuerySet[Prospect]:
    """Active prospects of ``dealer_id`` that match any of the given keys, best match first.

    ``queryset`` narrows the candidates further (for example to what a viewer may see). Merged and
    anonymised prospects never match. Each row carries ``match_score``: 3 for an email match,
    2 for a phone match, 1 for name + postcode (the highest key that matched).
    """
    base = queryset if queryset is not None else Prospect.objects.all()
    base = base.filter(dealer_id=dealer_id, merged_into__isnull=True, erased_at__isnull=True)
    condition = _match_filter(email=email, phone=phone, last_name=last_name, postcode=postcode)
    if condition is None:
        return base.none()
    email_key = normalize_email(email)
    phone_key = normalize_phone(phone) if phone else ""
    whens = []
    if email_key:
        whens.append(When(email_normalized=email_key, then=Value(3)))
    if phone_key:
        whens.append(When(Q(phone=phone_key) | Q(mobile=phone_key), then=Value(2)))
    score = Case(*whens, default=Value(1), output_field=IntegerField())
    return base.filter(condition).annotate(match_score=score).order_by("-match_score", "-updated_at", "id")


def contact_keys(*, email: str | None = None, phones: Iterable[str | None] = ()) -> list[str]:
    """The keys one person is known by across channels: normalised e-mail and E.164 numbers, sorted, unique."""
    keys = {f"email:{key}" for key in [normalize_email(email)] if key}
    keys |= {f"phone:{key}" for key in (normalize_phone(p) for p in phones if p) if key}
    return sorted(keys)


def person_lock_keys(contact: Iterable[str], *, last_name: str | None = None, postcode: str | None = None) -> list[str]:
    """Every key ``find_matches`` may match this person by: the ``contact`` keys, and name with postcode.

    Held together (``hold_contact_keys``), they make two intakes that could match one prospect run one
    after the other, whichever key they share: two e-mails with the same name and postcode too.
    """
    keys = set(contact)
    last, postcode_key = name_key(last_name), (postcode or "").strip()
    if last and postcode_key:
        keys.add(f"name_postcode:{last}|{postcode_key}")
    return sorted(keys)


def hold_contact_keys(keys: Iterable[str]) -> None:
    """Take a transaction-level PostgreSQL advisory lock per contact key, in sorted order (no deadlock).

    Two intakes of one person (the website and the call centre at the same moment) then run one
    after the other: the second sees the first's committed prospect instead of creating its own.
    The lock is keyed on the person, not on the dealership, because the two may be routed to
    different dealerships. Released at commit or rollback.
    """
    with connection.cursor() as cursor:
        for key in sorted(set(keys)):
            cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [f"crm.dedupe:{key}"])


@dataclass
class DuplicateGroup:
    """Prospects that share one key: ``reason`` is ``email``, ``phone`` or ``name_postcode``."""

    reason: str
    key: str
    prospects: list[Prospect] = field(default_factory=list)


def duplicate_groups(queryset: QuerySet[Prospect], *, limit: int = 50) -> list[DuplicateGroup]:
    """Groups of likely duplicates among ``queryset`` (already scoped to a viewer), at most ``limit``.

    A constant number of queries: one grouping query per key, one to load the prospects.
    A pair found by several keys appears once, under the strongest key.
    """
    active = queryset.filter(merged_into__isnull=True, erased_at__isnull=True)
    keyed: list[tuple[str, str, Q]] = []

    for email_row in (
        active.exclude(email_normalized="")
        .values("email_normalized")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .order_by("email_normalized")[:limit]
    ):
        keyed.append(("email", email_row["email_normalized"], Q(email_normalized=email_row["email_normalized"])))

    for number in _shared_phone_numbers(active, limit):
        keyed.append(("phone", number, Q(phone=number) | Q(mobile=number)))

    for row in (
        active.exclude(name_key="")
        .exclude(postcode="")
        .values("name_key", "postcode")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .order_by("postcode", "name_key")[:limit]
    ):
        keyed.append(
            (
                "name_postcode",
                f"{row['name_key']} {row['postcode']}",
                Q(name_key=row["name_key"], postcode=row["postcode"]),
            )
        )

    if not keyed:
        return []
    condition = Q()
    for _reason, _key, q in keyed:
        condition |= q
    prospects: list[Prospect] = list(active.filter(condition).select_related("owner").order_by("created_at", "id"))
    groups: list[DuplicateGroup] = []
    seen_pairs: set[frozenset[Any]] = set()
    for reason, key, _q in keyed:
        members = [p for p in prospects if _has_key(p, reason, key)]
        pairs = {frozenset((a.pk, b.pk)) for i, a in enumerate(members) for b in members[i + 1 :]}
        if len(members) < 2 or pairs <= seen_pairs:
            continue
        seen_pairs |= pairs
        groups.append(DuplicateGroup(reason=reason, key=key, prospects=members))
        if len(groups) >= limit:
            break
    return groups


def _shared_phone_numbers(active: QuerySet[Prospect], limit: int) -> list[str]:
    """Numbers held (as phone or mobile) by more than one prospect, grouped in the database.

    UNION (not ALL) keeps one row per prospect and number: phone = mobile is no duplicate.
    """
    phones_sql, phones_params = active.exclude(phone="").order_by().values("id", "phone").query.sql_with_params()
    mobiles_sql, mobiles_params = active.exclude(mobile="").order_by().values("id", "mobile").query.sql_with_params()
    sql = (
        f"SELECT number FROM (({phones_sql}) UNION ({mobiles_sql})) AS numbers(prospect_id, number) "  # noqa: S608 -- ORM-built
        "GROUP BY number HAVING count(*) > 1 ORDER BY number LIMIT %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*phones_params, *mobiles_params, limit])
        return [row[0] for row in cursor.fetchall()]


def _has_key(prospect: Prospect, reason: str, key: str) -> bool:
    if reason == "email":
        return prospect.email_normalized == key
    if reason == "phone":
        return key in (prospect.phone, prospect.mobile)
    return f"{prospect.name_key} {prospect.postcode}" == key
