"""The composition root finds what the apps contribute by app discovery, never by naming an app."""

from __future__ import annotations

from django.apps import apps

from crm.management.commands.demo_servers import demo_servers
from crm.management.commands.seed_demo import demo_modules


def test_demo_modules_are_every_app_with_one_in_installed_apps_order() -> None:
    found = [(label, module.__name__) for label, module in demo_modules()]

    assert found == [
        ("dealers", "dealers.demo"),
        ("crm", "crm.demo"),
        ("quotes", "crm.quotes.demo"),
        ("appointments", "crm.appointments.demo"),
        ("messaging", "crm.messaging.demo"),
        ("sync", "sync.demo"),
    ]
    order = [config.label for config in apps.get_app_configs()]
    assert [order.index(label) for label, _ in found] == sorted(order.index(label) for label, _ in found)


def test_demo_servers_come_from_the_app_configs() -> None:
    assert demo_servers() == [
        {"app": "messaging", "name": "mail_intake", "module": "crm.messaging.intake_server"},
        {"app": "sync", "name": "simulator", "module": "sync.simulator"},
    ]
