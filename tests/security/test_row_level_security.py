"""Row-level security, the second fence (issue 9 item 6; migrations crm/0004 and sync/0005; dealers.rls).

Every check connects as the application role through its own psycopg connection, as web, worker
and scheduler do, and reads the table list from the catalogue: a new table with a ``dealer_id``
column and no forced policy fails here unless it is added to ``OPEN_TABLES`` with a reason.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest
from django.conf import settings as django_settings
from django.db import connection
from psycopg import errors, sql

from dealers import rls
from dealers.actors import Actor
from dealers.api_keys import create_api_key
from dealers.models import Membership
from tests.factories import DealerFactory, MembershipFactory, ProspectFactory, UserFactory
from tests.support.app_role import app_credentials, app_url
from tests.support.servers import database_url, gunicorn

pytestmark = pytest.mark.django_db(transaction=True)

# Tables with a dealer_id column and no row-level security, each with the reason.
OPEN_TABLES = {
    "dealers_membership": "directory: finds the active dealership before one is known",
    "dealers_openinghours": "directory: working-time arithmetic of routing and SLAs, no personal data",
    "dealers_territory": "directory: postcode routing across dealerships, no personal data",
    "dealers_invitation": "directory: an invitee accepts before they belong to the dealership",
}
# Readable by every session (the API looks keys up by prefix before it knows the dealership; only
# the hash of the secret is stored), written only for one's own dealership.
READ_OPEN_TABLES = {"dealers_apikey"}
READ_OPEN_TABLES |= {"messaging_emailtemplate"}  # the manufacturer's network templates: tests/messaging/test_rls.py
# Append-only for the application role (a trigger refuses every UPDATE and DELETE before the policies
# are asked); tests/crm/test_read_audit.py proves it, and the reads below prove their isolation.
APPEND_ONLY_TABLES = {"crm_readaudit"}
# Tables without dealer_id whose rows follow a parent row's dealership: child -> (column, parent).
CHILD_TABLES = {
    "sync_importrowerror": ("run_id", "sync_importrun"),
    "sync_deliverystats": ("destination_id", "sync_destination"),
    "dealers_idempotencyrecord": ("api_key_id", "dealers_apikey"),
}
_unique = itertools.count(1)
# Columns a generated row must set because a check constraint refuses the filler (e.g. an end after its start).
FIXED_COLUMNS: dict[str, dict[str, object]] = {
    "appointments_appointment": {"ends_at": datetime.now(UTC) + timedelta(days=3650)},
}


def _dealer_tables(cur: psycopg.Cursor) -> set[str]:
    cur.execute(
        "SELECT c.relname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND c.relkind = 'r' AND a.attname = 'dealer_id' AND NOT a.attisdropped"
    )
    return {name for (name,) in cur.fetchall()}


def _rls_tables(cur: psycopg.Cursor) -> dict[str, tuple[bool, bool]]:
    cur.execute(
        "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r'"
    )
    return {name: (enabled, forced) for name, enabled, forced in cur.fetchall()}


def _filler(data_type: str, max_length: int | None) -> sql.Composable:
    """A value of the column's type for a generated row; unique strings so unique keys hold."""
    n = next(_unique)
    if data_type in {"character varying", "text", "character"}:
        return sql.Literal(f"r{n}"[: max_length or None])
    return sql.SQL(
        {
            "bigint": str(n),
            "integer": str(n),
            "smallint": "1",
            "numeric": "0",
            "double precision": "0",
            "boolean": "false",
            "uuid": "gen_random_uuid()",
            "timestamp with time zone": "now()",
            "date": "current_date",
            "time without time zone": "'09:00'",
            "interval": "'1 hour'",
            "jsonb": "'{}'::jsonb",
            "json": "'{}'::json",
            "bytea": "'\\x00'::bytea",
            "inet": "'192.0.2.1'",
            "ARRAY": "'{}'",
            "tsvector": "''::tsvector",
        }.get(data_type, "DEFAULT")
    )


def _insert_row(cur: psycopg.Cursor, table: str, fixed: dict[str, object]) -> object:
    """One row in ``table`` with ``fixed`` values and fillers for the other required columns; returns its pk."""
    cur.execute(
        "SELECT column_name, data_type, character_maximum_length FROM information_schema.columns "
        "WHERE table_schema = 'public' AND table_name = %s AND is_nullable = 'NO' "
        "AND column_default IS NULL AND is_identity = 'NO'",
        [table],
    )
    columns = {name: _filler(data_type, length) for name, data_type, length in cur.fetchall()}
    columns.update({name: sql.Literal(value) for name, value in fixed.items()})
    cur.execute(
        "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] "
        "WHERE i.indrelid = %s::regclass AND i.indisprimary",
        [table],
    )
    (pk,) = cur.fetchone()
    cur.execute(
        sql.SQL("INSERT INTO {} ({}) VALUES ({}) RETURNING {}").format(
            sql.Identifier(table),
            sql.SQL(", ").join(map(sql.Identifier, columns)),
            sql.SQL(", ").join(columns.values()),
            sql.Identifier(pk),
        )
    )
    return cur.fetchone()[0]  # type: ignore[index]


@pytest.fixture
def two_dealers() -> tuple[int, int]:
    """Dealers A and B with one row each in every table the policies cover, written as the owner.

    Foreign keys other than the dealership's are not checked for these rows (replica mode), so the
    fence is tested on every table without building each one's object graph.
    """
    a, b = DealerFactory().pk, DealerFactory().pk
    with psycopg.connect(app_url_owner(), autocommit=True) as conn, conn.cursor() as cur:
        cur.execute("SET session_replication_role = replica")
        parents: dict[tuple[str, int], object] = {}
        policed = {name for name, (enabled, _) in _rls_tables(cur).items() if enabled}
        for table in sorted(policed - set(CHILD_TABLES), key=lambda t: t != "dealers_apikey"):
            for dealer in (a, b):
                parents[(table, dealer)] = _insert_row(
                    cur, table, {"dealer_id": dealer, **FIXED_COLUMNS.get(table, {})}
                )
        for table, (column, parent) in CHILD_TABLES.items():
            for dealer in (a, b):
                _insert_row(cur, table, {column: parents[(parent, dealer)]})
    return a, b


def app_url_owner() -> str:
    from tests.support.app_role import owner_url

    return owner_url(connection.settings_dict)


def _app_connection(**settings: str) -> psycopg.Connection:
    conn = psycopg.connect(app_url(connection.settings_dict), autocommit=True)
    for name, value in settings.items():
        conn.execute("SELECT set_config(%s, %s, false)", [name, value])
    return conn


def _count(conn: psycopg.Connection, table: str, where: str = "true", params: list[object] | None = None) -> int:
    query = sql.SQL("SELECT count(*) FROM {} WHERE {}").format(sql.Identifier(table), sql.SQL(where))
    row = conn.execute(query, params or [])
    return int(row.fetchone()[0])  # type: ignore[index]


def test_app_role_is_no_superuser_bypasses_nothing_and_owns_no_tables() -> None:
    role, _password = app_credentials()
    with _app_connection() as conn:
        assert conn.execute("SELECT current_user").fetchone() == (role,)
        superuser, bypass = conn.execute(
            "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
        assert (superuser, bypass) == (False, False)
        owned = conn.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner WHERE r.rolname = current_user"
        ).fetchone()
        assert owned == (0,)


def test_every_dealer_table_has_forced_row_level_security_or_a_stated_reason() -> None:
    with connection.cursor() as cur:
        dealer_tables = _dealer_tables(cur.cursor)
        flags = _rls_tables(cur.cursor)
    unfenced = {
        table for table in (dealer_tables | set(CHILD_TABLES)) - set(OPEN_TABLES) if flags[table] != (True, True)
    }
    assert unfenced == set(), f"dealer tables without ENABLE + FORCE ROW LEVEL SECURITY: {sorted(unfenced)}"
    assert "crm_prospect" in dealer_tables  # the catalogue query finds what it should


def test_without_a_dealer_setting_the_app_role_sees_no_dealer_rows(two_dealers: tuple[int, int]) -> None:
    with _app_connection() as conn:
        tables = {name for name, (enabled, _) in _rls_tables(conn.cursor()).items() if enabled}
        assert len(tables) >= 15
        seen = {table: _count(conn, table) for table in sorted(tables - READ_OPEN_TABLES)}
    assert seen == dict.fromkeys(seen, 0)


def test_with_dealer_a_set_the_app_role_sees_a_and_none_of_b_in_every_table(two_dealers: tuple[int, int]) -> None:
    a, _b = two_dealers
    with _app_connection(**{rls.DEALER_SETTING: str(a)}) as conn:
        tables = {name for name, (enabled, _) in _rls_tables(conn.cursor()).items() if enabled}
        own, foreign = {}, {}
        for table in sorted(tables - set(CHILD_TABLES) - READ_OPEN_TABLES):
            own[table] = _count(conn, table, "dealer_id = %s", [a])
            foreign[table] = _count(conn, table, "dealer_id IS DISTINCT FROM %s", [a])
        for table, (column, parent) in CHILD_TABLES.items():
            own[table] = _count(conn, table)
            foreign[table] = _count(
                conn,
                table,
                f"{column} IN (SELECT id FROM {parent} WHERE dealer_id IS DISTINCT FROM %s)",  # noqa: S608
                [a],
            )
    assert foreign == dict.fromkeys(foreign, 0)
    assert own == dict.fromkeys(own, 1)


def test_manufacturer_scope_sees_every_dealership(two_dealers: tuple[int, int]) -> None:
    with _app_connection(**{rls.SCOPE_SETTING: rls.MANUFACTURER}) as conn:
        assert _count(conn, "crm_prospect", "dealer_id = ANY(%s)", [list(two_dealers)]) == 2
        assert _count(conn, "sync_importrowerror") == 2


def test_dealer_a_cannot_write_rows_for_dealer_b(two_dealers: tuple[int, int]) -> None:
    a, b = two_dealers
    with _app_connection(**{rls.DEALER_SETTING: str(a)}) as conn:
        tables = {name for name, (enabled, _) in _rls_tables(conn.cursor()).items() if enabled}
        dealer_tables = sorted(tables & _dealer_tables(conn.cursor()))
        for table in dealer_tables:
            refusal = "append-only" if table in APPEND_ONLY_TABLES else "row-level security"
            with pytest.raises(errors.InsufficientPrivilege, match=refusal):
                conn.execute(sql.SQL("UPDATE {} SET dealer_id = %s").format(sql.Identifier(table)), [b])
            # B's rows are not there to change or delete.
            updated = conn.execute(
                sql.SQL("UPDATE {} SET dealer_id = dealer_id WHERE dealer_id = %s").format(sql.Identifier(table)), [b]
            )
            assert updated.rowcount == 0, table
        with pytest.raises(errors.InsufficientPrivilege, match="row-level security"):
            conn.execute(
                "INSERT INTO crm_prospect SELECT (jsonb_populate_record(p, jsonb_build_object("
                "'id', gen_random_uuid(), 'dealer_id', %s::bigint))).* FROM crm_prospect p WHERE dealer_id = %s",
                [b, a],
            )


def test_api_keys_are_found_by_any_session_but_written_only_for_ones_own_dealership(
    two_dealers: tuple[int, int],
) -> None:
    a, b = two_dealers
    with _app_connection() as conn:
        assert _count(conn, "dealers_apikey", "dealer_id = ANY(%s)", [[a, b]]) == 2
        assert conn.execute("UPDATE dealers_apikey SET name = 'x' WHERE dealer_id = %s", [b]).rowcount == 0
    with _app_connection(**{rls.DEALER_SETTING: str(a)}) as conn:
        assert conn.execute("UPDATE dealers_apikey SET name = 'x' WHERE dealer_id = %s", [b]).rowcount == 0
        assert conn.execute("UPDATE dealers_apikey SET name = 'x' WHERE dealer_id = %s", [a]).rowcount == 1


def test_a_pooled_connection_forgets_its_dealer_when_it_goes_back(two_dealers: tuple[int, int]) -> None:
    a, _b = two_dealers
    with _app_connection(**{rls.DEALER_SETTING: str(a), rls.SCOPE_SETTING: rls.MANUFACTURER}) as conn:
        rls.reset_pooled_connection(conn)
        assert _count(conn, "crm_prospect") == 0


def test_a_web_request_stuck_on_a_lock_is_cancelled_with_a_503_not_left_hanging() -> None:
    """gunicorn as the app role with the web timeouts; the test holds the row a PATCH must lock."""
    dealer = DealerFactory()
    prospect = ProspectFactory(dealer=dealer)
    key = create_api_key(dealer=dealer, name="DMS", scopes=["prospects:write"], actor=Actor.system("test"))
    env = {"DATABASE_URL": database_url(connection.settings_dict), "DB_LOCK_TIMEOUT": "1s"}
    with gunicorn(env) as base, psycopg.connect(app_url_owner()) as holder:
        holder.execute("SELECT 1 FROM crm_prospect WHERE id = %s FOR UPDATE", [prospect.pk])
        started = time.monotonic()
        response = httpx.patch(
            f"{base}/api/v1/prospects/{prospect.pk}/",
            json={"first_name": "Blocked"},
            headers={"Authorization": f"Bearer {key.plaintext}"},
            timeout=30,
        )
        elapsed = time.monotonic() - started
        holder.rollback()
    assert response.status_code == 503
    assert response.headers["Retry-After"]
    assert elapsed < 10


def test_web_processes_connect_with_the_web_timeouts(settings) -> None:
    web = settings.DATABASE_TIMEOUTS["web"]
    options = f"-c statement_timeout={web['statement_timeout']} -c lock_timeout={web['lock_timeout']}"
    env = {**os.environ, "CRM_WEB_PROCESS": "1", "DATABASE_URL": database_url(connection.settings_dict)}
    script = (
        "import crm.wsgi; from django.conf import settings; print(settings.DATABASES['default']['OPTIONS']['options'])"
    )
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)  # noqa: S603
    assert options in result.stdout  # the web timeouts (other start-up options, e.g. search's, may follow)
    with psycopg.connect(app_url(connection.settings_dict), options=options, autocommit=True) as conn:
        started = time.monotonic()
        with pytest.raises(errors.QueryCanceled, match="statement timeout"):
            conn.execute("SELECT pg_sleep(30)")
    assert time.monotonic() - started < 10


def test_jobs_and_commands_get_their_longer_timeouts_and_give_the_connections_own_back() -> None:
    with connection.cursor() as cur:
        cur.execute("SHOW statement_timeout")
        (before,) = cur.fetchone()
        with rls.manufacturer_wide(reason="test", profile="job"):
            cur.execute("SHOW statement_timeout")
            assert cur.fetchone() == ("4min",)
            cur.execute("SELECT current_setting('app.scope', true)")
            assert cur.fetchone() == ("manufacturer",)
        cur.execute("SELECT current_setting('statement_timeout'), current_setting('app.scope', true)")
        assert cur.fetchone() == (before, "")


def test_ui_and_admin_served_as_the_app_role_show_the_right_rows() -> None:
    """A real gunicorn as crm_app: a sales manager sees their dealership's prospect and gets 404 for
    another's; manufacturer staff see both in the admin's prospect list (audited manufacturer scope)."""
    from tests.conftest import signed_in_client

    a, b = DealerFactory(), DealerFactory()
    own, foreign = ProspectFactory(dealer=a, last_name="Eigener"), ProspectFactory(dealer=b, last_name="Fremder")
    manager = MembershipFactory(dealer=a, role=Membership.Role.SALES_MANAGER).user
    staff = UserFactory(is_staff=True, is_superuser=True)
    cookies = {
        who: signed_in_client(user).cookies[django_settings.SESSION_COOKIE_NAME].value
        for who, user in (("manager", manager), ("staff", staff))
    }
    with gunicorn({"DATABASE_URL": database_url(connection.settings_dict)}) as base:

        def get(path: str, who: str) -> httpx.Response:
            return httpx.get(f"{base}{path}", cookies={django_settings.SESSION_COOKIE_NAME: cookies[who]}, timeout=30)

        assert get(f"/prospects/{own.pk}/", "manager").status_code == 200
        assert get(f"/prospects/{foreign.pk}/", "manager").status_code == 404
        changelist = get("/admin/crm/prospect/", "staff")
    assert changelist.status_code == 200
    assert "Eigener" in changelist.text
    assert "Fremder" in changelist.text


def test_accepting_an_invitation_served_as_the_app_role_makes_the_member() -> None:
    """The invitee's request has no scope of the inviting dealership until the link names it: a real
    gunicorn as crm_app must still record the membership, the accepted invitation and the audit row."""
    import re

    from dealers.models import AuditEvent, Invitation
    from dealers.services import invite_staff_member
    from tests.conftest import signed_in_client

    inviting, home = DealerFactory(), DealerFactory()
    admin = MembershipFactory(dealer=inviting, role=Membership.Role.DEALER_ADMIN).user
    person = MembershipFactory(dealer=home, role=Membership.Role.SALESPERSON).user
    with rls.dealer_scope(inviting.pk):
        issued = invite_staff_member(
            dealer=inviting, email=person.email, role="sales_manager", actor=Actor.for_user(admin), link_for=str
        )
    cookie = signed_in_client(person).cookies[django_settings.SESSION_COOKIE_NAME].value
    path = f"/invitations/{issued.token}/"
    server = gunicorn({"DATABASE_URL": database_url(connection.settings_dict)})
    with server as base, httpx.Client(base_url=base, cookies={django_settings.SESSION_COOKIE_NAME: cookie}) as http:
        page = http.get(path, timeout=30)
        assert page.status_code == 200, page.text[:500]
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        assert token, page.text[:500]
        form = {"csrfmiddlewaretoken": token.group(1)}
        accepted = http.post(path, data=form, headers={"Referer": base + path}, timeout=30)
    assert accepted.status_code == 302, accepted.text[:500]
    member = Membership.objects.get(dealer=inviting, user=person)
    assert (member.role, member.is_active) == ("sales_manager", True)
    assert Invitation.objects.get(pk=issued.invitation.pk).accepted_by == person
    assert AuditEvent.objects.filter(action="staff.added", object_id=str(member.pk)).exists()
