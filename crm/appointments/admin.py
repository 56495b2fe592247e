"""The manufacturer's admin: the dealerships' demo cars (kept through the service) and appointments (read only)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from crm.appointments import services
from crm.appointments.models import Appointment, DemoCar
from crm.read_audit import AuditedChangeView
from dealers.actors import Actor
from dealers.admin_base import ActorNamesAdmin, EstimatedCountPaginator, ReadOnlyAdmin


@admin.register(DemoCar)
class DemoCarAdmin(admin.ModelAdmin):
    list_display = ("plate", "dealer", "vehicle_model", "mileage", "available_from", "available_until", "is_active")
    list_filter = ("is_active",)
    search_fields = ("plate", "vin", "dealer__number")
    list_select_related = ("dealer", "vehicle_model")
    fields = ("dealer", *services.DEMO_CAR_FIELDS)
    show_full_result_count = False
    paginator = EstimatedCountPaginator  # no COUNT(*) over the network's fleet

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ("dealer",) if obj is not None else ()

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a car with bookings stays; retire it with "active" off

    def save_model(self, request: HttpRequest, obj: DemoCar, form: Any, change: bool) -> None:
        data = {name: form.cleaned_data[name] for name in services.DEMO_CAR_FIELDS if name in form.cleaned_data}
        saved = services.save_demo_car(
            dealer=obj.dealer, actor=Actor.for_user(request.user), data=data, car=obj if change else None
        )
        obj.pk, obj.version = saved.pk, saved.version


@admin.register(Appointment)
class AppointmentAdmin(AuditedChangeView, ActorNamesAdmin, ReadOnlyAdmin):
    actor_fields = ("created_by_label", "licence_checked_by_label")
    list_display = ("starts_at", "dealer", "kind", "status", "salesperson", "car")
    list_filter = ("kind", "status")
    list_select_related = ("dealer", "salesperson", "car")
