"""Bench data: 450 dealerships with a realistic size skew and ``rows`` prospects, deterministic for a seed.

``make bench-data ROWS=10000000`` (``python -m bench data --rows N``) fills the bench database
(``crm_bench`` on the server of ``DATABASE_URL``); ``make bench-smoke`` loads a small set on every run.

- The dealer network (regions, groups, 450 dealerships, territories, opening hours, staff) is the demo's
  (``dealers.demo``), so routing, logins and roles work as in ``make run``.
- Prospects are drawn in Python: German first and last names with their umlauts, written in their ASCII
  spelling (``Mueller``) by some, typos (``Mülller``), companies, e-mails, landline and mobile numbers,
  duplicates of an earlier prospect of the same dealership; ``search_text`` and ``email_normalized`` come
  from the product's own ``fill_search_fields``. The largest dealership holds about 100x the smallest.
- They go by ``COPY`` into an unlogged staging table; everything else is ``INSERT ... SELECT`` in the
  server: about three leads per prospect over five years (older ones mostly won or lost), one activity per
  prospect, a task for a quarter of them, and the change-log rows ``prospect.created`` / ``lead.created``.
  Leads, activities, tasks and changes come from one statement per chunk (data-modifying CTEs).
- The tables' secondary indexes and constraints are dropped for the load and created again afterwards
  (taken from the catalogue, so an index a migration adds later is rebuilt too), all in one transaction:
  a load that fails leaves the database as it was.

The database's comment records what was loaded (rows, seed, largest dealership); the harness reads it.
"""

from __future__ import annotations

import functools
import io
import json
import multiprocessing
import os
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import psycopg

VERSION = 4  # of the generator: a smoke run reloads its data set when this changes
DEALERS = 450
SKEW = 100  # the largest dealership holds about this many times the prospects of the smallest
AS_OF = datetime(2026, 12, 1, tzinfo=UTC)  # the data's "now": fixed, so a seed always gives the same rows
YEARS = 5
CHUNK = 200_000  # prospects per COPY and per INSERT ... SELECT of their leads
TABLES = ("crm_prospect", "crm_lead", "crm_activity", "crm_task", "crm_change")

MAIL_DOMAINS = ("gmx.de", "web.de", "t-online.de", "gmail.com", "outlook.de", "yahoo.de", "posteo.de", "icloud.com")
COMPANY_FORMS = ("GmbH", "GmbH & Co. KG", "KG", "e.K.", "AG", "UG (haftungsbeschränkt)")
COMPANY_TRADES = ("Bau", "Elektro", "Sanitär", "Logistik", "Dachdeckerei", "Gartenbau", "Malerbetrieb", "Pflegedienst")
MOBILE_PREFIXES = ("151", "152", "157", "160", "162", "170", "171", "172", "173", "174", "175", "176", "177", "178")
ORIGINS = ("showroom",) * 4 + ("phone",) * 2 + ("website",) * 3 + ("intake",) * 6 + ("dms", "import", "event")
TITLES = ("",) * 30 + ("Dr.",)


@dataclass(frozen=True)
class Staff:
    dealer_id: int
    salespeople: tuple[int, ...]


def staff_email(dealer_id: int, role: str) -> str:
    """The e-mail of a member of ``dealer_id`` with ``role`` (the first by id), for the harness's logins."""
    from dealers.models import Membership

    membership = (
        Membership.objects.filter(dealer_id=dealer_id, role=role, is_active=True, user__is_active=True)
        .select_related("user")
        .order_by("id")
        .first()
    )
    if membership is None:
        raise LookupError(f"no active {role} at dealership {dealer_id}")
    return str(membership.user.email)


STAFF_PASSWORD = "demo-Passwort-2026"  # noqa: S105 - the demo network's published password (dealers.demo)


def dealer_sizes(rows: int, dealers: int, rng: random.Random) -> list[int]:
    """Prospects per dealership: weights 1/(1 + k*i) so the largest is SKEW times the smallest, shuffled."""
    k = (SKEW - 1) / max(1, dealers - 1)
    weights = [1 / (1 + k * i) for i in range(dealers)]
    total = sum(weights)
    sizes = [int(rows * w / total) for w in weights]
    sizes[0] += rows - sum(sizes)  # rounding goes to the largest
    rng.shuffle(sizes)
    return sizes


# ---------------------------------------------------------------------------------------------------
# Prospects, drawn in Python

PART = 20_000  # prospects per slice a pool worker draws
_GLOBALS: dict[str, Any] = {}  # the towns, handed to the forked pool workers


def _draw(job: tuple[int, str, int, int, int, Staff, Any]) -> tuple[str, int]:
    seed, part, dealer_id, start_seq, count, staff, home = job
    _memoise_fold()
    rows = prospect_rows(
        seed=seed,
        part=part,
        dealer_id=dealer_id,
        start_seq=start_seq,
        count=count,
        staff=staff,
        towns=_GLOBALS["towns"],
        home=home,
    )
    return "".join(rows), count


def _memoise_fold() -> None:
    """crm.normalize.fold is pure and names repeat: cache it in this (datagen) process only."""
    from crm import normalize

    if not hasattr(normalize.fold, "cache_info"):
        normalize.fold = functools.lru_cache(maxsize=100_000)(normalize.fold)


class _Row:
    """The attributes fill_search_fields reads and writes (a Prospect without the model's cost)."""

    first_name = last_name = company = email = city = phone = mobile = search_text = email_normalized = ""
    name_key = sort_name = ""


def _typo(name: str, rng: random.Random) -> str:
    if len(name) < 3:
        return name
    i = rng.randrange(1, len(name) - 1)
    how = rng.randrange(3)
    if how == 0:
        return name[:i] + name[i] + name[i:]  # Mülller
    if how == 1:
        return name[:i] + name[i + 1 :]  # Mülr
    return name[:i] + name[i + 1] + name[i] + name[i + 2 :]  # Mülelr


def _ascii(text: str) -> str:
    from dealers.demo import ascii_fold

    return ascii_fold(text)


def prospect_rows(
    *, seed: int, part: str, dealer_id: int, start_seq: int, count: int, staff: Staff, towns: list[Any], home: Any
) -> Iterator[str]:
    """COPY lines (text format) of a dealership's prospects; the same arguments give the same lines.

    ``part`` names the slice (dealership position and part number) and seeds its random generator.
    """
    from crm.services.prospects import fill_search_fields
    from dealers.demo_data import FEMALE_FIRST_NAMES, MALE_FIRST_NAMES, STREETS, SURNAMES

    rng = random.Random(f"{seed}:prospects:{part}")
    span = YEARS * 365 * 86400
    start = AS_OF - timedelta(seconds=span)
    recent: list[tuple[str, ...]] = []
    row = _Row()
    for n in range(count):
        seq = start_seq + n
        created = start + timedelta(seconds=rng.randrange(span))
        updated = created + timedelta(seconds=rng.randrange(max(1, int((AS_OF - created).total_seconds()))))
        if recent and rng.random() < 0.02:  # the same person again: another spelling, a typo, or a second e-mail
            first, last, email, phone, mobile, street, postcode, city, salutation = recent[rng.randrange(len(recent))]
            variant = rng.randrange(3)
            if variant == 0:
                first, last = _ascii(first), _ascii(last)
            elif variant == 1:
                last = _typo(last, rng)
            else:
                email = email.upper() if rng.random() < 0.5 else ""
        else:
            female = rng.random() < 0.5
            first = rng.choice(FEMALE_FIRST_NAMES if female else MALE_FIRST_NAMES)
            last = rng.choice(SURNAMES)
            salutation = "ms" if female else "mr"
            if rng.random() < 0.08:
                first, last = _ascii(first), _ascii(last)
            if rng.random() < 0.03:
                last = _typo(last, rng)
            town = home if rng.random() < 0.7 else towns[rng.randrange(len(towns))]
            city, postcode = town.name, rng.choice(town.postcodes)
            street = f"{rng.choice(STREETS)} {rng.randrange(1, 180)}"
            local = f"{_ascii(first)}.{_ascii(last)}".lower().replace(" ", "")
            email = f"{local}{rng.randrange(100) if rng.random() < 0.4 else ''}@{rng.choice(MAIL_DOMAINS)}"
            email = email if rng.random() < 0.85 else ""
            phone = f"+49{town.area_code[1:]}{rng.randrange(10_000, 9_999_999)}" if rng.random() < 0.7 else ""
            mobile = f"+49{rng.choice(MOBILE_PREFIXES)}{rng.randrange(1_000_000, 99_999_999)}"
            mobile = mobile if rng.random() < 0.6 else ""
            recent.append((first, last, email, phone, mobile, street, postcode, city, salutation))
            if len(recent) > 500:
                recent.pop(0)
        company = ""
        kind = "person"
        if rng.random() < 0.05:
            kind = "company"
            company = f"{last} {rng.choice(COMPANY_TRADES)} {rng.choice(COMPANY_FORMS)}"
        row.first_name, row.last_name, row.company, row.email = first, last, company, email
        row.city, row.phone, row.mobile = city, phone, mobile
        fill_search_fields(cast(Any, row))
        owner = (
            staff.salespeople[rng.randrange(len(staff.salespeople))]
            if staff.salespeople and rng.random() < 0.7
            else None
        )
        external = f"K{seq}" if rng.random() < 0.3 else None
        fields = (
            seq,
            dealer_id,
            created.isoformat(),
            updated.isoformat(),
            kind,
            salutation,
            rng.choice(TITLES),
            first,
            last,
            company,
            email,
            phone,
            mobile,
            street,
            postcode,
            city,
            "de" if rng.random() < 0.95 else "en",
            rng.choice(ORIGINS),
            row.search_text,
            row.email_normalized,
            row.name_key,
            row.sort_name.replace("\t", "\\t"),  # COPY's text format: a tab inside a value is written \t
            owner,
            external,
            1 + rng.randrange(5),  # leads: 1..5, three on average
        )
        yield "\t".join(r"\N" if v is None else str(v) for v in fields) + "\n"


STAGE_COLUMNS = (
    "seq bigint, dealer_id bigint, created_at timestamptz, updated_at timestamptz, kind text, salutation text, "
    "title text, first_name text, last_name text, company text, email text, phone text, mobile text, street text, "
    "postcode text, city text, preferred_language text, origin text, search_text text, email_normalized text, "
    "name_key text, sort_name text, owner_id bigint, external_id text, n_leads int"
)

# ---------------------------------------------------------------------------------------------------
# Everything else, in the server


def _h(expr: str, attr: int) -> str:
    """A deterministic pseudo-random non-negative bigint of ``expr`` (hashint8extended, seeded per attribute)."""
    return f"abs(hashint8extended(({expr})::bigint, %(seed)s * 64 + {attr}))"


def _uuid(ts: str, kind: int, key: str) -> str:
    """A UUIDv7-shaped id: the millisecond time of ``ts``, then 74 bits hashed from (seed, kind, key)."""
    bits = f"lpad(to_hex(hashint8extended(({key})::bigint * 8 + {kind}, %(seed)s)), 16, '0')"
    return (
        f"(lpad(to_hex((extract(epoch FROM {ts}) * 1000)::bigint), 12, '0') || '7' || substr({bits}, 1, 3) "
        f"|| '8' || substr({bits}, 4, 13) || lpad(to_hex(mod(({key})::bigint, 251)), 2, '0'))::uuid"
    )


MODELS: tuple[str, ...] = (
    "Clio",
    "Captur",
    "Mégane E-Tech",
    "Austral",
    "Scenic E-Tech",
    "Rafale",
    "Symbioz",
    "Twingo",
    "Kangoo",
)
MODELS += ("Trafic", "Master", "Arkana", "Espace", "R5 E-Tech", "R4 E-Tech")
SOURCES: tuple[str, ...] = (
    ("website",) * 5 + ("configurator",) * 3 + ("test_drive_form",) * 3 + ("call_centre", "event", "portal")
)
SOURCES += ("showroom",) * 3 + ("phone",) * 2 + ("dms", "other")
LEAD_TYPES = ("new_car",) * 6 + ("used_car",) * 2 + ("test_drive",) * 2 + ("finance", "brochure", "service")
OPEN_STAGES = ("contacted", "appointment", "test_drive", "offer")
MESSAGES = (
    "Bitte um Rückruf wegen Probefahrt.",
    "Ich interessiere mich für ein Leasingangebot.",
    "Wann ist das Fahrzeug lieferbar?",
    "Bitte senden Sie mir ein Angebot mit Inzahlungnahme.",
    "",
)
ACTIVITY_KINDS = ("call", "email", "meeting", "test_drive", "note")


def _mod(expr: str, attr: int, m: int | str) -> str:
    """``_h(expr, attr)`` modulo ``m`` (mod(), so that psycopg's placeholders are the only percent signs)."""
    return f"mod({_h(expr, attr)}, {m})"


def _pick(values: tuple[str, ...], expr: str, attr: int) -> str:
    array = "ARRAY[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"
    return f"({array})[1 + {_mod(expr, attr, len(values))}]"


def _lead_sql() -> str:
    """Leads of the staged prospects with seq in [lo, hi), and from them activities, tasks and change rows."""
    key = "p.seq * 8 + k"
    created = (
        f"p.created_at + {_mod(key, 1, 'greatest(1, extract(epoch FROM (%(as_of)s - p.created_at))::bigint)')}"
        " * interval '1 second'"
    )
    age_days = "extract(epoch FROM (%(as_of)s - l_created)) / 86400"
    roll = _mod(key, 2, 100)
    stage = (
        f"CASE WHEN {age_days} > 120 THEN (CASE WHEN {roll} < 25 THEN 'won' WHEN {roll} < 85 THEN 'lost' "
        f"ELSE {_pick(OPEN_STAGES, key, 3)} END) "
        f"WHEN {age_days} < 3 AND {roll} < 60 THEN 'new' ELSE {_pick(OPEN_STAGES, key, 3)} END"
    )
    return f"""
WITH base AS (
    SELECT p.*, k, {created} AS l_created
    FROM bench_stage_prospect p CROSS JOIN LATERAL generate_series(1, p.n_leads) AS k
    WHERE p.seq >= %(lo)s AND p.seq < %(hi)s
), staged AS (
    SELECT p.*, {stage} AS l_stage, {_uuid("l_created", 2, key)} AS l_id,
           {_uuid("created_at", 1, "p.seq")} AS p_id
    FROM base p
), leads AS (
    INSERT INTO crm_lead (
        id, external_id, version, created_at, updated_at, lead_type, source, campaign, model_name, trim,
        powertrain, configuration_code, vehicle_condition, vin, stock_number, list_price, tradein_make,
        tradein_model, stage, rating, financing_interest, first_contact_due_at, first_contacted_at, close_note,
        closed_at, message, dealer_id, owner_id, lost_reason_id, prospect_id, contact_channel)
    SELECT l_id, NULL, 1, l_created,
           CASE WHEN l_stage = 'new' THEN l_created
                ELSE least(%(as_of)s, l_created + ({_mod(key, 4, 5184000)}) * interval '1 second') END,
           {_pick(LEAD_TYPES, key, 5)}, {_pick(SOURCES, key, 6)}, '', {_pick(MODELS, key, 7)}, '',
           '', '', CASE WHEN {_mod(key, 8, 5)} = 0 THEN 'used' ELSE 'new' END, '', '',
           (18000 + {_mod(key, 9, 40000)})::numeric, '', '', l_stage,
           {_pick(("", "hot", "warm", "cold"), key, 10)}, {_mod(key, 11, 3)} = 0,
           l_created + interval '2 hours',
           CASE WHEN l_stage = 'new' THEN NULL ELSE l_created + ({_mod(key, 12, 7200)}) * interval '1 second' END,
           CASE WHEN l_stage = 'won' THEN 'Kaufvertrag unterschrieben' ELSE '' END,
           CASE WHEN l_stage IN ('won', 'lost')
                THEN least(%(as_of)s, l_created + ({_mod(key, 4, 5184000)}) * interval '1 second') END,
           {_pick(MESSAGES, key, 13)}, dealer_id, owner_id,
           CASE WHEN l_stage = 'lost' THEN (%(lost_reasons)s::bigint[])[1 + {_mod(key, 14, "%(n_lost)s")}] END,
           p_id, ''
    FROM staged p
    RETURNING id, dealer_id, prospect_id, owner_id, created_at, stage, model_name, source, version
), activities AS (
    INSERT INTO crm_activity (id, external_id, version, created_at, updated_at, kind, direction, subject, body,
                              occurred_at, author_label, author_id, dealer_id, lead_id, prospect_id)
    SELECT {_uuid("l.created_at", 3, "hashtext(l.id::text)")}, NULL, 1, l.created_at + interval '1 hour',
           l.created_at + interval '1 hour', {_pick(ACTIVITY_KINDS, "hashtext(l.id::text)", 20)}, 'outbound',
           'Erstkontakt', 'Kunde interessiert, Rückruf vereinbart.', l.created_at + interval '1 hour', '',
           l.owner_id, l.dealer_id, l.id, l.prospect_id
    FROM leads l WHERE {_mod("hashtext(l.id::text)", 21, 3)} = 0
), tasks AS (
    INSERT INTO crm_task (id, external_id, version, created_at, updated_at, title, notes, due_at, done_at,
                          created_by_label, assignee_id, dealer_id, lead_id, prospect_id)
    SELECT {_uuid("l.created_at", 4, "hashtext(l.id::text)")}, NULL, 1, l.created_at, l.created_at,
           'Angebot nachfassen', '',
           l.created_at + interval '3 days',
           CASE WHEN l.stage IN ('won', 'lost') THEN l.created_at + interval '2 days' END,
           '', l.owner_id, l.dealer_id, l.id, l.prospect_id
    FROM leads l WHERE {_mod("hashtext(l.id::text)", 22, 12)} = 0
)
INSERT INTO crm_change (event_id, type, object_type, object_id, version, occurred_at, data, dealer_id)
SELECT {_uuid("l.created_at", 5, "hashtext(l.id::text)")}, 'lead.created', 'lead', l.id, 1, l.created_at,
       jsonb_build_object('id', l.id, 'prospect', l.prospect_id, 'stage', l.stage, 'model_name', l.model_name,
                          'source', l.source, 'version', 1),
       l.dealer_id
FROM leads l
"""  # noqa: S608 -- SQL fragments built here from constants, values as parameters


PROSPECT_SQL = f"""
INSERT INTO crm_prospect (
    id, external_id, version, created_at, updated_at, kind, salutation, title, first_name, last_name, company,
    email, phone, mobile, street, postcode, city, country, preferred_channel, preferred_language, origin,
    search_text, email_normalized, name_key, sort_name, erased_at, dealer_id, merged_into_id, owner_id,
    previously_erased_at)
SELECT {_uuid("created_at", 1, "seq")}, external_id, 1, created_at, updated_at, kind, salutation, title,
       first_name, last_name, company, email, phone, mobile, street, postcode, city, 'DE', '', preferred_language,
       origin, search_text, email_normalized, name_key, sort_name, NULL, dealer_id, NULL, owner_id, NULL
FROM bench_stage_prospect WHERE seq >= %(lo)s AND seq < %(hi)s
"""  # noqa: S608 -- SQL fragments built here from constants, values as parameters

PROSPECT_CHANGE_SQL = f"""
INSERT INTO crm_change (event_id, type, object_type, object_id, version, occurred_at, data, dealer_id)
SELECT {_uuid("created_at", 6, "seq")}, 'prospect.created', 'prospect', {_uuid("created_at", 1, "seq")}, 1,
       created_at,
       jsonb_build_object('id', {_uuid("created_at", 1, "seq")}, 'first_name', first_name, 'last_name', last_name,
                          'email', email, 'phone', phone, 'postcode', postcode, 'city', city, 'version', 1),
       dealer_id
FROM bench_stage_prospect WHERE seq >= %(lo)s AND seq < %(hi)s
"""  # noqa: S608 -- SQL fragments built here from constants, values as parameters


# ---------------------------------------------------------------------------------------------------
# Indexes and constraints: off for the load, back afterwards


@dataclass
class _Schema:
    constraints: list[tuple[str, str, str, str]]  # (table, name, type, definition)
    indexes: list[str]  # CREATE INDEX statements of indexes that back no constraint


# The escalations a running system would have made: an open lead never contacted reached the last level
# (sync.inbound.sla) once its first-contact deadline passed, and every generated deadline (at most two
# hours after AS_OF, which is in the past) has passed when a benchmark runs. Without them the worker's SLA
# sweep enrols and escalates that backlog, with mails, during every benchmark that runs a worker (219,314
# leads at 10M, 500 a sweep: about 1,000 mails in the intake benchmark's minute).
ESCALATED_SQL = """
INSERT INTO sync_leadrouting (lead_id, dealer_id, method, decisions, first_contact_due_at, escalation_level,
    next_escalation_at, last_escalated_at, created_at)
SELECT id, dealer_id, %(method)s, '{}'::jsonb, first_contact_due_at, %(level)s, NULL, first_contact_due_at, created_at
FROM crm_lead
WHERE first_contact_due_at IS NOT NULL AND first_contacted_at IS NULL AND stage = ANY(%(open)s)
ON CONFLICT (lead_id) DO NOTHING
"""


def _settle_escalations(conn: psycopg.Connection[Any]) -> int:
    from crm.models import Lead
    from sync.inbound.sla import MAX_LEVEL
    from sync.models import LeadRouting

    params = {"method": LeadRouting.Method.DEALERSHIP.value, "level": MAX_LEVEL}
    return conn.execute(ESCALATED_SQL, {**params, "open": list(Lead.OPEN_STAGES)}).rowcount


def _drop_schema(conn: psycopg.Connection[Any]) -> _Schema:
    tables = list(TABLES)
    constraints = conn.execute(
        "SELECT conrelid::regclass::text, conname, contype, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE contype IN ('p', 'u', 'f', 'c') AND (conrelid::regclass::text = ANY(%s) "
        "OR (contype = 'f' AND confrelid::regclass::text = ANY(%s)))",
        [tables, tables],
    ).fetchall()
    indexes = conn.execute(
        "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index i "
        "WHERE indrelid::regclass::text = ANY(%s) "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
        [tables],
    ).fetchall()
    # foreign keys first (they depend on the keys they reference), then the keys and checks
    for table, name, _kind, _definition in sorted(constraints, key=lambda c: c[2] != "f"):
        conn.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    for name, _definition in indexes:
        conn.execute(f"DROP INDEX {name}")
    return _Schema(constraints=constraints, indexes=[d for _n, d in indexes])


def _restore_schema(conn: psycopg.Connection[Any], schema: _Schema, echo: Callable[[str], None]) -> None:
    order = {"p": 0, "u": 1, "c": 2, "f": 3}
    keys = sorted((c for c in schema.constraints if c[2] != "f"), key=lambda c: order[c[2]])
    for table, name, _kind, definition in keys:
        conn.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
    for definition in schema.indexes:
        started = time.monotonic()
        conn.execute(definition)
        echo(f"datagen: {definition.split(' ON ')[0].removeprefix('CREATE ')} {time.monotonic() - started:.0f} s")
    for table, name, _kind, definition in (c for c in schema.constraints if c[2] == "f"):
        conn.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')


# ---------------------------------------------------------------------------------------------------
# The load


def _network(seed: int) -> None:
    """The demo's dealer network (450 dealerships, their staff), through the product's own demo code."""
    from dealers import demo

    demo.seed(rng=demo.demo_rng(seed=seed, app="dealers"), options={"dealers": DEALERS})


def _wipe(conn: psycopg.Connection[Any]) -> None:
    """Empty what a previous load wrote (and what hangs off it), keeping the schema and migrations."""
    conn.execute(
        "TRUNCATE dealers_dealer, dealers_user, dealers_region, dealers_dealergroup, django_session, "
        "axes_accessattempt, axes_accessfailurelog, axes_accesslog, " + ", ".join(TABLES) + " RESTART IDENTITY CASCADE"
    )


def load(owner_url: str, *, rows: int, seed: int = 1, echo: Callable[[str], None] = print) -> dict[str, Any]:
    """Replace the bench data in the (migrated) database at ``owner_url`` with ``rows`` prospects.

    Django must be set up on the same database (the harness does it); returns what it recorded.
    """
    from dealers.demo_data import towns

    started = time.monotonic()
    with psycopg.connect(owner_url, autocommit=True) as conn:
        _wipe(conn)
    _network(seed)
    echo(f"datagen: dealer network {time.monotonic() - started:.0f} s")
    all_towns = list(towns())
    by_postcode = {code: town for town in all_towns for code in town.postcodes}
    rng = random.Random(f"{seed}:sizes")
    with psycopg.connect(owner_url) as conn:
        conn.execute("SET maintenance_work_mem = '1GB'")
        conn.execute("SET max_parallel_maintenance_workers = 2")
        conn.execute("SET synchronous_commit = off")
        dealers = conn.execute("SELECT id, postcode FROM dealers_dealer ORDER BY number").fetchall()
        salespeople: dict[int, list[int]] = {}
        for dealer_id, user_id in conn.execute(
            "SELECT dealer_id, user_id FROM dealers_membership WHERE role = 'salesperson' AND is_active "
            "ORDER BY dealer_id, id"
        ):
            salespeople.setdefault(dealer_id, []).append(user_id)
        lost_reasons = [r[0] for r in conn.execute("SELECT id FROM crm_lostreason ORDER BY id")]
        sizes = dealer_sizes(rows, len(dealers), rng)
        schema = _drop_schema(conn)
        conn.execute(f"CREATE UNLOGGED TABLE IF NOT EXISTS bench_stage_prospect ({STAGE_COLUMNS})")
        conn.execute("TRUNCATE bench_stage_prospect")
        params: dict[str, Any] = {"seed": seed, "as_of": AS_OF, "lost_reasons": lost_reasons}
        params["n_lost"] = len(lost_reasons)
        seq, flushed = 0, 0
        buffer = io.StringIO()
        timings = {"copy": 0.0, "insert": 0.0}

        def flush(upto: int) -> None:
            nonlocal flushed, buffer
            t0 = time.monotonic()
            with conn.cursor().copy("COPY bench_stage_prospect FROM STDIN") as copy:
                copy.write(buffer.getvalue())
            buffer = io.StringIO()
            t1 = time.monotonic()
            chunk = {**params, "lo": flushed, "hi": upto}
            conn.execute(PROSPECT_SQL, chunk)
            conn.execute(PROSPECT_CHANGE_SQL, chunk)
            conn.execute(_lead_sql(), chunk)
            conn.execute("TRUNCATE bench_stage_prospect")
            timings["copy"] += t1 - t0
            timings["insert"] += time.monotonic() - t1
            flushed = upto
            echo(f"datagen: {upto:,} of {rows:,} prospects, {time.monotonic() - started:.0f} s")

        jobs = []
        for position, ((dealer_id, postcode), size) in enumerate(zip(dealers, sizes, strict=True)):
            home = by_postcode.get(postcode) or all_towns[position % len(all_towns)]
            staff = Staff(dealer_id, tuple(salespeople.get(dealer_id, ())))
            for part, first in enumerate(range(0, size, PART)):
                count = min(PART, size - first)
                jobs.append((seed, f"{position}:{part}", dealer_id, seq, count, staff, home))
                seq += count
        seq = 0
        # Drawing prospects is the CPU-bound part: a forked pool draws the next slices while COPY runs.
        _GLOBALS["towns"] = all_towns
        with multiprocessing.get_context("fork").Pool(processes=max(1, min(2, os.cpu_count() or 1))) as pool:
            for lines, count in pool.imap(_draw, jobs, chunksize=1):
                buffer.write(lines)
                seq += count
                if seq - flushed >= CHUNK:
                    flush(seq)
        if seq > flushed:
            flush(seq)
        conn.execute("DROP TABLE bench_stage_prospect")
        load_seconds = time.monotonic() - started
        _restore_schema(conn, schema, echo)
        escalated = _settle_escalations(conn)
        echo(f"datagen: {escalated:,} overdue leads escalated to the last level, as a running system left them")
        index_seconds = time.monotonic() - started - load_seconds
        largest = dealers[max(range(len(sizes)), key=sizes.__getitem__)][0]  # ids are stable: RESTART IDENTITY
        counts = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}  # type: ignore[index]  # noqa: S608
        meta = {
            "rows": rows,
            "seed": seed,
            "version": VERSION,
            "dealers": len(dealers),
            "largest_dealer_id": largest,
            "largest_dealer_rows": max(sizes),
            "smallest_dealer_rows": min(sizes),
            "as_of": AS_OF.isoformat(),
            "counts": {**counts, "sync_leadrouting": escalated},
            "seconds": {
                "total": round(time.monotonic() - started, 1),
                "load": round(load_seconds, 1),
                "copy": round(timings["copy"], 1),
                "insert_select": round(timings["insert"], 1),
                "indexes_and_constraints": round(index_seconds, 1),
            },
        }
        database = conn.execute("SELECT current_database()").fetchone()[0]  # type: ignore[index]
        conn.execute(f"COMMENT ON DATABASE \"{database}\" IS '{json.dumps(meta)}'")
        conn.commit()
    with psycopg.connect(owner_url, autocommit=True) as conn:
        for table in TABLES:
            conn.execute(f"VACUUM (ANALYZE) {table}")
    meta["seconds"]["with_analyze"] = round(time.monotonic() - started, 1)
    echo(f"datagen: {json.dumps(meta)}")
    return meta
