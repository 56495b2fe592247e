"""Running PostgreSQL as an unprivileged system user when we are root.

``initdb`` and ``postgres`` refuse to run as root, and the machines this runs on (containers, CI)
often are root. So the private and embedded PostgreSQL run as the ``postgres`` system user, or as
``pgserver`` (created on demand, as the pgserver package itself does) when no ``postgres`` user
exists. Python's ``subprocess`` switches the user itself (``user=``/``group=``), so neither
``runuser`` nor ``su`` nor their quoting rules are needed.
"""

from __future__ import annotations

import logging
import os
import pwd
import shutil
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devstack.config import DevstackError

logger = logging.getLogger(__name__)

CANDIDATE_USERS = ("postgres", "pgserver")


@dataclass(frozen=True)
class RunAs:
    """The system user a database server runs as; ``None`` fields mean "as ourselves"."""

    name: str
    uid: int | None = None
    gid: int | None = None

    @property
    def switches(self) -> bool:
        return self.uid is not None

    def popen_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``subprocess`` that drop to this user, including root's supplementary groups."""
        if not self.switches:
            return {}
        return {"user": self.uid, "group": self.gid, "extra_groups": [], "cwd": "/"}

    def own(self, path: Path, *, mode: int) -> None:
        """Give ``path`` to this user with ``mode`` (PostgreSQL insists on 0700 for its data directory)."""
        if self.uid is not None and self.gid is not None:
            os.chown(path, self.uid, self.gid)
        path.chmod(mode)

    def make_reachable(self, path: Path) -> None:
        """Let this user traverse every directory above ``path`` by adding only the search bit where it is missing."""
        if not self.switches:
            return
        for parent in path.resolve().parents:
            info = parent.stat()
            if info.st_uid == self.uid or info.st_mode & stat.S_IXOTH:
                continue
            logger.info("Adding o+x to %s so the %s user can reach its data directory", parent, self.name)
            parent.chmod(stat.S_IMODE(info.st_mode) | stat.S_IXOTH)


def current_user_name() -> str:
    """The login name PostgreSQL would use for us by default."""
    return pwd.getpwuid(os.geteuid()).pw_name


def server_user() -> RunAs:
    """Ourselves unless root; as root, the first existing candidate user, creating ``pgserver`` as a last resort."""
    if os.geteuid() != 0:
        return RunAs(name=current_user_name())
    for name in CANDIDATE_USERS:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return RunAs(name=name, uid=entry.pw_uid, gid=entry.pw_gid)
    return _create_user(CANDIDATE_USERS[-1])


def _create_user(name: str) -> RunAs:
    useradd = shutil.which("useradd")
    if useradd is None:
        raise DevstackError(f"running as root, no '{'/'.join(CANDIDATE_USERS)}' user and no useradd to create one")
    logger.info("Creating system user %s to run PostgreSQL (it refuses to run as root)", name)
    subprocess.run([useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name], check=True)  # noqa: S603
    entry = pwd.getpwnam(name)
    return RunAs(name=name, uid=entry.pw_uid, gid=entry.pw_gid)
