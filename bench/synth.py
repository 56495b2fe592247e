"""Synthetic rows for plan checks: enough prospects, leads and changes that the planner prefers indexes.

Not the benchmark data set (``bench/datagen.py``): a few ``INSERT ... SELECT generate_series``
statements, fast enough for a test, with one dealership holding ``largest_share`` of the rows and
names drawn from German surnames with umlauts, ASCII spellings and typos. ``search_text`` and
``email_normalized`` are computed the way ``crm.normalize`` folds them. Foreign keys are not
checked (``session_replication_role = replica``): the owner (a superuser) runs it.
"""

from __future__ import annotations

from typing import Any

LARGEST_DEALER_ID = 900_001
FIRST_DEALER_ID = 900_001
SYNTH_TABLES = (
    "dealers_dealer",
    "crm_prospect",
    "crm_lead",
    "crm_task",
    "crm_leadevent",
    "crm_change",
    "sync_intakedocument",
)

LAST_NAMES = [
    "Müller", "Mueller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Meier", "Wagner", "Becker",
    "Schulz", "Hoffmann", "Schäfer", "Schaefer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder",
    "Neumann", "Schwarz", "Zimmermann", "Braun", "Krüger", "Hofmann", "Hartmann", "Lange", "Schmitt", "Werner",
    "Schmitz", "Krause", "Meier", "Lehmann", "Schmid", "Schulze", "Maier", "Köhler", "Herrmann", "König",
    "Walter", "Mayer", "Huber", "Kaiser", "Fuchs", "Peters", "Lang", "Scholz", "Möller", "Weiß",
]  # fmt: skip
FIRST_NAMES = [
    "Jürgen", "Anna", "Klaus", "Eva", "Lukas", "Sophie", "Jonas", "Marie", "Leon", "Mia", "Paul", "Emma",
    "Felix", "Hannah", "Maximilian", "Lena", "Björn", "Jörg", "Käthe", "Günther",
]  # fmt: skip

_FOLD_SQL = (
    "regexp_replace(translate(replace(replace(replace(replace(lower({0}), 'ä', 'ae'), 'ö', 'oe'), "
    "'ü', 'ue'), 'ß', 'ss'), '-', ' '), '\\s+', ' ', 'g')"
)


def _array(values: list[str]) -> str:
    return "ARRAY[" + ",".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def fill(cursor: Any, *, prospects: int, dealers: int = 450, largest_share: float = 0.3) -> None:
    """Insert ``prospects`` prospects over ``dealers`` dealerships (ids from FIRST_DEALER_ID) and their rows.

    Each prospect gets a lead and a change row, leads their events, a quarter of the prospects a task.

    About ``largest_share`` of the prospects belong to LARGEST_DEALER_ID; the others spread evenly.
    Then ANALYZE, so the planner sees the sizes.
    """
    largest = int(prospects * largest_share)
    cursor.execute("SET session_replication_role = replica")
    cursor.execute(
        "INSERT INTO dealers_region (id, code, name) VALUES (900001, 'SYN', 'synthetic') ON CONFLICT DO NOTHING"
    )
    cursor.execute(
        """
        INSERT INTO dealers_dealer (id, number, name, street, postcode, city, phone, email, is_active,
            salespeople_see_unassigned, first_contact_minutes, created_at, updated_at, region_id)
        SELECT %(first)s + g, lpad((80000 + g)::text, 5, '0'), 'Autohaus ' || g, '', '10115', 'Berlin', '', '',
            true, false, 60, now(), now(), 900001
        FROM generate_series(0, %(dealers)s - 1) g
        ON CONFLICT DO NOTHING
        """,
        {"first": FIRST_DEALER_ID, "dealers": dealers},
    )
    last, first = _array(LAST_NAMES), _array(FIRST_NAMES)
    # A typo in every seventh last name (one letter doubled), as people type them.
    last_name = (
        f"(CASE WHEN mod(g, 7) = 0 THEN overlay(({last})[1 + mod(g, {len(LAST_NAMES)})] placing "
        f"repeat(substr(({last})[1 + mod(g, {len(LAST_NAMES)})], 3, 1), 2) from 3 for 1) "
        f"ELSE ({last})[1 + mod(g, {len(LAST_NAMES)})] END)"
    )
    first_name = f"({first})[1 + mod(g / 7, {len(FIRST_NAMES)})]"
    cursor.execute(
        f"""
        INSERT INTO crm_prospect (id, version, created_at, updated_at, kind, salutation, title, first_name,
            last_name, company, email, phone, mobile, street, postcode, city, country, preferred_channel,
            preferred_language, origin, search_text, email_normalized, name_key, sort_name, dealer_id)
        SELECT md5('p' || g)::uuid, 1, ts, ts, 'person', '', '', fn, ln, '', em, ph, '', '', '10115', 'Berlin',
            'DE', '', 'de', 'showroom',
            {_FOLD_SQL.format("fn || ' ' || ln")} || ' ' || em || ' ' || substr(ph, 2), em,
            regexp_replace({_FOLD_SQL.format("ln")}, '[^a-z0-9]+', '', 'g'),
            {_FOLD_SQL.format("ln")} || E'\\t' || {_FOLD_SQL.format("fn")}, dealer
        FROM (
            SELECT g, {first_name} AS fn, {last_name} AS ln,
                'kunde' || g || '@example' || mod(g, 13) || '.de' AS em,
                '+49' || (30000000000 + g)::text AS ph,
                timestamptz '2021-01-01' + (g * interval '157 seconds') AS ts,
                CASE WHEN g < %(largest)s THEN %(first)s
                     ELSE %(first)s + 1 + mod(g, %(dealers)s - 1) END AS dealer
            FROM generate_series(0, %(n)s - 1) g
        ) s
        """,  # noqa: S608 -- constants of this module; values as parameters
        {"n": prospects, "largest": largest, "first": FIRST_DEALER_ID, "dealers": dealers},
    )
    cursor.execute(
        """
        INSERT INTO crm_lead (id, version, created_at, updated_at, lead_type, source, campaign, model_name, trim,
            powertrain, configuration_code, vehicle_condition, vin, stock_number, tradein_make, tradein_model,
            stage, rating, financing_interest, close_note, message, dealer_id, prospect_id, contact_channel)
        SELECT md5('l' || p.id)::uuid, 1, p.created_at, p.updated_at, 'sales', 'web', '', 'ID.3', '', '', '',
            'new', '', '', '', '', CASE WHEN mod(abs(hashtext(p.id::text)), 5) = 0 THEN 'new' ELSE 'contacted' END, '',
            false, '', '', p.dealer_id, p.id, ''
        FROM crm_prospect p WHERE p.dealer_id >= %(first)s
        """,
        {"first": FIRST_DEALER_ID},
    )
    # A task for a quarter of the prospects (half of them done); each lead's "created" event, and an
    # escalation for one lead in fifty.
    cursor.execute(
        """
        INSERT INTO crm_task (id, version, created_at, updated_at, title, notes, due_at, done_at, created_by_label,
            dealer_id, prospect_id)
        SELECT md5('t' || p.id)::uuid, 1, p.created_at, p.updated_at, 'Anrufen', '', p.created_at + interval '2 days',
            CASE WHEN mod(abs(hashtext(p.id::text)), 2) = 0 THEN p.created_at + interval '1 day' END, 'synth',
            p.dealer_id, p.id
        FROM crm_prospect p WHERE p.dealer_id >= %(first)s AND mod(abs(hashtext('t' || p.id::text)), 4) = 0
        """,
        {"first": FIRST_DEALER_ID},
    )
    cursor.execute(
        """
        INSERT INTO crm_leadevent (dealer_id, lead_id, kind, from_stage, to_stage, actor_label, data, at)
        SELECT l.dealer_id, l.id, 'created', '', 'new', 'system:routing', '{}'::jsonb, l.created_at
        FROM crm_lead l WHERE l.dealer_id >= %(first)s
        UNION ALL
        SELECT l.dealer_id, l.id, 'escalated', '', '', 'system:sla', '{"level": 1}', l.created_at + interval '2 hours'
        FROM crm_lead l WHERE l.dealer_id >= %(first)s AND mod(abs(hashtext(l.id::text)), 50) = 0
        """,
        {"first": FIRST_DEALER_ID},
    )
    cursor.execute(
        """
        INSERT INTO crm_change (txid, event_id, type, object_type, object_id, version, occurred_at, data, dealer_id)
        SELECT 1000 + row_number() OVER (), md5('c' || id)::uuid, 'prospect.created', 'prospect', id, 1,
            created_at, '{}'::jsonb, dealer_id
        FROM crm_prospect WHERE dealer_id >= %(first)s
        """,
        {"first": FIRST_DEALER_ID},
    )
    # The network's intake of the last three days: an accepted document for one prospect in four, keyed by
    # the person's e-mail and phone (sync.inbound.routing.follow_recent_intake reads them by key).
    cursor.execute(
        """
        INSERT INTO sync_intakedocument (id, received_at, format, content_type, body, size, truncated, api_key_prefix,
            idempotency_key, external_reference, source, status, reason, errors, dealer_id, contact_keys)
        SELECT md5('d' || p.id)::uuid, now() - (mod(abs(hashtext(p.id::text)), 4320) * interval '1 minute'), 'json',
            'application/json', '', 0, false, '', '', '', 'website', 'accepted', '', '{}'::jsonb, p.dealer_id,
            ARRAY['email:' || p.email_normalized, 'phone:' || p.phone]::varchar(260)[]
        FROM crm_prospect p WHERE p.dealer_id >= %(first)s AND mod(abs(hashtext('d' || p.id::text)), 4) = 0
        """,
        {"first": FIRST_DEALER_ID},
    )
    cursor.execute("SET session_replication_role = DEFAULT")
    # New GIN entries wait in the index's pending list until a vacuum; the planner counts its pages
    # against the index. Merge them now (VACUUM cannot run in a test's transaction; this can).
    cursor.execute(
        "SELECT gin_clean_pending_list(i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "JOIN pg_am am ON am.oid = c.relam WHERE am.amname = 'gin'"
        " AND i.indrelid IN ('crm_prospect'::regclass, 'sync_intakedocument'::regclass)"
    )
    for table in SYNTH_TABLES:
        cursor.execute(f"ANALYZE {table}")
