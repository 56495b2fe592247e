"""A quote made in a real browser (Debian's Chromium driven by Playwright), and its PDF opened and read.

A salesperson opens the quote form from the lead page, fills in an option, a discount and a financing
example, issues the quote and opens its PDF, whose text pypdf reads; then the same pages at a phone's size.
Selectors use URLs, names and ids, not wording.
"""

from __future__ import annotations

import io
import os
import re
import shutil
from collections.abc import Iterator

import pytest
from pypdf import PdfReader

from crm.models import Lead, VehicleModel
from crm.quotes.models import Quote
from tests.factories import TEST_PASSWORD, DealerFactory, LeadFactory, MembershipFactory, ProspectFactory, UserFactory

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--no-first-run"]  # fmt: skip

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
        page = context.new_page()
        page.set_default_timeout(15_000)
        yield page
        context.close()
        browser.close()


@pytest.mark.django_db(transaction=True)
def test_salesperson_issues_a_quote_and_opens_its_pdf(live_server, browser_page) -> None:
    from playwright.sync_api import expect

    page = browser_page
    dealer = DealerFactory.create(name="Autohaus Sonnenschein", city="Regensburg")
    seller = UserFactory.create(email="verkauf@sonnenschein.example", first_name="Petra", last_name="Krüger")
    MembershipFactory.create(dealer=dealer, user=seller, role="salesperson")
    austral, _new = VehicleModel.objects.get_or_create(
        model_name="Austral", trim="techno", powertrain="hybrid", defaults={"list_price": 39500}
    )
    prospect = ProspectFactory.create(dealer=dealer, owner=seller, first_name="Jürgen", last_name="Müller")
    lead = LeadFactory.create(
        prospect=prospect, owner=seller, model_name="Austral", trim="techno", powertrain="hybrid", stage="contacted"
    )

    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", seller.email)
    page.fill("input[name=password]", TEST_PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")

    # From the lead page to the quote form: the lead's vehicle is preselected from the catalogue
    page.goto(f"{live_server.url}/leads/{lead.pk}/")
    page.click("#new-quote")
    page.wait_for_url(f"**/leads/{lead.pk}/quotes/new/")
    assert page.locator("select[name=vehicle]").input_value() == str(austral.pk)
    page.fill("input[name=option_0_description]", "Winterkompletträder")
    page.fill("input[name=option_0_price]", "1500")
    page.fill("input[name=discount]", "2000")
    page.select_option("select[name=financing_kind]", "financing")
    page.fill("input[name=term_months]", "48")
    page.fill("input[name=down_payment]", "9000")
    page.fill("input[name=nominal_rate]", "3.99")
    page.click("#quote-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/quotes/[0-9a-f-]{36}/$"))
    quote = Quote.objects.get(lead=lead)
    expect(page.locator("h1")).to_contain_text(quote.number)
    assert Lead.objects.get(pk=lead.pk).stage == "offer"

    # Open the PDF the page links to, with the browser's session (the link opens it in a new tab)
    pdf_link = page.locator("#quote-pdf")
    assert pdf_link.get_attribute("href") == f"/quotes/{quote.pk}/v1/pdf/"
    assert pdf_link.get_attribute("target") == "_blank"
    response = page.request.get(f"{live_server.url}{pdf_link.get_attribute('href')}")
    assert response.status == 200
    assert response.headers["content-type"] == "application/pdf"
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(response.body())).pages)
    for expected in (quote.number, "Autohaus Sonnenschein", "Regensburg", "Jürgen Müller", "Austral techno",
                     "Winterkompletträder", "39.000,00", "30.000,00", "4,06", "Petra Krüger"):  # fmt: skip
        assert expected in text, expected

    # The same pages at a phone's size: the actions and the form's button stay within reach
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/quotes/{quote.pk}/")
    expect(page.locator("#quote-pdf")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    page.goto(f"{live_server.url}/quotes/{quote.pk}/revise/")
    page.fill("input[name=discount]", "2500")
    page.locator("#quote-form button[type=submit]").scroll_into_view_if_needed()
    page.click("#quote-form button[type=submit]")
    page.wait_for_url(f"**/quotes/{quote.pk}/")
    expect(page.locator("#quote-pdf")).to_have_attribute("href", f"/quotes/{quote.pk}/v2/pdf/")
    expect(page.locator(f"a[href='/quotes/{quote.pk}/v1/pdf/']")).to_be_visible()  # v1 stays readable
