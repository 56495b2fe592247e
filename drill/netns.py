"""The drill's network: one namespace per node, each wired to a bridge in the hub namespace by a veth pair.

Nothing is added to the machine's own namespace: the veth pairs are created directly inside the node
and hub namespaces, and the addresses (a private /24) exist only there. ``cable`` pulls a node's link.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

CLONE_NEWNET = 0x40000000
SUBNET = "10.203.77"
HUB_ADDRESS = f"{SUBNET}.1"
NODES = {"db1": 11, "db2": 12, "quorum": 13, "app1": 21, "app2": 22}


def address(node: str) -> str:
    return f"{SUBNET}.{NODES[node]}"


def unavailable_reason() -> str | None:
    """Why this machine cannot build the cluster, in one line; None when it can."""
    if os.geteuid() != 0:
        return "not root (network namespaces need root)"
    if shutil.which("ip") is None:
        return "no ip command (iproute2)"
    probe = f"drillprobe{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True, check=False)
    if made.returncode != 0:
        return f"ip netns does not work here: {(made.stderr.strip() or 'no reason given').splitlines()[0]}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True, check=False)
    return None


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


@dataclass
class Network:
    """The namespaces of one drill run, named ``<prefix>-<node>`` so two runs never meet."""

    prefix: str
    made: list[str]

    @classmethod
    def build(cls, prefix: str) -> Network:
        network = cls(prefix=prefix, made=[])
        hub = network.ns("hub")
        network._add(hub)
        _ip("-n", hub, "link", "add", "br0", "type", "bridge")
        _ip("-n", hub, "addr", "add", f"{HUB_ADDRESS}/24", "dev", "br0")
        _ip("-n", hub, "link", "set", "br0", "up")
        for node in NODES:
            ns = network.ns(node)
            network._add(ns)
            peer = f"v{NODES[node]}"
            _ip("link", "add", "eth0", "netns", ns, "type", "veth", "peer", "name", peer, "netns", hub)
            _ip("-n", hub, "link", "set", peer, "master", "br0", "up")
            _ip("-n", ns, "addr", "add", f"{address(node)}/24", "dev", "eth0")
            _ip("-n", ns, "link", "set", "eth0", "up")
        return network

    def ns(self, node: str) -> str:
        return f"{self.prefix}-{node}"

    def _add(self, ns: str) -> None:
        _ip("netns", "add", ns)
        self.made.append(ns)
        _ip("-n", ns, "link", "set", "lo", "up")

    def exec_argv(self, node: str, argv: Sequence[str], *, user: str | None = None) -> list[str]:
        """``argv`` inside ``node``'s namespace, as ``user`` when given (``setpriv`` execs: the pid stays argv's)."""
        prefix = ["ip", "netns", "exec", self.ns(node)]
        if user:
            prefix += ["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups", "--"]
        return [*prefix, *argv]

    def cable(self, node: str, *, plugged: bool) -> None:
        _ip("-n", self.ns(node), "link", "set", "eth0", "up" if plugged else "down")

    def enter_hub(self) -> None:
        """Move this thread (and every thread and child it starts later) into the hub namespace."""
        libc = ctypes.CDLL(None, use_errno=True)
        fd = os.open(f"/run/netns/{self.ns('hub')}", os.O_RDONLY)
        try:
            if libc.setns(fd, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns into the hub namespace failed")
        finally:
            os.close(fd)

    def destroy(self) -> None:
        for ns in reversed(self.made):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)
        self.made.clear()
