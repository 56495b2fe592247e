"""Acceptance of issue 16 item 1 in a real browser (Debian's Chromium, Playwright): a salesperson books a test
drive from the lead page, and a second booking of the same car at an overlapping time is refused with the
error shown on the car field, on a desktop window and on a phone-sized one.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from crm.appointments import services
from crm.appointments.models import Appointment
from crm.models import Lead, VehicleModel
from dealers.actors import Actor
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
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield browser
        browser.close()


def _book(page: Any, base: str, lead: Lead, starts: str, car: str) -> None:
    page.goto(f"{base}/leads/{lead.pk}/")
    page.click(f"a[href='/leads/{lead.pk}/appointments/new/']")
    page.check("input[name=kind][value=test_drive]")
    page.fill("input[name=starts_at]", starts)
    page.select_option("select[name=duration]", "60")
    page.select_option("select[name=car]", value=car)
    page.click("main form button[type=submit].primary")


@pytest.mark.django_db(transaction=True)
def test_book_a_test_drive_and_see_an_overlapping_booking_refused(live_server, chromium) -> None:
    dealer = DealerFactory.create()
    seller = UserFactory.create(email="verkauf@termine.example")
    MembershipFactory.create(dealer=dealer, user=seller, role="salesperson")
    model = VehicleModel.objects.create(model_name="Scenic", trim="E-Tech", powertrain="electric", list_price="45000")
    car = services.save_demo_car(
        dealer=dealer, actor=Actor.system("t"), data={"vehicle_model": model, "plate": "M-VF 1", "vin": "VF1E2E0000001"}
    )
    leads = [
        LeadFactory.create(
            prospect=ProspectFactory.create(dealer=dealer, owner=seller), owner=seller, stage="contacted"
        )
        for _ in range(2)
    ]
    day = (timezone.localdate() + timedelta(days=3)).isoformat()

    for index, (width, height) in enumerate([(1280, 900), (390, 844)]):
        context = chromium.new_context(locale="de-DE", viewport={"width": width, "height": height})
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("input[name=username]", seller.email)
        page.fill("input[name=password]", TEST_PASSWORD)
        page.click("main button[type=submit]")
        page.wait_for_url(f"{live_server.url}/")

        hour = 10 + 3 * index  # each window books its own slot first
        _book(page, live_server.url, leads[0], f"{day}T{hour}:00", str(car.pk))
        page.wait_for_url(f"{live_server.url}/leads/{leads[0].pk}/")
        page.locator(".messages li").wait_for()

        _book(page, live_server.url, leads[1], f"{day}T{hour}:30", str(car.pk))  # overlaps the first
        error = page.locator("#id_car_error")
        error.wait_for()
        assert any(text in error.inner_text() for text in ("bereits gebucht", "already booked"))
        assert error.is_visible()
        scroll_width, client_width = page.evaluate(
            "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        assert scroll_width <= client_width, f"{width}px: the form scrolls sideways"
        context.close()

    assert Appointment.objects.filter(dealer=dealer).count() == 2
    leads[0].refresh_from_db()
    assert leads[0].stage == Lead.Stage.TEST_DRIVE
