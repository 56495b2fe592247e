"""Who may read the operator endpoints: ``/metrics`` and the details of ``/ha/health``.

A caller gets in with ``Authorization: Bearer <token>`` (compared in constant time), or when the
TCP peer (``REMOTE_ADDR``; never ``X-Forwarded-For`` or ``X-Real-IP``, which any client can send)
lies in one of the operator's allowed networks. Production allows no network unless the operator
lists one: behind a reverse proxy on the same host every request comes from loopback.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any


def bearer_token_matches(authorization: str, token: str) -> bool:
    """``Authorization: Bearer <token>``; an empty configured token never matches."""
    if not token:
        return False
    scheme, _, presented = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(presented.strip().encode(), token.encode())


def peer_in_networks(remote_addr: str, networks: Iterable[str]) -> bool:
    try:
        address = ipaddress.ip_address(remote_addr)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(network, strict=False) for network in networks)


def operator_may_read(meta: Mapping[str, Any], *, token: str, networks: Iterable[str]) -> bool:
    return bearer_token_matches(str(meta.get("HTTP_AUTHORIZATION", "")), token) or peer_in_networks(
        str(meta.get("REMOTE_ADDR", "")), networks
    )
