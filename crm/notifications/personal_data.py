"""The notifications' part of a person's data export (crm.services.subject_access).

A notification holds no data of the person itself: it names their lead or task, whom it told and when.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Q

from crm.notifications.models import Notification
from crm.services.subject_access import Section, Subject, register_section

COLUMNS = ["id", "dealer_id", "kind", "lead_id", "task_id", "recipient_id", "created_at", "read_at", "digested_at"]


def notification_rows(subject: Subject) -> Iterable[dict[str, Any]]:
    about = Q(lead_id__in=subject.lead_ids) | Q(task_id__in=subject.task_ids)
    selected = Notification.objects.filter(about, dealer_id__in=subject.dealer_ids).order_by("created_at", "pk")
    return selected.values(*COLUMNS)


register_section(
    Section(
        "notifications",
        "Notifications to dealership staff about the person's leads and tasks (kind, recipient, when read).",
        COLUMNS,
        notification_rows,
    )
)
