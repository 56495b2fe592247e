"""After a restore the operator starts a new feed epoch: old cursors get 410 and every dealer system resyncs."""

from __future__ import annotations

import subprocess
import sys

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from crm.models import Change, FeedEpoch
from crm.services.feed import start_new_feed_epoch
from crm.services.prospects import create_prospect
from dealers.actors import Actor
from dealers.models import AuditEvent
from tests.api.conftest import ApiClient, make_key
from tests.conftest import DealerSetup
from tests.factories import DealerFactory
from tests.support.servers import ROOT

pytestmark = pytest.mark.django_db(transaction=True)


def test_new_epoch_tells_every_active_dealership_to_resync(dealer_a: DealerSetup, dealer_b: DealerSetup) -> None:
    inactive = DealerFactory(is_active=False)
    before = FeedEpoch.objects.get().epoch

    epoch = start_new_feed_epoch(actor=Actor.system("test"), reason="restored from backup")

    assert epoch == before + 1 == FeedEpoch.objects.get().epoch
    events = Change.objects.filter(type="sync.resync_required")
    assert set(events.values_list("dealer_id", flat=True)) == {dealer_a.dealer.pk, dealer_b.dealer.pk}
    assert not events.filter(dealer=inactive).exists()
    data = events.first().data
    assert (data["epoch"], data["reason"], data["version"]) == (epoch, "restored from backup", epoch)
    assert AuditEvent.objects.filter(action="feed.epoch_started").exists()


def test_a_cursor_of_the_old_epoch_is_gone(dealer_a: DealerSetup) -> None:
    api = ApiClient(make_key(dealer_a.dealer))
    create_prospect(dealer=dealer_a.dealer, actor=Actor.system("t"), data={"last_name": "Alt"})
    old_cursor = api.get("/api/v1/changes/").json()["next_cursor"]

    call_command("feed_epoch", "--bump", "--reason", "restored")

    assert api.get("/api/v1/changes/", data={"cursor": old_cursor}).status_code == 410
    fresh = api.get("/api/v1/changes/").json()["items"]
    assert "sync.resync_required" in [item["type"] for item in fresh]


def test_bump_without_a_reason_is_refused_and_changes_nothing(dealer_a: DealerSetup) -> None:
    before = FeedEpoch.objects.get().epoch
    with pytest.raises(CommandError):
        call_command("feed_epoch", "--bump")
    assert FeedEpoch.objects.get().epoch == before


def test_bad_arguments_exit_2_with_one_line() -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "feed_epoch", "--bogus"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
