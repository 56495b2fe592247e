"""The drill's network (drill/netns.py): namespaces per node, a cable that really goes down, nothing left after."""

from __future__ import annotations

import os
import subprocess

import pytest

from drill.netns import NODES, Network, address, unavailable_reason

REASON = unavailable_reason()
pytestmark = pytest.mark.skipif(REASON is not None, reason=f"the drill's network needs root and ip netns: {REASON}")


def _ip(*args: str) -> str:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=True).stdout  # noqa: S603, S607


def test_each_node_gets_a_namespace_and_a_cable_that_can_be_pulled_and_nothing_is_left_after():
    network = Network.build(f"dt{os.getpid() % 100000}")
    try:
        made = set(network.made)
        assert made <= set(_ip("netns", "list").split())
        assert len(made) == len(NODES) + 1  # the nodes and the hub
        assert f"inet {address('db1')}/24" in _ip("-n", network.ns("db1"), "addr", "show", "eth0")

        network.cable("db1", plugged=False)
        pulled = _ip("-n", network.ns("db1"), "link", "show", "eth0")
        network.cable("db1", plugged=True)
        plugged = _ip("-n", network.ns("db1"), "link", "show", "eth0")

        assert "state DOWN" in pulled
        assert ",UP" in plugged
    finally:
        network.destroy()
    assert not made & set(_ip("netns", "list").split())
    assert network.ns("hub") not in _ip("netns", "list")
