"""Every index of a tenant table leads with ``dealer_id`` (issue 15), unless reviewed below.

A table is a tenant table when its model has a ``dealer`` foreign key. Indexes are read from the
migrated database (``pg_index``), so indexes created by ``RunSQL``/``RunPython`` count too. An index
need not lead with ``dealer_id`` when it leads with

- the primary key, or is unique on one column (a row found by a globally unique key is one
  dealership's row already);
- a foreign key column: the parent row's id is unique network-wide, so its children are one
  dealership's; Django's deletes (CASCADE, SET_NULL) look children up by that column alone.

Any other index must lead with ``dealer_id`` or be listed in ``REVIEWED`` with why it serves a query
across dealerships (a sweep, a queue, a lookup before the dealership is known). A listed index that
no longer exists fails too, so the list stays true.
"""

from __future__ import annotations

import pytest
from django.apps import apps
from django.db import connection, models

from dealers.models import Dealer

REVIEWED = {
    # crm: sweeps and retention run for every dealership at once, by time.
    "change_occurred": "change-log retention deletes by age across all dealerships (crm.services.retention)",
    "lead_first_contact_waiting": "the first-contact SLA sweep finds overdue leads of every dealership (partial index)",
    "readaudit_at_brin": "read-audit retention purges by age across all dealerships (crm_readaudit_purge; BRIN)",
    "readaudit_prospect": "who read a person's data (subject access): by prospect id, unique network-wide; not a "
    "foreign key because the audit outlives an erased row",
    # dealers: looked up before a dealership is known, or network-level rows.
    "dealers_apikey_prefix_c3de5d65_like": "API key lookup by prefix before the dealership is known (unique column)",
    "dealers_aud_object__84e818_idx": "an object's audit trail; network-level events have no dealership",
    "dealers_auditevent_at_2e3eb52b": "the manufacturer's audit log is read by time across dealerships",
    "dealers_territory_postcode_prefix_f557ce14_like": "lead routing finds the dealership by postcode",
    # sync: worker queues and intake, across dealerships by design.
    "sync_dest_due": "the relay claims due destinations of every dealership",
    "import_run_pending": "the import worker claims queued runs of every dealership",
    "intake_doc_reference": "intake deduplicates a channel's reference before routing picks a dealership",
    "intake_doc_status": "the intake queue by status and arrival, before routing",
    "intake_doc_contact_keys": "a person's intake of the last 72 hours at any dealership, before routing picks one",
    "sync_intakedocument_received_at_a5a8eeaa": "intake retention and the admin list by arrival, network-wide",
    "routing_escalation_due": "the routing escalation sweep across dealerships (partial index)",
    "unrouted_lead_waiting": "unrouted leads wait for the manufacturer's desk, not a dealership (partial index)",
}
# Allowed where it exists, not required: without btree_gin migration crm 0011 keeps the table-wide
# trigram index (search stays correct; docs/search.md).
OPTIONAL = {"prospect_search_trgm": "only on a server without btree_gin"}

INDEXES = """
SELECT i.relname, x.indisprimary, x.indisunique, x.indnkeyatts,
       (SELECT a.attname FROM pg_attribute a WHERE a.attrelid = x.indrelid AND a.attnum = x.indkey[0])
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
WHERE x.indrelid = %s::regclass
"""


def tenant_models() -> list[type[models.Model]]:
    found = []
    for model in apps.get_models():
        field = next((f for f in model._meta.get_fields() if f.name == "dealer"), None)
        if getattr(field, "related_model", None) is Dealer and model._meta.managed and not model._meta.proxy:
            found.append(model)
    return found


def _foreign_key_columns(model: type[models.Model]) -> set[str]:
    return {f.column for f in model._meta.concrete_fields if f.many_to_one or f.one_to_one}


def non_leading_indexes() -> dict[str, str]:
    """Index name -> table, for tenant-table indexes that neither lead with dealer_id nor pass by the rules."""
    found = {}
    with connection.cursor() as cursor:
        for model in tenant_models():
            table = model._meta.db_table
            cursor.execute(INDEXES, [table])
            for name, primary, unique, keys, first in cursor.fetchall():
                if first == "dealer_id" or primary or (unique and keys == 1):
                    continue
                if first in _foreign_key_columns(model) - {"dealer_id"}:
                    continue
                found[name] = table
    return found


@pytest.mark.django_db
def test_tenant_tables_are_found() -> None:
    tables = {m._meta.db_table for m in tenant_models()}
    assert {"crm_prospect", "crm_lead", "crm_activity", "crm_task", "crm_change"} <= tables


@pytest.mark.django_db
def test_every_tenant_index_leads_with_dealer_id_or_is_reviewed() -> None:
    found = non_leading_indexes()
    assert sorted(set(found) - set(REVIEWED) - set(OPTIONAL)) == []
    assert sorted(set(REVIEWED) - set(found)) == []  # a reviewed index that is gone: drop its entry


@pytest.mark.django_db
def test_the_search_index_leads_with_dealer_id() -> None:
    # The typo-tolerant search's trigram index was table-wide before issue 15 (migration crm 0011).
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'prospect_search'")
        (definition,) = cursor.fetchone()
    assert "gin (dealer_id, search_text gin_trgm_ops)" in definition
