"""Every read of quotes goes through the viewer (``visible_to``): a salesperson sees the quotes of their leads."""

from __future__ import annotations

from django.db.models import QuerySet

from crm.models import Lead
from crm.quotes.models import Quote, QuoteVersion
from dealers.scoping import Viewer


def quotes_for(viewer: Viewer | None) -> QuerySet[Quote]:
    return Quote.objects.visible_to(viewer).select_related("lead__prospect", "dealer")


def quotes_of_lead(viewer: Viewer | None, lead: Lead) -> list[Quote]:
    return list(quotes_for(viewer).filter(lead=lead).order_by("-year", "-sequence"))


def versions_of(viewer: Viewer | None, quote: Quote) -> list[QuoteVersion]:
    """Every version of a quote the viewer may see, newest first."""
    return list(QuoteVersion.objects.visible_to(viewer).filter(quote=quote).order_by("-number"))
