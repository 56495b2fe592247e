"""The relay in this process (no worker): order, the snapshot horizon, filters, transports, operations.

Deliveries go over HTTP to the simulated dealer system; files go to a temporary drop folder.
"""

from __future__ import annotations

import csv
import threading
import uuid
from pathlib import Path

import pytest
from django.db import connection, transaction

from crm.models import Change
from crm.services.activities import log_activity
from crm.services.leads import create_lead
from crm.services.prospects import create_prospect, update_prospect
from dealers.actors import Actor
from dealers.models import Dealer
from sync.models import DEFAULT_EVENT_TYPES, DeadLetter, Destination
from sync.outbound import relay, services
from sync.simulator import DEMO_SECRET
from tests.factories import DealerFactory
from tests.sync.outbound.harness import SimulatorProcess, settle

pytestmark = pytest.mark.django_db(transaction=True)
ACTOR = Actor.system("test")


def _webhook(dealer: Dealer, simulator: SimulatorProcess, **extra: object) -> Destination:
    return services.create_destination(
        dealer=dealer,
        actor=ACTOR,
        transport=str(extra.pop("transport", "webhook")),
        url=simulator.url_for(dealer.number),
        secret=DEMO_SECRET,
        **extra,
    )


def _prospect(dealer: Dealer, name: str = "Kunde"):
    return create_prospect(dealer=dealer, actor=ACTOR, data={"first_name": "Eva", "last_name": name})


def _relay(dealer: Dealer) -> relay.Run:
    settle()
    return relay.relay_dealer(dealer_id=dealer.pk)


def _event_ids(dealer: Dealer, types: tuple[str, ...] = DEFAULT_EVENT_TYPES) -> list[str]:
    rows = Change.objects.filter(dealer=dealer, type__in=types).order_by("txid", "id")
    return [str(e) for e in rows.values_list("event_id", flat=True)]


def test_events_arrive_in_commit_order_with_version_and_only_the_default_types(simulator: SimulatorProcess):
    dealer = DealerFactory()
    _webhook(dealer, simulator)
    prospect = _prospect(dealer)
    prospect = update_prospect(prospect=prospect, actor=ACTOR, data={"city": "Ulm"})
    log_activity(prospect=prospect, actor=ACTOR, data={"kind": "note", "subject": "Anruf"})  # activity.created
    update_prospect(prospect=prospect, actor=ACTOR, data={"city": "Köln"})

    run = _relay(dealer)

    book = simulator.book(dealer.number)
    assert run.delivered == 3
    assert book["events"] == _event_ids(dealer)
    assert [book["types"][e] for e in book["events"]] == ["prospect.created", "prospect.updated", "prospect.updated"]
    assert book["objects"] == {str(prospect.pk): 3}


def test_destination_opting_into_activity_events_receives_them(simulator: SimulatorProcess):
    dealer = DealerFactory()
    _webhook(dealer, simulator, event_types=["prospect.created", "activity.created"])
    prospect = _prospect(dealer)
    log_activity(prospect=prospect, actor=ACTOR, data={"kind": "note", "subject": "Anruf"})

    _relay(dealer)

    book = simulator.book(dealer.number)
    assert sorted(book["types"].values()) == ["activity.created", "prospect.created"]


def test_change_of_a_transaction_still_running_holds_back_later_commits(simulator: SimulatorProcess):
    """A row committed late by an older transaction is delivered first, never skipped."""
    dealer = DealerFactory()
    _webhook(dealer, simulator)
    started, release = threading.Event(), threading.Event()

    def slow_writer() -> None:
        try:
            with transaction.atomic():
                _prospect(dealer, "Früh")  # gets the older transaction id ...
                started.set()
                release.wait(10)  # ... and commits after the next one
        finally:
            connection.close()

    writer = threading.Thread(target=slow_writer)
    writer.start()
    assert started.wait(10)
    _prospect(dealer, "Spät")  # committed first, newer transaction id

    relay.relay_dealer(dealer_id=dealer.pk)
    assert simulator.book(dealer.number)["events"] == []  # the horizon waits for the older transaction

    release.set()
    writer.join(10)
    _relay(dealer)

    early, late = _event_ids(dealer)
    assert simulator.book(dealer.number)["events"] == [early, late]
    assert Change.objects.get(event_id=early).txid < Change.objects.get(event_id=late).txid


def test_a_new_destination_starts_at_the_head_of_the_log(simulator: SimulatorProcess):
    dealer = DealerFactory()
    _prospect(dealer, "Vorher")
    _webhook(dealer, simulator)
    _prospect(dealer, "Nachher")

    _relay(dealer)

    assert simulator.book(dealer.number)["events"] == _event_ids(dealer)[1:]


def test_paused_destination_waits_and_resume_delivers(simulator: SimulatorProcess):
    dealer = DealerFactory()
    destination = _webhook(dealer, simulator)
    services.set_paused(destination=destination, actor=ACTOR, paused=True)
    _prospect(dealer)

    _relay(dealer)
    assert simulator.book(dealer.number)["events"] == []
    assert relay.dealers_with_due_work() == []  # the sweep leaves it alone too

    services.set_paused(destination=destination, actor=ACTOR, paused=False)
    settle()
    assert dealer.pk in relay.dealers_with_due_work()
    _relay(dealer)
    assert simulator.book(dealer.number)["events"] == _event_ids(dealer)


def test_failed_attempt_moves_next_attempt_into_the_future(simulator: SimulatorProcess):
    dealer = DealerFactory()
    destination = _webhook(dealer, simulator)
    simulator.control(mode="fail", status=503)
    _prospect(dealer)

    _relay(dealer)

    destination.refresh_from_db()
    assert destination.attempts == 1
    assert destination.failed_total == 1
    assert "503" in destination.last_error
    assert destination.last_failure_at is not None
    assert destination.next_attempt_at > destination.last_failure_at
    assert relay.dealers_with_due_work() == []  # not due before its time
    assert relay.claim(dealer.pk, uuid.uuid4()) == []


def test_dead_letter_retry_delivers_it_and_discard_closes_it(simulator: SimulatorProcess):
    dealer = DealerFactory()
    destination = _webhook(dealer, simulator)
    _prospect(dealer, "Eins")
    _prospect(dealer, "Zwei")
    first, second = _event_ids(dealer)
    letters = [
        DeadLetter.objects.create(
            dealer=dealer,
            destination=destination,
            change=Change.objects.get(event_id=event_id),
            event_id=event_id,
            type="prospect.created",
            attempts=11,
        )
        for event_id in (first, second)
    ]
    Destination.objects.filter(pk=destination.pk).update(
        cursor_txid=Change.objects.get(event_id=second).txid, cursor_change_id=Change.objects.get(event_id=second).pk
    )

    services.retry_dead_letter(letter=letters[0], actor=ACTOR)
    services.discard_dead_letter(letter=letters[1], actor=ACTOR)
    _relay(dealer)

    assert simulator.book(dealer.number)["events"] == [first]
    assert DeadLetter.objects.get(pk=letters[0].pk).status == DeadLetter.Status.DELIVERED
    assert DeadLetter.objects.get(pk=letters[1].pk).status == DeadLetter.Status.DISCARDED


def test_replay_since_a_time_delivers_again_and_the_receiver_dedupes(simulator: SimulatorProcess):
    dealer = DealerFactory()
    destination = _webhook(dealer, simulator)
    _prospect(dealer, "Eins")
    _relay(dealer)
    occurred = Change.objects.get(dealer=dealer).occurred_at

    services.replay(destination=destination, actor=ACTOR, since=occurred.isoformat())
    _relay(dealer)

    book = simulator.book(dealer.number)
    assert book["received"] == 2
    assert book["duplicates"] == 1
    assert len(book["events"]) == 1


def test_adf_destination_gets_new_leads_as_adf_xml_and_the_rest_as_json(simulator: SimulatorProcess):
    dealer = DealerFactory()
    _webhook(dealer, simulator, transport="adf_webhook_for_lead_created")
    prospect = _prospect(dealer)
    create_lead(prospect=prospect, actor=ACTOR, data={"model_name": "Clio", "source": "website"})

    _relay(dealer)

    book = simulator.book(dealer.number)
    assert len(book["events"]) == 2
    adf_objects = [key for key in book["objects"] if key.startswith("adf:")]
    assert len(adf_objects) == 1  # the simulator saw an XML body for lead.created


def test_file_drop_writes_csv_and_adf_files_atomically(settings, tmp_path: Path):
    settings.SYNC_EXCHANGE_DIR = str(tmp_path)
    dealer = DealerFactory()
    services.create_destination(dealer=dealer, actor=ACTOR, transport="file_drop")
    prospect = _prospect(dealer)
    lead = create_lead(prospect=prospect, actor=ACTOR, data={"model_name": "Mégane", "source": "website"})

    run = _relay(dealer)

    folder = tmp_path / str(dealer.number) / "outbound"
    names = sorted(p.name for p in folder.iterdir())
    assert run.delivered == 2
    assert not [n for n in names if n.startswith(".tmp-")]
    csv_files = [n for n in names if n.endswith(".csv")]
    adf_files = [n for n in names if n.endswith(".adf.xml")]
    assert len(csv_files) == 1
    assert len(adf_files) == 1
    with (folder / csv_files[0]).open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter=";"))
    assert [r["id"] for r in rows] == _event_ids(dealer)
    assert [r["type"] for r in rows] == ["prospect.created", "lead.created"]
    adf = (folder / adf_files[0]).read_text(encoding="utf-8")
    assert str(lead.pk) in adf
    assert "<model>Mégane</model>" in adf
    assert '<name part="last">Kunde</name>' in adf
    assert _relay(dealer).delivered == 0  # nothing twice


def test_cursor_moves_over_unwanted_changes_once_caught_up(simulator: SimulatorProcess):
    dealer = DealerFactory()
    destination = _webhook(dealer, simulator)
    prospect = _prospect(dealer)
    for i in range(3):
        log_activity(prospect=prospect, actor=ACTOR, data={"kind": "note", "subject": f"Notiz {i}"})

    _relay(dealer)

    destination.refresh_from_db()
    last = Change.objects.filter(dealer=dealer).order_by("-txid", "-id").first()
    assert last.type == "activity.created"
    assert (destination.cursor_txid, destination.cursor_change_id) == (last.txid, last.pk)
    assert dealer.pk not in relay.dealers_with_due_work()
    update_prospect(prospect=prospect, actor=ACTOR, data={"city": "Trier"})
    _relay(dealer)
    assert simulator.book(dealer.number)["events"] == _event_ids(dealer)


def test_a_new_feed_epoch_reaches_the_dealer_system_as_resync_required(simulator: SimulatorProcess):
    from crm.services.feed import start_new_feed_epoch

    dealer = DealerFactory()
    _webhook(dealer, simulator)
    _prospect(dealer)
    epoch = start_new_feed_epoch(actor=ACTOR, reason="restored from backup")

    run = _relay(dealer)

    book = simulator.book(dealer.number)
    assert run.delivered == 2
    assert [book["types"][e] for e in book["events"]] == ["prospect.created", "sync.resync_required"]
    assert epoch >= 2
