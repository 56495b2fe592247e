"""E-mail from the CRM in a real browser (Debian's Chromium driven by Playwright), issue 16 item 2.

A salesperson writes to a prospect from the lead page with a template (filled in, edited, sent through a
real SMTP server on loopback) and sees it on the timeline; the prospect's reply comes in by SMTP to the
intake server and appears on the same lead. Then the lead page at phone size. Selectors use URLs, names
and ids, not wording.
"""

from __future__ import annotations

import os
import shutil
import smtplib
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import pytest

from crm.messaging.intake import controller
from crm.messaging.models import EmailTemplate, InboundEmail, SentEmail
from tests.factories import TEST_PASSWORD, DealerFactory, LeadFactory, MembershipFactory, ProspectFactory, UserFactory
from tests.messaging.conftest import INBOUND_DOMAIN, SmtpSink, running_smtp_sink
from tests.support.servers import free_port

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
def browser_context() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        context = browser.new_context(locale="de-DE", viewport={"width": 1024, "height": 768})
        context.set_default_timeout(15_000)
        yield context
        context.close()
        browser.close()


@pytest.fixture
def smtp_sink(settings: Any) -> Iterator[SmtpSink]:
    with running_smtp_sink(settings) as sink:
        yield sink


@pytest.mark.django_db(transaction=True)
def test_send_a_templated_email_and_see_the_reply_on_the_lead(
    live_server, browser_context, smtp_sink: SmtpSink
) -> None:
    from playwright.sync_api import expect

    dealer = DealerFactory.create(name="Autohaus Sonnenschein")
    seller = UserFactory.create(email="verkauf@sonnenschein.example", first_name="Petra", last_name="Krüger")
    MembershipFactory.create(dealer=dealer, user=seller, role="salesperson")
    prospect = ProspectFactory.create(
        dealer=dealer,
        owner=seller,
        salutation="ms",
        first_name="Erika",
        last_name="Mustermann",
        email="erika@kunde.example",
        preferred_language="de",
    )
    lead = LeadFactory.create(prospect=prospect, owner=seller, model_name="ID.7 Tourer")
    template = EmailTemplate.objects.create(
        dealer=dealer,
        name="Angebot",
        subject_de="Ihr {{ lead.model_name }}",
        body_de="Guten Tag {{ prospect.salutation_name }},\n\nanbei Ihr Angebot.\n\n{{ salesperson.name }}",
    )
    intake_port = free_port()
    intake = controller(host="127.0.0.1", port=intake_port)
    intake.start()
    page = browser_context.new_page()
    try:
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("input[name=username]", seller.email)
        page.fill("input[name=password]", TEST_PASSWORD)
        page.click("main button[type=submit]")
        page.wait_for_url(f"{live_server.url}/")

        # Pick the template: htmx fills subject and text into the panel, which stay editable
        page.goto(f"{live_server.url}/leads/{lead.pk}/")
        page.click(f"a[href='/leads/{lead.pk}/email/']")
        page.select_option("#action-panel select[name=template]", str(template.pk))
        page.click("#action-panel button[name=load]")
        expect(page.locator("#action-panel input[name=subject]")).to_have_value("Ihr ID.7 Tourer")
        body = page.locator("#action-panel textarea[name=body]")
        expect(body).to_have_value("Guten Tag Frau Mustermann,\n\nanbei Ihr Angebot.\n\nPetra Krüger")
        if SCREENSHOTS:
            page.screenshot(path=os.path.join(SCREENSHOTS, "email-1-compose.png"), full_page=True)
        body.fill(body.input_value() + "\n\nPS: Probefahrt am Samstag?")
        page.click("#action-panel button.primary[type=submit]")
        page.wait_for_url(f"{live_server.url}/leads/{lead.pk}/")
        outbound = page.locator(".timeline li.tl-email").first
        expect(outbound).to_contain_text("Ihr ID.7 Tourer")
        expect(outbound).to_contain_text("PS: Probefahrt am Samstag?")
        [mail] = smtp_sink.received
        assert mail.rcpt_tos == ["erika@kunde.example"]
        assert "PS: Probefahrt am Samstag?" in mail.message.get_body(preferencelist=("plain",)).get_content()
        sent = SentEmail.objects.get()

        # The reply comes in by SMTP to the dealership's address, naming the sent e-mail
        reply = EmailMessage()
        reply["From"] = "Erika Mustermann <erika@kunde.example>"
        reply["To"] = f"{dealer.number}@{INBOUND_DOMAIN}"
        reply["Subject"] = "Re: Ihr ID.7 Tourer"
        reply["In-Reply-To"] = sent.message_id
        reply.set_content("Samstag um 10 passt mir gut.")
        with smtplib.SMTP("127.0.0.1", intake_port, timeout=10) as smtp:
            smtp.send_message(reply)
        assert InboundEmail.objects.get().lead_id == lead.pk

        page.reload()
        inbound = page.locator(".timeline li.tl-email", has_text="Samstag um 10 passt mir gut.")
        expect(inbound).to_have_count(1)
        expect(inbound).to_contain_text("Re: Ihr ID.7 Tourer")

        # At phone size the timeline with both e-mails and the button to write stay reachable
        page.set_viewport_size({"width": 390, "height": 844})
        page.reload()
        expect(page.locator(f"a[href='/leads/{lead.pk}/email/']")).to_be_visible()
        expect(page.locator(".timeline li.tl-email")).to_have_count(2)
        if SCREENSHOTS:
            page.screenshot(path=os.path.join(SCREENSHOTS, "email-2-phone.png"), full_page=True)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390 + 1, f"the lead page scrolls sideways at phone size ({width}px)"
    finally:
        page.close()
        intake.stop()
