"""The set-based upsert (crm.services.bulk) leaves what the one-row services leave: rows, change log, audit."""

from __future__ import annotations

from typing import Any

import pytest

from crm.models import Change, Prospect
from crm.services import bulk
from crm.services.erasure import erase_prospect
from crm.services.prospects import upsert_prospect_by_external_id
from dealers.actors import Actor
from dealers.models import AuditEvent
from tests.conftest import DealerSetup

ACTOR = Actor.system("bulk-test")
VOLATILE = {"id", "created_at", "updated_at"}

ITEMS: list[tuple[str, dict[str, Any]]] = [
    ("K-1", {"first_name": "Jürgen", "last_name": "Müller", "email": "J.Mueller@Kunde.example", "phone": "089 123456"}),
    ("K-2", {"company": "Bäckerei Huber", "mobile": "0170 1112223", "city": "München"}),
    ("K-1", {"city": "Augsburg", "email": "J.Mueller@Kunde.example"}),  # the same id again: applied after K-1
    ("K-3", {"last_name": "Şahin", "postcode": "80805", "origin": "dms"}),
    ("K-2", {"company": "Bäckerei Huber"}),  # nothing changes: no version, no change row
]


def _state(dealer_id: int) -> dict[str, Any]:
    prospects = {
        p["external_id"]: {k: v for k, v in p.items() if k not in VOLATILE | {"dealer_id"}}
        for p in Prospect.objects.filter(dealer_id=dealer_id).values()
    }
    ids = {str(p.pk): p.external_id for p in Prospect.objects.filter(dealer_id=dealer_id)}
    log = [
        (c.type, ids[str(c.object_id)], c.version, {k: v for k, v in c.data.items() if k not in VOLATILE})
        for c in Change.objects.filter(dealer_id=dealer_id).order_by("id")
    ]
    audit = sorted(
        (a.action, ids[a.object_id], a.actor_label, tuple(sorted(a.data.items(), key=str)))
        for a in AuditEvent.objects.filter(dealer_id=dealer_id, object_type="crm.prospect")
    )
    return {"prospects": prospects, "log": log, "audit": audit}


def test_bulk_upsert_leaves_the_same_rows_change_log_and_audit_as_the_one_row_service(
    dealer_a: DealerSetup, dealer_b: DealerSetup
) -> None:
    for external_id, data in ITEMS:  # dealer B: one service call per item, as before
        upsert_prospect_by_external_id(dealer=dealer_b.dealer, external_id=external_id, actor=ACTOR, data=data)

    result = bulk.upsert_prospects(
        dealer_id=dealer_a.dealer.pk,
        actor=ACTOR,
        items=[bulk.Item(key=n, external_id=e, data=d) for n, (e, d) in enumerate(ITEMS)],
    )

    assert result.errors == []
    assert [(o.key, o.status, o.version) for o in result.outcomes] == [
        (0, "created", 1),
        (1, "created", 1),
        (2, "updated", 2),
        (3, "created", 1),
        (4, "unchanged", 1),
    ]
    ours, theirs = _state(dealer_a.dealer.pk), _state(dealer_b.dealer.pk)
    assert ours == theirs
    assert ours["prospects"]["K-1"]["phone"] == "+4989123456"
    assert ours["prospects"]["K-1"]["email_normalized"] == "j.mueller@kunde.example"
    assert "juergen" in ours["prospects"]["K-1"]["search_text"]
    assert [entry[:3] for entry in ours["log"]] == [
        ("prospect.created", "K-1", 1),
        ("prospect.created", "K-2", 1),
        ("prospect.updated", "K-1", 2),
        ("prospect.created", "K-3", 1),
    ]
    assert ours["log"][2][3]["changed"] == ["city"]


def test_refused_items_are_errors_naming_their_field_and_the_others_are_written(dealer_a: DealerSetup) -> None:
    items = [
        bulk.Item(key=1, external_id="OK-1", data={"last_name": "Gut"}),
        bulk.Item(key=2, external_id="BAD-1", data={"last_name": "Telefon", "phone": "kein Anschluss"}),
        bulk.Item(key=3, external_id="BAD-2", data={"city": "Ohne Namen"}),  # no name, company, email or phone
        bulk.Item(key=4, external_id="BAD-3", data={"postcode": "1" * 11}),  # longer than the column
        bulk.Item(key=5, external_id="X" * 101, data={"last_name": "Lang"}),
    ]

    result = bulk.upsert_prospects(dealer_id=dealer_a.dealer.pk, actor=ACTOR, items=items)

    assert [(e.key, e.field) for e in result.errors] == [
        (2, "phone"),
        (3, "last_name"),
        (4, "postcode"),
        (5, "external_id"),
    ]
    assert list(Prospect.objects.filter(dealer=dealer_a.dealer).values_list("external_id", flat=True)) == ["OK-1"]
    assert Change.objects.filter(dealer=dealer_a.dealer).count() == 1


def test_an_erased_person_coming_back_is_flagged_and_an_anonymised_prospect_refuses_changes(
    dealer_a: DealerSetup,
) -> None:
    upsert_prospect_by_external_id(
        dealer=dealer_a.dealer, external_id="GONE", actor=ACTOR, data={"last_name": "Weg", "email": "weg@kunde.example"}
    )
    erase_prospect(prospect=Prospect.objects.get(external_id="GONE"), actor=ACTOR)

    result = bulk.upsert_prospects(
        dealer_id=dealer_a.dealer.pk,
        actor=ACTOR,
        items=[
            bulk.Item(key=1, external_id="BACK", data={"last_name": "Wieder", "email": " WEG@kunde.example"}),
            bulk.Item(key=2, external_id="GONE", data={"last_name": "Neu"}),
            bulk.Item(key=3, external_id="NEW", data={"last_name": "Fremd", "email": "fremd@kunde.example"}),
        ],
    )

    assert [(e.key, e.field) for e in result.errors] == [(2, "")]
    back = Prospect.objects.get(external_id="BACK")
    assert back.previously_erased_at == Prospect.objects.get(external_id="GONE").erased_at
    assert Prospect.objects.get(external_id="NEW").previously_erased_at is None
    assert Prospect.objects.get(external_id="GONE").last_name == ""


def test_another_dealerships_ids_are_a_separate_space(dealer_a: DealerSetup, dealer_b: DealerSetup) -> None:
    upsert_prospect_by_external_id(dealer=dealer_b.dealer, external_id="K-1", actor=ACTOR, data={"last_name": "B"})

    result = bulk.upsert_prospects(
        dealer_id=dealer_a.dealer.pk, actor=ACTOR, items=[bulk.Item(key=0, external_id="K-1", data={"last_name": "A"})]
    )

    assert [o.status for o in result.outcomes] == ["created"]
    assert Prospect.objects.get(dealer=dealer_b.dealer).last_name == "B"
    assert Prospect.objects.get(dealer=dealer_a.dealer).last_name == "A"


@pytest.mark.django_db(transaction=True)
def test_merged_prospects_are_an_error_only_where_asked(dealer_a: DealerSetup) -> None:
    from crm.services.prospects import merge_prospects

    keep, _ = upsert_prospect_by_external_id(
        dealer=dealer_a.dealer, external_id="KEEP", actor=ACTOR, data={"last_name": "A"}
    )
    gone, _ = upsert_prospect_by_external_id(
        dealer=dealer_a.dealer, external_id="DUP", actor=ACTOR, data={"last_name": "A"}
    )
    merge_prospects(keep=keep, duplicate=gone, actor=ACTOR)
    item = bulk.Item(key=0, external_id="DUP", data={"city": "Köln"})

    refused = bulk.upsert_prospects(dealer_id=dealer_a.dealer.pk, actor=ACTOR, items=[item], refuse_merged=True)
    assert [(e.key, e.field) for e in refused.errors] == [(0, "external_id")]
    assert Prospect.objects.get(external_id="DUP").city == ""
