"""Who performs a change: a person, a dealer system (API key) or the system itself."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Actor:
    label: str
    user_id: int | None = None

    @classmethod
    def for_user(cls, user: Any) -> Actor:
        return cls(label=user.email, user_id=user.pk)

    @classmethod
    def system(cls, what: str) -> Actor:
        return cls(label=f"system:{what}")


def record_audit(
    *,
    actor: Actor,
    action: str,
    dealer_id: int | None = None,
    obj: Any = None,
    data: dict[str, Any] | None = None,
) -> None:
    from dealers.models import AuditEvent

    AuditEvent.objects.create(
        dealer_id=dealer_id,
        actor_id=actor.user_id,
        actor_label=actor.label,
        action=action,
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        data=data or {},
    )
