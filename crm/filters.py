"""One FilterSet per resource, shared by the list pages and the API (same parameters, same rows)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import django_filters
from django import forms
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.db.models.functions import Trim, Upper
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from crm.models import Activity, Lead, Prospect, Task
from crm.selectors import search_prospects
from dealers.authentication import ApiClient
from dealers.models import User
from dealers.ordering import staff_order


class UtcIsoDateTimeField(django_filters.fields.IsoDateTimeField):
    """ISO 8601 with any offset Python accepts, turned into UTC: PostgreSQL refuses offsets beyond ±15:59."""

    def clean(self, value: Any) -> datetime | None:
        cleaned = super().clean(value)
        if cleaned is None:
            return None
        try:
            return cleaned.astimezone(UTC)
        except OverflowError:
            raise forms.ValidationError(_("Out of range."), code="out_of_range") from None


class IsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField


SEARCH_MAX_LENGTH = 100
SEARCH_MAX_WORDS = 8


class SearchField(forms.CharField):
    """What a person types into a search box: each word costs a condition, so both are bounded."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", SEARCH_MAX_LENGTH)
        super().__init__(*args, **kwargs)

    def validate(self, value: Any) -> None:
        super().validate(value)
        if value and len(value.split()) > SEARCH_MAX_WORDS:
            raise forms.ValidationError(
                _("Search for at most %(max)d words.") % {"max": SEARCH_MAX_WORDS}, code="too_many_words"
            )


class SearchFilter(django_filters.CharFilter):
    field_class = SearchField


def viewer_dealer_id(request: Any) -> int | None:
    """The dealership a list is read for: the signed-in staff member's, or the API key's (None: neither)."""
    dealer_id = getattr(getattr(request, "membership", None), "dealer_id", None)  # lazy; None for API keys
    if dealer_id is None:
        dealer_id = getattr(getattr(request, "user", None), "dealer_id", None)
    return int(dealer_id) if dealer_id is not None else None


def dealership_staff(dealer_id: int | None) -> QuerySet[User]:
    """The users a staff filter may name: the dealership's active staff, nobody without a dealership."""
    if dealer_id is None:
        return User.objects.none()
    return (
        User.objects.filter(memberships__dealer_id=dealer_id, memberships__is_active=True, is_active=True)
        .order_by(*staff_order())
        .distinct()
    )


UNKNOWN_STAFF_EMAIL = _("No active staff member of this dealership has this email address.")


class StaffField(forms.ModelChoiceField):
    """A staff member: by id from the list pages' select, by email address from a dealer system.

    The API shows people by their email address and takes them back the same way; anything that is
    not one of the dealership's active staff gets the same answer, whether the user exists or not.
    """

    def __init__(self, *args: Any, by_email: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.by_email = by_email

    def to_python(self, value: Any) -> Any:
        if not self.by_email:
            return super().to_python(value)
        if value in self.empty_values:
            return None
        email = str(value).strip()
        staff = self.queryset if self.queryset is not None else User.objects.none()
        # PostgreSQL refuses NUL in text, and no address is longer than the column: both name nobody.
        user = staff.filter(email__iexact=email).first() if "\x00" not in email and len(email) <= 254 else None
        if user is None:
            raise forms.ValidationError(UNKNOWN_STAFF_EMAIL, code="invalid_choice")
        return user


@extend_schema_field(OpenApiTypes.EMAIL)  # the API's form; the list pages send the id their select offers
class StaffFilter(django_filters.ModelChoiceFilter):
    field_class = StaffField


class UpdatedSinceFilterSet(django_filters.FilterSet):
    updated_since = IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte", label=_("changed since"))
    # Filters naming a user (owner, assignee). Their choices are the viewer's dealership staff, so any
    # other user (another dealership's staff, the superuser, no user at all) gets one and the same answer,
    # and no list reveals which users exist network-wide.
    staff_filters: tuple[str, ...] = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        staff = dealership_staff(viewer_dealer_id(self.request))
        by_email = isinstance(getattr(self.request, "user", None), ApiClient)
        for name in self.staff_filters:
            if name in self.filters:
                self.filters[name].queryset = staff
                self.filters[name].extra["by_email"] = by_email


class ProspectFilterSet(UpdatedSinceFilterSet):
    q = SearchFilter(method="search", label=_("Search"))
    postcode = django_filters.CharFilter(field_name="postcode", lookup_expr="startswith", label=_("postcode"))
    external_id = django_filters.CharFilter(field_name="external_id", label=_("dealer system id"))

    owner = StaffFilter()

    class Meta:
        model = Prospect
        fields = ["kind", "origin", "owner"]

    staff_filters = ("owner",)

    def search(self, queryset: QuerySet[Prospect], name: str, value: str) -> QuerySet[Prospect]:
        return search_prospects(queryset, value, dealer_id=viewer_dealer_id(self.request))


class LeadFilterSet(UpdatedSinceFilterSet):
    stage = django_filters.MultipleChoiceFilter(choices=Lead.Stage.choices, label=_("stage"))
    created_after = IsoDateTimeFilter(field_name="created_at", lookup_expr="gte", label=_("created after"))
    model_name = django_filters.CharFilter(field_name="model_name", lookup_expr="icontains", label=_("model"))
    campaign = django_filters.CharFilter(method="filter_campaign", label=_("campaign"), max_length=100)
    prospect = django_filters.UUIDFilter(field_name="prospect_id", label=_("prospect"))
    external_id = django_filters.CharFilter(field_name="external_id", label=_("dealer system id"))
    q = SearchFilter(method="search", label=_("Search"))
    open = django_filters.BooleanFilter(method="filter_open", label=_("open"))
    first_contact_overdue = django_filters.BooleanFilter(
        method="filter_first_contact_overdue", label=_("first contact overdue")
    )

    owner = StaffFilter()

    class Meta:
        model = Lead
        fields = ["lead_type", "source", "rating", "owner"]

    staff_filters = ("owner",)

    def search(self, queryset: QuerySet[Lead], name: str, value: str) -> QuerySet[Lead]:
        """Leads whose prospect matches the search (per lead, so the scoped lead query stays the driver)."""
        if not value.strip():
            return queryset
        matching = search_prospects(Prospect.objects.filter(pk=OuterRef("prospect_id")), value)
        return queryset.filter(Exists(matching))

    def filter_campaign(self, queryset: QuerySet[Lead], name: str, value: str) -> QuerySet[Lead]:
        """Leads carrying a campaign's code, as the campaign results count them (any case, blanks trimmed)."""
        code = value.strip().upper()
        return queryset.alias(code=Upper(Trim("campaign"))).filter(code=code) if code else queryset

    def filter_open(self, queryset: QuerySet[Lead], name: str, value: bool | None) -> QuerySet[Lead]:
        if value is None:
            return queryset
        closed = Q(stage__in=Lead.CLOSED_STAGES)
        return queryset.exclude(closed) if value else queryset.filter(closed)

    def filter_first_contact_overdue(self, queryset: QuerySet[Lead], name: str, value: bool | None) -> QuerySet[Lead]:
        if value is None:
            return queryset
        overdue = Q(first_contacted_at__isnull=True, first_contact_due_at__lt=timezone.now())
        return queryset.filter(overdue) if value else queryset.exclude(overdue)


class ActivityFilterSet(UpdatedSinceFilterSet):
    prospect = django_filters.UUIDFilter(field_name="prospect_id")
    lead = django_filters.UUIDFilter(field_name="lead_id")

    class Meta:
        model = Activity
        fields = ["kind", "outcome"]


class TaskFilterSet(UpdatedSinceFilterSet):
    done = django_filters.BooleanFilter(field_name="done_at", lookup_expr="isnull", exclude=True, label=_("done"))
    prospect = django_filters.UUIDFilter(field_name="prospect_id")
    lead = django_filters.UUIDFilter(field_name="lead_id")
    overdue = django_filters.BooleanFilter(method="filter_overdue", label=_("overdue"))

    assignee = StaffFilter()

    class Meta:
        model = Task
        fields = ["assignee"]

    staff_filters = ("assignee",)

    def filter_overdue(self, queryset: QuerySet[Task], name: str, value: bool | None) -> QuerySet[Task]:
        if value is None:
            return queryset
        overdue = Q(done_at__isnull=True, due_at__lt=timezone.now())
        return queryset.filter(overdue) if value else queryset.exclude(overdue)
