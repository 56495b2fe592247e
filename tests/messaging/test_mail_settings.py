"""Outgoing mail is configured from the environment the docs name (docs/messaging.md, "Settings").

A production node read ``EMAIL_BACKEND`` only: ``EMAIL_HOST``, ``EMAIL_PORT``, the login and TLS were
documented but never read, and the default backend printed every mail to standard output, so a quote or an
escalation "sent" in production reached nobody. In development (``make run``) the console backend wrote each
mail into the worker's log as a multi-line warning.
"""

from __future__ import annotations

import subprocess
from email import policy
from email.parser import BytesParser
from pathlib import Path

from aiosmtpd.controller import Controller

from tests.messaging.conftest import SmtpSink
from tests.security.production import PRODUCTION_ENV
from tests.support.servers import free_port
from tests.support.settings_process import run_with_settings

SEND = (
    "from django.core.mail import send_mail; send_mail('Angebot', 'Guten Tag', None, ['kunde@example.org']); "
    "print(settings.EMAIL_BACKEND, settings.EMAIL_TIMEOUT)"
)


def _run(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return run_with_settings(env, SEND, drop=lambda name: name.startswith(("EMAIL_", "DJANGO_")))


def test_a_production_node_sends_through_the_smtp_server_its_environment_names() -> None:
    sink = SmtpSink(host="127.0.0.1", port=free_port())
    controller = Controller(sink, hostname=sink.host, port=sink.port)
    controller.start()
    try:
        result = _run({**PRODUCTION_ENV, "EMAIL_HOST": sink.host, "EMAIL_PORT": str(sink.port)})
    finally:
        controller.stop()

    assert result.returncode == 0, result.stderr
    assert [r.rcpt_tos for r in sink.received] == [["kunde@example.org"]]
    assert sink.received[0].message["Subject"] == "Angebot"
    backend, timeout = result.stdout.split()
    assert backend == "django.core.mail.backends.smtp.EmailBackend"
    assert float(timeout) > 0  # a hung mail server must not hold a worker for ever


def test_production_refuses_both_tls_and_ssl() -> None:
    result = _run({**PRODUCTION_ENV, "EMAIL_USE_TLS": "true", "EMAIL_USE_SSL": "true"})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "EMAIL_USE_TLS" in result.stderr


def test_development_keeps_each_mail_as_a_file_and_prints_none(tmp_path: Path) -> None:
    result = _run({"DJANGO_ENV": "development", "EMAIL_FILE_PATH": str(tmp_path)})

    assert result.returncode == 0, result.stderr
    assert "Guten Tag" not in result.stdout + result.stderr
    (kept,) = tmp_path.iterdir()
    message = BytesParser(policy=policy.default).parsebytes(kept.read_bytes())
    assert message["To"] == "kunde@example.org"
    assert message.get_content().splitlines()[0] == "Guten Tag"  # the backend ends each with a rule
