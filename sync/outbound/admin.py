"""Admin pages for the outbound side: destinations with sync status, a network overview, dead letters."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from dealers.actors import Actor
from dealers.admin_base import ActorNamesAdmin, EstimatedCountPaginator
from sync.models import DeadLetter, Destination
from sync.outbound import selectors, services
from sync.outbound.forms import DestinationAdminForm


class ReplayActionForm(forms.Form):
    since = forms.CharField(
        label=gettext_lazy("Replay since"),
        max_length=100,
        help_text=gettext_lazy("An event id, or a time in ISO 8601 (e.g. 2025-03-01T08:00:00Z)."),
    )


# Where a destination's delivery stands: the relay writes these, the admin only shows them.
DELIVERY_STATE = (
    "cursor_txid",
    "cursor_change_id",
    "attempts",
    "next_attempt_at",
    "last_success_at",
    "last_failure_at",
    "last_error",
    "delivered_total",
    "failed_total",
)


@admin.register(Destination)
class DestinationAdmin(admin.ModelAdmin):
    list_display = (
        "dealer",
        "name",
        "transport",
        "paused",
        "last_success_at",
        "attempts",
        "next_attempt_at",
        "delivered_total",
        "failed_total",
        "open_dead_letters",
    )
    list_filter = ("transport", "paused")
    search_fields = ("dealer__number", "dealer__name", "name", "url")
    list_select_related = ("dealer",)
    raw_id_fields = ("dealer",)
    actions = ("pause", "resume", "replay", "rotate_secret")
    form = DestinationAdminForm
    # Secrets are never shown again after they are issued: the add form proposes one, the
    # rotate action shows the new one once; otherwise only fingerprints (issue 9).
    SIGNING_ON_ADD = ("secret",)
    SIGNING_SHOWN = ("secret_fingerprint", "previous_secret_fingerprint", "previous_secret_expires_at")
    fieldsets = (
        (None, {"fields": ("dealer", "name", "transport", "url", "event_types", "paused")}),
        (gettext_lazy("Signing"), {"fields": SIGNING_SHOWN}),
        (gettext_lazy("Delivery state"), {"fields": DELIVERY_STATE}),
    )
    readonly_fields = (*DELIVERY_STATE, *SIGNING_SHOWN)

    change_list_template = "sync/outbound/admin_destination_changelist.html"

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        # the secret changes only through "Rotate signing secret" (the old one keeps signing for the overlap)
        if obj is not None:
            return self.fieldsets
        return [(None, self.fieldsets[0][1]), (gettext_lazy("Signing"), {"fields": self.SIGNING_ON_ADD})]

    @admin.display(description=gettext_lazy("signing secret (fingerprint)"))
    def secret_fingerprint(self, obj: Destination) -> str:
        return obj.secret_fingerprint

    @admin.display(description=gettext_lazy("previous signing secret (fingerprint)"))
    def previous_secret_fingerprint(self, obj: Destination) -> str | None:
        return obj.previous_secret_fingerprint or None

    def get_queryset(self, request: HttpRequest) -> QuerySet[Destination]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                open_dead=Count("dead_letters", filter=Q(dead_letters__status__in=["dead", "retrying"]), distinct=True)
            )
        )

    @admin.display(description=gettext_lazy("dead letters"), ordering="open_dead")
    def open_dead_letters(self, obj: Any) -> int:
        return int(getattr(obj, "open_dead", 0))

    def save_model(self, request: HttpRequest, obj: Destination, form: Any, change: bool) -> None:
        actor = Actor.for_user(request.user)
        if change:
            services.update_destination(
                destination=obj,
                actor=actor,
                **{name: form.cleaned_data[name] for name in services.CONFIG_FIELDS if name in form.cleaned_data},
            )
            if "paused" in form.changed_data:
                services.set_paused(destination=obj, actor=actor, paused=form.cleaned_data["paused"])
        else:
            created = services.create_destination(
                dealer=obj.dealer,
                actor=actor,
                transport=obj.transport,
                url=obj.url,
                name=obj.name,
                event_types=obj.event_types,
                secret=obj.secret,
            )
            obj.pk = created.pk

    def get_urls(self) -> list[URLPattern]:
        return [
            path("overview/", self.admin_site.admin_view(self.overview_view), name="sync_destination_overview"),
            *super().get_urls(),
        ]

    def overview_view(self, request: HttpRequest) -> HttpResponse:
        """Sync status of the whole network: one row per destination, worst first."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        statuses = selectors.destination_statuses()
        statuses.sort(key=lambda s: (-s.dead_letters, -s.backlog, -(s.attempts or 0), s.dealer_number))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Sync overview"),
            "statuses": statuses,
            "opts": self.model._meta,
            "totals": {
                "destinations": len(statuses),
                "backlog": sum(s.backlog for s in statuses),
                "dead_letters": sum(s.dead_letters for s in statuses),
                "retrying": sum(1 for s in statuses if s.attempts),
                "paused": sum(1 for s in statuses if s.paused),
            },
        }
        return TemplateResponse(request, "sync/outbound/admin_overview.html", context)

    @admin.action(description=gettext_lazy("Pause delivery"), permissions=["change"])
    def pause(self, request: HttpRequest, queryset: QuerySet[Destination]) -> None:
        for destination in queryset:
            services.set_paused(destination=destination, actor=Actor.for_user(request.user), paused=True)
        self.message_user(request, _("%(n)d destinations paused.") % {"n": queryset.count()})

    @admin.action(description=gettext_lazy("Resume delivery"), permissions=["change"])
    def resume(self, request: HttpRequest, queryset: QuerySet[Destination]) -> None:
        for destination in queryset:
            services.set_paused(destination=destination, actor=Actor.for_user(request.user), paused=False)
        self.message_user(request, _("%(n)d destinations resumed.") % {"n": queryset.count()})

    @admin.action(description=gettext_lazy("Rotate signing secret"), permissions=["change"])
    def rotate_secret(self, request: HttpRequest, queryset: QuerySet[Destination]) -> HttpResponse:
        """Rotate, then show the new secrets in this one response (never in a message: those are stored)."""
        rotated = [
            services.rotate_secret(destination=destination, actor=Actor.for_user(request.user))
            for destination in queryset.select_related("dealer")
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": _("New signing secrets"),
            "rotated": rotated,
            "opts": self.model._meta,
        }
        response = TemplateResponse(request, "sync/outbound/admin_secrets_rotated.html", context)
        add_never_cache_headers(response)
        return response

    @admin.action(description=gettext_lazy("Replay from a point in time or event id"), permissions=["change"])
    def replay(self, request: HttpRequest, queryset: QuerySet[Destination]) -> HttpResponse | None:
        form = ReplayActionForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            done, failed = 0, []
            for destination in queryset:
                try:
                    services.replay(
                        destination=destination, actor=Actor.for_user(request.user), since=form.cleaned_data["since"]
                    )
                    done += 1
                except ValidationError as error:
                    failed.append(f"{destination.dealer.number}: {' '.join(error.messages)}")
            if done:
                self.message_user(request, _("Replay started for %(n)d destinations.") % {"n": done})
            for line in failed:
                self.message_user(request, line, level=messages.ERROR)
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": _("Replay"),
            "form": form,
            "queryset": queryset,
            "opts": self.model._meta,
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
        }
        return render(request, "sync/outbound/admin_replay.html", context)


@admin.register(DeadLetter)
class DeadLetterAdmin(ActorNamesAdmin, admin.ModelAdmin):
    actor_fields = ("resolved_by",)  # the person's name, not their sign-in (dealers.admin_base)
    # Dead letters pile up while a dealer system is down: no COUNT(*) over them (dealers.admin_base).
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    list_display = ("event_id", "type", "dealer", "destination", "attempts", "status", "created_at", "resolved_at")
    list_filter = ("status", "type")
    search_fields = ("event_id", "dealer__number")
    list_select_related = ("dealer", "destination")
    actions = ("retry", "discard")
    readonly_fields = (
        "dealer",
        "destination",
        "change",
        "event_id",
        "type",
        "attempts",
        "last_error",
        "status",
        "created_at",
        "resolved_at",
        "resolved_by",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description=gettext_lazy("Retry delivery"), permissions=["change"])
    def retry(self, request: HttpRequest, queryset: QuerySet[DeadLetter]) -> None:
        for letter in queryset:
            services.retry_dead_letter(letter=letter, actor=Actor.for_user(request.user))
        self.message_user(request, _("Retry requested."))

    @admin.action(description=gettext_lazy("Discard"), permissions=["change"])
    def discard(self, request: HttpRequest, queryset: QuerySet[DeadLetter]) -> None:
        for letter in queryset:
            services.discard_dead_letter(letter=letter, actor=Actor.for_user(request.user))
        self.message_user(request, _("Discarded."))
