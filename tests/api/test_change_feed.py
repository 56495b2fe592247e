"""The change feed: commit order, nothing skipped when transactions commit out of order, epochs and 410 Gone."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, transaction

from crm.models import Change, FeedEpoch
from crm.services.leads import change_stage
from crm.services.prospects import create_prospect, update_prospect
from dealers.actors import Actor
from tests.api.conftest import ApiClient, assert_problem, make_key
from tests.conftest import DealerSetup
from tests.factories import LeadFactory, ProspectFactory

FEED = "/api/v1/changes/"
ACTOR = Actor.system("test")

pytestmark = pytest.mark.django_db(transaction=True)


def _read_all(api: ApiClient, cursor: str | None = None, limit: int = 100) -> tuple[list[dict], str]:
    items: list[dict] = []
    while True:
        params = {"limit": str(limit), **({"cursor": cursor} if cursor else {})}
        page = api.get(FEED, data=params).json()
        items += page["items"]
        cursor = page["next_cursor"]
        if not page["has_more"]:
            return items, cursor


def _read_until(api: ApiClient, count: int, cursor: str | None = None, limit: int = 100) -> tuple[list[dict], str]:
    """Read until ``count`` changes arrived. The horizon is the whole cluster's oldest writing transaction:
    on a shared test server another test's open transaction delays (never hides) our changes for a moment."""
    items: list[dict] = []
    deadline = time.monotonic() + 60
    while True:
        page, cursor = _read_all(api, cursor, limit)
        items += page
        if len(items) >= count or time.monotonic() > deadline:
            return items, cursor
        time.sleep(0.2)


def test_feed_lists_the_dealers_changes_in_commit_order_across_pages(
    dealer_a: DealerSetup, dealer_b: DealerSetup
) -> None:
    api = ApiClient(make_key(dealer_a.dealer, ["changes:read"]))
    prospect = create_prospect(dealer=dealer_a.dealer, actor=ACTOR, data={"last_name": "Eins"})
    update_prospect(prospect=prospect, actor=ACTOR, data={"city": "Ulm"})
    create_prospect(dealer=dealer_b.dealer, actor=ACTOR, data={"last_name": "Fremd"})
    lead = LeadFactory(prospect=prospect)
    change_stage(lead=lead, to_stage="contacted", actor=ACTOR)

    items, _cursor = _read_until(api, 3, limit=2)

    assert [(i["type"], i["version"]) for i in items] == [
        ("prospect.created", 1),
        ("prospect.updated", 2),
        ("lead.updated", 2),
    ]
    assert items[0]["data"]["last_name"] == "Eins"
    assert set(items[0]) == {"id", "type", "object_type", "object_id", "version", "occurred_at", "data"}
    assert items[2]["object_id"] == str(lead.pk)
    expected = list(
        Change.objects.filter(dealer=dealer_a.dealer).order_by("txid", "id").values_list("event_id", flat=True)
    )
    assert [i["id"] for i in items] == [str(e) for e in expected]


def test_an_empty_page_keeps_the_cursor_and_later_changes_follow(dealer_a: DealerSetup) -> None:
    api = ApiClient(make_key(dealer_a.dealer))
    create_prospect(dealer=dealer_a.dealer, actor=ACTOR, data={"last_name": "Eins"})
    first, cursor = _read_until(api, 1)
    empty = api.get(FEED, data={"cursor": cursor}).json()
    assert (empty["items"], empty["next_cursor"], empty["has_more"]) == ([], cursor, False)

    create_prospect(dealer=dealer_a.dealer, actor=ACTOR, data={"last_name": "Zwei"})
    later, _ = _read_until(api, 1, cursor)
    assert [i["data"]["last_name"] for i in first + later] == ["Eins", "Zwei"]


def test_a_transaction_that_commits_late_is_never_skipped(dealer_a: DealerSetup) -> None:
    """T1 writes first (smaller txid and id) but commits after T2: a reader by id would skip T1's row."""
    api = ApiClient(make_key(dealer_a.dealer))
    written, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def slow_writer() -> None:
        try:
            with transaction.atomic():
                create_prospect(dealer=dealer_a.dealer, actor=ACTOR, data={"last_name": "Früh"})
                written.set()
                assert release.wait(30)
        except BaseException as error:  # surfaced below
            errors.append(error)
            written.set()
        finally:
            connection.close()

    slow = threading.Thread(target=slow_writer)
    slow.start()
    assert written.wait(30)
    create_prospect(dealer=dealer_a.dealer, actor=ACTOR, data={"last_name": "Spät"})  # T2 commits now
    assert Change.objects.filter(dealer=dealer_a.dealer, data__last_name="Spät").exists()  # committed, visible

    before, cursor = _read_all(api)
    release.set()
    slow.join(30)
    assert not errors
    after, _ = _read_until(api, 2, cursor)

    assert before == []  # T2's row waits behind the horizon of the still-running T1
    assert [i["data"]["last_name"] for i in after] == ["Früh", "Spät"]
    early, late = (Change.objects.get(data__last_name=name) for name in ("Früh", "Spät"))
    assert early.txid < late.txid
    assert early.id < late.id


def test_a_cursor_from_another_epoch_is_410_gone(dealer_a: DealerSetup) -> None:
    api = ApiClient(make_key(dealer_a.dealer))
    create_prospect(dealer=dealer_a.dealer, actor=ACTOR, data={"last_name": "Eins"})
    _items, cursor = _read_until(api, 1)
    FeedEpoch.objects.filter(pk=1).update(epoch=2)

    body = assert_problem(api.get(FEED, data={"cursor": cursor}), 410)
    assert body["type"].endswith("/gone")
    fresh = api.get(FEED).json()
    assert len(fresh["items"]) == 1  # already below the horizon: it was read before
    assert api.get(FEED, data={"cursor": fresh["next_cursor"]}).status_code == 200


def test_a_cursor_pointing_at_pruned_history_is_410_gone(dealer_a: DealerSetup) -> None:
    api = ApiClient(make_key(dealer_a.dealer))
    ProspectFactory(dealer=dealer_a.dealer)
    create_prospect(dealer=dealer_a.dealer, actor=ACTOR, data={"last_name": "Eins"})
    _items, cursor = _read_until(api, 1)
    Change.objects.filter(dealer=dealer_a.dealer).delete()  # retention pruned the history

    assert_problem(api.get(FEED, data={"cursor": cursor}), 410)


def test_a_malformed_cursor_is_400(dealer_a: DealerSetup) -> None:
    api = ApiClient(make_key(dealer_a.dealer))
    for cursor in ("kaputt", "YzE6eDp5Ono", "eDox"):
        assert_problem(api.get(FEED, data={"cursor": cursor}), 400, "cursor")
