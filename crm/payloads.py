"""The data of an object as dealer systems see it in the change log and webhooks (``data`` with ``version``).

The value fields come from ``crm.fieldspecs``; references follow them under their own keys
(``prospect_id``, ``owner`` as an email address, ...).
"""

from __future__ import annotations

from typing import Any

from crm.fieldspecs import ACTIVITY, LEAD, PROSPECT, TASK, Resource
from crm.models import Activity, Consent, Lead, Prospect, Task, as_payload_value

CONSENT_FIELDS = ("purpose", "channel", "status", "at", "source", "text_version", "double_opt_in_at", "evidence")


def _fields(obj: Any, names: tuple[str, ...]) -> dict[str, Any]:
    return {name: as_payload_value(getattr(obj, name)) for name in names}


def _record(obj: Any, resource: Resource) -> dict[str, Any]:
    return {
        "id": str(obj.pk),
        "external_id": obj.external_id,
        "version": obj.version,
        "created_at": as_payload_value(obj.created_at),
        "updated_at": as_payload_value(obj.updated_at),
        **_fields(obj, resource.payload_fields),
    }


def _email_of(user_id: int | None) -> str | None:
    if user_id is None:
        return None
    from dealers.models import User

    return User.objects.filter(pk=user_id).values_list("email", flat=True).first()


def _id(value: Any) -> str | None:
    return str(value) if value else None


def prospect_payload(obj: Prospect, *, owner_email: str | None) -> dict[str, Any]:
    """A prospect's payload with its owner's email already known (bulk writes look the owners up once)."""
    return {
        **_record(obj, PROSPECT),
        "owner": owner_email,
        "erased": obj.erased_at is not None,
        "merged_into": _id(obj.merged_into_id),
    }


def payload_for(obj: Prospect | Lead | Activity | Task | Consent) -> dict[str, Any]:
    if isinstance(obj, Consent):
        # A ledger entry never changes: its version is always 1.
        return {
            "id": str(obj.pk),
            "version": 1,
            "prospect_id": str(obj.prospect_id),
            "recorded_by": obj.recorded_by,
            **_fields(obj, CONSENT_FIELDS),
        }
    if isinstance(obj, Prospect):
        return prospect_payload(obj, owner_email=_email_of(obj.owner_id))
    if isinstance(obj, Lead):
        return {
            **_record(obj, LEAD),
            "prospect_id": str(obj.prospect_id),
            "owner": _email_of(obj.owner_id),
            "lost_reason": obj.lost_reason.code if obj.lost_reason_id and obj.lost_reason else None,
        }
    if isinstance(obj, Activity):
        return {**_record(obj, ACTIVITY), "prospect_id": str(obj.prospect_id), "lead_id": _id(obj.lead_id)}
    return {
        **_record(obj, TASK),
        "prospect_id": _id(obj.prospect_id),
        "lead_id": _id(obj.lead_id),
        "assignee": _email_of(obj.assignee_id),
    }
