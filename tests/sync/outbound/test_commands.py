"""sync_status and sync_replay: contracted output, and a one-line CommandError on bad arguments."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from crm.models import Change
from crm.services.prospects import create_prospect
from dealers.actors import Actor
from tests.factories import DestinationFactory

pytestmark = pytest.mark.django_db


def _run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_sync_status_prints_one_line_per_dealership_starting_with_its_number(dealer_a, dealer_b):
    DestinationFactory(dealer=dealer_a.dealer)
    DestinationFactory(dealer=dealer_b.dealer, paused=True)

    lines = _run("sync_status").splitlines()

    assert [line.split()[0] for line in lines] == sorted([dealer_a.dealer.number, dealer_b.dealer.number])
    assert "state=paused" in next(line for line in lines if line.startswith(dealer_b.dealer.number))
    assert all("backlog=" in line and "dead_letters=" in line for line in lines)


def test_sync_status_for_one_dealer(dealer_a, dealer_b):
    DestinationFactory(dealer=dealer_a.dealer)
    DestinationFactory(dealer=dealer_b.dealer)

    lines = _run("sync_status", "--dealer", dealer_a.dealer.number).splitlines()

    assert len(lines) == 1
    assert lines[0].startswith(f"{dealer_a.dealer.number} destinations=1")


def test_sync_replay_moves_the_cursor_back_to_the_event(dealer_a):
    destination = DestinationFactory(dealer=dealer_a.dealer, cursor_txid=10**12, cursor_change_id=10**12)
    prospect = create_prospect(
        dealer=dealer_a.dealer, actor=Actor.system("t"), data={"first_name": "A", "last_name": "B"}
    )
    change = Change.objects.get(object_id=prospect.pk)

    out = _run("sync_replay", "--dealer", dealer_a.dealer.number, "--since", str(change.event_id))

    destination.refresh_from_db()
    assert out.startswith(dealer_a.dealer.number)
    assert (destination.cursor_txid, destination.cursor_change_id) == (change.txid, change.pk - 1)


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["sync_status", "--dealer", "00000"], "no dealership"),
        (["sync_replay", "--dealer", "00000", "--since", "2024-01-01"], "no dealership"),
        (["sync_replay", "--dealer", "{dealer}", "--since", "gestern"], "--since"),
        (["sync_replay", "--dealer", "{dealer}", "--since", "01a00000-0000-7000-8000-000000000000"], "--since"),
        (["sync_replay", "--dealer", "{dealer}"], "--since"),
    ],
)
def test_bad_arguments_fail_with_a_one_line_reason(args, reason, dealer_a):
    DestinationFactory(dealer=dealer_a.dealer)
    args = [a.replace("{dealer}", dealer_a.dealer.number) for a in args]

    with pytest.raises(CommandError) as caught:
        _run(*args)

    assert reason in str(caught.value)
    assert "\n" not in str(caught.value)


def test_sync_replay_for_a_dealership_without_destination_fails(dealer_a):
    with pytest.raises(CommandError, match="no destination"):
        _run("sync_replay", "--dealer", dealer_a.dealer.number, "--since", "2024-01-01")
