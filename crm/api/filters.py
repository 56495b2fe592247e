"""Filters of API-only lists (the other resources share crm/filters.py with the UI)."""

from __future__ import annotations

import django_filters
from django.utils.translation import gettext_lazy as _

from crm.filters import IsoDateTimeFilter
from crm.models import Consent


class ConsentFilterSet(django_filters.FilterSet):
    """The consent ledger: entries of one prospect, purpose or status, recorded since a time."""

    prospect = django_filters.UUIDFilter(field_name="prospect_id", label=_("prospect"))
    recorded_since = IsoDateTimeFilter(field_name="at", lookup_expr="gte", label=_("recorded since"))

    class Meta:
        model = Consent
        fields = ["purpose", "status"]
