"""Retention, enforced: the data protection officer's rules (``RetentionRule``) applied by a periodic job.

Each kind of data has a selection (what the rule's period has expired for) and an action. The dry run
and the real run share the selection, so the dry run's report names exactly the ids the next run takes
(as long as nothing changes in between). Every run, dry or not, writes a ``RetentionRun`` report with
counts and ids per rule, never personal values.

A prospect with an open lead is never touched: the selections exclude it, and each row is selected
again under lock just before it is changed. Other apps contribute kinds (intake documents, file
imports) in a ``retention`` module with :func:`retention_kind`; they are found like admin modules.
"""

from __future__ import annotations

import calendar
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.module_loading import autodiscover_modules

from crm.models import Activity, Consent, ErasureTombstone, Lead, Prospect, RetentionRule, RetentionRun, Task
from crm.services._common import bump_and_record
from crm.services.erasure import erase_prospect
from dealers import rls
from dealers.actors import Actor

logger = logging.getLogger(__name__)

# One run changes at most this many rows per rule; the next run continues (a task has minutes, not hours).
BATCH_LIMIT = 2000
# A won lead must keep a close note (constraint won_lead_has_note); this one says why it is empty.
ANONYMISED_NOTE = "-"

Action = RetentionRule.Action


Apply = Callable[[Any, datetime, str, Actor], bool]


@dataclass(frozen=True)
class RetentionKind:
    """One kind of data a rule can name: what has expired by ``cutoff``, and how one row is dealt with.

    ``select(cutoff, action)`` returns the expired rows the action still has work on (a queryset);
    ``apply(pk, cutoff, action, actor)`` changes one row if it is still expired and returns whether it did.
    """

    code: str
    actions: frozenset[str]
    select: Callable[[datetime, str], QuerySet[Any]]
    apply: Apply


_KINDS: dict[str, RetentionKind] = {}


def retention_kind(
    code: str, *, actions: Iterable[str], select: Callable[[datetime, str], QuerySet[Any]]
) -> Callable[[Apply], Apply]:
    """Register the decorated function as the ``apply`` of kind ``code`` (see :class:`RetentionKind`)."""

    def register(apply: Apply) -> Apply:
        _KINDS[code] = RetentionKind(code=code, actions=frozenset(actions), select=select, apply=apply)
        return apply

    return register


def kinds() -> dict[str, RetentionKind]:
    """Every registered kind, the other apps' ``retention`` modules imported first."""
    autodiscover_modules("retention")
    return dict(_KINDS)


def cutoff(rule: RetentionRule, now: datetime) -> datetime:
    """The moment before which data of ``rule``'s kind has expired (months end-of-month safe)."""
    if rule.unit == RetentionRule.Unit.DAYS:
        return now - timedelta(days=rule.period)
    months = rule.period * (12 if rule.unit == RetentionRule.Unit.YEARS else 1)
    year, month = divmod(now.year * 12 + (now.month - 1) - months, 12)
    day = min(now.day, calendar.monthrange(year, month + 1)[1])
    return now.replace(year=year, month=month + 1, day=day)


def _has_open_lead() -> Exists:
    return Exists(Lead.objects.open().filter(prospect=OuterRef("pk")))


# -- prospects: no lead, activity, task or consent entry since the cutoff -------------------------------


def inactive_prospects(cut: datetime, action: str = Action.ANONYMISE) -> QuerySet[Prospect]:
    # Contact with the person counts, not a row's ``updated_at``: retention's own clean-up of a closed
    # lead (or a dealer system's sync) bumps that, and must not keep the person for another period.
    recent_lead = Lead.objects.filter(prospect=OuterRef("pk")).filter(Q(created_at__gte=cut) | Q(closed_at__gte=cut))
    recent_activity = Activity.objects.filter(prospect=OuterRef("pk")).filter(
        Q(occurred_at__gte=cut) | Q(created_at__gte=cut)
    )
    recent_task = Task.objects.filter(prospect=OuterRef("pk")).filter(
        Q(created_at__gte=cut) | Q(done_at__gte=cut) | Q(done_at__isnull=True)
    )
    recent_consent = Consent.objects.filter(prospect=OuterRef("pk"), at__gte=cut)
    return (
        Prospect.objects.active()
        .filter(created_at__lt=cut, updated_at__lt=cut)
        .exclude(_has_open_lead())
        .exclude(Exists(recent_lead))
        .exclude(Exists(recent_activity))
        .exclude(Exists(recent_task))
        .exclude(Exists(recent_consent))
    )


@retention_kind(RetentionRule.Kind.INACTIVE_PROSPECTS, actions={Action.ANONYMISE}, select=inactive_prospects)
def _anonymise_prospect(pk: Any, cut: datetime, action: str, actor: Actor) -> bool:
    with transaction.atomic():
        prospect = inactive_prospects(cut).select_for_update(of=("self",)).filter(pk=pk).first()
        if prospect is None:
            return False
        erase_prospect(prospect=prospect, actor=actor)
        # Tombstones say "erased at the person's request" when they come back; retention was no request,
        # so a returning customer is welcome, not flagged. A restore needs none: the next run applies the rule.
        ErasureTombstone.objects.filter(dealer_id=prospect.dealer_id, prospect_id=prospect.pk).delete()
        return True


# -- closed leads: the customer's own words and the vehicle identifiers go, the sales history stays ------


def _lead_text_left() -> Q:
    return ~Q(message="") | ~Q(vin="") | ~Q(close_note__in=("", ANONYMISED_NOTE))


def expired_closed_leads(cut: datetime, action: str = Action.ANONYMISE) -> QuerySet[Lead]:
    open_sibling = Exists(Lead.objects.open().filter(prospect=OuterRef("prospect")))
    return (
        Lead.objects.filter(stage__in=Lead.CLOSED_STAGES, closed_at__lt=cut)
        .filter(_lead_text_left())
        .exclude(open_sibling)
    )


@retention_kind(RetentionRule.Kind.CLOSED_LEADS, actions={Action.ANONYMISE}, select=expired_closed_leads)
def _anonymise_lead(pk: Any, cut: datetime, action: str, actor: Actor) -> bool:
    with transaction.atomic():
        # The prospect is locked first, as services that open a lead for it do, then the lead.
        prospect_id = Lead.objects.filter(pk=pk).values_list("prospect_id", flat=True).first()
        if prospect_id is None:
            return False
        Prospect.objects.select_for_update().filter(pk=prospect_id).first()
        lead = expired_closed_leads(cut).select_for_update(of=("self",)).filter(pk=pk).first()
        if lead is None:
            return False
        lead.message = ""
        lead.vin = ""
        lead.close_note = ANONYMISED_NOTE if lead.stage == Lead.Stage.WON else ""
        bump_and_record(
            lead,
            ["message", "vin", "close_note"],
            type="lead.updated",
            actor=actor,
            audit={"changed": ["message", "vin", "close_note"], "reason": "retention"},
        )
        return True


# -- the run ----------------------------------------------------------------------------------------------


def planned_ids(rule: RetentionRule, now: datetime) -> list[str]:
    """The ids the next run takes for ``rule``, in the order it takes them (at most ``BATCH_LIMIT``)."""
    kind = kinds()[rule.kind]
    queryset = kind.select(cutoff(rule, now), rule.action).order_by("pk").values_list("pk", flat=True)
    return [str(pk) for pk in queryset[:BATCH_LIMIT]]


def _plan(rule: RetentionRule, now: datetime) -> dict[str, Any]:
    entry: dict[str, Any] = {"action": rule.action, "period": rule.period, "unit": rule.unit}
    kind = kinds().get(rule.kind)
    if kind is None or rule.action not in kind.actions:
        entry.update(count=0, ids=[], skipped="no handler for this kind and action")
        return entry
    ids = planned_ids(rule, now)
    entry.update(cutoff=cutoff(rule, now).isoformat(), count=len(ids), ids=ids, more=len(ids) == BATCH_LIMIT)
    return entry


def _apply(rule: RetentionRule, entry: dict[str, Any], *, now: datetime, actor: Actor) -> None:
    if entry.get("skipped"):
        return
    kind, cut, ids = kinds()[rule.kind], cutoff(rule, now), entry["ids"]
    done, failed = 0, []
    for pk in ids:
        try:
            done += kind.apply(pk, cut, rule.action, actor)
        except Exception:  # one row that fails must not stop the others; the report names it
            logger.exception("retention_row_failed", extra={"kind": rule.kind, "id": pk})
            failed.append(pk)
    entry.update(applied=done, failed=failed)


def run_retention(*, actor: Actor, trigger: str, dry_run: bool = False, now: datetime | None = None) -> RetentionRun:
    """Apply (or, with ``dry_run``, only report) every enabled rule; the report is the returned run."""
    now = now or timezone.now()
    with rls.manufacturer_wide(reason="retention"):
        run = RetentionRun.objects.create(started_at=now, trigger=trigger, dry_run=dry_run, started_by=actor.label)
        report: dict[str, Any] = {}
        try:
            rules = list(RetentionRule.objects.filter(enabled=True).order_by("kind"))
            # Every rule's selection is made before any rule acts, so one rule's changes never alter
            # another's: the dry run's report is what this run takes.
            for rule in rules:
                report[rule.kind] = _plan(rule, now)
            if not dry_run:
                for rule in rules:
                    _apply(rule, report[rule.kind], now=now, actor=actor)
        except Exception as error:
            run.error = f"{type(error).__name__}: {error}"
            raise
        finally:
            run.report = report
            run.finished_at = timezone.now()
            run.save(update_fields=["report", "finished_at", "error"])
    logger.info(
        "retention_run",
        extra={"run": run.pk, "dry_run": dry_run, "counts": {k: v.get("count", 0) for k, v in report.items()}},
    )
    return run
