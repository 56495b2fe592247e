"""The cluster page for manufacturer staff: nodes with role, release, last seen and drain state; operator alerts.

Drain and undrain are requests the node applies at its next heartbeat (ha.nodes); both need the
change permission on cluster nodes and are audited.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Exists, OuterRef, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from dealers.actors import Actor
from dealers.admin_base import ReadOnlyAdmin
from ha import nodes
from ha.models import Alert, ClusterNode, SchedulerLease


@admin.register(ClusterNode)
class ClusterNodeAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "role",
        "release",
        "state",
        "requested_state",
        "last_seen_at",
        "seen",
        "holds_lease",
        "process_list",
    )
    actions = ("drain", "undrain")
    change_list_template = "ha/admin_cluster_changelist.html"
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[ClusterNode]:
        holder = SchedulerLease.objects.filter(pk=1, holder=OuterRef("name"))
        return super().get_queryset(request).annotate(lease_held=Exists(holder))

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [field.name for field in ClusterNode._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # nodes register themselves by their heartbeat

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The change permission runs the drain actions; a node's row itself is written only by its heartbeat.
        return obj is None and super().has_change_permission(request)

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        context = {
            "lease": SchedulerLease.objects.filter(pk=1).first(),
            "missing_after": int(nodes.missing_after().total_seconds()),
            **(extra_context or {}),
        }
        return super().changelist_view(request, extra_context=context)

    @admin.display(description=gettext_lazy("seen"))
    def seen(self, obj: ClusterNode) -> str:
        return _("missing") if timezone.now() - obj.last_seen_at > nodes.missing_after() else _("present")

    @admin.display(description=gettext_lazy("scheduler lease"), boolean=True)
    def holds_lease(self, obj: ClusterNode) -> bool:
        return bool(getattr(obj, "lease_held", False))

    @admin.display(description=gettext_lazy("processes"))
    def process_list(self, obj: ClusterNode) -> str:
        return ", ".join(sorted(obj.processes or {}))

    @admin.action(description=gettext_lazy("Drain the selected nodes"), permissions=["change"])
    def drain(self, request: HttpRequest, queryset: QuerySet[ClusterNode]) -> None:
        self._request(request, queryset, draining=True)

    @admin.action(description=gettext_lazy("Undrain the selected nodes"), permissions=["change"])
    def undrain(self, request: HttpRequest, queryset: QuerySet[ClusterNode]) -> None:
        self._request(request, queryset, draining=False)

    def _request(self, request: HttpRequest, queryset: QuerySet[ClusterNode], *, draining: bool) -> None:
        for node in queryset:
            nodes.request_state(node=node, actor=Actor.for_user(request.user), draining=draining)
        message = (
            _("%(n)d nodes will drain at their next heartbeat.")
            if draining
            else _("%(n)d nodes will undrain at their next heartbeat.")
        )
        self.message_user(request, message % {"n": queryset.count()})


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin):
    list_display = ("raised_at", "kind", "subject", "summary", "resolved_at", "sent_on")
    list_filter = ("kind",)
    search_fields = ("subject", "summary")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Alert]:
        return super().get_queryset(request).prefetch_related("deliveries")

    @admin.display(description=gettext_lazy("sent on"))
    def sent_on(self, obj: Alert) -> str:
        return ", ".join(sorted(d.channel for d in obj.deliveries.all() if d.sent_at))
