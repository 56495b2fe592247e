"""Pieces of ``devstack run`` that decide things: seeding once, and which ports."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import psycopg

from devstack import postgres, serve
from devstack.net import LOOPBACK, free_port


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

    assert ports.web > busy
    assert ports.base_url == f"http://127.0.0.1:{ports.web}/"


def test_scheme_aliases_become_urls_libpq_reads() -> None:
    assert serve.libpq_url("pgsql://u@h:1/d") == "postgresql://u@h:1/d"
    assert serve.libpq_url("postgres://u@h:1/d") == "postgres://u@h:1/d"


def test_the_demo_servers_are_what_the_apps_declare_and_run_on_their_own_ports(tmp_path: Path) -> None:
    servers = serve.discover_demo_servers(os.environ)  # a real manage.py run: the tooling imports no app

    assert servers == (serve.DemoServer(app="sync", name="simulator", module="sync.simulator"),)
    ports = serve.choose_ports({"PORT": str(free_port())}, servers)
    ((_simulator, port),) = ports.demo_servers
    assert port >= serve.DEMO_SERVER_PORT
    assert port != ports.web
    commands = serve.process_commands(ports=ports, var=tmp_path)
    assert next(iter(commands)) == "simulator"  # first: seeded webhooks point at it
    assert commands["simulator"][1:] == ["-m", "sync.simulator", "--port", str(port)]
    assert serve.demo_server_env(ports) == {
        "SIMULATOR_URL": f"http://127.0.0.1:{port}/",
        "SYNC_SIMULATOR_URL": f"http://127.0.0.1:{port}",
    }
