"""A salesperson's daily work in a real browser (Debian's Chromium driven by Playwright).

Finds a prospect by a misspelled name, creates a lead, logs a call, closes the lead as lost with a
reason and switches the UI to English. Selectors use URLs, names and ids, not wording, so the test
holds in German and in English.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator

import pytest

from crm.models import Activity, Lead, LostReason, VehicleModel
from tests.factories import TEST_PASSWORD, DealerFactory, MembershipFactory, ProspectFactory, UserFactory

# Playwright's sync API runs an event loop in this thread; Django's ORM calls in the test are still synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--no-first-run"]  # fmt: skip
SCREENSHOTS = os.environ.get("E2E_SCREENSHOTS", "")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not shutil.which(CHROMIUM), reason="Debian's chromium is not installed (make test installs it)"),
]


@pytest.fixture
def browser_page() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        context = browser.new_context(locale="de-DE", viewport={"width": 1024, "height": 768})  # a showroom tablet
        page = context.new_page()
        page.set_default_timeout(15_000)
        yield page
        context.close()
        browser.close()


def _shot(page, name: str) -> None:
    if SCREENSHOTS:
        page.screenshot(path=os.path.join(SCREENSHOTS, f"{name}.png"), full_page=True)


@pytest.mark.django_db(transaction=True)
def test_salesperson_daily_work(live_server, browser_page) -> None:
    from playwright.sync_api import expect

    page = browser_page
    dealer = DealerFactory.create(name="Autohaus Sonnenschein")
    seller = UserFactory.create(email="verkauf@sonnenschein.example", first_name="Petra", last_name="Krüger")
    MembershipFactory.create(dealer=dealer, user=seller, role="salesperson")
    prospect = ProspectFactory.create(dealer=dealer, owner=seller, first_name="Jürgen", last_name="Müller")
    ProspectFactory.create(dealer=dealer, owner=seller, first_name="Eva", last_name="Schmidt")
    reason = LostReason.objects.get(code="competitor")

    # Sign in
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", seller.email)
    page.fill("input[name=password]", TEST_PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    assert page.locator("html").get_attribute("lang") == "de"

    # Find the prospect by a misspelled name: htmx swaps the results while typing
    page.click("nav.mainnav a[href='/prospects/']")
    page.fill("input[name=q]", "Mueler")
    page.wait_for_url("**/prospects/?q=Mueler**")  # htmx pushed the search into the address bar
    expect(page.locator("#results tbody a.strong")).to_have_count(1)
    result = page.locator(f"#results a[href='/prospects/{prospect.pk}/']")
    _shot(page, "1-search")
    result.click()
    page.wait_for_url(f"**/prospects/{prospect.pk}/")

    # Create a lead
    page.click(f"a[href='/prospects/{prospect.pk}/leads/new/']")
    austral, _new = VehicleModel.objects.get_or_create(
        model_name="Austral", trim="techno", powertrain="hybrid", defaults={"list_price": 39500}
    )
    page.select_option("select[name=vehicle]", str(austral.pk))  # the model range's pick list
    page.fill("input[name=list_price]", "39500")
    page.fill("input[name=tradein_make]", "Opel")
    page.fill("input[name=tradein_model]", "Astra")
    page.click("main form button[type=submit]")
    page.wait_for_url(re.compile(r".*/leads/[0-9a-f-]{36}/$"))
    lead = Lead.objects.get(prospect=prospect)
    assert (lead.owner_id, lead.model_name, lead.trim, lead.powertrain, lead.stage) == (
        seller.pk,
        "Austral",
        "techno",
        "hybrid",
        "new",
    )

    # Log a call: the form opens in place (htmx), saving reloads the lead page
    page.click(f"a[href='/leads/{lead.pk}/activity/?kind=call']")
    panel = page.locator("#action-panel form")
    panel.wait_for()
    panel.locator("input[name=subject]").fill("Erstkontakt, Probefahrt besprochen")
    _shot(page, "2-log-call")
    panel.locator("button[type=submit]").click()
    page.locator(".timeline .tl-call").first.wait_for()
    assert Activity.objects.get(lead=lead).subject == "Erstkontakt, Probefahrt besprochen"
    assert Lead.objects.get(pk=lead.pk).stage == "contacted"

    # Close as lost: without a reason it is refused inline, with one it closes
    page.click(f"a[href='/leads/{lead.pk}/stage/?stage=lost']")
    panel = page.locator("#action-panel form")
    panel.wait_for()
    panel.locator("button[type=submit]").click()
    page.locator("#action-panel .field.has-error select[name=lost_reason]").wait_for()
    assert Lead.objects.get(pk=lead.pk).stage == "contacted"
    page.select_option("#action-panel select[name=lost_reason]", str(reason.pk))
    page.fill("#action-panel textarea[name=note]", "Tiguan beim Wettbewerber gekauft")
    page.click("#action-panel button[type=submit]")
    page.locator(".stepper li.current.lost").wait_for()
    closed = Lead.objects.get(pk=lead.pk)
    assert (closed.stage, closed.lost_reason_id) == ("lost", reason.pk)
    _shot(page, "3-lost")

    # Switch the UI to English
    page.click("button[name=language][value=en]")
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("#timeline-title").inner_text() == "Timeline"
    assert reason.label_en in page.locator("main").inner_text()
    _shot(page, "4-english")
