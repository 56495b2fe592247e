"""Reads of the prospect and lead domain, always given the viewer (dealers.scoping)."""

from __future__ import annotations

from functools import cache

from django.contrib.postgres.search import TrigramWordSimilarity
from django.db import connection
from django.db.models import Q, QuerySet

from crm.models import Activity, Lead, LeadEvent, Prospect, Task
from crm.normalize import fold, normalize_email, normalize_phone
from dealers.scoping import Viewer

TRIGRAM_THRESHOLD = 0.45


def prospects_for(viewer: Viewer | None) -> QuerySet[Prospect]:
    return Prospect.objects.visible_to(viewer).active()


def leads_for(viewer: Viewer | None) -> QuerySet[Lead]:
    return Lead.objects.visible_to(viewer).select_related("prospect", "owner", "lost_reason")


def activities_for(viewer: Viewer | None) -> QuerySet[Activity]:
    return Activity.objects.visible_to(viewer)


def tasks_for(viewer: Viewer | None) -> QuerySet[Task]:
    return Task.objects.visible_to(viewer)


def lead_history(lead: Lead) -> QuerySet[LeadEvent]:
    return LeadEvent.objects.filter(lead=lead).select_related("actor").order_by("at", "id")


@cache
def has_trigram_search() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm')")
        return bool(cursor.fetchone()[0])


def search_prospects(queryset: QuerySet[Prospect], query: str) -> QuerySet[Prospect]:
    """Find prospects by name, company, email or phone, tolerating typos and umlaut spellings.

    Every word must match. With ``pg_trgm`` a word matches by word similarity (``Mülller``
    finds ``Müller``); without it, by substring of the folded text (``Mueller`` still finds
    ``Müller``, as both fold to ``mueller``). Phone numbers match by their E.164 digits.
    """
    query = query.strip()
    if not query:
        return queryset
    phone = normalize_phone(query) if sum(ch.isdigit() for ch in query) >= 6 else ""
    if phone:
        return queryset.filter(Q(phone=phone) | Q(mobile=phone) | Q(search_text__contains=phone.lstrip("+")))
    if "@" in query:
        return queryset.filter(email_normalized__startswith=normalize_email(query))
    words = fold(query).split()
    if not words:
        return queryset
    trigram = has_trigram_search()
    for index, word in enumerate(words):
        if trigram and len(word) >= 3:
            # Scoped to one dealership this scans few rows, so the function form (any threshold) is cheap.
            alias = f"_word_{index}"
            queryset = queryset.alias(**{alias: TrigramWordSimilarity(word, "search_text")}).filter(
                Q(**{f"{alias}__gte": TRIGRAM_THRESHOLD}) | Q(search_text__contains=word)
            )
        else:
            queryset = queryset.filter(search_text__contains=word)
    return queryset
