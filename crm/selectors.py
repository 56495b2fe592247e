"""Reads of the prospect and lead domain, always given the viewer (dealers.scoping)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from django.contrib.postgres.search import TrigramWordSimilarity
from django.db import connection
from django.db.models import Count, F, Lookup, OuterRef, Q, QuerySet, Subquery, Window
from django.db.models.functions import Coalesce, RowNumber
from django.utils.translation import gettext as _

from crm import reports
from crm.dedupe import find_matches
from crm.models import Activity, Consent, Lead, LeadEvent, Prospect, Task
from crm.normalize import fold, normalize_email, normalize_phone
from crm.pg_settings import setting_for_block
from crm.routing_decisions import routing_summary
from dealers.actors import api_key_names, describe_actor
from dealers.models import AuditEvent, Membership, User
from dealers.scoping import Viewer, in_dealership
from dealers.selectors import dealer_country


def prospects_for(viewer: Viewer | None) -> QuerySet[Prospect]:
    return Prospect.objects.visible_to(viewer).active()


def leads_for(viewer: Viewer | None) -> QuerySet[Lead]:
    return Lead.objects.visible_to(viewer).select_related("prospect", "owner", "lost_reason")


def activities_for(viewer: Viewer | None) -> QuerySet[Activity]:
    return Activity.objects.visible_to(viewer)


def tasks_for(viewer: Viewer | None) -> QuerySet[Task]:
    return Task.objects.visible_to(viewer)


def lead_history(lead: Lead) -> QuerySet[LeadEvent]:
    return LeadEvent.objects.for_dealer(lead.dealer_id).filter(lead=lead).select_related("actor").order_by("at", "id")


@dataclass
class TimelineEntry:
    at: datetime
    kind: str
    title: str
    detail: str
    by: str
    css: str


LEAD_FIELD_NAMES = {field.name for field in Lead._meta.fields}


def lead_timeline(viewer: Viewer, lead: Lead) -> list[TimelineEntry]:
    """The lead's history and the activities ``viewer`` may see on it, newest first, in words for people."""
    activity_rows = activities_for(viewer).filter(lead=lead).select_related("author").order_by("-occurred_at", "-id")
    entries = [_event_entry(event, lead, names) for event, names in _events_with_names(lead)]
    for activity in activity_rows:
        title = activity.get_kind_display()
        if activity.direction:
            title += f" ({activity.get_direction_display()})"
        if activity.outcome:
            title += f": {activity.get_outcome_display()}"
        text = " \u2013 ".join(p for p in (activity.subject, activity.body) if p)
        by = (activity.author.get_full_name() if activity.author else "") or activity.author_label
        entries.append(
            TimelineEntry(at=activity.occurred_at, kind=activity.kind, title=title, detail=text, by=by, css="activity")
        )
    entries.sort(key=lambda e: e.at, reverse=True)
    return _in_words(entries)


def _in_words(entries: list[TimelineEntry]) -> list[TimelineEntry]:
    """Technical actor labels (``system:routing``, ``api:<key prefix>``) as people read them: one query for keys."""
    keys = api_key_names(entry.by for entry in entries)
    for entry in entries:
        entry.by = describe_actor(entry.by, api_keys=keys)
    return entries


def _events_with_names(lead: Lead) -> list[tuple[LeadEvent, dict[Any, str]]]:
    """The lead's events, with the names of the people its assignments and escalations mention (one query)."""
    events = list(lead_history(lead))
    user_ids = {
        value for e in events if e.kind == LeadEvent.Kind.ASSIGNED for value in (e.data.get("from"), e.data.get("to"))
    } | {e.data.get("notified") for e in events if e.kind == LeadEvent.Kind.ESCALATED}
    names = {u.pk: (u.get_full_name() or u.email) for u in User.objects.filter(pk__in=[i for i in user_ids if i])}
    return [(event, names) for event in events]


def _event_entry(event: LeadEvent, lead: Lead, names: dict[Any, str]) -> TimelineEntry:
    stages = dict(Lead.Stage.choices)
    detail = ""
    if event.kind in (LeadEvent.Kind.STAGE_CHANGED, LeadEvent.Kind.CLOSED, LeadEvent.Kind.REOPENED):
        detail = f"{stages.get(event.from_stage, event.from_stage)} \u2192 {stages.get(event.to_stage, event.to_stage)}"
        if event.kind == LeadEvent.Kind.CLOSED and lead.lost_reason and event.data.get("lost_reason"):
            detail += f" \u00b7 {lead.lost_reason}" if event.data["lost_reason"] == lead.lost_reason.code else ""
        if event.data.get("note"):
            detail += f" \u00b7 {event.data['note']}"
    elif event.kind == LeadEvent.Kind.ASSIGNED:
        to = names.get(event.data.get("to"), _("nobody"))
        detail = _("to %(name)s") % {"name": to}
        if event.data.get("reason"):
            detail += f" ({event.data['reason']})"
    elif event.kind == LeadEvent.Kind.UPDATED:
        detail = ", ".join(
            str(getattr(Lead._meta.get_field(f), "verbose_name", f)) if f in LEAD_FIELD_NAMES else f
            for f in event.data.get("changed", [])
        )
    elif event.kind == LeadEvent.Kind.ESCALATED:
        level = event.data.get("level", "?")
        to = {1: _("sales manager"), 2: _("regional manager")}.get(level, "")
        detail = _("level %(level)s") % {"level": level}
        if to:
            notified = names.get(event.data.get("notified"))
            detail += f" \u2013 {to}" + (f" ({notified})" if notified else "")
    elif event.kind == LeadEvent.Kind.ROUTED:
        detail = "\n".join(routing_summary(event.data))  # in the reader's language
    elif event.kind == LeadEvent.Kind.CREATED:
        detail = str(dict(Lead.Source.choices).get(event.data.get("source"), ""))
    return TimelineEntry(
        at=event.at,
        kind=event.kind,
        title=event.get_kind_display(),
        detail=detail,
        by=(event.actor.get_full_name() if event.actor else "") or event.actor_label,
        css="event",
    )


@dataclass
class LeadOverview:
    """What the lead page shows around the lead: all of it scoped to the viewer like the prospect."""

    prospect_visible: bool
    timeline: list[TimelineEntry]
    tasks: list[Task]
    other_leads: list[Lead]


def lead_overview(viewer: Viewer, lead: Lead) -> LeadOverview:
    return LeadOverview(
        prospect_visible=prospects_for(viewer).filter(pk=lead.prospect_id).exists(),
        timeline=lead_timeline(viewer, lead),
        tasks=list(tasks_for(viewer).filter(lead=lead).select_related("assignee").order_by("done_at", "due_at", "id")),
        other_leads=list(
            leads_for(viewer).filter(prospect_id=lead.prospect_id).exclude(pk=lead.pk).order_by("-created_at")[:10]
        ),
    )


@dataclass
class ProspectOverview:
    leads: list[Lead]
    activities: list[Activity]
    tasks: list[Task]
    consents: list[Consent]
    matches: list[Prospect]
    merges: list[TimelineEntry]

    @property
    def timeline(self) -> list[Activity | TimelineEntry]:
        """Activities and merges, newest first (a merge entry's ``css`` is ``merged``)."""
        items: list[Activity | TimelineEntry] = [*self.activities, *self.merges]
        return sorted(items, key=lambda i: i.occurred_at if isinstance(i, Activity) else i.at, reverse=True)


def merge_survivor(viewer: Viewer, pk: Any) -> Prospect | None:
    """The prospect a merged one (``pk``) lives on in, if ``viewer`` may see it: its old address leads there."""
    merged = Prospect.objects.visible_to(viewer).filter(pk=pk, merged_into__isnull=False)
    target = merged.values_list("merged_into_id", flat=True).first()
    for _hop in range(10):  # merged again later: follow the chain, a few hops at most
        if target is None:
            return None
        survivor = prospects_for(viewer).filter(pk=target).first()
        if survivor is not None:
            return survivor
        later = Prospect.objects.for_dealer(viewer.dealer_id).filter(pk=target, merged_into__isnull=False)
        target = later.values_list("merged_into_id", flat=True).first()
    return None


def prospect_merges(viewer: Viewer, prospect: Prospect) -> list[TimelineEntry]:
    """The prospects merged into ``prospect``, for its timeline: when, whom (the tombstone's name) and by whom."""
    audits = list(
        AuditEvent.objects.visible_to(viewer)
        .filter(action="prospect.merged", object_type="crm.prospect", object_id=str(prospect.pk))
        .select_related("actor")
    )
    ids = [a.data.get("duplicate") for a in audits if a.data.get("duplicate")]
    names = {str(p.pk): p.display_name for p in Prospect.objects.for_dealer(prospect.dealer_id).filter(pk__in=ids)}
    return _in_words(
        [
            TimelineEntry(
                at=audit.at,
                kind="merged",
                title=_("Merged"),
                detail=_("%(name)s was merged into this prospect.")
                % {"name": names.get(audit.data.get("duplicate"), "?")},
                by=(audit.actor.get_full_name() if audit.actor else "") or audit.actor_label,
                css="merged",
            )
            for audit in audits
        ]
    )


def prospect_overview(viewer: Membership, prospect: Prospect) -> ProspectOverview:
    """The prospect page: its leads, timeline, tasks and consents as ``viewer`` may see them.

    Managers also get the likely duplicates, since only they may merge.
    """
    matches: list[Prospect] = []
    if viewer.is_manager:
        matches = list(
            find_matches(
                dealer_id=viewer.dealer_id,
                email=prospect.email,
                phone=prospect.phone or prospect.mobile,
                last_name=prospect.last_name,
                postcode=prospect.postcode,
                queryset=prospects_for(viewer),
            ).exclude(pk=prospect.pk)[:5]
        )
    activities = list(
        activities_for(viewer)
        .filter(prospect=prospect)
        .select_related("author", "lead")
        .order_by("-occurred_at", "-id")[:100]
    )
    keys = api_key_names(a.author_label for a in activities)
    for activity in activities:  # who, in words: a person's name, "Automatic routing", "API key DMS (...)"
        by = (activity.author.get_full_name() if activity.author else "") or describe_actor(
            activity.author_label, api_keys=keys
        )
        setattr(activity, "by", by)  # noqa: B010
    return ProspectOverview(
        leads=list(leads_for(viewer).filter(prospect=prospect).order_by("-created_at", "-id")[:50]),
        activities=activities,
        tasks=list(
            tasks_for(viewer)
            .filter(prospect=prospect)
            .select_related("assignee")
            .order_by("done_at", "due_at", "id")[:50]
        ),
        consents=sorted(current_consents(viewer, prospect).values(), key=lambda c: c.purpose),
        matches=matches,
        merges=prospect_merges(viewer, prospect),
    )


def current_consents(viewer: Viewer, prospect: Prospect) -> dict[str, Consent]:
    """The latest ledger entry per purpose: what holds now."""
    latest: dict[str, Consent] = {}
    for consent in Consent.objects.visible_to(viewer).filter(prospect=prospect).order_by("purpose", "-at"):
        latest.setdefault(consent.purpose, consent)
    return latest


def with_open_leads(prospects: QuerySet[Prospect]) -> QuerySet[Prospect]:
    """Each prospect's number of open leads, as one correlated subquery (no N+1, no GROUP BY over the page)."""
    open_leads = (
        Lead.objects.filter(prospect_id=OuterRef("pk"))
        .exclude(stage__in=Lead.CLOSED_STAGES)
        .order_by()
        .values("prospect_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    return prospects.annotate(open_leads=Coalesce(Subquery(open_leads), 0))


def merge_counts(viewer: Viewer, prospect_ids: list[Any]) -> dict[Any, dict[str, int]]:
    """Leads, activities and tasks per prospect: all of the dealership's, since a merge moves every one."""
    result: dict[Any, dict[str, int]] = {pk: {"leads": 0, "activities": 0, "tasks": 0} for pk in prospect_ids}
    querysets = (
        (Lead.objects.for_dealer(viewer.dealer_id), "leads"),
        (Activity.objects.for_dealer(viewer.dealer_id), "activities"),
        (Task.objects.for_dealer(viewer.dealer_id), "tasks"),
    )
    for queryset, key in querysets:
        for row in (
            queryset.filter(prospect_id__in=prospect_ids).order_by().values("prospect_id").annotate(n=Count("id"))
        ):
            result[row["prospect_id"]][key] = row["n"]
    return result


@dataclass
class BoardColumn:
    stage: str
    label: str
    count: int
    leads: list[Lead]


def board_columns(leads: QuerySet[Lead], *, per_stage: int) -> list[BoardColumn]:
    """Open leads of ``leads`` (already scoped to the viewer) by stage, newest first, at most ``per_stage`` each.

    One query for the cards (a window per stage), one for the counts, whatever the number of leads.
    """
    counts = dict(leads.order_by().values_list("stage").annotate(n=Count("id")))
    ranked = leads.annotate(
        rank=Window(RowNumber(), partition_by=[F("stage")], order_by=[F("created_at").desc(), F("id").desc()])
    ).filter(rank__lte=per_stage)
    by_stage: dict[str, list[Lead]] = {stage: [] for stage in Lead.OPEN_STAGES}
    for lead in ranked.order_by("stage", "rank"):
        by_stage[lead.stage].append(lead)
    labels = dict(Lead.Stage.choices)
    return [
        BoardColumn(stage=stage, label=str(labels[stage]), count=counts.get(stage, 0), leads=by_stage[stage])
        for stage in Lead.OPEN_STAGES
    ]


DASHBOARD_LIST_SIZE = 12


@dataclass
class Dashboard:
    waiting_leads: list[Lead]
    overdue_tasks: list[Task]
    upcoming_tasks: list[Task]
    pipeline: list[reports.Bar]
    month: dict[str, int]
    month_start: datetime
    escalated_leads: list[Lead]
    list_size: int = DASHBOARD_LIST_SIZE


def dashboard(viewer: Membership, now: datetime) -> Dashboard:
    """What needs doing now: new leads waiting for a first contact (and those escalated for it), the viewer's
    due tasks, the month so far.

    A salesperson's task lists hold only the tasks assigned to them (not the unassigned ones they may see).
    """
    leads = leads_for(viewer)
    waiting = leads.filter(stage=Lead.Stage.NEW, first_contacted_at__isnull=True).order_by(
        F("first_contact_due_at").asc(nulls_last=True), "created_at", "id"
    )
    tasks = tasks_for(viewer).filter(done_at__isnull=True).select_related("prospect", "lead", "assignee")
    if viewer.is_salesperson:
        tasks = tasks.filter(assignee_id=viewer.user_id)
    size = DASHBOARD_LIST_SIZE
    return Dashboard(
        waiting_leads=list(waiting[:size]),
        overdue_tasks=list(tasks.filter(due_at__lt=now).order_by("due_at", "id")[:size]),
        upcoming_tasks=list(
            tasks.filter(due_at__gte=now, due_at__lt=now + timedelta(days=2)).order_by("due_at", "id")[:size]
        ),
        pipeline=reports.pipeline_by_stage(viewer),
        month=reports.closed_since(leads, reports.month_start(now)),
        month_start=reports.month_start(now),
        escalated_leads=list(escalated_leads(viewer, leads)[:size]),
    )


def escalated_leads(viewer: Viewer, leads: QuerySet[Lead]) -> QuerySet[Lead]:
    """Open leads of ``leads`` (scoped to ``viewer``) escalated for a missed first contact and still not contacted.

    Each carries ``escalation_level`` (its latest ``escalated`` event: 1 sales manager, 2 regional
    manager) and ``escalated_at``; highest level and longest overdue first.

    The leads are found from the dealership's escalation events (index ``leadevent_escalated``), so the
    latest event is looked up for escalated leads only, not for every lead still waiting for a first contact.
    Every escalation event carries its level (``crm.services.leads.record_escalation``), so a lead found
    there always has one.
    """
    escalated = LeadEvent.objects.for_dealer(viewer.dealer_id).filter(kind=LeadEvent.Kind.ESCALATED)
    latest = LeadEvent.objects.filter(lead=OuterRef("pk"), kind=LeadEvent.Kind.ESCALATED).order_by("-at", "-id")
    return (
        leads.filter(stage__in=Lead.OPEN_STAGES, first_contacted_at__isnull=True, pk__in=escalated.values("lead_id"))
        .annotate(
            escalation_level=Subquery(latest.values("data__level")[:1]),
            escalated_at=Subquery(latest.values("at")[:1]),
        )
        .order_by(F("escalation_level").desc(), F("first_contact_due_at").asc(nulls_last=True), "id")
    )


@cache
def has_trigram_search() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm')")
        return bool(cursor.fetchone()[0])


class PatternAtLeast(Lookup):
    """``lhs ~>=~ rhs``: byte-wise comparison, served by a ``varchar_pattern_ops`` index.

    Unlike ``LIKE`` its function is leakproof, so PostgreSQL may use it as an index condition under
    row-level security (a ``LIKE`` must wait behind the policy and filters every visible row).
    """

    lookup_name = "pattern_gte"
    operator = "~>=~"

    def as_sql(self, compiler: Any, connection: Any) -> Any:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} {self.operator} {rhs}", (*lhs_params, *rhs_params)


class PatternBelow(PatternAtLeast):
    """``lhs ~<~ rhs``: the upper end of a prefix range (see :class:`PatternAtLeast`)."""

    lookup_name = "pattern_lt"
    operator = "~<~"


def _prefix_range(field: str, prefix: str) -> Q:
    """Values of ``field`` that start with ``prefix``, as an index range (``LIKE 'x%'`` rechecks it).

    The range's upper end is ``prefix`` with its last character incremented (byte order of UTF-8
    follows code points): ``ab`` to ``ac``.
    """
    condition = Q(**{f"{field}__startswith": prefix})
    if not prefix or ord(prefix[-1]) >= 0x10FFFF:
        return condition
    upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    if 0xD800 <= ord(upper[-1]) <= 0xDFFF:  # surrogates cannot be encoded: jump past them
        upper = prefix[:-1] + chr(0xE000)
    return condition & Q(PatternAtLeast(F(field), prefix)) & Q(PatternBelow(F(field), upper))


def _phone_number(query: str, dealer_id: int | None) -> str:
    """The phone number ``query`` is (E.164), or "" when it is not one (6 digits at least)."""
    if sum(ch.isdigit() for ch in query) < 6:
        return ""
    # A national number is read in the dealership's country (Dealer.country): 0664 ... is +43 664 ... in Austria.
    return normalize_phone(query, dealer_country(dealer_id) if dealer_id else None)


def search_prospects(queryset: QuerySet[Prospect], query: str, *, dealer_id: int | None = None) -> QuerySet[Prospect]:
    """Find prospects by name, company, email or phone, tolerating typos and umlaut spellings.

    Every word must match. With ``pg_trgm`` a word matches by word similarity (``Mülller``
    finds ``Müller``) or as a substring; without it, by substring of the folded text (``Mueller``
    still finds ``Müller``, as both fold to ``mueller``). A phone number matches the phone or mobile
    numbers (E.164) that start with it, an e-mail address the addresses that start with it.

    ``dealer_id`` (the dealership ``queryset`` is scoped to, if one) lets the trigram index look only at
    that dealership's entries.

    Each condition is one an index serves within the dealership (docs/search.md): ``search_text %>
    word`` (word similarity at least the connection's ``pg_trgm.word_similarity_threshold``, set to
    ``SEARCH_WORD_SIMILARITY`` by crm.settings) and ``LIKE '%word%'`` by the trigram GIN index on
    ``(dealer_id, search_text)``, the e-mail prefix by ``(dealer_id, email_normalized
    varchar_pattern_ops)``, a phone number's by the same on ``phone`` and ``mobile``.
    """
    query = query.strip()
    if not query:
        return queryset
    phone = _phone_number(query, dealer_id)
    if phone:  # the number, or numbers that start with it (typed so far)
        return queryset.filter(_prefix_range("phone", phone) | _prefix_range("mobile", phone))
    if "@" in query:
        return queryset.filter(_prefix_range("email_normalized", normalize_email(query)))
    words = fold(query).split()
    if not words:
        return queryset
    trigram = has_trigram_search()
    if trigram and dealer_id is not None:
        # As bigint, the column's type: psycopg writes a small int as an int4 literal, which the btree
        # indexes match across types but btree_gin's opclass does not, so the GIN index scan took the
        # word's entries of every dealership and filtered them afterwards.
        queryset = queryset.filter(in_dealership(dealer_id))
    for word in words:
        if trigram and len(word) >= 3:
            # The substring test first: cheap, and it spares the similarity for the rows it already accepts.
            queryset = queryset.filter(Q(search_text__contains=word) | Q(search_text__trigram_word_similar=word))
        else:
            queryset = queryset.filter(search_text__contains=word)
    return queryset


# The closest tier of best_matches: one typo in a name of 7 or more letters (a letter doubled, dropped
# or changed) keeps at least this word similarity to the name ("schhmidt" to "schmidt": 0.78).
CLOSE_WORD_SIMILARITY = 0.7


def best_matches(
    queryset: QuerySet[Prospect], query: str, *, dealer_id: int | None = None, limit: int = 20
) -> list[Prospect]:
    """The ``limit`` prospects of ``queryset`` that match ``query`` best: most similar first, then by name.

    With ``pg_trgm`` the rank is the sum of each word's word similarity; without it every match
    ranks the same (substring search), so the order is by name.

    A one-word search first asks the trigram index for the close matches only (word similarity at
    least ``CLOSE_WORD_SIMILARITY``). When those are ``limit`` or more, they are the answer: every other
    match is less similar, so ranks below them. A common name's close matches are its own rows; all of
    its matches at the search's threshold take in every similar name too (at 10M prospects: 166 ms,
    issue 15).
    """
    words = [word for word in fold(query).split() if len(word) >= 3]
    if not words or not has_trigram_search() or "@" in query:
        found = search_prospects(queryset, query, dealer_id=dealer_id)
        return list(found.order_by(*Prospect.NAME_ORDER)[:limit])
    rank: Any = TrigramWordSimilarity(words[0], "search_text")
    for word in words[1:]:
        rank = rank + TrigramWordSimilarity(word, "search_text")
    order = (F("rank").desc(), *Prospect.NAME_ORDER)
    if len(words) == 1 and len(fold(query).split()) == 1 and not _phone_number(query.strip(), dealer_id):
        close = _closely_similar(queryset, words[0], dealer_id).alias(rank=rank).order_by(*order)[:limit]
        with setting_for_block("pg_trgm.word_similarity_threshold", str(CLOSE_WORD_SIMILARITY)):
            closest: list[Prospect] = list(close)
        if len(closest) == limit:
            return closest
    found = search_prospects(queryset, query, dealer_id=dealer_id)
    return list(found.alias(rank=rank).order_by(*order)[:limit])


def _closely_similar(queryset: QuerySet[Prospect], word: str, dealer_id: int | None) -> QuerySet[Prospect]:
    if dealer_id is not None:  # as bigint, for the trigram index (search_prospects says why)
        queryset = queryset.filter(in_dealership(dealer_id))
    return queryset.filter(search_text__trigram_word_similar=word)


# The contact detail each marketing purpose uses; a person without it cannot be reached that way.
MARKETING_CONTACT = {
    Consent.Purpose.MARKETING_EMAIL: ("email",),
    Consent.Purpose.MARKETING_PHONE: ("phone", "mobile"),
    Consent.Purpose.MARKETING_SMS: ("mobile",),
    Consent.Purpose.MARKETING_POST: ("street",),
}


def marketing_audience(viewer: Viewer | None, purpose: str) -> QuerySet[Prospect]:
    """The viewer's prospects whose consent ledger says yes to ``purpose`` now: a campaign's selection.

    The latest ledger entry for the purpose decides, so a withdrawal excludes the person at once.
    E-mail marketing also needs the double opt-in (German UWG section 7); each person must have the
    contact detail the purpose uses. Erased and merged prospects are never selected.
    """
    return consenting(prospects_for(viewer), purpose)


def consenting(prospects: QuerySet[Prospect], purpose: str) -> QuerySet[Prospect]:
    """``prospects`` (already scoped) that ``marketing_audience`` would select for ``purpose``."""
    contact = MARKETING_CONTACT[Consent.Purpose(purpose)]
    latest = Consent.objects.filter(prospect=OuterRef("pk"), purpose=purpose).order_by("-at", "-id")
    reachable = Q()
    for field in contact:
        reachable |= ~Q(**{field: ""})
    audience = (
        prospects.filter(merged_into__isnull=True, erased_at__isnull=True)
        .filter(reachable)
        .annotate(
            consent_status=Subquery(latest.values("status")[:1]),
            consent_at=Subquery(latest.values("at")[:1]),
            consent_double_opt_in_at=Subquery(latest.values("double_opt_in_at")[:1]),
            consent_text_version=Subquery(latest.values("text_version")[:1]),
        )
        .filter(consent_status=Consent.Status.GRANTED)
    )
    if purpose == Consent.Purpose.MARKETING_EMAIL:
        audience = audience.filter(consent_double_opt_in_at__isnull=False)
    return audience
