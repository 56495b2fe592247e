"""The application's own PostgreSQL role: neither superuser nor ``BYPASSRLS``, owner of nothing.

Migrations run as the owning role (the URL devstack found, ``DATABASE_OWNER_URL`` for the children);
web, worker and scheduler connect as ``crm_app`` (``DATABASE_URL``), so row-level security applies to
them (dealers.rls, docs/security.md). :func:`ensure_app_role` creates the role when missing, makes
sure it has no rights it should not have, and grants it data access (no DDL, no TRUNCATE) on the
tables that exist now and, through default privileges, on those the owner creates later.
Production does the same once, by hand or in its provisioning (docs/security.md).
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
from psycopg import errors, sql

logger = logging.getLogger(__name__)

APP_ROLE = "crm_app"
APP_ROLE_FILE = "db-app-role.secret"  # holds the development password of the app role
CONNECT_TIMEOUT = 5


def app_role_name(environ: Mapping[str, str] | None = None) -> str:
    environ = os.environ if environ is None else environ
    return environ.get("DATABASE_APP_USER") or APP_ROLE


def app_password(var: Path) -> str:
    """The development password of the app role, made once and kept under ``.var/`` (mode 0600)."""
    path = var / APP_ROLE_FILE
    with contextlib.suppress(FileExistsError):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(secrets.token_urlsafe(24))
    return path.read_text().strip()


def with_user(url: str, *, user: str, password: str | None) -> str:
    """``url`` with its user and password replaced (host, port, database and query kept)."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    credentials = quote(user, safe="") + (f":{quote(password, safe='')}" if password else "")
    return urlunsplit(parts._replace(netloc=f"{credentials}@{host}"))


def ensure_app_role(owner_url: str, *, role: str = APP_ROLE, password: str | None = None) -> None:
    """Create or tighten ``role`` and grant it data access in the owner URL's database (idempotent).

    Role attributes and memberships are cluster-wide, and several runs may share a server: each change
    is made only when needed, and a lost race (``tuple concurrently updated``) is retried.
    """
    for attempt in range(5):
        try:
            _ensure_app_role(owner_url, role=role, password=password)
            return
        except (errors.InternalError, errors.DuplicateObject, errors.UniqueViolation):
            if attempt == 4:
                raise
            time.sleep(0.2 * (attempt + 1))


def _ensure_app_role(owner_url: str, *, role: str, password: str | None) -> None:
    with psycopg.connect(_libpq(owner_url), connect_timeout=CONNECT_TIMEOUT, autocommit=True) as conn:
        ident = sql.Identifier(role)
        row = conn.execute(
            "SELECT rolsuper OR rolbypassrls OR rolcreatedb OR rolcreaterole OR rolreplication OR NOT rolcanlogin, "
            "pg_has_role(oid, 'pg_monitor', 'MEMBER') FROM pg_roles WHERE rolname = %s",
            [role],
        ).fetchone()
        if row is None:
            logger.info("Creating the application role %s", role)
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE PASSWORD {}").format(
                    ident, sql.Literal(password)
                )
            )
            monitor = False
        else:
            too_mighty, monitor = row
            if too_mighty:
                conn.execute(
                    sql.SQL("ALTER ROLE {} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION").format(
                        ident
                    )
                )
        database = conn.info.dbname
        owner = conn.execute("SELECT current_user").fetchone()[0]  # type: ignore[index]
        statements = [
            "GRANT USAGE ON SCHEMA public TO {role}",
            "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
            "GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}",
            "ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public "
            "GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role}",
            "ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {role}",
        ]
        for statement in statements:
            conn.execute(
                sql.SQL(statement).format(db=sql.Identifier(database), role=ident, owner=sql.Identifier(owner))
            )
        if not monitor:
            # /ha/health reads replication state, which PostgreSQL shows only to pg_monitor members.
            with contextlib.suppress(errors.InsufficientPrivilege):
                conn.execute(sql.SQL("GRANT pg_monitor TO {}").format(ident))


def _libpq(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    return f"postgresql://{rest}" if sep and scheme not in {"postgres", "postgresql"} else url


@dataclass(frozen=True)
class DatabaseUrls:
    """Who connects how: ``owner`` migrates, ``app`` serves (web, worker, scheduler, seed)."""

    owner: str
    app: str
    app_user: str
    app_password: str

    def env(self) -> dict[str, str]:
        return {
            "DATABASE_URL": self.app,
            "DATABASE_OWNER_URL": self.owner,
            "DATABASE_APP_USER": self.app_user,
            "DATABASE_APP_PASSWORD": self.app_password,
        }


def provision(found_url: str, *, environ: Mapping[str, str], var: Path) -> DatabaseUrls:
    """The application role's URL next to the owner's, creating and granting the role first.

    ``found_url`` is what devstack found (``DATABASE_URL`` or a local/private/embedded server): the
    owner. When ``DATABASE_OWNER_URL`` is set too, the operator gave both and nothing is provisioned.
    """
    role = app_role_name(environ)
    password = environ.get("DATABASE_APP_PASSWORD") or app_password(var)
    if environ.get("DATABASE_OWNER_URL"):
        return DatabaseUrls(owner=environ["DATABASE_OWNER_URL"], app=found_url, app_user=role, app_password=password)
    ensure_app_role(found_url, role=role, password=password)
    return DatabaseUrls(
        owner=found_url, app=with_user(found_url, user=role, password=password), app_user=role, app_password=password
    )
