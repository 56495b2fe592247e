"""The data of an object as dealer systems see it in the change log and webhooks (``data`` with ``version``)."""

from __future__ import annotations

from typing import Any

from crm.models import Activity, Consent, Lead, Prospect, Task, as_payload_value

PROSPECT_FIELDS = (
    "kind",
    "salutation",
    "title",
    "first_name",
    "last_name",
    "company",
    "email",
    "phone",
    "mobile",
    "street",
    "postcode",
    "city",
    "country",
    "preferred_channel",
    "preferred_language",
    "origin",
)
LEAD_FIELDS = (
    "lead_type",
    "source",
    "campaign",
    "model_name",
    "trim",
    "powertrain",
    "configuration_code",
    "vehicle_condition",
    "vin",
    "stock_number",
    "list_price",
    "tradein_make",
    "tradein_model",
    "tradein_first_registration",
    "tradein_mileage",
    "stage",
    "rating",
    "expected_purchase_date",
    "financing_interest",
    "first_contact_due_at",
    "first_contacted_at",
    "close_note",
    "closed_at",
    "message",
)
ACTIVITY_FIELDS = ("kind", "direction", "subject", "body", "occurred_at", "author_label")
TASK_FIELDS = ("title", "notes", "due_at", "done_at")


def _fields(obj: Any, names: tuple[str, ...]) -> dict[str, Any]:
    return {name: as_payload_value(getattr(obj, name)) for name in names}


def _common(obj: Any) -> dict[str, Any]:
    return {
        "id": str(obj.pk),
        "external_id": obj.external_id,
        "version": obj.version,
        "created_at": as_payload_value(obj.created_at),
        "updated_at": as_payload_value(obj.updated_at),
    }


def _email_of(user_id: int | None) -> str | None:
    if user_id is None:
        return None
    from dealers.models import User

    return User.objects.filter(pk=user_id).values_list("email", flat=True).first()


CONSENT_FIELDS = ("purpose", "channel", "status", "at", "source", "text_version", "double_opt_in_at", "evidence")


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
        return {
            **_common(obj),
            **_fields(obj, PROSPECT_FIELDS),
            "owner": _email_of(obj.owner_id),
            "erased": obj.erased_at is not None,
            "merged_into": str(obj.merged_into_id) if obj.merged_into_id else None,
        }
    if isinstance(obj, Lead):
        return {
            **_common(obj),
            **_fields(obj, LEAD_FIELDS),
            "prospect_id": str(obj.prospect_id),
            "owner": _email_of(obj.owner_id),
            "lost_reason": obj.lost_reason.code if obj.lost_reason_id and obj.lost_reason else None,
        }
    if isinstance(obj, Activity):
        return {
            **_common(obj),
            **_fields(obj, ACTIVITY_FIELDS),
            "prospect_id": str(obj.prospect_id),
            "lead_id": str(obj.lead_id) if obj.lead_id else None,
        }
    return {
        **_common(obj),
        **_fields(obj, TASK_FIELDS),
        "prospect_id": str(obj.prospect_id) if obj.prospect_id else None,
        "lead_id": str(obj.lead_id) if obj.lead_id else None,
        "assignee": _email_of(obj.assignee_id),
    }
