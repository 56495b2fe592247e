"""Issue 9 items 1, 3 and 10 (admin): every registered admin model, view and action, for every role.

The walk is built from the admin site's registry, so a newly registered model, action or custom
admin URL is walked without anyone remembering to add it. The oracle is the role's Django model
permissions (dealers/roles.py): a user who lacks the permission a view or action implies is refused
and the refused request changes no row; a model admin may refuse more than that, never less (and then,
too, nothing changes). An action that declares no permission fails the walk.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.admin.options import ModelAdmin
from django.contrib.auth import get_permission_codename
from django.contrib.auth.models import Group
from django.db.models import Model
from django.forms import CharField, ModelChoiceField
from django.http import HttpResponse
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_static.models import StaticDevice

from crm.campaigns.models import Campaign
from crm.models import Consent
from crm.services.consents import record_consent
from dealers.actors import Actor
from dealers.models import User
from dealers.roles import ANALYST, DATA_PROTECTION, LEAD_DESK, MANUFACTURER_ROLES, NETWORK_ADMIN
from ha.models import Alert, ClusterNode
from sync.inbound.intake import receive_intake
from sync.models import ImportRun, LeadRouting
from tests.admin.admin_forms import form_data
from tests.admin.conftest import make_api_key, make_dead_letter, make_destination
from tests.admin.snapshot import database_rows
from tests.conftest import DealerSetup
from tests.factories import (
    ActivityFactory,
    DealerGroupFactory,
    LeadFactory,
    TaskFactory,
    TerritoryFactory,
    UserFactory,
)

ACTOR = Actor.system("test")
REGISTRY: dict[type[Model], ModelAdmin[Any]] = dict(admin.site._registry)
STANDARD_VIEWS = ("_changelist", "_add", "_history", "_delete", "_change")
NO_ROLE = "Manufacturer staff without a role"
SUPERUSER = "Superuser"
DEALER_USER = "Dealer administrator (not manufacturer staff)"
# Refusals first; the superuser last, so what the others may not do is tried on untouched rows.
ROLES = [ANALYST, DATA_PROTECTION, LEAD_DESK, NETWORK_ADMIN, NO_ROLE, DEALER_USER, SUPERUSER]
assert set(MANUFACTURER_ROLES) <= set(ROLES), "a new manufacturer role must join the walk"

# The permission each of our actions implies (issue 9 item 1). Third-party actions need only declare one.
ACTION_PERMISSIONS = {
    ("dealers.apikey", "rotate_keys"): ["change"],
    ("dealers.apikey", "revoke_keys"): ["change"],
    ("crm.lead", "return_to_dealership"): ["change"],
    ("crm.vehiclemodel", "activate"): ["change"],
    ("crm.vehiclemodel", "deactivate"): ["change"],
    ("crm.retentionrule", "dry_run"): ["change"],
    ("crm.retentionrule", "run_now"): ["change"],
    ("crm.prospect", "erase_selected"): ["erase"],
    ("sync.destination", "pause"): ["change"],
    ("sync.destination", "resume"): ["change"],
    ("sync.destination", "replay"): ["change"],
    ("sync.destination", "rotate_secret"): ["change"],
    ("sync.deadletter", "retry"): ["change"],
    ("sync.deadletter", "discard"): ["change"],
    ("sync.unroutedlead", "assign_to_dealership"): ["change"],
    ("ha.clusternode", "drain"): ["change"],
    ("ha.clusternode", "undrain"): ["change"],
}
ACTION_POST = {"post": "yes", "apply": "1", "since": "2020-01-01T00:00:00Z"}  # confirmations and action forms


def _label(model: type[Model]) -> str:
    return model._meta.label_lower


def _actions(model_admin: ModelAdmin[Any]) -> list[tuple[str, Callable[..., Any]]]:
    return [(name, func) for func, name, _description in model_admin._get_base_actions()]


@pytest.mark.parametrize(
    ("model", "action"),
    [(_label(m), name) for m, ma in REGISTRY.items() for name, _func in _actions(ma)],
)
def test_every_admin_action_declares_the_permission_it_implies(model: str, action: str) -> None:
    model_admin = next(ma for m, ma in REGISTRY.items() if _label(m) == model)
    func = dict(_actions(model_admin))[action]
    declared = list(getattr(func, "allowed_permissions", []) or [])
    assert declared, f"{model}: action {action} declares no permissions=[...]"
    for permission in declared:
        assert callable(getattr(model_admin, f"has_{permission}_permission", None))
    if (model, action) in ACTION_PERMISSIONS:
        assert declared == ACTION_PERMISSIONS[(model, action)]
    elif action not in dict(admin.site.actions) and model.split(".")[0] in ("dealers", "crm", "sync", "ha"):
        pytest.fail(f"{model}: state which permission action {action} implies in ACTION_PERMISSIONS")


# --- the walk ---


def _network(dealer_a: DealerSetup) -> dict[str, Model]:
    """One row of every kind the admin shows, in dealership A; the walk takes any row it finds for others."""
    dealer = dealer_a.dealer
    dealer.group = DealerGroupFactory.create()
    dealer.save(update_fields=["group"])
    letter = make_dead_letter(make_destination(dealer))
    lead = LeadFactory.create(prospect__dealer=dealer, owner=dealer_a.user("salesperson"))
    rows: dict[str, Model] = {
        "auth.group": Group.objects.get(name=ANALYST),
        "dealers.user": dealer_a.user("salesperson"),
        "dealers.dealer": dealer,
        "dealers.dealergroup": dealer.group,
        "dealers.region": dealer.region,
        "dealers.territory": TerritoryFactory.create(dealer=dealer),
        "dealers.membership": dealer_a.staff["salesperson"],
        "dealers.apikey": make_api_key(dealer),
        "sync.destination": letter.destination,
        "sync.deadletter": letter,
        "crm.prospect": lead.prospect,
        "crm.lead": lead,
        "crm.activity": ActivityFactory.create(prospect=lead.prospect, lead=lead),
        "crm.task": TaskFactory.create(prospect=lead.prospect),
        "crm.consent": record_consent(
            prospect=lead.prospect, purpose=Consent.Purpose.MARKETING_EMAIL, status=Consent.Status.GRANTED, actor=ACTOR
        ),
        "crm.change": letter.change,
        "sync.leadrouting": LeadRouting.objects.create(lead=lead, dealer=dealer, method=LeadRouting.Method.values[0]),
        "sync.importrun": ImportRun.objects.create(dealer=dealer, origin="upload", filename="kunden.csv"),
        "sync.intakedocument": receive_intake(body=b"{}", content_type="application/json", actor=ACTOR).document,
        "otp_static.staticdevice": StaticDevice.objects.create(user=dealer_a.user("dealer_admin"), name="backup"),
        "ha.clusternode": ClusterNode.objects.create(name="app-1", role="primary", release="r1"),
        "ha.alert": Alert.objects.create(key="node.missing:app-2:1", kind="node.missing", summary="Node app-2 missing"),
        "campaigns.campaign": Campaign.objects.create(  # the manufacturer's: the admin changes only those
            name="Netz", code="NETZ", channel="email", starts_on="2026-01-01", ends_on="2026-12-31"
        ),
    }
    return rows


def _users(dealer_a: DealerSetup, manufacturer_admin: User) -> dict[str, User]:
    users: dict[str, User] = {}
    for role in MANUFACTURER_ROLES:
        users[role] = UserFactory.create(email=f"{role.split()[0].lower()}@hq.test.crm.example", is_staff=True)
        users[role].groups.add(Group.objects.get(name=role))
    users[NO_ROLE] = UserFactory.create(email="ohne-rolle@hq.test.crm.example", is_staff=True)
    users[DEALER_USER] = dealer_a.user("dealer_admin")
    users[SUPERUSER] = manufacturer_admin
    return users


def _holds(user: User, model: type[Model], action: str) -> bool:
    opts = model._meta
    permission = f"{opts.app_label}.{get_permission_codename(action, opts)}"
    return user.is_active and user.is_staff and user.has_perm(permission)


def _refused(response: HttpResponse) -> bool:
    """403, or sent to sign in (not manufacturer staff)."""
    return response.status_code == 403 or (
        response.status_code == 302 and response["Location"].startswith(reverse("admin:login"))
    )


def _offered_actions(response: HttpResponse) -> set[str]:
    action_form = (response.context or {}).get("action_form") if response.status_code == 200 else None
    if action_form is None:
        return set()
    return {value for value, _label in action_form.fields["action"].choices if value}


def _tampered(page: HttpResponse) -> dict[str, Any]:
    """The superuser's form for the row, sent back with every text field changed, as an attacker would."""
    if page.status_code != 200 or "adminform" not in (page.context or {}):
        return {"name": "Angriff"}
    form = page.context["adminform"].form
    changes = {
        name: "Angriff"
        for name, field in form.fields.items()
        if isinstance(field, CharField) and not isinstance(field, ModelChoiceField) and name != "password"
    }
    return form_data(page, **changes)


def _custom_urls(model_admin: ModelAdmin[Any], obj: Model | None) -> list[str]:
    urls = []
    for pattern in model_admin.get_urls():
        name = getattr(pattern, "name", None)
        if not name or name.endswith(STANDARD_VIEWS):
            continue
        params = list(pattern.pattern.regex.groupindex)
        if params and obj is None:
            continue
        urls.append(reverse(f"admin:{name}", kwargs=dict.fromkeys(params, str(obj.pk) if obj else "")))
    return urls


@pytest.mark.parametrize("model", list(REGISTRY), ids=_label)
def test_admin_walk_refuses_what_a_role_may_not_do_and_changes_nothing(
    model: type[Model], dealer_a: DealerSetup, manufacturer_admin: User, client_for
) -> None:
    model_admin = REGISTRY[model]
    rows = _network(dealer_a)
    users = _users(dealer_a, manufacturer_admin)
    clients: dict[str, Client] = {role: client_for(user) for role, user in users.items()}
    obj = rows.get(_label(model)) or model._default_manager.order_by("pk").first()
    info = (model._meta.app_label, model._meta.model_name)
    urls = {
        "changelist": reverse("admin:{}_{}_changelist".format(*info)),
        "add": reverse("admin:{}_{}_add".format(*info)),
    }
    if obj is not None:
        for view in ("change", "delete", "history"):
            urls[view] = reverse(f"admin:{info[0]}_{info[1]}_{view}", args=[obj.pk])
    superuser = clients[SUPERUSER]
    add_data = _tampered(superuser.get(urls["add"]))
    change_data = _tampered(superuser.get(urls["change"])) if obj is not None else {}

    for role in ROLES:
        user, client = users[role], clients[role]
        may_view = _holds(user, model, "view") or _holds(user, model, "change")
        where = f"{role} on {_label(model)}"

        # Reading: each page needs the permission it implies; custom admin URLs need the view permission.
        needs = {"changelist": "view", "change": "view", "history": "view", "add": "add", "delete": "delete"}
        pages = [(view, urls[view], needs[view]) for view in needs if view in urls]
        pages += [(url, url, "view") for url in _custom_urls(model_admin, obj)]
        for view, url, action in pages:
            permitted = may_view if action == "view" else _holds(user, model, action)
            if permitted and role != SUPERUSER:
                continue
            response = client.get(url)
            if not permitted:
                assert _refused(response), f"{where}: {view} shown without {action} permission"
            else:  # the superuser: every page renders, or the admin refuses it by design (read-only models)
                assert response.status_code in (200, 403), f"{where}: {view} answered {response.status_code}"

        # Actions: offered only with a permission they declare; the analyst is offered none at all.
        listing = client.get(urls["changelist"])
        offered = _offered_actions(listing)
        for name, func in _actions(model_admin):
            declared = getattr(func, "allowed_permissions", ())
            if name in offered:
                assert any(_holds(user, model, p) for p in declared if p in ("view", "add", "change", "delete")) or (
                    not set(declared) & {"view", "add", "change", "delete"}
                ), f"{where}: action {name} offered without {declared}"
        if role == ANALYST:
            assert not offered, f"the read-only analyst is offered {offered} on {_label(model)}"

        # Writing: whatever is refused leaves every row as it was.
        before = database_rows()
        attempts: list[tuple[str, str, dict[str, Any], bool]] = [
            ("add", urls["add"], add_data, _holds(user, model, "add")),
        ]
        if obj is not None:
            attempts += [
                ("change", urls["change"], change_data, _holds(user, model, "change")),
                ("delete", urls["delete"], {"post": "yes"}, _holds(user, model, "delete")),
            ]
        attempts += [
            (f"action {name}", urls["changelist"], {"action": name, "_selected_action": [obj.pk], **ACTION_POST}, False)
            for name, _func in _actions(model_admin)
            if obj is not None and name not in offered
        ]
        attempts += [(f"POST {url}", url, {}, _holds(user, model, "change")) for url in _custom_urls(model_admin, obj)]
        for what, url, data, permitted in attempts:
            if permitted and what != "change":
                continue  # allowed deletes and actions are the subject of the tests next to each admin
            response = client.post(url, data)
            if permitted and response.status_code == 302:
                before = database_rows()  # saved, as the role may
                continue
            if what.startswith("action"):
                assert response.context is None or response.context.get("issued") is None, f"{where}: {what}"
            elif not permitted and not what.startswith("POST"):
                assert _refused(response), f"{where}: {what} without permission answered {response.status_code}"
            assert database_rows() == before, f"{where}: refused {what} changed rows"
