"""What every app's admin pages share; here because dealers is the lowest layer with an admin."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cached_property
from typing import Any, ClassVar

from django.contrib import admin
from django.contrib.admin.options import BaseModelAdmin
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils.cache import add_never_cache_headers

from dealers.actors import actor_in_words, with_actor_names


class EstimatedCountPaginator(Paginator):
    """A changelist's pages, counted by the planner's estimate when it says more than ``exact_below`` rows.

    The admin counts its list to number the pages; ``COUNT(*)`` over millions of prospects, leads or
    changes reads them all (issue 15). The estimate (``EXPLAIN``: one planning round trip) is exact
    enough to number pages; a small or narrowly filtered list is counted exactly.
    """

    exact_below = 10_000

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if not isinstance(queryset, QuerySet):
            return super().count
        try:
            plan = json.loads(queryset.order_by().explain(format="json"))
            estimate = int(plan[0]["Plan"]["Plan Rows"])
        except (ValueError, KeyError, IndexError, TypeError):  # a plan of another shape: count
            return super().count
        return estimate if estimate >= self.exact_below else super().count


class ReadOnlyAdmin(admin.ModelAdmin):
    """Viewing only: these rows change through services or are evidence, never edited in admin forms.

    Every field of the model is shown unless the admin names its own ``readonly_fields``.
    """

    show_full_result_count = False  # no second COUNT(*) over network-wide tables
    paginator = EstimatedCountPaginator  # nor a first one over a big list (pages numbered by estimate)

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


def actor_column(field: str) -> str:
    """The admin's column (list and change page) that shows the actor label column ``field`` in words."""
    return f"{field}_name"


class ActorNamesAdmin(BaseModelAdmin):
    """Shows the actor label columns in ``actor_fields`` (``system:routing``, ``api:<prefix>``, an email) as
    people read them ("Automatic routing", "API key DMS (Autohaus ...)", the person's name), in lists and on
    change pages: ``list_display``, ``fields`` and ``readonly_fields`` may name the column as it is, and show
    :func:`actor_column`'s column in its place; the names are joined in the list's own query.
    """

    actor_fields: ClassVar[tuple[str, ...]] = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.actor_fields:
            setattr(self, actor_column(field), _actor_display(self.model, field))

    def _in_words(self, names: Any) -> Any:
        return [actor_column(name) if name in self.actor_fields else name for name in names]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return with_actor_names(super().get_queryset(request), *self.actor_fields)

    def get_list_display(self, request: HttpRequest) -> Any:
        return self._in_words(super().get_list_display(request))  # type: ignore[misc]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self._in_words(super().get_fields(request, obj))

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self._in_words(super().get_readonly_fields(request, obj))

    def get_exclude(self, request: HttpRequest, obj: Any = None) -> Any:
        return (*(super().get_exclude(request, obj) or ()), *self.actor_fields)  # never the label itself


def _actor_display(model: Any, field: str) -> Callable[[Any], str]:
    def show(obj: Any) -> str:
        return actor_in_words(obj, field)

    return admin.display(description=model._meta.get_field(field).verbose_name, ordering=field)(show)
