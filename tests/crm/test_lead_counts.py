"""The kept lead counts (crm.lead_counts) always equal a count of the leads, whatever changed them and however.

The truth is counted from ``crm_lead`` itself; the kept figure is the sum of the rows the triggers wrote.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from crm import lead_counts, reports, selectors
from crm.lead_counts import LeadStageCount
from crm.models import Lead, LostReason
from crm.services import leads as lead_services
from dealers.actors import Actor
from tests.conftest import DealerSetup
from tests.factories import LeadFactory, ProspectFactory

Key = tuple[int, Any, str]


def _counted_from_leads() -> dict[Key, int]:
    return dict(Counter(Lead.objects.values_list("dealer_id", "owner_id", "stage")))


def _kept() -> dict[Key, int]:
    kept: Counter[Key] = Counter()
    for dealer_id, owner_id, stage, leads in LeadStageCount.objects.values_list(
        "dealer_id", "owner_id", "stage", "leads"
    ):
        kept[(dealer_id, owner_id, stage)] += leads
    return {key: n for key, n in kept.items() if n}


def _lead(setup: DealerSetup, **fields: Any) -> Lead:
    return LeadFactory.create(prospect=ProspectFactory.create(dealer=setup.dealer), **fields)


def test_the_kept_counts_follow_every_kind_of_change_to_the_leads(dealer_a: DealerSetup, dealer_b: DealerSetup) -> None:
    seller, other = dealer_a.user("salesperson"), dealer_a.other_salesperson.user
    manager = dealer_a.staff["sales_manager"]
    mine = [_lead(dealer_a, owner=seller) for _ in range(3)]
    unassigned = _lead(dealer_a, owner=None)
    _lead(dealer_b, owner=dealer_b.user("salesperson"), stage=Lead.Stage.OFFER)
    assert _kept() == _counted_from_leads()

    lead_services.change_stage(lead=mine[0], to_stage=Lead.Stage.CONTACTED, actor=Actor.for_user(seller))
    lead_services.assign_lead(lead=unassigned, to_user_id=other.pk, actor=Actor.for_user(manager.user))
    lost = LostReason.objects.get(code="price")
    lead_services.change_stage(lead=mine[1], to_stage=Lead.Stage.LOST, lost_reason=lost, actor=Actor.for_user(seller))
    Lead.objects.filter(pk=mine[2].pk).update(stage=Lead.Stage.OFFER, owner=None)  # a bulk update
    Lead.objects.filter(dealer=dealer_a.dealer).update(updated_at=timezone.now())  # moves no lead: writes no row
    mine[0].delete()
    assert _kept() == _counted_from_leads()
    assert len(_kept()) >= 4  # dealer_b's offer, the reassigned, the lost one and the offer without owner


def test_a_fold_leaves_one_row_per_key_drops_the_zeros_and_changes_no_count(dealer_a: DealerSetup) -> None:
    leads = [_lead(dealer_a, owner=dealer_a.user("salesperson")) for _ in range(4)]
    for lead in leads:
        Lead.objects.filter(pk=lead.pk).update(stage=Lead.Stage.CONTACTED)
    Lead.objects.filter(pk=leads[0].pk).update(stage=Lead.Stage.APPOINTMENT)
    before = _kept()
    rows = Counter(LeadStageCount.objects.values_list("stage", flat=True))
    assert rows == {"new": 8, "contacted": 5, "appointment": 1}  # 4 in and 4 out of new, which adds up to 0

    assert lead_counts.fold() == 1  # contacted: appointment has one row already, new has none left
    assert _kept() == before == _counted_from_leads()
    assert LeadStageCount.objects.count() == len(before)
    assert not LeadStageCount.objects.filter(leads=0).exists()
    assert lead_counts.fold() == 0  # nothing left to fold


def test_the_pipeline_shows_each_viewer_the_open_leads_it_sees(dealer_a: DealerSetup, dealer_b: DealerSetup) -> None:
    seller, other = dealer_a.staff["salesperson"], dealer_a.other_salesperson
    _lead(dealer_a, owner=seller.user, stage=Lead.Stage.OFFER)
    _lead(dealer_a, owner=other.user, stage=Lead.Stage.OFFER)
    _lead(dealer_a, owner=None, stage=Lead.Stage.NEW)
    _lead(dealer_a, owner=seller.user, stage=Lead.Stage.WON, close_note="sold", closed_at=timezone.now())
    _lead(dealer_b, owner=None, stage=Lead.Stage.NEW)
    lead_counts.fold()

    def pipeline(viewer: Any) -> dict[str, int]:
        return {bar.key: bar.value for bar in reports.pipeline_by_stage(viewer) if bar.value}

    assert pipeline(dealer_a.staff["sales_manager"]) == {"offer": 2, "new": 1}
    assert pipeline(seller) == {"offer": 1, "new": 1}  # own and the unassigned pool
    dealer_a.dealer.salespeople_see_unassigned = False
    dealer_a.dealer.save(update_fields=["salespeople_see_unassigned"])
    seller.dealer.refresh_from_db()
    assert pipeline(seller) == {"offer": 1}
    # the same as counting the leads the viewer sees
    seen = selectors.leads_for(seller).filter(stage__in=Lead.OPEN_STAGES)
    assert pipeline(seller) == dict(Counter(seen.values_list("stage", flat=True)))


@pytest.mark.django_db(transaction=True)
def test_a_fold_while_another_transaction_moves_leads_loses_none_of_its_changes(dealer_a: DealerSetup) -> None:
    leads = [_lead(dealer_a, owner=None) for _ in range(3)]
    Lead.objects.filter(pk=leads[0].pk).update(stage=Lead.Stage.CONTACTED)
    settings = connection.get_connection_params()
    with psycopg.connect(**{k: v for k, v in settings.items() if k != "cursor_factory"}) as writer:
        writer.execute("SELECT set_config('app.scope', 'manufacturer', false)")
        writer.execute(
            "UPDATE crm_lead SET stage = 'offer' WHERE id = ANY(%s)", [[str(lead.pk) for lead in leads[1:]]]
        )  # not committed while the fold runs
        lead_counts.fold()
        writer.commit()
    assert (
        _kept()
        == _counted_from_leads()
        == {(dealer_a.dealer.pk, None, "contacted"): 1, (dealer_a.dealer.pk, None, "offer"): 2}
    )
    lead_counts.fold()
    assert LeadStageCount.objects.count() == 2
    assert _kept() == _counted_from_leads()


def test_the_counts_are_vacuumed_after_a_thousand_dead_rows_whatever_the_tables_size(db: None) -> None:
    # Each fold deletes the rows it sums; dead index entries would make the dashboard's read grow between vacuums.
    with connection.cursor() as cursor:
        cursor.execute("SELECT reloptions FROM pg_class WHERE oid = 'crm_leadstagecount'::regclass")
        options = dict(option.split("=") for option in cursor.fetchone()[0])
    assert options["autovacuum_vacuum_scale_factor"] == "0"
    assert options["autovacuum_vacuum_threshold"] == "1000"
