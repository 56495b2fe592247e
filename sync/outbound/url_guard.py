"""Which webhook URLs the relay may call: public https endpoints, plus what the operator allows.

A dealer administrator (or manufacturer staff) chooses a destination's URL; the relay's worker
then sends requests from inside our network. Without a fence that is server-side request forgery:
loopback services, the private network, link-local cloud metadata. The rules:

- scheme ``https`` (``http`` only where ``SYNC_WEBHOOK_ALLOW_HTTP`` is on: development and test settings);
- no user name or password in the URL;
- a port of ``SYNC_WEBHOOK_PORTS`` (default 443 and 8443);
- every address the host name resolves to is a public unicast address, checked when the URL is
  saved (:func:`check_url`) and again for every new connection (:class:`GuardedTransport`), which
  connects to the address it validated, so a name that resolves differently a second time
  (DNS rebinding) gains nothing; ``Host`` header, TLS SNI and certificate check keep the name.

``SYNC_WEBHOOK_ALLOWED_TARGETS`` is the operator's exception, never a dealer's: entries
``host:port`` (exact; host is a name or an address), an address or network (any port), or
``network:port``. Such a target skips the address and port rules (not the scheme rule). It is empty
in production, the simulator's address under ``make run`` and loopback in the test settings.

The resolver is ``SYNC_WEBHOOK_RESOLVER`` (a dotted path to ``f(host, port) -> list[str]``), so
tests answer names with a stub instead of asking DNS.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import httpcore
import httpx
from django.conf import settings
from django.utils.module_loading import import_string
from django.utils.translation import gettext_noop

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], list[str]]

DEFAULT_PORTS = (443, 8443)
DEFAULT_PORT = {"https": 443, "http": 80}

# Why a URL was refused; the service turns these into messages, the relay into "refused by policy".
SCHEME = "scheme"
CREDENTIALS = "credentials"
PORT = "port"
ADDRESS = "address"  # unresolvable, or resolves to at least one non-public address

# IPv6 ranges that carry an IPv4 address: judge the embedded one.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class TargetRefused(Exception):
    """The URL or one of its addresses is not allowed; ``reason`` is one of the constants above."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class AllowedTarget:
    name: str | None = None
    network: IPNetwork | None = None
    port: int | None = None

    def matches(self, *, host: str, address: IPAddress | None, port: int) -> bool:
        if self.port is not None and self.port != port:
            return False
        if self.name is not None:
            return host.lower().rstrip(".") == self.name
        return address is not None and self.network is not None and _plain(address) in self.network


def parse_target(entry: str) -> AllowedTarget:
    """``127.0.0.1:8700``, ``dms.internal:443``, ``[::1]:8700``, ``10.0.0.0/8``, ``::1``, ``10.0.0.0/8:443``."""
    text = entry.strip()
    host, port = text, None
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = int(rest[1:]) if rest.startswith(":") else None
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
        port = int(port_text)
    try:
        return AllowedTarget(network=ipaddress.ip_network(host, strict=False), port=port)
    except ValueError:
        if port is None:
            raise ValueError(f"SYNC_WEBHOOK_ALLOWED_TARGETS: a host name needs a port: {entry!r}") from None
        return AllowedTarget(name=host.lower().rstrip("."), port=port)


@lru_cache(maxsize=8)
def _parsed(entries: tuple[str, ...]) -> tuple[AllowedTarget, ...]:
    return tuple(parse_target(entry) for entry in entries if entry.strip())


def allowed_targets() -> tuple[AllowedTarget, ...]:
    entries = getattr(settings, "SYNC_WEBHOOK_ALLOWED_TARGETS", ()) or ()
    if isinstance(entries, str):
        entries = entries.split(",")
    return _parsed(tuple(entries))


def allowed_ports() -> frozenset[int]:
    return frozenset(int(p) for p in getattr(settings, "SYNC_WEBHOOK_PORTS", None) or DEFAULT_PORTS)


def http_allowed() -> bool:
    return bool(getattr(settings, "SYNC_WEBHOOK_ALLOW_HTTP", False))


def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for ``host`` (IPv4 and IPv6)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def loopback_resolver(host: str, port: int) -> list[str]:
    """The test settings' resolver: IP literals as written, every name is 127.0.0.1; no lookup leaves the machine."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
    except socket.gaierror:
        return ["127.0.0.1"]
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def resolver() -> Resolver:
    configured = getattr(settings, "SYNC_WEBHOOK_RESOLVER", None)
    if not configured:
        return system_resolver
    return import_string(configured) if isinstance(configured, str) else configured


def _plain(address: IPAddress) -> IPAddress:
    """The IPv4 address inside an IPv4-mapped, NAT64 or 6to4 IPv6 address; else the address itself."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address in _NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if address.sixtofour is not None:
            return address.sixtofour
    return address


def is_public(address: IPAddress) -> bool:
    """A global unicast address: not loopback, private, shared (CGNAT), link-local, multicast, reserved..."""
    if isinstance(address, ipaddress.IPv6Address) and address.teredo is not None:
        return False
    plain = _plain(address)
    return plain.is_global and not (
        plain.is_multicast or plain.is_loopback or plain.is_link_local or plain.is_reserved or plain.is_unspecified
    )


def _is_allowed_target(host: str, address: IPAddress | None, port: int) -> bool:
    return any(t.matches(host=host, address=address, port=port) for t in allowed_targets())


def _resolve(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(a.split("%", 1)[0]) for a in resolver()(host, port)]
    except (OSError, UnicodeError, ValueError):
        return []


def validated_addresses(host: str, port: int) -> list[IPAddress]:
    """Resolve ``host`` once and return its addresses if every one may be called; else TargetRefused."""
    host = host.strip("[]")
    if _is_allowed_target(host, None, port):  # an operator-allowed name
        addresses = _resolve(host, port)
        if not addresses:
            raise TargetRefused(ADDRESS)
        return addresses
    addresses = _resolve(host, port)
    if not addresses:
        raise TargetRefused(ADDRESS)
    if all(_is_allowed_target(host, a, port) for a in addresses):
        return addresses
    if port not in allowed_ports():
        raise TargetRefused(PORT)
    if not all(is_public(a) for a in addresses):
        raise TargetRefused(ADDRESS)
    return addresses


def check_url(url: str) -> None:
    """Raise TargetRefused unless ``url`` is a webhook URL the relay may call (resolves the name)."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        raise TargetRefused(SCHEME) from None
    if parsed.scheme not in ("https", "http") or not parsed.host:
        raise TargetRefused(SCHEME)
    if parsed.scheme == "http" and not http_allowed():
        raise TargetRefused(SCHEME)
    if parsed.userinfo:
        raise TargetRefused(CREDENTIALS)
    validated_addresses(parsed.host, DEFAULT_PORT[parsed.scheme] if parsed.port is None else parsed.port)


class _GuardedBackend(httpcore.NetworkBackend):
    """Opens TCP connections only to validated addresses, resolved here exactly once per connection."""

    def __init__(self) -> None:
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = validated_addresses(host, port)
        last: Exception | None = None
        for address in addresses:
            try:
                return self._inner.connect_tcp(str(address), port, timeout, local_address, socket_options)
            except httpcore.ConnectTimeout:
                raise
            except httpcore.ConnectError as error:
                last = error
        raise last or TargetRefused(ADDRESS)

    def connect_unix_socket(self, *args: Any, **kwargs: Any) -> httpcore.NetworkStream:
        raise TargetRefused(ADDRESS)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def ssl_context() -> ssl.SSLContext:
    """Certificates are verified against the default trust store, or ``SYNC_WEBHOOK_CA_BUNDLE`` if set."""
    bundle = getattr(settings, "SYNC_WEBHOOK_CA_BUNDLE", "")
    return ssl.create_default_context(cafile=str(bundle)) if bundle else httpx.create_ssl_context(trust_env=False)


class GuardedTransport(httpx.HTTPTransport):
    """httpx's transport with :class:`_GuardedBackend` underneath and no proxy from the environment.

    Requests still carry the URL's host name: httpcore sends it as ``Host`` and as the TLS server
    name, and verifies the certificate against it; only the TCP connection goes to the address
    validated a moment before.
    """

    def __init__(self, *, limits: httpx.Limits | None = None) -> None:
        super().__init__(trust_env=False)
        limits = limits or httpx.Limits()
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_GuardedBackend(),
        )


def failure_reason(error: BaseException) -> str:
    """The generic reason shown for a failed attempt: never the error text, which may echo the target."""
    if isinstance(error, TargetRefused):
        return REFUSED
    if isinstance(error, httpx.TimeoutException):
        return TIMED_OUT
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ssl.SSLError | ssl.CertificateError):
            return TLS_ERROR
        seen = seen.__cause__ or seen.__context__
    return CONNECTION_FAILED


# The only texts a failed attempt leaves in the delivery log besides "HTTP <status>" (translated for display).
REFUSED = gettext_noop("refused by policy")
TIMED_OUT = gettext_noop("timed out")
TLS_ERROR = gettext_noop("TLS error")
CONNECTION_FAILED = gettext_noop("connection failed")
