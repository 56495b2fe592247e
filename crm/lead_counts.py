"""Open leads per stage, kept as the leads change, so the dashboard reads a few rows at any data size.

Counting a dealership's open leads per stage from ``crm_lead`` reads every open lead's index entry:
50,661 entries and 13.8 ms for the largest dealership at 1M prospects, 3.8 times that at 10M
(docs/performance.md). Here the count of each (dealership, salesperson, stage) is the sum of its rows in
``crm_leadstagecount``:

- Triggers on ``crm_lead`` (migration ``crm/0017_lead_stage_counts``) append the differences: per insert
  or delete statement one row per key it touched (+n, -n), per lead an update moves between stages,
  salespeople or dealerships a -1 and a +1 (an update that moves none calls nothing). They only append,
  so concurrent writers never wait for each other on a counter row, and the rows commit or roll back
  with the leads they count: in any snapshot, a key's sum is exactly the number of its leads.
- :func:`fold` (a periodic job) replaces each key's rows with one row holding their sum, and drops
  keys whose sum is 0. It changes no sum, so readers need not wait for it; it only keeps the rows few.

Rows follow the leads' visibility (``visible_to``): a salesperson's counts are those of their own leads
(and the unassigned ones where the dealership shows them), as on the lead list.
"""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import connection, models
from django.db.models import Sum
from django.utils.translation import gettext_lazy as _

from dealers import rls
from dealers.fields import dealership_field, optional_link
from dealers.scoping import DealerScopedQuerySet, Viewer


class LeadStageCountQuerySet(DealerScopedQuerySet):
    owner_field = "owner"


class LeadStageCount(models.Model):
    """A difference in the number of leads of one (dealership, salesperson, stage); a key's rows add up to it."""

    id = models.BigAutoField(primary_key=True)
    # The leads' dealership goes first; a dealership's counts go with it (its leads are gone by then).
    dealer = dealership_field(models.CASCADE, db_index=False)
    # No constraint: a salesperson's account may go before a fold has summed their rows to 0
    # (the leads' owner is emptied first, which the trigger counts as a move to "unassigned").
    owner = optional_link(
        settings.AUTH_USER_MODEL, _("salesperson"), on_delete=models.DO_NOTHING, db_constraint=False, db_index=False
    )
    stage = models.CharField(_("stage"), max_length=20)
    leads = models.BigIntegerField(_("leads"))

    objects = LeadStageCountQuerySet.as_manager()

    class Meta:
        verbose_name = _("lead count")
        verbose_name_plural = _("lead counts")
        indexes: ClassVar = [
            models.Index(fields=["dealer", "stage", "owner"], include=["leads"], name="lead_count_key")
        ]

    def __str__(self) -> str:
        return f"{self.stage} {self.leads:+d}"


def open_leads_by_stage(viewer: Viewer | None, *, using: str = "default") -> dict[str, int]:
    """The open leads ``viewer`` sees, per stage (stages without leads are left out)."""
    from crm.models import Lead

    rows = (
        LeadStageCount.objects.using(using)
        .visible_to(viewer)
        .filter(stage__in=Lead.OPEN_STAGES)
        .values_list("stage")
        .annotate(n=Sum("leads"))
    )
    return {stage: n for stage, n in rows if n}


# No user has id 0: coalesce makes "no salesperson" a value, so the keys are joined by hash (IS NOT DISTINCT
# FROM cannot be, and would compare every key with every row).
FOLD_SQL = """
WITH keys AS (
    SELECT dealer_id, coalesce(owner_id, 0) AS owner, stage FROM crm_leadstagecount
    GROUP BY 1, 2, 3 HAVING count(*) > 1 OR sum(leads) = 0
), folded AS (
    DELETE FROM crm_leadstagecount c USING keys k
    WHERE c.dealer_id = k.dealer_id AND coalesce(c.owner_id, 0) = k.owner AND c.stage = k.stage
    RETURNING c.dealer_id, c.owner_id, c.stage, c.leads
)
INSERT INTO crm_leadstagecount (dealer_id, owner_id, stage, leads)
SELECT dealer_id, owner_id, stage, sum(leads) FROM folded GROUP BY 1, 2, 3 HAVING sum(leads) <> 0
"""


def fold() -> int:
    """Sum each key's rows into one (keys that add up to 0 go); returns how many keys now have one row.

    One statement: the rows it deletes are those its snapshot sees, so rows that writers commit meanwhile
    stay for the next fold, and a reader sees either all the old rows or the new sums. A second fold
    running at the same time waits for the first's row locks and skips the rows it deleted.
    """
    with rls.manufacturer_wide(reason="task:fold_lead_counts", profile="job"), connection.cursor() as cursor:
        cursor.execute(FOLD_SQL)
        return cursor.rowcount
