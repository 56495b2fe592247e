"""``python -m drill [--check-only]``: the failover drill, or its fast subset where the machine cannot build it."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from drill import netns, selfcheck

# What the cluster is built from (Debian packages: patroni, etcd-server, etcd-client, haproxy,
# postgresql-15, redis-server, util-linux for setpriv/nsenter/unshare).
REQUIRED = (
    "/usr/bin/patroni",
    "/usr/bin/patronictl",
    "/usr/bin/etcd",
    "/usr/sbin/haproxy",
    "/usr/lib/postgresql/15/bin/postgres",
    "redis-server",
    "setpriv",
    "nsenter",
    "unshare",
)


def missing_programs() -> list[str]:
    return [p for p in REQUIRED if (shutil.which(p) if "/" not in p else (Path(p).exists() or None)) is None]


def why_not() -> str | None:
    """One line saying why the cluster cannot be built here, or None."""
    reason = netns.unavailable_reason()
    if reason:
        return reason
    missing = missing_programs()
    return f"missing {', '.join(missing)}" if missing else None


def fast_subset() -> int:
    problems = selfcheck.problems()
    for problem in problems:
        print(f"drill | checker: {problem}")
    print(f"drill | fast subset: the checker judged {len(selfcheck.damaged_runs()) + 1} recorded runs", end=" ")
    print("right" if not problems else f"wrong {len(problems)} times")
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m drill", description="The failover drill (docs/drill.md).")
    parser.add_argument("--check-only", action="store_true", help="run only the fast subset (the checker's self-check)")
    parser.add_argument("--results", type=Path, default=None, help="where latest.json and latest.txt go")
    parser.add_argument("--faults", choices=("all", "ci"), default="all", help="every fault, or CI's shorter set")
    args = parser.parse_args(argv)
    if args.check_only:
        return fast_subset()
    reason = why_not()
    if reason:
        print(f"drill | skipping the cluster drill: {reason}; running the fast subset instead")
        return fast_subset()
    code = fast_subset()
    if code:
        return code
    from drill.run import RESULTS, run  # needs psycopg and the project's packages

    return run(args.results or RESULTS, faults=args.faults)
