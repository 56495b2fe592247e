"""The route matrix: every URL of the product, who may use it, and how to build it for one dealer.

Each later feature adds its routes here. ``tests/test_route_matrix.py`` walks every URL
pattern and fails when a route is neither in ``UI_ROUTES``/``API_ROUTES``/``PROBE_ROUTES`` nor in
``PUBLIC_ROUTES``; it then requests each route as every role of dealer A, and with dealer B's objects,
which must be a 404 exactly like a missing object, for reads and writes: a refused write leaves every
product table as it was (``tenant_snapshot``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from dealers.models import Membership

ALL_ROLES = frozenset(role.value for role in Membership.Role)
MANAGERS = frozenset({Membership.Role.SALES_MANAGER.value, Membership.Role.DEALER_ADMIN.value})
DEALER_ADMINS = frozenset({Membership.Role.DEALER_ADMIN.value})

# Built from the fixtures: ``setup`` is a tests.conftest.DealerSetup, ``viewer`` the role's membership.
KwargsBuilder = Callable[[Any, Membership], dict[str, Any]]
# A valid form body for the route's write, given the setup, the viewer and the URL arguments.
PostBuilder = Callable[[Any, Membership, dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class UiRoute:
    """A page of the dealership UI.

    ``kwargs`` builds URL arguments naming an object of the given dealer that ``viewer`` may see
    (None: the route takes no object). ``missing`` gives arguments naming no object at all.
    ``post`` builds a valid body for the write the route performs (None: the route only reads, and a
    POST must change nothing for anyone refused). ``get``: False for POST-only routes (GET is 405).
    """

    name: str
    roles: frozenset[str]
    kwargs: KwargsBuilder | None = None
    missing: dict[str, Any] = field(default_factory=dict)
    query: str = ""
    post: PostBuilder | None = None
    get: bool = True


# Tables whose rows a request may touch without changing what it is about: sign-in times, key use.
_VOLATILE_COLUMNS = ["last_login", "last_used_at"]


@contextmanager
def _every_dealer() -> Iterator[None]:
    """Row-level security (dealers.rls) hides other dealers' rows from a scoped session: look at all of them."""
    from dealers.rls import manufacturer_wide

    with manufacturer_wide(reason="test:tenant_snapshot"):
        yield


def product_tables() -> list[str]:
    """Every table of the product's apps (dealers, crm, sync), many-to-many tables included."""
    return sorted(
        {
            model._meta.db_table
            for config in apps.get_app_configs()
            if config.name.split(".")[0] in ("dealers", "crm", "sync")  # crm's own apps too (crm.campaigns ...)
            for model in config.get_models(include_auto_created=True)
            if model._meta.managed and not model._meta.proxy
        }
    )


def _tables_with_dealer(cursor: Any, tables: list[str]) -> list[str]:
    cursor.execute(
        "SELECT table_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = ANY(%s) AND column_name = 'dealer_id'",
        [tables],
    )
    return sorted(row[0] for row in cursor.fetchall())


def tenant_snapshot(dealer_id: int | None = None) -> dict[str, str]:
    """A checksum per table of every row of the product's apps, both dealers included.

    With ``dealer_id``: only that dealership's rows of the tables that have a ``dealer_id``. A refused
    write must leave it equal; the dict names the tables that changed. One query for all tables: the
    matrices take a snapshot before and after every refused request.
    """
    with _every_dealer(), connection.cursor() as cursor:
        tables = product_tables() if dealer_id is None else _tables_with_dealer(cursor, product_tables())
        where, extra = ("", []) if dealer_id is None else ("WHERE t.dealer_id = %s", [dealer_id])
        queries, params = [], []
        for table in tables:
            queries.append(
                "SELECT %s::text, md5(coalesce(string_agg(r, '|' ORDER BY r), '')) "  # noqa: S608 - table names from the models
                f'FROM (SELECT (to_jsonb(t) - %s::text[])::text AS r FROM "{table}" t {where}) rows'
            )
            params += [table, _VOLATILE_COLUMNS, *extra]
        cursor.execute(" UNION ALL ".join(queries), params)
        return dict(cursor.fetchall())


def columns_holding(value: Any, *, data_type: str, dealer_id: int | None = None, op: str = "=") -> list[str]:
    """``table.column`` of every product column of ``data_type`` with a row where ``column <op> value``.

    With ``dealer_id``: only that dealership's rows of the tables that have a ``dealer_id``.
    """
    assert op in ("=", "<", ">")
    tables = product_tables()
    with _every_dealer(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = ANY(%s)",
            [tables],
        )
        catalogue = cursor.fetchall()
        with_dealer = {table for table, column, _type in catalogue if column == "dealer_id"}
        probes = []
        for table, column, kind in catalogue:
            if kind != data_type or (dealer_id is not None and table not in with_dealer):
                continue
            where = f't."{column}" {op} %s' + (" AND t.dealer_id = %s" if dealer_id is not None else "")
            sql = f'SELECT EXISTS (SELECT 1 FROM "{table}" t WHERE {where})'  # noqa: S608 - names from the models
            probes.append((f"{table}.{column}", sql))
        if not probes:
            return []
        params = [value, dealer_id] if dealer_id is not None else [value]
        cursor.execute("SELECT " + ", ".join(f"({sql})" for _name, sql in probes), params * len(probes))
        row = cursor.fetchone()
    return sorted(name for (name, _sql), hit in zip(probes, row, strict=True) if hit)


def changed_tables(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return sorted(table for table in before.keys() | after.keys() if before.get(table) != after.get(table))


def _staff_member(setup: Any, viewer: Membership) -> dict[str, Any]:
    return {"pk": setup.other_salesperson.pk}


def _staff_invitation(setup: Any, viewer: Membership) -> dict[str, Any]:
    from dealers.actors import Actor
    from dealers.services import invite_staff_member

    issued = invite_staff_member(
        dealer=setup.dealer,
        email=f"eingeladen.{setup.dealer.number}@test.crm.example",
        role="salesperson",
        actor=Actor.system("t"),
        link_for=lambda token: f"https://crm.example/invitations/{token}/",
    )
    return {"pk": issued.invitation.pk}


UI_ROUTES: list[UiRoute] = [
    UiRoute("dashboard", ALL_ROLES),
    UiRoute(
        "staff_list",
        DEALER_ADMINS,
        post=lambda setup, viewer, kw: {"email": f"neu.{setup.dealer.number}@test.crm.example", "role": "salesperson"},
    ),
    UiRoute(
        "staff_edit",
        DEALER_ADMINS,
        kwargs=_staff_member,
        missing={"pk": 999_999_999},
        post=lambda setup, viewer, kw: {"role": "sales_manager", "is_active": "on", "lead_capacity": "7"},
    ),
    UiRoute(
        "staff_invitation_revoke",
        DEALER_ADMINS,
        kwargs=_staff_invitation,
        missing={"pk": 999_999_999},
        post=lambda setup, viewer, kw: {},
    ),
]


# --- Prospects and leads (crm.ui): objects of ``setup``'s dealer that ``viewer`` may see and act on ---
_NO_SUCH_UUID = "00000000-0000-7000-8000-000000000000"


def _crm_prospect(setup: Any, viewer: Membership, **extra: Any) -> Any:
    from tests.factories import ProspectFactory

    return ProspectFactory(dealer=setup.dealer, owner=viewer.user, **extra)


def _crm_own_lead(setup: Any, viewer: Membership) -> dict[str, Any]:
    from tests.factories import LeadFactory

    lead = LeadFactory(prospect=_crm_prospect(setup, viewer), owner=viewer.user)
    return {"pk": lead.pk}


def _crm_unassigned_lead(setup: Any, viewer: Membership) -> dict[str, Any]:
    from tests.factories import LeadFactory, ProspectFactory

    lead = LeadFactory(prospect=ProspectFactory(dealer=setup.dealer, owner=None), owner=None)
    return {"pk": lead.pk}


def _crm_own_prospect(setup: Any, viewer: Membership) -> dict[str, Any]:
    return {"pk": _crm_prospect(setup, viewer).pk}


def _crm_prospect_for_lead(setup: Any, viewer: Membership) -> dict[str, Any]:
    return {"prospect_pk": _crm_prospect(setup, viewer).pk}


def _crm_prospect_pair(setup: Any, viewer: Membership) -> dict[str, Any]:
    first = _crm_prospect(setup, viewer, last_name="Doppel", email="doppel@kunde.example")
    second = _crm_prospect(setup, viewer, last_name="Doppel", email="doppel@kunde.example")
    return {"pk": first.pk, "other": second.pk}


def _crm_own_task(setup: Any, viewer: Membership) -> dict[str, Any]:
    from tests.factories import TaskFactory

    return {"pk": TaskFactory(prospect=_crm_prospect(setup, viewer), assignee=viewer.user).pk}


_LEAD_MISSING = {"pk": _NO_SUCH_UUID}
_LATER = "2030-01-15T09:00"


def _prospect_body(setup: Any, viewer: Membership, kw: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": "person",
        "last_name": "Matrix",
        "first_name": "Mia",
        "email": f"mia.{setup.dealer.number}@kunde.example",
        "postcode": "80331",
        "city": "München",
        "country": "DE",
        "preferred_language": "de",
        "origin": "showroom",
        "confirm_new": "on",
    }


def _lead_body(setup: Any, viewer: Membership, kw: dict[str, Any]) -> dict[str, Any]:
    return {"lead_type": "new_car", "source": "showroom", "vehicle_condition": "new", "model_name": "Megane"}


def _activity_body(setup: Any, viewer: Membership, kw: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "call", "direction": "outbound", "subject": "Matrix", "body": "Rückruf"}


UI_ROUTES += [
    UiRoute("lead_list", ALL_ROLES),
    UiRoute("lead_list", ALL_ROLES, query="?q=Mueller&stage=new&open=&sort=updated"),
    UiRoute("lead_board", ALL_ROLES),
    UiRoute("lead_export", ALL_ROLES),
    UiRoute("lead_detail", ALL_ROLES, kwargs=_crm_own_lead, missing=_LEAD_MISSING),
    UiRoute("lead_edit", ALL_ROLES, kwargs=_crm_own_lead, missing=_LEAD_MISSING, post=_lead_body),
    UiRoute("lead_log_activity", ALL_ROLES, kwargs=_crm_own_lead, missing=_LEAD_MISSING, post=_activity_body),
    UiRoute(
        "lead_schedule",
        ALL_ROLES,
        kwargs=_crm_own_lead,
        missing=_LEAD_MISSING,
        post=lambda setup, viewer, kw: {"kind": "appointment", "due_at": _LATER, "notes": "Matrix"},
    ),
    UiRoute(
        "lead_stage",
        ALL_ROLES,
        kwargs=_crm_own_lead,
        missing=_LEAD_MISSING,
        post=lambda setup, viewer, kw: {"stage": "contacted"},
    ),
    UiRoute(
        "lead_assign",
        MANAGERS,
        kwargs=_crm_own_lead,
        missing=_LEAD_MISSING,
        post=lambda setup, viewer, kw: {"owner": setup.other_salesperson.user_id, "reason": "Matrix"},
    ),
    UiRoute("lead_take", ALL_ROLES, kwargs=_crm_unassigned_lead, missing=_LEAD_MISSING, post=lambda s, v, kw: {}),
    UiRoute("prospect_list", ALL_ROLES),
    UiRoute("prospect_list", ALL_ROLES, query="?q=M%C3%BCler&sort=newest"),
    UiRoute("prospect_create", ALL_ROLES, post=_prospect_body),
    UiRoute("prospect_export", ALL_ROLES),
    UiRoute("marketing_export", MANAGERS),
    UiRoute("marketing_export", MANAGERS, query="?purpose=marketing_post"),
    UiRoute("duplicate_list", MANAGERS),
    UiRoute("prospect_detail", ALL_ROLES, kwargs=_crm_own_prospect, missing=_LEAD_MISSING),
    UiRoute("prospect_edit", ALL_ROLES, kwargs=_crm_own_prospect, missing=_LEAD_MISSING, post=_prospect_body),
    UiRoute("prospect_log_activity", ALL_ROLES, kwargs=_crm_own_prospect, missing=_LEAD_MISSING, post=_activity_body),
    UiRoute("prospect_personal_data", DEALER_ADMINS, kwargs=_crm_own_prospect, missing=_LEAD_MISSING),
    UiRoute(
        "lead_create",
        ALL_ROLES,
        kwargs=_crm_prospect_for_lead,
        missing={"prospect_pk": _NO_SUCH_UUID},
        post=_lead_body,
    ),
    UiRoute(
        "prospect_merge",
        MANAGERS,
        kwargs=_crm_prospect_pair,
        missing={"pk": _NO_SUCH_UUID, "other": "00000000-0000-7000-8000-000000000001"},
        post=lambda setup, viewer, kw: {"keep": str(kw["pk"])},
    ),
    UiRoute(
        "prospect_erase",
        MANAGERS,
        kwargs=_crm_own_prospect,
        missing=_LEAD_MISSING,
        post=lambda setup, viewer, kw: {"confirm": "on"},
    ),
    UiRoute("task_list", ALL_ROLES, post=lambda setup, viewer, kw: {"title": "Matrix", "due_at": _LATER}),
    UiRoute("task_done", ALL_ROLES, kwargs=_crm_own_task, missing=_LEAD_MISSING, post=lambda s, v, kw: {}),
    UiRoute("reports", ALL_ROLES),
    UiRoute("reports", ALL_ROLES, query="?period=365"),
]

# API routes register here (name -> description); tests/api/ walks them with keys of two dealers.
API_ROUTES: dict[str, str] = {}

# Routes that need no dealership: probes, sign-in, language switch, and the admin site,
# which tests/dealers/test_admin_access.py (dealership users) and tests/admin/ (every model, view and
# action for every manufacturer role) cover.
PUBLIC_ROUTES: set[str] = {
    "login",
    "logout",
    "password_change",
    "password_change_done",
    "password_reset",
    "password_reset_done",
    "password_reset_confirm",
    "password_reset_complete",
    "set_language",
    "javascript_catalog",
    "favicon",  # a redirect to the static icon; tests/crm/test_ui_rough_edges.py
    "switch_dealer",  # POST only; tests/dealers/test_switcher.py covers foreign dealers
    "invitation_accept",  # the signed link is the credential; tests/dealers/test_invitations.py
    "consent_confirm",  # the signed link is the credential; tests/crm/test_consent_links.py
    "consent_withdraw",  # the signed link is the credential; tests/crm/test_consent_links.py
}
PUBLIC_NAMESPACES: set[str] = {"admin"}


def covered_route_names() -> set[str]:
    probes = {route.name for route in PROBE_ROUTES}
    return {route.name for route in UI_ROUTES} | set(API_ROUTES) | PUBLIC_ROUTES | probes


# Dealer system sync (sync/outbound): the dealer admin's pages.
def _sync_destination(setup: Any, viewer: Membership) -> dict[str, Any]:
    from tests.factories import DestinationFactory

    return {"pk": DestinationFactory(dealer=setup.dealer).pk}


def _sync_destination_action(action: str) -> KwargsBuilder:
    return lambda setup, viewer: {**_sync_destination(setup, viewer), "action": action}


def _sync_dead_letter(setup: Any, viewer: Membership) -> dict[str, Any]:
    from crm.models import Change
    from crm.services.prospects import create_prospect
    from dealers.actors import Actor
    from sync.models import DeadLetter
    from tests.factories import DestinationFactory

    destination = DestinationFactory(dealer=setup.dealer)
    prospect = create_prospect(dealer=setup.dealer, actor=Actor.system("t"), data={"last_name": "Tot"})
    change = Change.objects.get(object_id=prospect.pk)
    letter = DeadLetter.objects.create(
        dealer=setup.dealer, destination=destination, change=change, event_id=change.event_id, type=change.type
    )
    return {"pk": letter.pk, "action": "discard"}


def _destination_body(setup: Any, viewer: Membership, kw: dict[str, Any]) -> dict[str, Any]:
    return {"name": "Matrix-DMS", "transport": "pull_only"}


UI_ROUTES += [
    UiRoute("sync_settings", DEALER_ADMINS, post=_destination_body),
    UiRoute(
        "sync_destination",
        DEALER_ADMINS,
        kwargs=_sync_destination,
        missing={"pk": 999_999_999},
        post=_destination_body,
    ),
    *(
        UiRoute(
            "sync_destination_action",
            DEALER_ADMINS,
            kwargs=_sync_destination_action(action),
            missing={"pk": 999_999_999, "action": action},
            post=body,
            get=False,
        )
        for action, body in [
            ("pause", lambda s, v, kw: {}),
            ("rotate_secret", lambda s, v, kw: {}),
            ("replay", lambda s, v, kw: {"since": "2020-01-01T00:00:00Z"}),
        ]
    ),
    UiRoute(
        "sync_dead_letter_action",
        DEALER_ADMINS,
        kwargs=_sync_dead_letter,
        missing={"pk": 999_999_999, "action": "discard"},
        post=lambda s, v, kw: {},
        get=False,
    ),
]


@dataclass(frozen=True)
class ProbeRoute:
    """A route for machines (cluster manager, monitoring), walked by tests/test_route_matrix.py.

    Without its token a caller that is not on this host gets ``public_status`` with none of the
    fields in ``secret_fields`` and nothing about any dealership; writes are refused (405).
    """

    name: str
    public_statuses: frozenset[int]
    secret_fields: frozenset[str] = frozenset()


PROBE_ROUTES: list[ProbeRoute] = [
    ProbeRoute("ha_live", frozenset({200})),
    ProbeRoute("ha_ready", frozenset({200, 503})),
    ProbeRoute("ha_primary", frozenset({200, 503})),
    ProbeRoute("ha_replica", frozenset({200, 503})),
    ProbeRoute("ha_health", frozenset({200, 503}), secret_fields=frozenset({"checks"})),
    ProbeRoute("metrics", frozenset({401, 403, 404})),  # bearer METRICS_TOKEN only
]


# Lead intake and inbound file imports (sync/inbound).
def _inbound_import_run(setup: Any, viewer: Membership) -> dict[str, Any]:
    from sync.models import ImportRun

    run = ImportRun.objects.create(dealer=setup.dealer, origin="upload", filename="kunden.csv", status="done")
    return {"pk": run.pk}


def _csv_upload(setup: Any, viewer: Membership, kw: dict[str, Any]) -> dict[str, Any]:
    content = b"Nachname;Vorname;E-Mail\nMatrix;Mia;mia.matrix@kunde.example\n"
    return {"file": SimpleUploadedFile("kunden.csv", content, content_type="text/csv")}


UI_ROUTES += [
    UiRoute("inbound_imports", MANAGERS, post=_csv_upload),
    UiRoute("inbound_import_detail", MANAGERS, kwargs=_inbound_import_run, missing={"pk": 999_999_999}),
]
API_ROUTES["intake_leads"] = "POST: a lead from a manufacturer channel (manufacturer key, intake:write)"


# --- API keys (dealer administrators) and the REST API (crm.api) ---
def _api_key(setup: Any, viewer: Membership) -> dict[str, Any]:
    from dealers.actors import Actor
    from dealers.api_keys import create_api_key

    issued = create_api_key(dealer=setup.dealer, name="Matrix DMS", scopes=["leads:read"], actor=Actor.system("t"))
    return {"pk": issued.api_key.pk}


UI_ROUTES += [
    UiRoute("api_keys", DEALER_ADMINS, post=lambda s, v, kw: {"name": "Matrix", "scopes": ["leads:read"]}),
    UiRoute(
        "api_key_rotate",
        DEALER_ADMINS,
        kwargs=_api_key,
        missing={"pk": 999_999_999},
        post=lambda s, v, kw: {"overlap": "0"},
    ),
    UiRoute("api_key_revoke", DEALER_ADMINS, kwargs=_api_key, missing={"pk": 999_999_999}, post=lambda s, v, kw: {}),
]

ApiBuilder = Callable[[Any], dict[str, Any]]


@dataclass(frozen=True)
class ApiRoute:
    """An endpoint of the REST API, walked by tests/api/test_api_matrix.py with keys of two dealers.

    ``methods`` maps each method to the scope it needs (None: any valid key). ``kwargs(setup)``
    builds URL arguments naming an object of ``setup``'s dealer (None: the route names no object);
    ``missing`` names no object at all. ``bodies[method](setup)`` builds a valid request body.
    ``manufacturer``: only the manufacturer's keys may call it (lead intake). ``upserts``: methods that
    create the object when the caller's dealership has none (another dealer's id is then simply new).
    """

    name: str
    methods: dict[str, str | None]
    kwargs: ApiBuilder | None = None
    missing: dict[str, Any] = field(default_factory=dict)
    bodies: dict[str, ApiBuilder] = field(default_factory=dict)
    manufacturer: bool = False
    upserts: frozenset[str] = frozenset()


def _api_prospect(setup: Any) -> Any:
    from tests.factories import ProspectFactory

    return ProspectFactory(dealer=setup.dealer)


def _api_lead(setup: Any) -> Any:
    from tests.factories import LeadFactory

    return LeadFactory(prospect=_api_prospect(setup))


def _api_pk(factory: Callable[[Any], Any]) -> ApiBuilder:
    return lambda setup: {"pk": str(factory(setup).pk)}


def _api_activity(setup: Any) -> Any:
    from tests.factories import ActivityFactory

    return ActivityFactory(prospect=_api_prospect(setup))


def _api_task(setup: Any) -> Any:
    from tests.factories import TaskFactory

    return TaskFactory(prospect=_api_prospect(setup))


def _api_consent(setup: Any) -> Any:
    from crm.services.consents import record_consent
    from dealers.actors import Actor

    return record_consent(
        prospect=_api_prospect(setup), purpose="marketing_email", status="granted", actor=Actor.system("t")
    )


def _api_external(setup: Any) -> dict[str, Any]:
    from tests.factories import ProspectFactory

    return {"external_id": ProspectFactory(dealer=setup.dealer, external_id=f"EXT-{setup.dealer.number}").external_id}


_DUE = "2030-01-15T09:00:00Z"
API_ROUTE_SPECS: dict[str, ApiRoute] = {
    route.name: route
    for route in [
        ApiRoute("api_me", {"GET": None}),
        ApiRoute(
            "api_prospect_list",
            {"GET": "prospects:read", "POST": "prospects:write"},
            bodies={"POST": lambda setup: {"last_name": "Matrix"}},
        ),
        ApiRoute(
            "api_prospect_detail",
            {"GET": "prospects:read", "PATCH": "prospects:write", "PUT": "prospects:write"},
            kwargs=_api_pk(_api_prospect),
            missing={"pk": _NO_SUCH_UUID},
            bodies={"PATCH": lambda setup: {"city": "Augsburg"}, "PUT": lambda setup: {"last_name": "Matrix"}},
        ),
        ApiRoute(
            "api_prospect_erase",
            {"POST": "prospects:erase"},
            kwargs=_api_pk(_api_prospect),
            missing={"pk": _NO_SUCH_UUID},
            bodies={"POST": lambda setup: {}},
        ),
        ApiRoute(
            "api_prospect_by_external_id",
            {"GET": "prospects:read", "PUT": "prospects:write"},
            kwargs=_api_external,
            missing={"external_id": "NO-SUCH-ID"},
            bodies={"PUT": lambda setup: {"last_name": "Matrix", "city": "Augsburg"}},
            upserts=frozenset({"PUT"}),
        ),
        ApiRoute(
            "api_prospect_batch_upsert",
            {"POST": "prospects:write"},
            bodies={"POST": lambda setup: {"items": [{"external_id": "MATRIX-1", "last_name": "Matrix"}]}},
        ),
        ApiRoute(
            "api_lead_list",
            {"GET": "leads:read", "POST": "leads:write"},
            bodies={"POST": lambda setup: {"prospect": str(_api_prospect(setup).pk), "model_name": "Clio"}},
        ),
        ApiRoute(
            "api_lead_detail",
            {"GET": "leads:read", "PATCH": "leads:write", "PUT": "leads:write"},
            kwargs=_api_pk(_api_lead),
            missing={"pk": _NO_SUCH_UUID},
            bodies={"PATCH": lambda setup: {"rating": "hot"}, "PUT": lambda setup: {"model_name": "Megane"}},
        ),
        ApiRoute(
            "api_lead_stage",
            {"POST": "leads:write"},
            kwargs=_api_pk(_api_lead),
            missing={"pk": _NO_SUCH_UUID},
            bodies={"POST": lambda setup: {"stage": "contacted"}},
        ),
        ApiRoute(
            "api_lead_assign",
            {"POST": "leads:write"},
            kwargs=_api_pk(_api_lead),
            missing={"pk": _NO_SUCH_UUID},
            bodies={"POST": lambda setup: {"owner": setup.staff["salesperson"].user.email}},
        ),
        ApiRoute("api_lost_reasons", {"GET": "leads:read"}),
        ApiRoute("api_catalogue_models", {"GET": None}),  # reference data: any valid key
        ApiRoute(
            "api_activity_list",
            {"GET": "activities:read", "POST": "activities:write"},
            bodies={"POST": lambda setup: {"prospect": str(_api_prospect(setup).pk), "kind": "note"}},
        ),
        ApiRoute(
            "api_activity_detail",
            {"GET": "activities:read", "PATCH": "activities:write", "PUT": "activities:write"},
            kwargs=_api_pk(_api_activity),
            missing={"pk": _NO_SUCH_UUID},
            bodies={"PATCH": lambda setup: {"subject": "Rückruf"}, "PUT": lambda setup: {"kind": "call"}},
        ),
        ApiRoute(
            "api_task_list",
            {"GET": "tasks:read", "POST": "tasks:write"},
            bodies={"POST": lambda setup: {"title": "Anrufen", "due_at": _DUE}},
        ),
        ApiRoute(
            "api_task_detail",
            {"GET": "tasks:read", "PATCH": "tasks:write", "PUT": "tasks:write"},
            kwargs=_api_pk(_api_task),
            missing={"pk": _NO_SUCH_UUID},
            bodies={"PATCH": lambda setup: {"done": True}, "PUT": lambda setup: {"title": "Neu", "due_at": _DUE}},
        ),
        ApiRoute(
            "api_consent_list",
            {"GET": "consents:read", "POST": "consents:write"},
            bodies={
                "POST": lambda setup: {
                    "prospect": str(_api_prospect(setup).pk),
                    "purpose": "marketing_email",
                    "status": "granted",
                }
            },
        ),
        ApiRoute(
            "api_consent_detail",
            {"GET": "consents:read"},
            kwargs=_api_pk(_api_consent),
            missing={"pk": _NO_SUCH_UUID},
        ),
        ApiRoute("api_change_feed", {"GET": "changes:read"}),
        # Built by sync (sync/inbound/api.py) on the API's building blocks; manufacturer keys only.
        ApiRoute("intake_leads", {"POST": "intake:write"}, manufacturer=True),
    ]
}
API_ROUTES.update({name: ", ".join(route.methods) for name, route in API_ROUTE_SPECS.items()})
# The schema and the interactive docs are public: they hold no data (tests/api/test_schema.py).
PUBLIC_ROUTES |= {"api_schema", "api_docs"}

# Sign-in second step, re-authentication and the account security page (dealers/account_views.py,
# dealers/reauth.py): for any signed-in person, no dealership needed; tests/dealers/test_two_factor.py
# and tests/dealers/test_reauthentication.py cover them.
PUBLIC_ROUTES |= {
    "login_verify",
    "login_enroll",
    "reauthenticate",
    "account_security",
    "account_enroll",
    "recovery_codes_regenerate",
    "two_factor_disable",
}


# --- Notifications (crm/notifications): every role's own notifications; another person's is a 404 ---
def _own_notification(setup: Any, viewer: Membership) -> Any:
    from crm.notifications.models import Notification
    from tests.factories import LeadFactory

    lead = LeadFactory(prospect=_crm_prospect(setup, viewer), owner=viewer.user)
    return Notification.objects.create(dealer=setup.dealer, recipient=viewer.user, kind="lead_assigned", lead=lead)


def _unread_notification_body(setup: Any, viewer: Membership, kw: dict[str, Any]) -> dict[str, Any]:
    _own_notification(setup, viewer)  # so that "mark all read" has something to change
    return {}


UI_ROUTES += [
    UiRoute("notification_list", ALL_ROLES),
    UiRoute("notification_count", ALL_ROLES),
    UiRoute("notification_read_all", ALL_ROLES, post=_unread_notification_body, get=False),
    UiRoute(
        "notification_read",
        ALL_ROLES,
        kwargs=lambda setup, viewer: {"pk": _own_notification(setup, viewer).pk},
        missing={"pk": 999_999_999},
        post=lambda s, v, kw: {},
        get=False,
    ),
    UiRoute(
        "notification_preferences",
        ALL_ROLES,
        post=lambda s, v, kw: {"task_due": "digest", "lead_assigned": "immediate", "sla_warning": "ui"},
    ),
]


# Appointments and demo cars (crm/appointments, docs/appointments.md): everyone books from the leads they may
# act on and sees their own appointments; managers keep the demo fleet. The calendar feed is public (token).
def _demo_car(setup: Any, plate: str = "M-MX 1") -> Any:
    from crm.appointments.models import DemoCar
    from crm.models import VehicleModel

    model, _created = VehicleModel.objects.get_or_create(
        model_name="Matrix", trim="", powertrain="electric", defaults={"list_price": "30000.00"}
    )
    car = DemoCar.objects.filter(dealer=setup.dealer, plate=plate).first()
    return car or DemoCar.objects.create(dealer=setup.dealer, vehicle_model=model, plate=plate, vin=f"VIN{plate}")


_appointment_slots = itertools.count()


def _own_appointment(setup: Any, viewer: Membership, *, licence: bool = False) -> Any:
    from datetime import UTC, datetime, timedelta

    from crm.appointments.services import book, record_licence_check
    from dealers.actors import Actor

    start = datetime(2030, 1, 15, 9, tzinfo=UTC) + timedelta(hours=next(_appointment_slots))
    appointment = book(
        prospect=_crm_prospect(setup, viewer),
        actor=Actor.system("t"),
        kind="test_drive",
        starts_at=start,
        ends_at=start + timedelta(minutes=30),
        salesperson_id=viewer.user_id,
        car=_demo_car(setup),
    )
    if licence:
        record_licence_check(appointment=appointment, actor=Actor.system("t"), last_digits="1234", expires_on=None)
    return appointment


def _appointment_kwargs(setup: Any, viewer: Membership) -> dict[str, Any]:
    return {"pk": _own_appointment(setup, viewer).pk}


def _appointment_action(action: str) -> KwargsBuilder:
    return lambda setup, viewer: {"pk": _own_appointment(setup, viewer, licence=True).pk, "action": action}


def _demo_car_body(setup: Any, viewer: Membership, kw: dict[str, Any]) -> dict[str, Any]:
    car = _demo_car(setup, plate="M-MX 99")
    return {
        "vehicle_model": car.vehicle_model_id,
        "plate": "M-MX 2" if not kw else car.plate,
        "vin": f"VINM-MX2{setup.dealer.number}" if not kw else car.vin,
        "mileage": "1200",
        "available_from": "2026-01-01",
        "is_active": "on",
    }


UI_ROUTES += [
    UiRoute("appointment_calendar", ALL_ROLES),
    UiRoute("appointment_calendar", ALL_ROLES, query="?view=day&scope=dealership&date=2030-01-15"),
    UiRoute("calendar_feed_settings", ALL_ROLES, post=lambda s, v, kw: {}),
    UiRoute("appointment_detail", ALL_ROLES, kwargs=_appointment_kwargs, missing=_LEAD_MISSING),
    UiRoute("appointment_agreement", ALL_ROLES, kwargs=_appointment_kwargs, missing=_LEAD_MISSING),
    UiRoute("appointment_ics", ALL_ROLES, kwargs=_appointment_kwargs, missing=_LEAD_MISSING),
    UiRoute(
        "appointment_move",
        ALL_ROLES,
        kwargs=_appointment_kwargs,
        missing=_LEAD_MISSING,
        post=lambda s, v, kw: {"starts_at": "2031-02-01T10:00", "duration": "30"},
    ),
    UiRoute(
        "appointment_licence",
        ALL_ROLES,
        kwargs=_appointment_kwargs,
        missing=_LEAD_MISSING,
        post=lambda s, v, kw: {"last_digits": "12AB", "seen": "on"},
    ),
    *(
        UiRoute(
            "appointment_action",
            ALL_ROLES,
            kwargs=_appointment_action(action),
            missing={"pk": _NO_SUCH_UUID, "action": action},
            post=lambda s, v, kw: {},
            get=False,
        )
        for action in ("cancel", "start", "email")
    ),
    UiRoute(
        "lead_appointment_create",
        ALL_ROLES,
        kwargs=_crm_own_lead,
        missing=_LEAD_MISSING,
        post=lambda s, v, kw: {
            "kind": "consultation",
            "starts_at": _LATER,
            "duration": "60",
            "salesperson": v.user_id,
        },
    ),
    UiRoute("democar_list", MANAGERS, post=_demo_car_body),
    UiRoute(
        "democar_edit",
        MANAGERS,
        kwargs=lambda setup, viewer: {"pk": _demo_car(setup, plate="M-MX 99").pk},
        missing=_LEAD_MISSING,
        post=_demo_car_body,
    ),
]
PUBLIC_ROUTES |= {"calendar_feed"}  # the secret token is the credential; tests/appointments/test_appointment_pages.py


def _test_drive_body(setup: Any) -> dict[str, Any]:
    from datetime import UTC, datetime, timedelta

    start = datetime(2032, 3, 1, 9, tzinfo=UTC) + timedelta(hours=next(_appointment_slots))
    return {
        "car": _demo_car(setup).plate,
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(minutes=45)).isoformat(),
        "salesperson": setup.staff["salesperson"].user.email,
    }


API_ROUTE_SPECS["api_lead_test_drive"] = ApiRoute(
    "api_lead_test_drive",
    {"POST": "leads:write"},
    kwargs=_api_pk(_api_lead),
    missing={"pk": _NO_SUCH_UUID},
    bodies={"POST": _test_drive_body},
)
API_ROUTES["api_lead_test_drive"] = "POST: book a test drive with a demo car (409 naming car when it is taken)"


# Quotes (crm/quotes, docs/quotes.md): everyone quotes on the leads they may act on.
def _own_quote(setup: Any, viewer: Membership) -> dict[str, Any]:
    from crm.models import Lead, VehicleModel
    from crm.quotes.services import create_quote
    from dealers.actors import Actor

    lead_pk = _crm_own_lead(setup, viewer)["pk"]
    vehicle = VehicleModel.objects.filter(is_active=True).order_by("pk").first()
    quote = create_quote(lead=Lead.objects.get(pk=lead_pk), actor=Actor.system("t"), data={"vehicle": vehicle})
    return {"pk": quote.pk}


def _quote_body(setup: Any, viewer: Membership, kw: dict[str, Any]) -> dict[str, Any]:
    from crm.models import VehicleModel

    vehicle = VehicleModel.objects.filter(is_active=True).order_by("pk").first()
    return {"vehicle": str(vehicle.pk if vehicle else ""), "discount": "0", "tradein_credit": "0", "vat_rate": "19",
            "valid_until": "2030-01-31", "version": "1"}  # fmt: skip


UI_ROUTES += [
    UiRoute(
        "quote_create",
        ALL_ROLES,
        kwargs=lambda s, v: {"lead_pk": _crm_own_lead(s, v)["pk"]},
        missing={"lead_pk": _NO_SUCH_UUID},
        post=_quote_body,
    ),
    UiRoute("quote_detail", ALL_ROLES, kwargs=_own_quote, missing=_LEAD_MISSING),
    UiRoute("quote_revise", ALL_ROLES, kwargs=_own_quote, missing=_LEAD_MISSING, post=_quote_body),
    UiRoute(
        "quote_pdf",
        ALL_ROLES,
        kwargs=lambda s, v: {**_own_quote(s, v), "number": 1},
        missing={"pk": _NO_SUCH_UUID, "number": 1},
    ),
    UiRoute("quote_send", ALL_ROLES, kwargs=_own_quote, missing=_LEAD_MISSING, post=lambda s, v, kw: {"message": ""}),
    UiRoute("quote_accept", ALL_ROLES, kwargs=_own_quote, missing=_LEAD_MISSING, post=lambda s, v, kw: {"note": ""}),
    UiRoute("quote_decline", ALL_ROLES, kwargs=_own_quote, missing=_LEAD_MISSING, post=lambda s, v, kw: {"note": ""}),
]


# Campaigns (crm/campaigns, docs/campaigns.md): managers plan and export; everyone reads the results.
def _campaign(setup: Any, viewer: Membership) -> dict[str, Any]:
    from datetime import date
    from uuid import uuid4

    from crm.campaigns.models import Campaign

    campaign = Campaign.objects.create(
        dealer=setup.dealer,
        name="Matrix",
        code=f"MATRIX-{uuid4().hex[:8]}",
        channel="email",
        starts_on=date(2026, 1, 1),
        ends_on=date(2030, 12, 31),
    )
    return {"pk": campaign.pk}


def _campaign_body(setup: Any, viewer: Membership, kw: dict[str, Any]) -> dict[str, Any]:
    body = {"name": "Matrix", "channel": "email", "starts_on": "2026-01-01", "ends_on": "2026-03-31"}
    return body if kw else {**body, "code": f"NEU-{setup.dealer.number}"}


UI_ROUTES += [
    UiRoute("campaign_list", MANAGERS),
    UiRoute("campaign_create", MANAGERS, post=_campaign_body),
    UiRoute("campaign_detail", MANAGERS, kwargs=_campaign, missing=_LEAD_MISSING),
    UiRoute("campaign_edit", MANAGERS, kwargs=_campaign, missing=_LEAD_MISSING, post=_campaign_body),
    UiRoute("campaign_export", MANAGERS, kwargs=_campaign, missing=_LEAD_MISSING),
    UiRoute("campaign_report", ALL_ROLES),
    UiRoute("campaign_report", ALL_ROLES, query="?period=365"),
]


# E-mail from the CRM (crm/messaging, docs/messaging.md): everyone writes to the prospects they may act on;
# dealer admins keep the dealership's templates.
def _email_template(setup: Any, viewer: Membership) -> dict[str, Any]:
    from crm.messaging.models import EmailTemplate

    template = EmailTemplate.objects.create(dealer=setup.dealer, name="Matrix", subject_de="Hallo", body_de="Text")
    return {"pk": template.pk}


def _email_body(setup: Any, viewer: Membership, kw: dict[str, Any]) -> dict[str, Any]:
    return {"language": "de", "subject": "Matrix", "body": "Guten Tag"}


def _email_template_body(setup: Any, viewer: Membership, kw: dict[str, Any]) -> dict[str, Any]:
    return {"name": "Matrix", "purpose": "service", "subject_de": "Hallo", "body_de": "{{ prospect.first_name }}"}


UI_ROUTES += [
    UiRoute("lead_email", ALL_ROLES, kwargs=_crm_own_lead, missing=_LEAD_MISSING, post=_email_body),
    UiRoute("prospect_email", ALL_ROLES, kwargs=_crm_own_prospect, missing=_LEAD_MISSING, post=_email_body),
    UiRoute("email_template_list", DEALER_ADMINS),
    UiRoute("email_template_create", DEALER_ADMINS, post=_email_template_body),
    UiRoute(
        "email_template_edit",
        DEALER_ADMINS,
        kwargs=_email_template,
        missing={"pk": 999_999_999},
        post=_email_template_body,
    ),
]
