"""What every app's admin pages share; here because dealers is the lowest layer with an admin."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils.cache import add_never_cache_headers


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


class ExtraPagesAdmin(admin.ModelAdmin):
    """An admin with pages of its own beyond the changelist: ``extra_pages`` lists (route, view method, URL name).

    Each view checks its own permission; ``render_page`` gives it the admin's frame, never cached (personal data).
    """

    extra_pages: ClassVar[tuple[tuple[str, str, str], ...]] = ()

    def get_urls(self) -> list[URLPattern]:
        own = [
            path(route, self.admin_site.admin_view(getattr(self, view)), name=name)
            for route, view, name in self.extra_pages
        ]
        return [*own, *super().get_urls()]

    def render_page(self, request: HttpRequest, template: str, title: Any, context: dict[str, Any]) -> HttpResponse:
        context = {**self.admin_site.each_context(request), "title": title, "opts": self.model._meta, **context}
        response = TemplateResponse(request, template, context)
        add_never_cache_headers(response)
        return response


class ChoicesFilter(admin.SimpleListFilter):
    """A list filter declared as a table: ``narrowings`` maps each value to its label and how it narrows the rows."""

    narrowings: ClassVar[dict[str, tuple[Any, Callable[[QuerySet[Any]], QuerySet[Any]]]]] = {}

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [(value, label) for value, (label, _narrow) in self.narrowings.items()]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        chosen = self.narrowings.get(self.value() or "")
        return chosen[1](queryset) if chosen else queryset
