"""Every row the admin could write, to prove that a refused request changed nothing."""

from __future__ import annotations

from typing import Any

from django.apps import apps

# Sessions change with every sign-in; axes' logs record sign-ins; neither is something the admin writes.
IGNORED_APPS = {"sessions", "axes"}


def database_rows() -> dict[str, list[tuple[Any, ...]]]:
    """All rows of every model (many-to-many tables included), by table, in primary-key order."""
    return {
        model._meta.db_table: list(model._base_manager.order_by("pk").values_list())
        for model in apps.get_models(include_auto_created=True)
        if model._meta.app_label not in IGNORED_APPS and model._meta.managed
    }
