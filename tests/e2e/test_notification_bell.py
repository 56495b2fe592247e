"""The header's bell in a real browser (Debian's Chromium driven by Playwright): a lead assigned to the
signed-in salesperson after the page loaded shows in the unread count without a reload, at desktop and
phone size; opening the notification leads to the lead and the count goes down.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator

import pytest

from crm.services import leads
from dealers.actors import Actor
from tests.factories import TEST_PASSWORD, DealerFactory, MembershipFactory, ProspectFactory, UserFactory

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--no-first-run"]  # fmt: skip

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not shutil.which(CHROMIUM), reason="Debian's chromium is not installed (make test installs it)"),
]


@pytest.fixture
def browser_context() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        context = browser.new_context(locale="de-DE", viewport={"width": 1280, "height": 800})
        context.set_default_timeout(10_000)
        yield context
        context.close()
        browser.close()


@pytest.mark.django_db(transaction=True)
def test_the_bell_counts_a_lead_assigned_after_the_page_loaded(live_server, browser_context, settings) -> None:
    from playwright.sync_api import expect

    settings.NOTIFICATIONS_POLL_SECONDS = 1  # the page polls every 20 s in production
    dealer = DealerFactory.create(name="Autohaus Glocke")
    seller = UserFactory.create(email="verkauf@glocke.example")
    manager = UserFactory.create(email="leitung@glocke.example")
    MembershipFactory.create(dealer=dealer, user=seller, role="salesperson")
    MembershipFactory.create(dealer=dealer, user=manager, role="sales_manager")

    def assign_new_lead(model: str) -> object:
        prospect = ProspectFactory.create(dealer=dealer, owner=None)
        lead = leads.create_lead(prospect=prospect, actor=Actor.system("t"), data={"model_name": model})
        return leads.assign_lead(lead=lead, to_user_id=seller.pk, actor=Actor.for_user(manager))

    page = browser_context.new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", seller.email)
    page.fill("input[name=password]", TEST_PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")

    bell = page.locator("header a.bell")
    count = bell.locator("[data-bell-count]")
    expect(count).to_have_text("0")
    page.evaluate("window.__notReloaded = true")

    first = assign_new_lead("Austral")
    expect(count).to_have_text("1")
    expect(bell.locator("[data-bell-label]")).to_have_attribute("aria-live", "polite")
    expect(bell.locator("[data-bell-label]")).to_have_text(re.compile(r"^1 \w+"))  # "1 ungelesene ..."
    assert page.evaluate("window.__notReloaded") is True  # the same page: no reload

    # Phone size: the bell stays in the header and keeps counting.
    page.set_viewport_size({"width": 390, "height": 844})
    assign_new_lead("Clio")
    expect(count).to_have_text("2")
    expect(bell).to_be_in_viewport()
    assert page.evaluate("window.__notReloaded") is True

    # The list: opening the first notification goes to its lead and marks it read.
    bell.click()
    page.wait_for_url(f"{live_server.url}/notifications/")
    page.locator("li.notification", has_text="Austral").locator("button[name=open]").click()
    page.wait_for_url(f"{live_server.url}/leads/{first.pk}/")
    expect(page.locator("header a.bell [data-bell-count]")).to_have_text("1")
