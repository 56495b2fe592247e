"""Security headers (issue 9, item 8): a strict Content-Security-Policy on every response, HSTS and the
SSL redirect in production, and operator endpoints that trust no loopback peer in production.

The production cases run the real gunicorn with ``DJANGO_ENV=production``, as a node runs it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from django.db import connection

from tests.security.production import PRODUCTION_ENV
from tests.support.servers import ROOT, database_url, gunicorn

TEMPLATES = ROOT / "templates"


def _directives(header: str) -> dict[str, list[str]]:
    directives: dict[str, list[str]] = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


@pytest.mark.parametrize(
    "path",
    ["/accounts/login/", "/api/docs/", "/api/schema/", "/api/v1/me/", "/ha/live", "/ha/health", "/no-such-page/"],
)
def test_every_response_carries_a_csp_without_inline_scripts(client, db, path: str) -> None:
    response = client.get(path)

    directives = _directives(response["Content-Security-Policy"])
    assert directives["default-src"] == ["'self'"]
    assert directives["script-src"] == ["'self'"]
    assert directives["style-src"] == ["'self'"]
    assert directives["object-src"] == ["'none'"]
    assert directives["base-uri"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["form-action"] == ["'self'"]
    assert not [value for values in directives.values() for value in values if "unsafe" in value]


def test_pages_send_referrer_opener_and_sniffing_policies(client, db) -> None:
    response = client.get("/accounts/login/")

    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"


def _inline_code(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    found = re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", text)  # inline script blocks
    found += re.findall(r"\son[a-z]+\s*=", text)  # onclick=, onchange=, ...
    found += re.findall(r"\shx-on[:-]", text)  # htmx's inline handlers are eval'd code
    found += re.findall(r"javascript:", text)
    found += re.findall(r"<style[\s>]|\sstyle\s*=", text)  # inline styles ('unsafe-inline' is off for styles too)
    return found


def test_templates_carry_no_inline_scripts_handlers_or_styles() -> None:
    offenders = {str(p.relative_to(ROOT)): _inline_code(p) for p in TEMPLATES.rglob("*.html")}

    assert {path: found for path, found in offenders.items() if found} == {}


# --- production: the settings a node runs with, in the real server -------------------------------


@pytest.fixture
def production_server(transactional_db, tmp_path) -> Iterator[str]:
    env = {**PRODUCTION_ENV, "DATABASE_URL": database_url(connection.settings_dict), "HA_STATE_DIR": str(tmp_path)}
    with gunicorn(env) as base:
        yield base


def test_production_redirects_plain_http_and_sends_hsts_over_https(production_server) -> None:
    plain = httpx.get(f"{production_server}/accounts/login/", headers={"Host": "crm.example"})
    assert plain.status_code == 301
    assert plain.headers["Location"] == "https://crm.example/accounts/login/"

    secure = httpx.get(f"{production_server}/api/v1/me/", headers={"Host": "crm.example", "X-Forwarded-Proto": "https"})
    assert secure.status_code == 401
    assert secure.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert "script-src 'self'" in secure.headers["Content-Security-Policy"]


def test_production_probes_and_metrics_answer_plain_http_on_the_node(production_server) -> None:
    """The cluster manager and Prometheus talk to the node itself, without TLS: no redirect for them."""
    assert httpx.get(f"{production_server}/ha/live").status_code == 200
    health = httpx.get(f"{production_server}/ha/health")
    assert (health.status_code, health.headers["Content-Type"]) == (200, "application/health+json")
    token = {"Authorization": f"Bearer {PRODUCTION_ENV['METRICS_TOKEN']}"}
    assert httpx.get(f"{production_server}/metrics", headers=token).status_code == 200


def test_production_trusts_no_loopback_peer_for_metrics_or_health_details(production_server) -> None:
    """Behind a reverse proxy on the same host every request comes from loopback."""
    assert httpx.get(f"{production_server}/metrics").status_code == 403
    forwarded = {"X-Forwarded-For": "127.0.0.1", "X-Real-IP": "127.0.0.1"}
    assert httpx.get(f"{production_server}/metrics", headers=forwarded).status_code == 403

    minimal = httpx.get(f"{production_server}/ha/health").json()
    assert set(minimal) == {"status", "role", "state", "releaseId"}
    token = {"Authorization": f"Bearer {PRODUCTION_ENV['HA_TOKEN']}"}
    assert "checks" in httpx.get(f"{production_server}/ha/health", headers=token).json()
