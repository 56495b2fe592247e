"""The relay's probes for changes past a destination's cursor start at the cursor in the change_feed index.

With only the row comparison ``(c.txid, c.id) > (d.cursor_txid, d.cursor_change_id)``, the planner at 10M
prospects walked the plain ``dealer_id`` index and filtered the largest dealership's 1.9M change rows in
``changes_waiting`` (1.5-2 s, on every relay round of the intake benchmark). A plain ``c.txid >=
d.cursor_txid`` beside it bounds the change_feed scan, which the planner then takes.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm.models import Change
from dealers.actors import Actor
from dealers.models import Dealer
from sync.models import Destination
from sync.outbound import relay, selectors, services
from sync.simulator import DEMO_SECRET
from tests.factories import DealerFactory
from tests.sync.outbound.harness import SimulatorProcess

pytestmark = pytest.mark.django_db


def _plan(sql: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql)
        return "\n".join(row[0] for row in cursor.fetchall())


def _history(dealer: Dealer, destination: Destination, changes: int) -> None:
    """``changes`` old changes of the dealership, all behind the destination's cursor, with fresh statistics.

    Large enough that the planner prices the dealership's change log as a real one's (on a few rows it
    reads or hashes whole tables, which says nothing about the plan at size).
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO crm_change"
            " (dealer_id, txid, event_id, type, object_type, object_id, version, occurred_at, data)"
            " SELECT %s, n, gen_random_uuid(), 'prospect.updated', 'prospect', gen_random_uuid(), 1, now(), '{}'"
            " FROM generate_series(1, %s) AS n",
            [dealer.pk, changes],
        )
        cursor.execute("ANALYZE crm_change")
    Destination.objects.filter(pk=destination.pk).update(
        cursor_txid=changes, cursor_change_id=Change.objects.filter(dealer=dealer).order_by("-id").values("id")[:1]
    )


def _change_feed_conditions(plan: str) -> list[str]:
    """The index conditions of every scan of the change_feed index in ``plan``."""
    lines = plan.splitlines()
    return [
        lines[n + 1].strip()
        for n, line in enumerate(lines[:-1])
        if ("using change_feed on crm_change" in line or "Bitmap Index Scan on change_feed" in line)
        and "Index Cond" in lines[n + 1]
    ]


@pytest.mark.parametrize(
    "probe",
    [
        pytest.param(lambda dealer: relay.changes_waiting(dealer.pk), id="changes_waiting"),
        pytest.param(lambda dealer: relay.dealers_with_due_work(), id="dealers_with_due_work"),
        pytest.param(lambda dealer: selectors.destination_statuses(dealer_ids=[dealer.pk]), id="destination_status"),
    ],
)
def test_a_probe_past_the_cursor_is_bounded_by_the_cursor_in_the_index(probe, simulator: SimulatorProcess) -> None:
    dealer = DealerFactory()
    destination = services.create_destination(
        dealer=dealer,
        actor=Actor.system("test"),
        transport="webhook",
        url=simulator.url_for(dealer.number),
        secret=DEMO_SECRET,
    )
    _history(dealer, destination, 50_000)
    with CaptureQueriesContext(connection) as captured:
        probe(dealer)
    probes = [q["sql"] for q in captured.captured_queries if "cursor_txid" in q["sql"] and "crm_change" in q["sql"]]
    assert probes, "the probe reads the change log past the cursor"
    for sql in probes:
        conditions = _change_feed_conditions(_plan(sql))
        assert conditions, _plan(sql)
        assert all("txid >= d.cursor_txid" in condition for condition in conditions), _plan(sql)
