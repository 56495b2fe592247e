"""Pieces of ``devstack run`` that decide things: seeding once, which ports, and where the demo webhooks go."""

from __future__ import annotations

import io
import os
import signal
import socket
from pathlib import Path

import httpx
import psycopg
import pytest

from crm.services.prospects import create_prospect
from dealers.actors import Actor
from devstack import postgres, serve
from devstack.net import LOOPBACK, free_port
from devstack.supervisor import PrefixedOutput, Supervisor
from sync import demo
from sync.outbound import relay, services
from sync.simulator import DEMO_SECRET
from tests.factories import DealerFactory
from tests.sync.outbound.harness import SimulatorProcess, eventually, settle


def test_seeding_is_needed_until_the_dealer_table_has_a_row(scratch_database: str) -> None:
    url = postgres.probe_local(scratch_database)
    assert url is not None

    assert serve.has_dealers(url) is False  # before migrate: no table
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("create table dealers_dealer (id bigint primary key)")
        assert serve.has_dealers(url) is False
        conn.execute("insert into dealers_dealer values (1)")
    assert serve.has_dealers(url) is True


def test_a_busy_port_moves_the_web_server_to_the_next_free_one() -> None:
    with socket.socket() as taken:
        taken.bind((LOOPBACK, free_port()))
        taken.listen()
        busy = taken.getsockname()[1]

        ports = serve.choose_ports({"PORT": str(busy)})
    ports.close()

    assert ports.web > busy
    assert ports.base_url == f"http://127.0.0.1:{ports.web}/"


def test_a_chosen_port_is_held_until_the_run_ends_so_nobody_can_take_it_meanwhile() -> None:
    ports = serve.choose_ports({"PORT": str(free_port())})
    try:
        with socket.socket() as intruder:
            intruder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            with pytest.raises(OSError, match="in use"):
                intruder.bind((LOOPBACK, ports.web))
    finally:
        ports.close()


def test_scheme_aliases_become_urls_libpq_reads() -> None:
    assert serve.libpq_url("pgsql://u@h:1/d") == "postgresql://u@h:1/d"
    assert serve.libpq_url("postgres://u@h:1/d") == "postgres://u@h:1/d"


def test_the_demo_servers_are_what_the_apps_declare_and_run_on_their_own_ports(tmp_path: Path) -> None:
    servers = serve.discover_demo_servers(os.environ)  # a real manage.py run: the tooling imports no app

    assert servers == (
        serve.DemoServer(app="messaging", name="mail_intake", module="crm.messaging.intake_server"),
        serve.DemoServer(app="sync", name="simulator", module="sync.simulator"),
    )
    ports = serve.choose_ports({"PORT": str(free_port())}, servers)
    commands = serve.process_commands(ports=ports, var=tmp_path)
    web_fd, simulator_fd = ports.sockets["web"].fileno(), ports.sockets["simulator"].fileno()
    intake_fd = ports.sockets["mail_intake"].fileno()
    ports.close()

    (_intake, intake_port), (_simulator, port) = ports.demo_servers
    assert serve.DEMO_SERVER_PORT <= intake_port < port
    assert ports.web not in (intake_port, port)
    assert list(commands)[:2] == ["mail_intake", "simulator"]  # first: seeded webhooks point at them
    assert commands["simulator"][1:] == ["-m", "sync.simulator", "--port", str(port), f"--fd={simulator_fd}"]
    intake_argv = ["-m", "crm.messaging.intake_server", "--port", str(intake_port), f"--fd={intake_fd}"]
    assert commands["mail_intake"][1:] == intake_argv
    assert f"fd://{web_fd}" in commands["web"]
    assert serve.demo_server_env(ports) == {
        "MAIL_INTAKE_URL": f"http://127.0.0.1:{intake_port}/",
        "MESSAGING_MAIL_INTAKE_URL": f"http://127.0.0.1:{intake_port}",
        "SIMULATOR_URL": f"http://127.0.0.1:{port}/",
        "SYNC_SIMULATOR_URL": f"http://127.0.0.1:{port}",
    }


@pytest.mark.django_db(transaction=True)
def test_with_the_simulators_first_choice_port_taken_the_demo_webhooks_reach_this_runs_simulator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other_checkout = SimulatorProcess(DEMO_SECRET, tmp_path)  # another checkout's simulator holds 8700's stand-in
    other_checkout.start()
    monkeypatch.setattr(serve, "DEMO_SERVER_PORT", other_checkout.port)
    dealer = DealerFactory(number="10001")
    # The destination as the last run left it: pointing at the port that is someone else's now.
    services.create_destination(
        dealer=dealer,
        actor=Actor.system("test"),
        transport="webhook",
        url=other_checkout.url_for(dealer.number),
        name=demo.DEMO_DESTINATION,
        secret=DEMO_SECRET,
    )
    servers = (serve.DemoServer(app="sync", name="simulator", module="sync.simulator"),)
    ports = serve.choose_ports({"PORT": str(free_port())}, servers)
    supervisor = Supervisor({**os.environ, "PYTHONUNBUFFERED": "1"}, output=PrefixedOutput(io.StringIO()))
    try:
        ((_server, port),) = ports.demo_servers
        assert port != other_checkout.port
        argv = serve.process_commands(ports=ports, var=tmp_path)["simulator"]
        supervisor.start("simulator", argv, pass_fds=ports.fds("simulator"))
        ours = f"http://{LOOPBACK}:{port}"
        eventually(lambda: _answers(f"{ours}/_health"), timeout=15, what="our simulator")
        for key, value in serve.demo_server_env(ports).items():
            monkeypatch.setenv(key, value)

        summary = demo.follow_servers()

        destination = dealer.sync_destinations.get()
        assert destination.url == f"{ours}/webhooks/10001"
        assert summary == f"demo destinations deliver to {ours} (1 moved)"
        assert demo.follow_servers() == f"demo destinations deliver to {ours} (0 moved)"
        create_prospect(dealer=dealer, actor=Actor.system("test"), data={"last_name": "Müller"})
        settle()
        assert relay.relay_dealer(dealer_id=dealer.pk).delivered == 1
        assert httpx.get(f"{ours}/_state").json()["dealers"]["10001"]["events"]
        assert "10001" not in httpx.get(f"{other_checkout.base}/_state").json()["dealers"]
    finally:
        supervisor.stop_all()
        ports.close()
        other_checkout.stop()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def test_a_restarted_simulator_serves_on_the_same_held_port(tmp_path: Path) -> None:
    servers = (serve.DemoServer(app="sync", name="simulator", module="sync.simulator"),)
    ports = serve.choose_ports({"PORT": str(free_port())}, servers)
    stream = io.StringIO()
    supervisor = Supervisor({**os.environ, "PYTHONUNBUFFERED": "1"}, output=PrefixedOutput(stream))
    ((_server, port),) = ports.demo_servers
    health = f"http://{LOOPBACK}:{port}/_health"
    try:
        argv = serve.process_commands(ports=ports, var=tmp_path)["simulator"]
        simulator = supervisor.start("simulator", argv, pass_fds=ports.fds("simulator"))
        eventually(lambda: _answers(health), timeout=15, what="the simulator")
        first = simulator.process.pid

        os.kill(first, signal.SIGKILL)
        eventually(lambda: supervisor.tend() is None and simulator.process.pid != first, timeout=10, what="restart")

        eventually(lambda: _answers(health), timeout=15, what=stream.getvalue)
        assert "simulator was killed by SIGKILL; restarting in 1 s (restart 1)" in stream.getvalue()
    finally:
        supervisor.stop_all()
        ports.close()


def test_the_runs_mail_is_kept_as_files_under_var_and_the_banner_says_where(tmp_path: Path) -> None:
    """The console backend printed every escalation into the worker's log as a warning (make run, issue 12)."""
    assert serve.mail_line({}, tmp_path) == f"not sent; each message kept as a file in {tmp_path / 'mail'}/"
    smtp = {"EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend"}
    assert serve.mail_line(smtp, tmp_path) == "sent through django.core.mail.backends.smtp.EmailBackend"

    class NoServers:
        def env(self) -> dict[str, str]:
            return {}

    env = serve.child_env(NoServers(), {}, ports=serve.Ports(web=8000), var=tmp_path)
    assert env["EMAIL_FILE_PATH"] == str(tmp_path / "mail")
    assert "EMAIL_BACKEND" not in env  # development's default: the file backend (crm.settings)
