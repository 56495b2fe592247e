"""Manufacturer staff sign in with two factors in a real browser (Debian's Chromium, Playwright).

The first sign-in of a staff account without a device: password, the set-up page with its QR code
(inline SVG, drawn by us) and key, one code from the "app", the recovery codes once, then the admin.
The second sign-in asks for a code. No Content-Security-Policy violation on the way.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator

import pytest
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.factories import TEST_PASSWORD, UserFactory

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--no-first-run"]  # fmt: skip
RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => { window.__csp.push(e.violatedDirective); });
"""

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not shutil.which(CHROMIUM), reason="Debian's chromium is not installed (make test installs it)"),
]


@pytest.fixture
def browser_page() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        context = browser.new_context(locale="de-DE", viewport={"width": 1280, "height": 900})
        context.add_init_script(RECORD_VIOLATIONS)
        page = context.new_page()
        page.set_default_timeout(15_000)
        yield page
        context.close()
        browser.close()


def _code(device: TOTPDevice) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time()
    return f"{totp.token():0{device.digits}d}"


def _next_code(device: TOTPDevice) -> str:
    """The code of the step after the one last accepted, as the server counts steps.

    A code is refused for a step at or before `last_t`, and the server's window is its own
    step plus the drift it learnt at the last code, give or take one. The first code may
    have been typed at the end of a step and accepted one step late, which sets the drift
    to -1: "now plus one" then falls outside the window (a CI run saw it), "last plus one"
    never does.
    """
    device.refresh_from_db()
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, drift=0)
    totp.time = device.t0 + (device.last_t + 1) * device.step + device.step / 2
    return f"{totp.token():0{device.digits}d}"


def _sign_in(page, base: str, email: str) -> None:
    page.goto(f"{base}/admin/")
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", TEST_PASSWORD)
    page.click("main button[type=submit]")


@pytest.mark.django_db(transaction=True)
def test_staff_set_up_an_authenticator_at_first_sign_in_and_give_a_code_after(live_server, browser_page) -> None:
    page = browser_page
    base = live_server.url
    staff = UserFactory.create(email="hq@hersteller.example", is_staff=True, is_superuser=True)

    _sign_in(page, base, staff.email)
    page.wait_for_url(f"{base}/accounts/login/set-up/")
    qr = page.locator("figure.qr svg")
    assert qr.is_visible()
    assert qr.bounding_box()["width"] >= 100
    device = TOTPDevice.objects.get(user=staff, confirmed=False)
    page.fill("input[name=otp_token]", _code(device))
    page.click("main form button[type=submit]")
    assert page.locator("ul.recovery-codes li").count() == 10
    page.click("main a.button.primary")
    page.wait_for_url(f"{base}/admin/")
    assert page.locator("#site-name, #header").first.is_visible()

    page.context.clear_cookies()
    _sign_in(page, base, staff.email)
    page.wait_for_url(f"{base}/accounts/login/code/")
    page.fill("input[name=otp_token]", _next_code(device))
    page.click("main form button[type=submit]")
    page.wait_for_url(f"{base}/admin/")

    assert page.evaluate("window.__csp") == []
