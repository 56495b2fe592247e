"""Periodic jobs fire on exactly one node: the scheduler lease holder's, fenced by its epoch."""

from __future__ import annotations

import pytest
from django.db import connection

from ha.fencing import claim_periodic_run
from ha.lease import SchedulerLeaseHolder
from ha.models import PeriodicRun, SchedulerLease
from ha.probe import drain_flag

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def two_nodes(settings, tmp_path):
    settings.HA_STATE_DIR = tmp_path
    nodes = SchedulerLeaseHolder("node-a"), SchedulerLeaseHolder("node-b")
    yield nodes
    for node in nodes:
        node.release()


def test_only_one_node_holds_the_lease(two_nodes) -> None:
    a, b = two_nodes
    assert a.ensure() is True
    assert b.ensure() is False
    assert a.ensure() is True  # keeping it does not bump the epoch
    lease = SchedulerLease.objects.get()
    assert (lease.holder, lease.epoch) == ("node-a", a.epoch)


def test_other_node_takes_over_with_a_higher_epoch_when_the_holder_dies(two_nodes) -> None:
    a, b = two_nodes
    a.ensure()
    first_epoch = a.epoch
    a._conn.close()  # the holder's database session dies (node cut off, crash)
    assert b.ensure() is True
    assert b.epoch == first_epoch + 1
    assert a.ensure() is False  # the old holder comes back and finds the lock taken
    assert SchedulerLease.objects.get().holder == "node-b"


def test_draining_node_gives_up_the_lease(two_nodes) -> None:
    a, b = two_nodes
    a.ensure()
    drain_flag().touch()
    assert a.ensure() is False
    drain_flag().unlink()
    assert b.ensure() is True


def test_a_slot_runs_once_and_a_stale_epoch_never(two_nodes) -> None:
    a, b = two_nodes
    a.ensure()
    epoch = a.epoch
    assert claim_periodic_run(task="sync.sweep", slot="sweep@2026-11-25T10:00", epoch=epoch) is True
    assert claim_periodic_run(task="sync.sweep", slot="sweep@2026-11-25T10:00", epoch=epoch) is False
    a._conn.close()
    b.ensure()
    # A message the old holder sent before it lost the lease arrives late: refused.
    assert claim_periodic_run(task="sync.sweep", slot="sweep@2026-11-25T10:01", epoch=epoch) is False
    assert claim_periodic_run(task="sync.sweep", slot="sweep@2026-11-25T10:01", epoch=b.epoch) is True
    assert PeriodicRun.objects.count() == 2


def test_lease_is_not_taken_on_a_standby(two_nodes) -> None:
    a, _ = two_nodes
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_is_in_recovery()")
        assert cursor.fetchone()[0] is False  # this test database is a primary: the lease is granted
    assert a.ensure() is True


def test_both_nodes_name_the_same_slot_for_the_same_period() -> None:
    from datetime import timedelta

    from celery.beat import ScheduleEntry
    from celery.schedules import schedule

    from crm.celery import app
    from ha.beat import schedule_slot

    entry = ScheduleEntry(name="sweep", task="t", schedule=schedule(timedelta(seconds=10)), app=app)
    assert schedule_slot(entry, 1000.0) == schedule_slot(entry, 1009.9) == "sweep@100"
    assert schedule_slot(entry, 1010.0) == "sweep@101"


def test_old_periodic_runs_are_pruned(two_nodes) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from ha.tasks import prune_periodic_runs

    PeriodicRun.objects.create(task="t", slot="old", epoch=1, started_at=timezone.now() - timedelta(days=3))
    PeriodicRun.objects.create(task="t", slot="new", epoch=1)
    assert prune_periodic_runs() == 1
    assert list(PeriodicRun.objects.values_list("slot", flat=True)) == ["new"]
