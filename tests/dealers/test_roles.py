"""The manufacturer role groups after ``migrate`` and after a flush: they hold permissions of every app."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.contrib.auth.models import Group

from dealers.roles import MANUFACTURER_ROLES, NETWORK_ADMIN


def _granted(role: str) -> set[str]:
    group = Group.objects.get(name=role)
    return {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")}


def _assert_groups_hold_permissions_of_the_app_migrated_last() -> None:
    # Each app's permissions exist only after its own post_migrate; the groups are set after the last one.
    last = [config for config in apps.get_app_configs() if config.models_module is not None][-1]
    granted_apps = {label for grants in MANUFACTURER_ROLES.values() for label, _action, _model in grants}
    assert last.label in granted_apps, "pick another app below: this one is granted to no role"
    held = set().union(*(_granted(role) for role in MANUFACTURER_ROLES))
    assert any(name.startswith(f"{last.label}.") for name in held), f"no {last.label} permission in any role"
    assert {"messaging.add_emailtemplate", "ha.change_clusternode", "dealers.change_user"} <= _granted(NETWORK_ADMIN)


@pytest.mark.django_db
def test_role_groups_after_migrate_hold_permissions_of_every_app() -> None:
    _assert_groups_hold_permissions_of_the_app_migrated_last()


@pytest.mark.django_db(transaction=True)
def test_role_groups_after_a_flush_hold_permissions_of_every_app() -> None:
    # A transactional test starts after a flush (of the test before it), which sends post_migrate again.
    _assert_groups_hold_permissions_of_the_app_migrated_last()
