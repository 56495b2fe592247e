"""Issue 13 item 4: retention rules applied by a job; the dry run names what the run takes; open leads are safe."""

from __future__ import annotations

from datetime import datetime, timedelta
from io import StringIO
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from crm.models import Activity, ErasureTombstone, Lead, LostReason, Prospect, RetentionRule, RetentionRun
from crm.retention_admin import RetentionRuleForm
from crm.services.consents import record_consent
from crm.services.retention import cutoff, run_retention
from crm.tasks import apply_retention_rules
from dealers.actors import Actor
from ha.fencing import FencedTask
from tests.conftest import DealerSetup
from tests.factories import ActivityFactory, LeadFactory, ProspectFactory

ACTOR = Actor.system("test")
pytestmark = pytest.mark.django_db


def _long_ago(years: int = 4) -> datetime:
    return timezone.now() - timedelta(days=365 * years)


def _old_prospect(dealer: Any, **fields: Any) -> Prospect:
    prospect = ProspectFactory.create(dealer=dealer, **fields)
    Prospect.objects.filter(pk=prospect.pk).update(created_at=_long_ago(), updated_at=_long_ago())
    return Prospect.objects.get(pk=prospect.pk)


def _old_closed_lead(prospect: Prospect, *, stage: str = Lead.Stage.LOST) -> Lead:
    extra: dict[str, Any] = {"lost_reason": LostReason.objects.first()} if stage == Lead.Stage.LOST else {}
    lead = LeadFactory.create(
        prospect=prospect,
        stage=stage,
        message="Bitte rufen Sie mich an",
        vin="VF1AAAAA555555555",
        close_note="Kunde kauft bei Herrn Maier" if stage == Lead.Stage.WON else "",
        **extra,
    )
    Lead.objects.filter(pk=lead.pk).update(created_at=_long_ago(), updated_at=_long_ago(), closed_at=_long_ago())
    return Lead.objects.get(pk=lead.pk)


def _open_lead(prospect: Prospect) -> Lead:
    lead = LeadFactory.create(prospect=prospect, stage=Lead.Stage.OFFER)
    Lead.objects.filter(pk=lead.pk).update(created_at=_long_ago(), updated_at=_long_ago())
    return Lead.objects.get(pk=lead.pk)


def _snapshot(prospect: Prospect) -> tuple[Any, ...]:
    prospect.refresh_from_db()
    leads = tuple(Lead.objects.filter(prospect=prospect).order_by("pk").values_list("version", "message", "vin"))
    return (prospect.version, prospect.erased_at, prospect.last_name, prospect.email, leads)


def _ids(run: RetentionRun) -> dict[str, list[str]]:
    return {kind: sorted(entry["ids"]) for kind, entry in run.report.items()}


def test_a_dry_run_names_exactly_what_the_real_run_then_changes(dealer_a: DealerSetup) -> None:
    forgotten = _old_prospect(dealer_a.dealer)
    lost_customer = _old_prospect(dealer_a.dealer)
    old_lead = _old_closed_lead(lost_customer, stage=Lead.Stage.WON)
    recent = ProspectFactory.create(dealer=dealer_a.dealer)

    dry = run_retention(actor=ACTOR, trigger=RetentionRun.Trigger.COMMAND, dry_run=True)
    assert Prospect.objects.get(pk=forgotten.pk).erased_at is None, "a dry run changes nothing"
    real = run_retention(actor=ACTOR, trigger=RetentionRun.Trigger.JOB)

    assert _ids(dry) == _ids(real)
    assert _ids(real)["inactive_prospects"] == sorted([str(forgotten.pk), str(lost_customer.pk)])
    assert _ids(real)["closed_leads"] == [str(old_lead.pk)]
    assert Prospect.objects.get(pk=forgotten.pk).erased_at is not None
    assert not ErasureTombstone.objects.filter(prospect_id=forgotten.pk).exists(), "retention is no erasure request"
    assert Prospect.objects.get(pk=recent.pk).erased_at is None
    lead = Lead.objects.get(pk=old_lead.pk)
    assert (lead.message, lead.vin, lead.stage) == ("", "", Lead.Stage.WON)
    assert lead.version > old_lead.version, "the change is announced with a new version"
    assert real.report["inactive_prospects"]["applied"] == 2
    assert (dry.dry_run, real.dry_run, RetentionRun.objects.count()) == (True, False, 2)


def test_a_prospect_with_an_open_lead_is_never_touched(dealer_a: DealerSetup) -> None:
    busy = _old_prospect(dealer_a.dealer)
    _old_closed_lead(busy)
    _open_lead(busy)
    before = _snapshot(busy)

    dry = run_retention(actor=ACTOR, trigger=RetentionRun.Trigger.COMMAND, dry_run=True)
    run_retention(actor=ACTOR, trigger=RetentionRun.Trigger.JOB)

    assert all(str(busy.pk) not in entry["ids"] for entry in dry.report.values())
    assert _snapshot(busy) == before


def test_a_lead_opened_after_the_dry_run_protects_the_prospect_in_the_real_run(dealer_a: DealerSetup) -> None:
    prospect = _old_prospect(dealer_a.dealer)
    dry = run_retention(actor=ACTOR, trigger=RetentionRun.Trigger.ADMIN, dry_run=True)
    assert str(prospect.pk) in dry.report["inactive_prospects"]["ids"]

    LeadFactory.create(prospect=prospect, stage=Lead.Stage.NEW)
    run_retention(actor=ACTOR, trigger=RetentionRun.Trigger.JOB)

    assert Prospect.objects.get(pk=prospect.pk).erased_at is None


def test_recent_activity_or_consent_keeps_a_prospect(dealer_a: DealerSetup) -> None:
    called = _old_prospect(dealer_a.dealer)
    ActivityFactory.create(prospect=called, kind=Activity.Kind.CALL)
    consenting = _old_prospect(dealer_a.dealer)
    record_consent(prospect=consenting, purpose="marketing_email", status="granted", actor=ACTOR)

    run = run_retention(actor=ACTOR, trigger=RetentionRun.Trigger.JOB)

    assert run.report["inactive_prospects"]["ids"] == []
    assert Prospect.objects.filter(pk__in=[called.pk, consenting.pk], erased_at__isnull=True).count() == 2


def test_a_disabled_rule_selects_nothing_and_the_period_is_the_dpos(dealer_a: DealerSetup) -> None:
    prospect = _old_prospect(dealer_a.dealer)
    RetentionRule.objects.filter(kind=RetentionRule.Kind.INACTIVE_PROSPECTS).update(period=5, unit="years")
    assert (
        str(prospect.pk)
        not in run_retention(actor=ACTOR, trigger="job", dry_run=True).report["inactive_prospects"]["ids"]
    )

    RetentionRule.objects.filter(kind=RetentionRule.Kind.INACTIVE_PROSPECTS).update(
        period=1, unit="years", enabled=False
    )
    run = run_retention(actor=ACTOR, trigger="job")

    assert "inactive_prospects" not in run.report
    assert Prospect.objects.get(pk=prospect.pk).erased_at is None


def test_the_default_rules_are_those_of_the_issue() -> None:
    rules = {rule.kind: (rule.period, rule.unit, rule.action) for rule in RetentionRule.objects.all()}
    assert rules["inactive_prospects"] == (36, "months", "anonymise")
    assert rules["intake_documents"] == (90, "days", "delete")
    assert rules["import_files"] == (90, "days", "delete")


def test_cutoff_counts_calendar_months_and_stays_in_short_months() -> None:
    rule = RetentionRule(period=1, unit=RetentionRule.Unit.MONTHS)
    now = datetime(2026, 3, 31, 12, 0, tzinfo=timezone.get_current_timezone())
    assert cutoff(rule, now).date().isoformat() == "2026-02-28"
    rule.unit = RetentionRule.Unit.YEARS
    assert cutoff(rule, now).date().isoformat() == "2025-03-31"


def test_the_command_dry_run_lists_the_ids_and_changes_nothing(dealer_a: DealerSetup) -> None:
    prospect = _old_prospect(dealer_a.dealer)
    out = StringIO()

    call_command("retention", "--dry-run", stdout=out)

    assert "inactive_prospects: 1 (would anonymise)" in out.getvalue()
    assert str(prospect.pk) in out.getvalue()
    assert Prospect.objects.get(pk=prospect.pk).erased_at is None
    assert RetentionRun.objects.get().dry_run


def test_the_rule_form_refuses_an_action_the_kind_does_not_have() -> None:
    rule = RetentionRule.objects.get(kind=RetentionRule.Kind.INACTIVE_PROSPECTS)
    form = RetentionRuleForm(
        data={"kind": rule.kind, "period": 36, "unit": "months", "action": "delete", "enabled": True}, instance=rule
    )
    assert not form.is_valid()
    assert "action" in form.errors


def test_the_job_is_scheduled_daily_fenced_and_reports_its_run(dealer_a: DealerSetup) -> None:
    entry = next(e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == apply_retention_rules.name)
    assert entry["schedule"] == 86400.0
    assert isinstance(apply_retention_rules, FencedTask), "periodic runs pass the scheduler lease's fence"
    prospect = _old_prospect(dealer_a.dealer)

    run_id = apply_retention_rules.apply().get()

    run = RetentionRun.objects.get(pk=run_id)
    assert (run.trigger, run.dry_run, run.report["inactive_prospects"]["ids"]) == ("job", False, [str(prospect.pk)])
