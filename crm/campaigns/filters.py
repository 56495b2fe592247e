"""A campaign's target as a django-filter FilterSet over prospects (the same fields and checks as the list filters).

The lead criteria (stage, source, model) hold for one and the same lead of the prospect; postcode and last
activity are the prospect's own. An empty target selects every prospect the consent ledger allows.
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

import django_filters
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.models import Activity, Lead, Prospect


class CampaignTargetFilterSet(django_filters.FilterSet):
    stage = django_filters.MultipleChoiceFilter(choices=Lead.Stage.choices, label=_("lead stages"))
    source = django_filters.MultipleChoiceFilter(choices=Lead.Source.choices, label=_("lead sources"))
    model_name = django_filters.CharFilter(label=_("model of interest"))
    postcode = django_filters.CharFilter(label=_("postcode starts with"))
    last_activity_before = django_filters.DateFilter(label=_("last activity before"))

    class Meta:
        model = Prospect
        fields: list[str] = []

    def filter_queryset(self, queryset: QuerySet[Prospect]) -> QuerySet[Prospect]:
        data: dict[str, Any] = self.form.cleaned_data
        lead = Q()
        if data.get("stage"):
            lead &= Q(stage__in=data["stage"])
        if data.get("source"):
            lead &= Q(source__in=data["source"])
        if data.get("model_name"):
            lead &= Q(model_name__icontains=data["model_name"])
        if lead:
            queryset = queryset.filter(Exists(Lead.objects.filter(lead, prospect=OuterRef("pk"))))
        if data.get("postcode"):
            queryset = queryset.filter(postcode__startswith=data["postcode"].strip())
        if data.get("last_activity_before"):
            since = timezone.make_aware(datetime.combine(data["last_activity_before"], time.min))
            recent = Activity.objects.filter(prospect=OuterRef("pk"), occurred_at__gte=since)
            queryset = queryset.filter(~Exists(recent))
        return queryset
