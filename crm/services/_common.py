from __future__ import annotations

from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models import F
from django.utils import timezone

from crm import changes
from crm.errors import StaleObject
from dealers.actors import Actor, record_audit

M = TypeVar("M", bound=models.Model)


def locked(model: type[M], pk: Any) -> M:
    """Re-read a row under ``SELECT ... FOR UPDATE`` so read-then-write is safe against concurrent saves."""
    return model._default_manager.select_for_update().get(pk=pk)


def check_version(obj: Any, expected_version: int | None) -> None:
    if expected_version is not None and obj.version != expected_version:
        raise StaleObject(current_version=obj.version, expected=expected_version)


def locked_at_version(model: type[M], pk: Any, expected_version: int | None) -> M:
    """The row under lock, refused as stale unless it still has the version the caller saw."""
    obj = locked(model, pk)
    check_version(obj, expected_version)
    return obj


def insert(obj: models.Model, *, id_taken: str) -> None:
    """Save a new row; a dealer system id another row already has is an ``external_id`` error.

    Only that id can collide (the one unique constraint besides the generated key), so a row without one
    is saved without the savepoint the error needs: two round trips fewer inside a caller's transaction.
    """
    if getattr(obj, "external_id", None) is None:
        obj.save(force_insert=True)
        return
    try:
        with transaction.atomic():
            obj.save(force_insert=True)
    except IntegrityError as error:
        raise ValidationError({"external_id": id_taken}) from error


def apply_changes(obj: Any, changes: dict[str, Any], allowed: set[str]) -> list[str]:
    """Set the allowed fields that really change; returns their names (empty: nothing to save)."""
    changed = []
    for field, value in changes.items():
        if field not in allowed:
            raise ValueError(f"{field} cannot be changed here")
        if getattr(obj, field) != value:
            setattr(obj, field, value)
            changed.append(field)
    return changed


def save_audited(obj: Any, fields: list[str], *, actor: Actor, action: str, data: dict[str, Any]) -> None:
    """Save the changed ``fields`` of an unversioned row with a new ``updated_at``, and its audit row."""
    obj.updated_at = timezone.now()
    obj.save(update_fields=[*fields, "updated_at"])
    record_audit(actor=actor, action=action, obj=obj, data=data)


def bump(obj: Any, fields: list[str]) -> None:
    """Save ``fields`` and grow the version by one in the same UPDATE."""
    obj.updated_at = timezone.now()
    type(obj)._default_manager.filter(pk=obj.pk).update(
        version=F("version") + 1, updated_at=obj.updated_at, **{f: getattr(obj, f) for f in fields}
    )
    obj.version += 1


def bump_and_record(
    obj: Any,
    fields: list[str],
    *,
    type: str,
    actor: Actor,
    extra: dict[str, Any] | None = None,
    audit: dict[str, Any] | None = None,
) -> None:
    """``bump``, and the new version's change-log and audit rows: a version nobody hears of cannot happen."""
    bump(obj, fields)
    changes.record(dealer_id=obj.dealer_id, type=type, obj=obj, actor=actor, extra=extra, audit=audit)


def bump_unique(obj: Any, fields: list[str], *, id_taken: str) -> None:
    """``bump``, where a dealer system id another row already has is an ``external_id`` error."""
    try:
        with transaction.atomic():
            bump(obj, fields)
    except IntegrityError as error:
        raise ValidationError({"external_id": id_taken}) from error
