"""The main pages work under the strict Content-Security-Policy (issue 9, item 8), in a real browser.

Debian's Chromium, driven by Playwright, walks dashboard, lead list, lead detail, reports, the dealer
switcher and the API docs. Every ``securitypolicyviolation`` event and every console error is
collected; htmx swaps, the countdown script, the SVG charts, the select that submits itself and
Swagger UI must still work while none is reported.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import TEST_PASSWORD, DealerFactory, LeadFactory, MembershipFactory, ProspectFactory, UserFactory

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--no-first-run"]  # fmt: skip
# Runs before any page script and is not subject to the page's policy (it comes from the browser).
RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
});
"""

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not shutil.which(CHROMIUM), reason="Debian's chromium is not installed (make test installs it)"),
]


@pytest.fixture
def browser() -> Iterator[tuple[object, list[str]]]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        context = browser.new_context(locale="de-DE", viewport={"width": 1280, "height": 900})
        context.add_init_script(RECORD_VIOLATIONS)
        page = context.new_page()
        page.set_default_timeout(15_000)
        problems: list[str] = []
        # Failed loads are counted by status below; the console only repeats them.
        page.on(
            "console",
            lambda m: (
                problems.append(f"console: {m.text}")
                if m.type == "error" and not m.text.startswith("Failed to load resource")
                else None
            ),
        )
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)
        yield page, problems
        context.close()
        browser.close()


def _violations(page) -> list[str]:
    return list(page.evaluate("window.__csp || []"))


@pytest.mark.django_db(transaction=True)
def test_main_pages_work_without_csp_violations(live_server, browser) -> None:
    page, problems = browser
    base = live_server.url
    dealer = DealerFactory.create(name="Autohaus Sonnenschein")
    other = DealerFactory.create(name="Autohaus Mond")
    manager = UserFactory.create(email="leitung@sonnenschein.example")
    MembershipFactory.create(dealer=dealer, user=manager, role="sales_manager")
    MembershipFactory.create(dealer=other, user=manager, role="sales_manager")
    prospect = ProspectFactory.create(dealer=dealer, owner=manager, first_name="Jürgen", last_name="Müller")
    ProspectFactory.create(dealer=dealer, owner=manager, first_name="Eva", last_name="Schmidt")
    lead = LeadFactory.create(
        prospect=prospect, owner=manager, first_contact_due_at=timezone.now() + timedelta(hours=2)
    )
    seen: dict[str, list[str]] = {}

    # Sign in
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=username]", manager.email)
    page.fill("input[name=password]", TEST_PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base}/")

    # Dashboard: the pipeline chart is drawn (SVG bars instead of inline styles)
    page.locator("ol.pipeline svg.pipeline-bar rect.bar").first.wait_for()
    assert page.locator("ol.pipeline svg.pipeline-bar rect.bar").first.get_attribute("width") not in (None, "")
    seen["dashboard"] = _violations(page)

    # Lead list: htmx swaps the results while typing and pushes the search into the address bar
    page.goto(f"{base}/leads/")
    page.fill("input[name=q]", "Mueller")
    page.wait_for_url("**/leads/?q=Mueller**")
    page.locator(f"#results a[href='/leads/{lead.pk}/']").first.wait_for()
    seen["lead list"] = _violations(page)

    # Lead detail: the first-contact countdown runs, an htmx action panel opens in place
    page.goto(f"{base}/leads/{lead.pk}/")
    page.locator(".countdown[data-due]").first.wait_for()
    page.click(f"a[href='/leads/{lead.pk}/activity/?kind=call']")
    page.locator("#action-panel form input[name=subject]").wait_for()
    # countdown.js ran: moved into the past, the timer turns overdue at the next tick (after a swap)
    page.evaluate("""() => {
      document.querySelector('.countdown[data-due]').setAttribute('data-due', '2000-01-01T00:00:00Z');
      document.dispatchEvent(new Event('htmx:afterSwap'));
    }""")
    assert "overdue" in (page.locator(".countdown[data-due]").first.get_attribute("class") or "")
    seen["lead detail"] = _violations(page)

    # Reports: the bar charts render; the period select submits itself (static/js/ui.js)
    page.goto(f"{base}/reports/")
    options = page.locator("#id_period option").evaluate_all("(os) => os.map((o) => o.value)")
    page.select_option("#id_period", options[-1])
    page.wait_for_url(re.compile(rf".*/reports/\?period={re.escape(options[-1])}$"))
    seen["reports"] = _violations(page)

    # The dealer switcher submits itself too
    page.select_option("#dealer-switch", str(other.pk))
    page.wait_for_function(f"document.querySelector('#dealer-switch').value === '{other.pk}'")
    page.wait_for_load_state()
    assert "Autohaus Mond" in page.locator("#dealer-switch option:checked").inner_text()
    seen["dealer switch"] = _violations(page)

    # API docs: Swagger UI renders the operations from the schema
    page.goto(f"{base}/api/docs/")
    page.locator(".swagger-ui .opblock").first.wait_for()
    assert page.locator(".swagger-ui .opblock").count() > 10
    seen["api docs"] = _violations(page)

    assert {name: found for name, found in seen.items() if found} == {}
    assert problems == []
