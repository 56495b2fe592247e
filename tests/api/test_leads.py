"""Leads over the API: create for a prospect, stage changes and closing as in the UI, assignment, lost reasons."""

from __future__ import annotations

from crm.models import Lead, LeadEvent
from tests.api.conftest import ApiClient, assert_problem
from tests.conftest import DealerSetup
from tests.factories import LeadFactory, ProspectFactory

LIST = "/api/v1/leads/"


def detail(pk: object, action: str = "") -> str:
    return f"/api/v1/leads/{pk}/" + (f"{action}/" if action else "")


def test_create_lead_for_own_prospect_with_owner_by_email(dealer_a: DealerSetup, api_a: ApiClient) -> None:
    prospect = ProspectFactory(dealer=dealer_a.dealer)
    salesperson = dealer_a.user("salesperson")
    response = api_a.post(
        LIST,
        {
            "prospect": str(prospect.pk),
            "model_name": "Clio",
            "list_price": "23990.50",
            "owner": salesperson.email,
            "source": "dms",
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["prospect"], body["stage"], body["owner"], body["list_price"]) == (
        str(prospect.pk),
        "new",
        salesperson.email,
        "23990.50",
    )
    lead = Lead.objects.get(pk=body["id"])
    assert lead.owner_id == salesperson.pk
    assert lead.events.filter(kind=LeadEvent.Kind.CREATED, actor_label__startswith="api:crmd_").exists()


def test_create_lead_for_another_dealers_prospect_is_a_field_error(
    dealer_a: DealerSetup, dealer_b: DealerSetup, api_a: ApiClient
) -> None:
    foreign = ProspectFactory(dealer=dealer_b.dealer)
    assert_problem(api_a.post(LIST, {"prospect": str(foreign.pk)}), 400, "prospect")
    assert_problem(api_a.post(LIST, {"prospect": "nonsense"}), 400, "prospect")
    assert_problem(api_a.post(LIST, {"prospect": str(ProspectFactory(dealer=dealer_a.dealer).pk), "stage": "won"}), 400)
    assert not Lead.objects.filter(prospect_id=foreign.pk).exists()


def test_stage_change_moves_the_lead_and_records_who(dealer_a: DealerSetup, api_a: ApiClient) -> None:
    lead = LeadFactory(prospect=ProspectFactory(dealer=dealer_a.dealer))
    response = api_a.post(detail(lead.pk, "stage"), {"stage": "appointment"}, headers={"If-Match": '"1"'})
    assert response.status_code == 200, response.content
    assert response.json()["stage"] == "appointment"
    assert response.json()["first_contacted_at"] is not None
    assert response["ETag"] == '"2"'
    event = lead.events.get(kind=LeadEvent.Kind.STAGE_CHANGED)
    assert (event.from_stage, event.to_stage) == ("new", "appointment")


def test_closing_as_lost_needs_a_known_reason_and_as_won_a_note(dealer_a: DealerSetup, api_a: ApiClient) -> None:
    lead = LeadFactory(prospect=ProspectFactory(dealer=dealer_a.dealer))
    assert_problem(api_a.post(detail(lead.pk, "stage"), {"stage": "lost"}), 400, "lost_reason")
    assert_problem(
        api_a.post(detail(lead.pk, "stage"), {"stage": "lost", "lost_reason": "erfunden"}), 400, "lost_reason"
    )
    assert_problem(api_a.post(detail(lead.pk, "stage"), {"stage": "won"}), 400, "note")
    assert_problem(api_a.post(detail(lead.pk, "stage"), {"stage": "verkauft"}), 400, "stage")
    lead.refresh_from_db()
    assert lead.stage == "new"

    code = api_a.get("/api/v1/lost-reasons/").json()["items"][0]["code"]
    lost = api_a.post(detail(lead.pk, "stage"), {"stage": "lost", "lost_reason": code, "note": "zu teuer"})
    assert lost.status_code == 200, lost.content
    assert (lost.json()["stage"], lost.json()["lost_reason"], lost.json()["close_note"]) == ("lost", code, "zu teuer")
    assert lost.json()["closed_at"] is not None

    reopened = api_a.post(detail(lead.pk, "stage"), {"stage": "offer"}).json()
    assert (reopened["stage"], reopened["lost_reason"], reopened["closed_at"]) == ("offer", None, None)
    won = api_a.post(detail(lead.pk, "stage"), {"stage": "won", "note": "Auftrag 4711"}).json()
    assert (won["stage"], won["close_note"]) == ("won", "Auftrag 4711")


def test_stage_change_with_stale_if_match_is_412(dealer_a: DealerSetup, api_a: ApiClient) -> None:
    lead = LeadFactory(prospect=ProspectFactory(dealer=dealer_a.dealer))
    assert_problem(api_a.post(detail(lead.pk, "stage"), {"stage": "contacted"}, headers={"If-Match": '"5"'}), 412)
    lead.refresh_from_db()
    assert lead.stage == "new"


def test_patch_cannot_change_stage_or_prospect_but_changes_the_rest(dealer_a: DealerSetup, api_a: ApiClient) -> None:
    lead = LeadFactory(prospect=ProspectFactory(dealer=dealer_a.dealer))
    other = ProspectFactory(dealer=dealer_a.dealer)
    body = api_a.patch(detail(lead.pk), {"stage": "won", "prospect": str(other.pk), "rating": "hot"}).json()
    assert (body["stage"], body["prospect"], body["rating"]) == ("new", str(lead.prospect_id), "hot")


def test_assign_gives_the_lead_to_a_salesperson_of_the_dealership(
    dealer_a: DealerSetup, dealer_b: DealerSetup, api_a: ApiClient
) -> None:
    lead = LeadFactory(prospect=ProspectFactory(dealer=dealer_a.dealer))
    assert_problem(api_a.post(detail(lead.pk, "assign"), {"owner": dealer_b.user("salesperson").email}), 400, "owner")
    response = api_a.post(detail(lead.pk, "assign"), {"owner": dealer_a.user("salesperson").email, "reason": "Urlaub"})
    assert response.json()["owner"] == dealer_a.user("salesperson").email
    assert api_a.post(detail(lead.pk, "assign"), {"owner": None}).json()["owner"] is None


def test_lead_list_filters_by_stage_and_prospect(dealer_a: DealerSetup, api_a: ApiClient) -> None:
    prospect = ProspectFactory(dealer=dealer_a.dealer)
    offer = LeadFactory(prospect=prospect, stage="offer")
    LeadFactory(prospect=ProspectFactory(dealer=dealer_a.dealer), stage="new")
    items = api_a.get(f"{LIST}?stage=offer&stage=won").json()["items"]
    assert [i["id"] for i in items] == [str(offer.pk)]
    assert [i["id"] for i in api_a.get(LIST, data={"prospect": str(prospect.pk)}).json()["items"]] == [str(offer.pk)]
    assert_problem(api_a.get(LIST, data={"stage": "verkauft"}), 400, "stage")
