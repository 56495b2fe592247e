"""Baselines for bench/suites/api_list.py: the same query as GET /api/v1/prospects/, without the API around it.

The server connects as the application role under row-level security (as production does), so the bare
view sets the dealership's database scope too (``dealers.rls.dealer_scope``): without it the policies
hide every row. That is the one thing it shares with the API besides the query.
"""

from __future__ import annotations

from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, JsonResponse

from crm.api.representations import PROSPECT
from crm.models import Prospect
from dealers import rls


def bare_prospect_list(request: HttpRequest) -> JsonResponse:
    """First page of a dealership's active prospects: no key, no scoping rule, no cursor, no serializer."""
    dealer_id = int(request.GET["dealer"])
    limit = int(request.GET.get("limit", "50"))
    with rls.dealer_scope(dealer_id):
        rows = list(
            Prospect.objects.filter(dealer_id=dealer_id, merged_into__isnull=True, erased_at__isnull=True)
            .order_by("updated_at", "id")
            .values(*PROSPECT.columns)[: limit + 1]
        )
    return JsonResponse({"items": rows[:limit]}, encoder=DjangoJSONEncoder)
