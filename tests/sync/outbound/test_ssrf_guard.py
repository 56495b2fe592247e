"""Server-side request forgery through webhook URLs (issue 9, item 3).

Nothing here sends traffic off this machine. Names are answered by a resolver stub
(``SYNC_WEBHOOK_RESOLVER``), which maps them to public, private, link-local or loopback
addresses; a private or link-local address is only ever validated, never connected to.
Where a connection would happen without the guard, the stub points at a loopback listener
that counts connections, so a broken guard shows up as a connection there.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from crm.models import Change
from crm.services.prospects import create_prospect
from dealers.actors import Actor
from sync.models import Destination
from sync.outbound import relay, services, transports
from sync.outbound.formats import Event
from tests.factories import DestinationFactory
from tests.sync.outbound.harness import eventually

pytestmark = pytest.mark.django_db

ACTOR = Actor.system("test")
PUBLIC_IP = "93.184.215.14"  # a global address; only ever validated, never connected to
SECRET_BODY = "root:x:0:0:internal-only-response-body"

# name -> addresses, read by stub_resolver; each test sets what it needs.
DNS: dict[str, list[str]] = {}


def stub_resolver(host: str, port: int) -> list[str]:
    """DNS stub: the names in ``DNS``; IP literals in any numeric form (no lookup leaves the machine)."""
    if host.lower() in DNS:
        return list(DNS[host.lower()])
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
    except socket.gaierror:
        raise OSError(f"stub: no such name {host}") from None
    return [str(info[4][0]) for info in infos]


@pytest.fixture(autouse=True)
def guarded(settings) -> Iterator[None]:
    """The production rules: no allowed exceptions, https only, the default ports, DNS through the stub."""
    settings.SYNC_WEBHOOK_ALLOWED_TARGETS = []
    settings.SYNC_WEBHOOK_ALLOW_HTTP = False
    settings.SYNC_WEBHOOK_PORTS = [443, 8443]
    settings.SYNC_WEBHOOK_RESOLVER = f"{__name__}.stub_resolver"
    DNS.clear()
    DNS.update(
        {
            "dms.example": [PUBLIC_IP],
            "metadata.google.internal": ["169.254.169.254"],
            "intranet.example": ["10.20.30.40"],
            "sneaky.example": [PUBLIC_IP, "127.0.0.1"],
        }
    )
    yield
    DNS.clear()


class Receiver:
    """A loopback HTTP server that counts connections and answers every POST with a fixed status and body."""

    def __init__(self, status: int = 200, body: str = "") -> None:
        self.status, self.body = status, body
        self.requests: list[dict[str, str]] = []
        self.connections = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def setup(self) -> None:
                receiver.connections += 1
                super().setup()

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length") or 0))
                receiver.requests.append({k.lower(): v for k, v in self.headers.items()})
                payload = receiver.body.encode()
                self.send_response(receiver.status)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def _event(destination: Destination) -> Event:
    create_prospect(dealer=destination.dealer, actor=ACTOR, data={"first_name": "A", "last_name": "B"})
    return Event.of(Change.objects.for_dealer(destination.dealer_id).order_by("-id")[0])


def _post(destination: Destination) -> transports.Outcome:
    transports.http_client().close()
    transports._local.client = None  # a fresh pool: no connection survives from an earlier test
    return transports.post_webhook(destination, _event(destination), dealer_number="1", dealer_name="A")


FORBIDDEN_URLS = [
    "https://127.0.0.1/hook",
    "https://127.1.2.3:8443/hook",
    "https://localhost/hook",
    "https://[::1]/hook",
    "https://[::ffff:127.0.0.1]/hook",
    "https://[::ffff:a9fe:a9fe]/hook",
    "https://0.0.0.0/hook",
    "https://10.0.0.5/hook",
    "https://172.16.0.1/hook",
    "https://192.168.1.1/hook",
    "https://100.64.0.1/hook",
    "https://169.254.169.254/latest/meta-data/",
    "https://[fe80::1]/hook",
    "https://[fd00::1]/hook",
    "https://[64:ff9b::a9fe:a9fe]/hook",
    "https://[2002:a9fe:a9fe::1]/hook",
    "https://metadata.google.internal/computeMetadata/v1/",
    "https://intranet.example/hook",
    "https://sneaky.example/hook",
    "https://unknown-name.example/hook",
    "https://dms.example:22/hook",
    "https://dms.example:6379/hook",
    "http://dms.example/hook",
    "https://user:pass@dms.example/hook",
    "ftp://dms.example/hook",
]


@pytest.mark.parametrize("url", FORBIDDEN_URLS)
def test_dealer_admin_cannot_point_a_destination_at_a_forbidden_target(url, dealer_a, client_for):
    response = client_for(dealer_a.user("dealer_admin")).post(
        reverse("sync_settings"), {"name": "X", "transport": "webhook", "url": url}
    )

    assert response.status_code == 400
    assert not Destination.objects.filter(dealer=dealer_a.dealer).exists()


@pytest.mark.parametrize(
    "url", ["https://dms.example/hook", "https://dms.example:8443/hook", "https://93.184.215.14/h"]
)
def test_dealer_admin_can_point_a_destination_at_a_public_https_endpoint(url, dealer_a, client_for):
    response = client_for(dealer_a.user("dealer_admin")).post(
        reverse("sync_settings"), {"name": "X", "transport": "webhook", "url": url}
    )

    assert response.status_code == 200
    assert Destination.objects.get(dealer=dealer_a.dealer).url == url


def test_dealer_admin_cannot_change_a_destination_to_a_metadata_address(dealer_a, client_for):
    destination = DestinationFactory(dealer=dealer_a.dealer, url="https://dms.example/hook")
    response = client_for(dealer_a.user("dealer_admin")).post(
        reverse("sync_destination", kwargs={"pk": destination.pk}),
        {"name": "X", "transport": "webhook", "url": "https://169.254.169.254/latest/meta-data/"},
    )

    assert response.status_code == 400
    destination.refresh_from_db()
    assert destination.url == "https://dms.example/hook"


@pytest.mark.parametrize(
    "url", ["https://10.0.0.5/hook", "https://metadata.google.internal/", "https://dms.example:22/"]
)
def test_admin_cannot_add_or_change_a_destination_to_a_forbidden_target(url, dealer_a, manufacturer_admin, client_for):
    client = client_for(manufacturer_admin)
    existing = DestinationFactory(dealer=dealer_a.dealer, url="https://dms.example/hook", name="Alt")
    form = {"dealer": dealer_a.dealer.pk, "name": "Neu", "transport": "webhook", "url": url, "event_types": "[]"}

    added = client.post(reverse("admin:sync_destination_add"), {**form, "secret": existing.secret})
    changed = client.post(reverse("admin:sync_destination_change", args=[existing.pk]), form)

    assert added.status_code == 200  # the form again, with an error
    assert changed.status_code == 200
    assert "errorlist" in added.content.decode()
    assert "errorlist" in changed.content.decode()
    assert list(Destination.objects.values_list("url", flat=True)) == ["https://dms.example/hook"]


def test_service_refuses_a_forbidden_url_for_every_caller(dealer_a):
    with pytest.raises(ValidationError):
        services.create_destination(
            dealer=dealer_a.dealer, actor=ACTOR, transport="webhook", url="https://169.254.169.254/"
        )
    assert not Destination.objects.exists()


def test_a_name_rebound_to_loopback_after_saving_is_refused_at_connect_time(dealer_a, settings):
    with Receiver() as receiver:
        settings.SYNC_WEBHOOK_ALLOW_HTTP = True
        settings.SYNC_WEBHOOK_PORTS = [443, receiver.port]
        url = f"http://dms.example:{receiver.port}/hook"
        destination = services.create_destination(dealer=dealer_a.dealer, actor=ACTOR, transport="webhook", url=url)
        DNS["dms.example"] = ["127.0.0.1"]  # the attacker's DNS answers differently once the URL is saved

        outcome = _post(destination)

    assert not outcome.ok
    assert outcome.error == "refused by policy"
    assert receiver.connections == 0


def test_a_name_with_one_loopback_address_among_public_ones_is_refused_at_connect_time(dealer_a, settings):
    with Receiver() as receiver:
        settings.SYNC_WEBHOOK_ALLOW_HTTP = True
        settings.SYNC_WEBHOOK_PORTS = [443, receiver.port]
        destination = DestinationFactory(dealer=dealer_a.dealer, url=f"http://sneaky.example:{receiver.port}/hook")

        outcome = _post(destination)

    assert outcome.error == "refused by policy"
    assert receiver.connections == 0


def test_a_stored_loopback_url_from_before_the_guard_is_refused_at_connect_time(dealer_a):
    with Receiver() as receiver:
        destination = DestinationFactory(dealer=dealer_a.dealer, url=f"http://127.0.0.1:{receiver.port}/hook")

        outcome = _post(destination)

    assert outcome.error == "refused by policy"
    assert receiver.connections == 0


def test_an_allowed_target_receives_with_the_original_host_header(dealer_a, settings):
    with Receiver() as receiver:
        settings.SYNC_WEBHOOK_ALLOW_HTTP = True
        settings.SYNC_WEBHOOK_ALLOWED_TARGETS = [f"127.0.0.1:{receiver.port}"]
        DNS["dms.example"] = ["127.0.0.1"]
        url = f"http://dms.example:{receiver.port}/hook"
        destination = services.create_destination(dealer=dealer_a.dealer, actor=ACTOR, transport="webhook", url=url)

        outcome = _post(destination)

    assert outcome.ok, outcome.error
    assert receiver.requests[0]["host"] == f"dms.example:{receiver.port}"


def test_allowed_targets_name_exact_ports(dealer_a, settings):
    settings.SYNC_WEBHOOK_ALLOW_HTTP = True
    settings.SYNC_WEBHOOK_ALLOWED_TARGETS = ["127.0.0.1:8700", "192.0.2.0/24"]
    create = services.create_destination

    assert create(dealer=dealer_a.dealer, actor=ACTOR, transport="webhook", url="http://127.0.0.1:8700/webhooks/1")
    assert create(dealer=dealer_a.dealer, actor=ACTOR, transport="webhook", url="https://192.0.2.7:9000/h")
    for url in ("http://127.0.0.1:8701/webhooks/1", "http://127.0.0.2:8700/", "https://198.18.0.7/h"):
        with pytest.raises(ValidationError):
            create(dealer=dealer_a.dealer, actor=ACTOR, transport="webhook", url=url)


@pytest.mark.django_db(transaction=True)
def test_response_body_of_a_failing_receiver_is_never_shown(dealer_a, client_for, settings):
    with Receiver(status=500, body=SECRET_BODY) as receiver:
        settings.SYNC_WEBHOOK_ALLOW_HTTP = True
        settings.SYNC_WEBHOOK_ALLOWED_TARGETS = [f"127.0.0.1:{receiver.port}"]
        destination = DestinationFactory(dealer=dealer_a.dealer, url=f"http://127.0.0.1:{receiver.port}/hook")
        _event(destination)
        transports._local.client = None

        # the relay delivers once no older transaction anywhere on the server is open (docs/sync.md section 7)
        eventually(
            lambda: relay.relay_dealer(dealer_id=dealer_a.dealer.pk, budget_seconds=0.5) and receiver.requests,
            what="a delivery attempt",
        )

    destination.refresh_from_db()
    assert destination.last_error == "HTTP 500"
    page = client_for(dealer_a.user("dealer_admin")).get(reverse("sync_destination", kwargs={"pk": destination.pk}))
    assert SECRET_BODY not in page.content.decode()
    assert "HTTP 500" in page.content.decode()


def test_closed_and_open_ports_fail_with_the_same_generic_reason(dealer_a, settings):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # bound, never listening: connection refused
        settings.SYNC_WEBHOOK_ALLOW_HTTP = True
        settings.SYNC_WEBHOOK_ALLOWED_TARGETS = ["127.0.0.0/8"]
        destination = DestinationFactory(dealer=dealer_a.dealer, url=f"http://127.0.0.1:{port}/hook")

        outcome = _post(destination)

    assert outcome.error == "connection failed"


def test_tls_failure_is_reported_as_a_generic_tls_error(dealer_a, settings):
    with Receiver() as receiver:  # plain HTTP: the TLS handshake fails
        settings.SYNC_WEBHOOK_ALLOWED_TARGETS = ["127.0.0.1"]
        destination = DestinationFactory(dealer=dealer_a.dealer, url=f"https://127.0.0.1:{receiver.port}/hook")

        outcome = _post(destination)

    assert outcome.error == "TLS error"


def test_timeout_is_reported_as_a_generic_reason(dealer_a, settings):
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)  # accepts the connection, never answers
        settings.SYNC_WEBHOOK_ALLOW_HTTP = True
        settings.SYNC_WEBHOOK_ALLOWED_TARGETS = ["127.0.0.1"]
        settings.SYNC_HTTP_TIMEOUT = 0.5
        destination = DestinationFactory(dealer=dealer_a.dealer, url=f"http://127.0.0.1:{silent.getsockname()[1]}/h")

        outcome = _post(destination)

    assert outcome.error == "timed out"


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "10.1.2.3", "169.254.169.254", "::1", "fe80::1", "::ffff:10.0.0.1", "100.64.1.1", "224.0.0.1"],
)
def test_non_public_addresses_are_not_public(address):
    from sync.outbound import url_guard

    assert not url_guard.is_public(ipaddress.ip_address(address))


def test_test_settings_allow_loopback_receivers_and_nothing_else():
    from crm import settings as crm_settings

    assert crm_settings.DJANGO_ENV == "test"
    assert crm_settings.SYNC_WEBHOOK_ALLOWED_TARGETS == ["127.0.0.0/8", "::1"]


def test_delivery_log_of_older_releases_loses_bodies_and_error_texts(dealer_a):
    from importlib import import_module

    from django.db import connection

    from sync.models import DeadLetter

    scrub = import_module("sync.migrations.0007_scrub_webhook_error_details").SCRUB
    legacy = {
        f"HTTP 500: {SECRET_BODY}": "HTTP 500",
        "ConnectError: [Errno 111] Connection refused": "connection failed",
        "ReadTimeout: timed out": "timed out",
        "HTTP 404": "HTTP 404",
        "refused by policy": "refused by policy",
    }
    destinations = {error: DestinationFactory(dealer=dealer_a.dealer, last_error=error) for error in legacy}
    files = DestinationFactory(dealer=dealer_a.dealer, transport="file_drop", last_error="OSError: disk full")
    create_prospect(dealer=dealer_a.dealer, actor=ACTOR, data={"first_name": "A", "last_name": "B"})
    change = Change.objects.for_dealer(dealer_a.dealer.pk).order_by("-id")[0]
    letter = DeadLetter.objects.create(
        dealer=dealer_a.dealer,
        destination=destinations["HTTP 404"],
        change=change,
        event_id=change.event_id,
        type=change.type,
        last_error=f"HTTP 502: {SECRET_BODY}",
    )

    with connection.cursor() as cursor:
        for statement in scrub:
            cursor.execute(statement)

    for error, destination in destinations.items():
        destination.refresh_from_db()
        assert destination.last_error == legacy[error]
    letter.refresh_from_db()
    files.refresh_from_db()
    assert letter.last_error == "HTTP 502"
    assert files.last_error == "OSError: disk full"


@pytest.fixture
def tls_receiver(tmp_path) -> Iterator[tuple[Receiver, Path, list[str]]]:
    """A loopback HTTPS receiver with a certificate for dms.example from a throwaway CA; records the SNI names."""
    run = partial(subprocess.run, check=True, capture_output=True, cwd=tmp_path)  # openssl, local files only
    run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=Test CA",
         "-keyout", "ca.key", "-out", "ca.pem"])  # fmt: skip
    run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=dms.example",
         "-keyout", "server.key", "-out", "server.csr"])  # fmt: skip
    (tmp_path / "san.ext").write_text("subjectAltName=DNS:dms.example\n")
    run(["openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
         "-days", "1", "-extfile", "san.ext", "-out", "server.pem"])  # fmt: skip
    server_names: list[str] = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "server.pem", tmp_path / "server.key")
    context.sni_callback = lambda sock, name, ctx: server_names.append(name)
    with Receiver() as receiver:
        receiver.server.socket = context.wrap_socket(receiver.server.socket, server_side=True)
        yield receiver, tmp_path / "ca.pem", server_names


def test_tls_goes_to_the_validated_address_with_the_name_for_sni_and_certificate(dealer_a, settings, tls_receiver):
    receiver, ca, server_names = tls_receiver
    settings.SYNC_WEBHOOK_ALLOWED_TARGETS = [f"127.0.0.1:{receiver.port}"]
    settings.SYNC_WEBHOOK_CA_BUNDLE = str(ca)
    DNS["dms.example"] = ["127.0.0.1"]
    destination = DestinationFactory(dealer=dealer_a.dealer, url=f"https://dms.example:{receiver.port}/hook")

    outcome = _post(destination)

    assert outcome.ok, outcome.error
    assert server_names == ["dms.example"]
    assert receiver.requests[0]["host"] == f"dms.example:{receiver.port}"


def test_a_certificate_for_another_name_fails_as_a_tls_error(dealer_a, settings, tls_receiver):
    receiver, ca, _names = tls_receiver
    settings.SYNC_WEBHOOK_ALLOWED_TARGETS = [f"127.0.0.1:{receiver.port}"]
    settings.SYNC_WEBHOOK_CA_BUNDLE = str(ca)
    DNS["other.example"] = ["127.0.0.1"]
    destination = DestinationFactory(dealer=dealer_a.dealer, url=f"https://other.example:{receiver.port}/hook")

    outcome = _post(destination)

    assert outcome.error == "TLS error"
    assert receiver.requests == []
