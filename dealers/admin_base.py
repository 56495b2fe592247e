"""What every app's admin pages share; here because dealers is the lowest layer with an admin."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest


class ReadOnlyAdmin(admin.ModelAdmin):
    """Viewing only: these rows change through services or are evidence, never edited in admin forms.

    Every field of the model is shown unless the admin names its own ``readonly_fields``.
    """

    show_full_result_count = False  # no second COUNT(*) over network-wide tables

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.readonly_fields or [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
