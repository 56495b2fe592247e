"""``python -m crm.messaging.intake_server``: the reply intake as ``make run`` starts it (a demo server).

devstack binds the port and hands the listening socket down (``--fd``); the server sets Django up from
the environment it inherits and stores mail as the application role (row-level security), like
``manage.py mail_intake``, whose server it runs. The whole ``make run`` is tests/devstack/.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from typing import Any

import pytest

from crm.messaging.demo import follow_servers
from crm.messaging.models import InboundEmail
from tests.conftest import DealerSetup
from tests.messaging.conftest import INBOUND_DOMAIN
from tests.messaging.test_intake import _deliver, _reply

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_demo_server_serves_on_the_inherited_socket_as_the_application_role(dealer_a: DealerSetup) -> None:
    from django.db import connection

    from tests.support.servers import ROOT, database_url

    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    listening.listen(8)
    port = listening.getsockname()[1]
    env = {
        **os.environ,
        "DJANGO_ENV": "test",
        "DATABASE_URL": database_url(connection.settings_dict),
        "CRM_INBOUND_MAIL_DOMAIN": INBOUND_DOMAIN,
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)  # the server sets Django up itself
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "crm.messaging.intake_server", "--port", str(port), f"--fd={listening.fileno()}"],
        cwd=ROOT,
        env=env,
        pass_fds=(listening.fileno(),),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == f"mail_intake listening on 127.0.0.1:{port} for {INBOUND_DOMAIN}"
        address = f"{dealer_a.dealer.number}@{INBOUND_DOMAIN}"
        _deliver(("127.0.0.1", port), _reply(address, sender="fremd@example.org"), to=[address])
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0, process.stderr.read() if process.stderr else ""
        listening.close()
    row = InboundEmail.objects.get()
    assert (row.status, row.dealer_id) == ("unmatched", dealer_a.dealer.pk)


def test_the_demo_server_needs_the_inbound_domain() -> None:
    from tests.support.servers import ROOT

    env = {**os.environ, "DJANGO_ENV": "test", "CRM_INBOUND_MAIL_DOMAIN": ""}
    result = subprocess.run(
        [sys.executable, "-m", "crm.messaging.intake_server", "--port", "0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "CRM_INBOUND_MAIL_DOMAIN" in result.stderr


def test_follow_servers_names_this_runs_intake(monkeypatch: pytest.MonkeyPatch, settings: Any) -> None:
    monkeypatch.setenv("MESSAGING_MAIL_INTAKE_URL", "http://127.0.0.1:8701")
    settings.CRM_INBOUND_MAIL_DOMAIN = INBOUND_DOMAIN

    line = follow_servers()

    assert "smtp://127.0.0.1:8701" in line
    assert f"reply+<token>@{INBOUND_DOMAIN}" in line
