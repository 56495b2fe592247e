"""Issue 14 acceptance: a real promotion of the standby tells the operators exactly once (ha.alerts).

A primary of the test's own and its streaming standby (the pair of ``tests/crm/test_replica_reads.py``):
the alert sweep runs on the primary (it notes the primary), the primary stops, the standby is promoted
(a new timeline on another server), and the sweep, now against the new primary as the application
role, sends one e-mail and one signed webhook; a second sweep sends nothing.
"""

from __future__ import annotations

import json
import re

import pytest
from standardwebhooks.webhooks import Webhook

from sync.outbound.formats import new_secret
from tests.crm.test_replica_reads import Pair, _caught_up, _manage, _sql, _wait_for, pair  # noqa: F401 -- the fixture
from tests.ha.test_cluster_alerts import MonitoringReceiver

pytestmark = pytest.mark.servers

SWEEP = "import json; from ha.tasks import sweep_alerts; print('RESULT ' + json.dumps(sweep_alerts()))"


def _sweep(database_url: str, receiver: MonitoringReceiver, secret: str) -> tuple[dict, int]:
    """One run of the periodic job in a process of its own; returns its result and the e-mails it printed."""
    out = _manage(
        ["shell", "-c", SWEEP],
        {
            "DATABASE_URL": database_url,
            "EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend",
            "HA_ALERT_EMAILS": "ops@hq.test.crm.example",
            "HA_ALERT_WEBHOOK_URL": receiver.url,
            "HA_ALERT_WEBHOOK_SECRET": secret,
        },
    )
    result = json.loads(next(line for line in out.splitlines() if line.startswith("RESULT ")).removeprefix("RESULT "))
    return result, len(re.findall(r"^Subject: \[dealer-crm\] ", out, flags=re.MULTILINE))


def test_promoting_the_standby_sends_one_email_and_one_webhook(pair: Pair) -> None:  # noqa: F811
    receiver = MonitoringReceiver()
    secret = new_secret()
    try:
        first, mails = _sweep(pair.app_primary, receiver, secret)
        assert (first["raised"], mails, receiver.received) == ([], 0, [])  # the first sweep notes the primary
        _wait_for("the standby to replay the primary's last sweep", lambda: _caught_up(pair))

        pair.primary.stop()
        _sql(pair.owner_standby, "SELECT pg_promote(true, 30)")
        (in_recovery,) = _sql(pair.owner_standby, "SELECT pg_is_in_recovery()")
        assert in_recovery is False

        after, mails_after = _sweep(pair.app_standby, receiver, secret)
        again, mails_again = _sweep(pair.app_standby, receiver, secret)
    finally:
        receiver.close()

    assert len(after["raised"]) == 1
    assert after["sent"] == {"email": 1, "webhook": 1}
    assert mails_after == 1
    assert (again["raised"], again["sent"], mails_again) == ([], {"email": 0, "webhook": 0}, 0)
    assert len(receiver.received) == 1
    headers, body = receiver.received[0]
    payload = Webhook(secret).verify(body, headers)
    assert payload["type"] == "database.primary_changed"
    before, now = payload["details"]["before"], payload["details"]["after"]
    assert before["system_identifier"] == now["system_identifier"]
    assert now["timeline"] == before["timeline"] + 1
    assert before["server"] != now["server"]
