"""The manufacturer's admin site for the dealer network."""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from dealers.models import AuditEvent, Dealer, DealerGroup, Membership, OpeningHours, Region, Territory, User

admin.site.site_header = _("Dealer CRM: manufacturer administration")
admin.site.site_title = _("Dealer CRM admin")


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ("user",)
    fields = ("user", "role", "is_active", "is_available", "lead_capacity")


class OpeningHoursInline(admin.TabularInline):
    model = OpeningHours
    extra = 0


class TerritoryInline(admin.TabularInline):
    model = Territory
    extra = 0


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ("email",)
    list_display = ("email", "first_name", "last_name", "is_staff", "is_active", "last_login")
    list_filter = ("is_staff", "is_superuser", "is_active", "groups")
    search_fields = ("email", "first_name", "last_name")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (_("Person"), {"fields": ("first_name", "last_name", "language")}),
        (_("Permissions"), {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        (_("Dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)
    inlines = (MembershipInline,)


@admin.register(DealerGroup)
class DealerGroupAdmin(admin.ModelAdmin):
    list_display = ("name", "dealer_count")
    search_fields = ("name",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[DealerGroup]:
        return super().get_queryset(request).annotate(dealer_count=Count("dealers"))

    @admin.display(description=_("dealerships"), ordering="dealer_count")
    def dealer_count(self, obj: Any) -> int:
        return int(obj.dealer_count)


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "manager")
    search_fields = ("code", "name")
    autocomplete_fields = ("manager",)


@admin.register(Dealer)
class DealerAdmin(admin.ModelAdmin):
    list_display = ("number", "name", "city", "postcode", "region", "group", "is_active", "staff_count")
    list_filter = ("is_active", "region", "group")
    search_fields = ("number", "name", "city", "postcode")
    list_select_related = ("region", "group")
    autocomplete_fields = ("group",)
    inlines = (OpeningHoursInline, TerritoryInline, MembershipInline)
    fieldsets = (
        (None, {"fields": ("number", "name", "group", "region", "is_active")}),
        (
            _("Address and contact"),
            {"fields": ("street", "postcode", "city", "phone", "email", "latitude", "longitude")},
        ),
        (_("Lead handling"), {"fields": ("first_contact_minutes", "salespeople_see_unassigned")}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Dealer]:
        return super().get_queryset(request).annotate(staff_count=Count("memberships"))

    @admin.display(description=_("staff"), ordering="staff_count")
    def staff_count(self, obj: Any) -> int:
        return int(obj.staff_count)


@admin.register(Territory)
class TerritoryAdmin(admin.ModelAdmin):
    list_display = ("postcode_prefix", "dealer")
    search_fields = ("postcode_prefix", "dealer__number", "dealer__name")
    list_select_related = ("dealer",)
    autocomplete_fields = ("dealer",)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "dealer", "role", "is_active", "is_available", "lead_capacity")
    list_filter = ("role", "is_active", "is_available", "dealer__region")
    search_fields = ("user__email", "user__last_name", "dealer__number", "dealer__name")
    list_select_related = ("user", "dealer")
    autocomplete_fields = ("user", "dealer")


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("at", "actor_label", "action", "dealer", "object_type", "object_id")
    list_filter = ("action",)
    search_fields = ("actor_label", "object_id", "dealer__number")
    list_select_related = ("dealer",)
    date_hierarchy = "at"
    readonly_fields: ClassVar = [f.name for f in AuditEvent._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
