"""Manufacturer roles, as Django groups with model permissions for the admin site.

Each role lists ``app_label.codename`` patterns; ``*`` matches every model of an app.
The groups are brought up to date after every ``migrate``, so permissions of models added
by later migrations join the role without a data migration of their own.
"""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig, apps
from django.contrib.auth.models import Group, Permission
from django.db.models import Q

NETWORK_ADMIN = "Network administration"
LEAD_DESK = "Lead desk"
DATA_PROTECTION = "Data protection"
ANALYST = "Analyst (read-only)"

# (app_label, action, model or "*") triples granted to each role.
MANUFACTURER_ROLES: dict[str, list[tuple[str, str, str]]] = {
    NETWORK_ADMIN: [("dealers", action, "*") for action in ("view", "add", "change", "delete")]
    + [("sync", action, "*") for action in ("view", "change")]
    + [("crm", "view", "*"), ("crm", "add", "vehiclemodel"), ("crm", "change", "vehiclemodel")]  # model range
    + [("campaigns", action, "campaign") for action in ("view", "add", "change")]  # network-wide campaigns
    + [("ha", "view", "*"), ("ha", "change", "clusternode")]  # the cluster page, drain and undrain (ha.admin)
    + [("messaging", "view", "*"), ("messaging", "add", "emailtemplate"), ("messaging", "change", "emailtemplate")],
    LEAD_DESK: [
        ("dealers", "view", "*"),
        ("crm", "view", "*"),
        ("crm", "change", "lead"),
        ("sync", "view", "*"),
        ("sync", "change", "*"),
    ],
    DATA_PROTECTION: [
        ("dealers", "view", "*"),
        ("crm", "view", "*"),
        ("crm", "change", "prospect"),
        ("crm", "erase", "prospect"),  # the admin's erase actions (crm.admin)
        ("crm", "change", "consent"),
        ("crm", "change", "retentionrule"),
        ("messaging", "view", "*"),  # e-mails sent and received (crm/messaging)
    ],
    ANALYST: [
        ("dealers", "view", "*"),
        ("crm", "view", "*"),
        ("sync", "view", "*"),
        ("ha", "view", "*"),
        ("campaigns", "view", "*"),
    ],
}


def _last_app_with_models() -> AppConfig:
    return [config for config in apps.get_app_configs() if config.models_module is not None][-1]


def _permissions_for(grants: list[tuple[str, str, str]]) -> list[Permission]:
    query = Q(pk__in=[])
    for app_label, action, model in grants:
        if model == "*":
            query |= Q(content_type__app_label=app_label, codename__startswith=f"{action}_")
        else:
            query |= Q(content_type__app_label=app_label, codename=f"{action}_{model}")
    return list(Permission.objects.filter(query))


def ensure_manufacturer_groups(sender: AppConfig | None = None, **_: Any) -> None:
    """Bring the role groups up to date: directly, or as the ``post_migrate`` receiver.

    ``migrate`` (and every test database flush) sends ``post_migrate`` once per app, and each app's
    permissions exist only after its own signal: the groups are set once, after the last app's.
    """
    if sender is not None and sender is not _last_app_with_models():
        return
    for name, grants in MANUFACTURER_ROLES.items():
        group, _created = Group.objects.get_or_create(name=name)
        group.permissions.set(_permissions_for(grants))


# What only a superuser grants in the admin: entry to it, all rights, roles (groups), single permissions.
RIGHTS_FIELDS = ("is_staff", "is_superuser", "groups", "user_permissions")


def may_grant_rights(by: Any) -> bool:
    """Only a superuser grants ``RIGHTS_FIELDS``; nobody else raises anyone's rights, their own least of all."""
    return bool(by.is_active and by.is_superuser)


def may_manage_account(by: Any, account: Any) -> bool:
    """Whether ``by`` may change ``account``, delete it or change its dealership memberships in the admin.

    A superuser may change every account. Everyone else (the network administration, which holds
    ``dealers.change_user``) manages dealership staff only: accounts that are neither manufacturer
    staff nor superuser, and never their own, so nobody makes themselves a member of a dealership
    or changes a manufacturer account (which could then sign in to the admin) without a superuser.
    """
    if may_grant_rights(by):
        return True
    if not (by.is_active and by.is_staff):
        return False
    return account.pk != by.pk and not account.is_staff and not account.is_superuser


def may_set_passwords(by: Any) -> bool:
    """Setting someone's password in the admin is taking over the account: a superuser's decision only.

    People set their own password through the password change or reset pages, which ask for the old
    password or a link sent to them.
    """
    return may_grant_rights(by)
