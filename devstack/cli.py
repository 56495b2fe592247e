"""Command line: ``python -m devstack run | exec [--test] -- CMD... | env [--test] | stop``.

- ``run``: what ``make run`` does (docs/development.md): servers, migrate, demo data, web + worker +
  scheduler (+ the apps' demo servers) in the foreground until Ctrl-C or SIGTERM (exit 0). A child that
  exits is restarted with backoff (devstack/supervisor.py); one that keeps exiting ends the run (exit 1).
- ``exec``: the same servers for one command (``make test``, ``make lint``); exits with its code.
- ``env``: ``export`` lines for a shell; servers it had to start keep running (see ``stop``).
- ``stop``: stop private and embedded servers under ``.var/``, whoever started them.
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import subprocess
import sys
from collections.abc import Sequence

from devstack import approle, serve
from devstack.config import DevstackError, var_dir
from devstack.progress import Progress
from devstack.resolve import Stack, start_stack, stop_instances
from devstack.signals import Shutdown, StopSignals
from devstack.supervisor import Supervisor

logger = logging.getLogger("devstack")

DBNAME = "crm"
REDIS_DB = 0
TEST_REDIS_DB = 15  # tests flush their Redis database; keep it apart from the one `make run` uses


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=os.environ.get("CRM_DEVSTACK_LOG_LEVEL", "INFO").upper(),
        format=f"{'devstack':<9} | %(message)s",
        stream=sys.stderr,
    )
    try:
        code: int = args.handler(args)
    except DevstackError as exc:
        sys.stderr.write(f"devstack: {exc}\n")
        return 1
    return code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m devstack", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
    run = commands.add_parser("run", help="servers, migrate, demo data, then web + worker + scheduler")
    run.set_defaults(handler=cmd_run)
    exec_ = commands.add_parser("exec", help="run one command with DATABASE_URL and REDIS_URL set")
    exec_.add_argument("--test", action="store_true", help=f"test mode: DJANGO_ENV=test, Redis db {TEST_REDIS_DB}")
    exec_.add_argument("command", nargs=argparse.REMAINDER, help="-- command and its arguments")
    exec_.set_defaults(handler=cmd_exec)
    env = commands.add_parser("env", help="print export lines for a shell")
    env.add_argument("--test", action="store_true", help="the values `exec --test` would use")
    env.set_defaults(handler=cmd_env)
    stop = commands.add_parser("stop", help="stop private/embedded servers under .var/")
    stop.set_defaults(handler=cmd_stop)
    return parser


def cmd_run(args: argparse.Namespace) -> int:
    stack: Stack | None = None
    supervisor: Supervisor | None = None
    ports: serve.Ports | None = None
    with StopSignals().installed() as signals:
        try:
            progress = Progress.from_environ()
            with progress.step("database", "PostgreSQL and Redis"):
                stack = start_stack(dbname=DBNAME, redis_db=REDIS_DB)
            var = var_dir()
            ports = serve.choose_ports(os.environ, serve.discover_demo_servers(os.environ))
            database = serve.provision_app_role(stack, os.environ, var)
            supervisor = Supervisor(serve.child_env(stack, os.environ, ports=ports, var=var, database=database))
            serve.prepare_database(supervisor, stack.database.url, database=database, ports=ports, progress=progress)
            with progress.step("servers", "web, worker, scheduler and demo servers; the web answers"):
                serve.start_processes(supervisor, ports=ports, var=var)
                serve.wait_for_web(supervisor, ports.web)
            logger.info("progress: %s", progress.summary())
            supervisor.output.write_block(serve.banner(stack, ports, environ=os.environ, var=var))
            reason = supervisor.watch()
            raise DevstackError(f"{reason}; stopped everything")
        except Shutdown as received:
            logger.info("Got %s; stopping everything", received)
            return 0
        finally:
            signals.stopping()
            if supervisor is not None:
                supervisor.stop_all()
            if ports is not None:
                ports.close()
            if stack is not None:
                stack.stop()


def cmd_exec(args: argparse.Namespace) -> int:
    command = _command(args.command)
    stack: Stack | None = None
    with StopSignals().installed() as signals:
        try:
            stack = start_stack(dbname=DBNAME, redis_db=TEST_REDIS_DB if args.test else REDIS_DB)
            env = {**os.environ, **stack.env(), **_app_role_env(), **_mode_env(test=args.test)}
            return _run_foreground(command, env, signals)
        except Shutdown as received:
            return 128 + received.signum
        finally:
            signals.stopping()
            if stack is not None:
                stack.stop()


def cmd_env(args: argparse.Namespace) -> int:
    stack = start_stack(dbname=DBNAME, redis_db=TEST_REDIS_DB if args.test else REDIS_DB)
    for key, value in {**stack.env(), **_app_role_env(), **_mode_env(test=args.test)}.items():
        sys.stdout.write(f"export {key}={shlex.quote(value)}\n")
    started = [service.kind for service in (stack.database, stack.broker) if service.stop is not None]
    if started:
        logger.info("Started %s; they keep running. Stop them with: python -m devstack stop", " and ".join(started))
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    stopped = stop_instances()
    logger.info("Stopped %s", ", ".join(stopped) if stopped else "nothing (no server was running under .var)")
    return 0


def _app_role_env() -> dict[str, str]:
    """Who servers started by tests connect as (tests/support/app_role.py); DATABASE_URL stays the owner's."""
    return {
        "DATABASE_APP_USER": approle.app_role_name(),
        "DATABASE_APP_PASSWORD": os.environ.get("DATABASE_APP_PASSWORD") or approle.app_password(var_dir()),
    }


def _mode_env(*, test: bool) -> dict[str, str]:
    if test:
        return {"DJANGO_ENV": "test"}
    return {
        "DJANGO_ENV": os.environ.get("DJANGO_ENV", "development"),
        "DJANGO_DEBUG": os.environ.get("DJANGO_DEBUG", "1"),
    }


def _command(words: Sequence[str]) -> list[str]:
    command = list(words[1:] if words and words[0] == "--" else words)
    if not command:
        raise DevstackError("exec needs a command: python -m devstack exec [--test] -- COMMAND [ARGS...]")
    return command


def _run_foreground(command: list[str], env: dict[str, str], signals: StopSignals) -> int:
    """Run ``command`` attached to the terminal (Ctrl-C reaches it directly); shell-style exit code."""
    try:
        process = subprocess.Popen(command, env=env)  # noqa: S603
    except FileNotFoundError:
        raise DevstackError(f"command not found: {command[0]}") from None
    with signals.forwarding_to(process):
        code = process.wait()
    return 128 - code if code < 0 else code
