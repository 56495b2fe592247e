"""Field factories for the declarations many models repeat: one name per concept (docs/shared-code.md).

Each returns exactly the field it stands for, so a model using one deconstructs as before and needs no
migration. In ``dealers``, the bottom layer, so that the models of every app may use them (``dealers``
imports neither ``crm``, ``sync`` nor ``ha``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from dealers.models import Dealer, User

_M = TypeVar("_M", bound=models.Model)
OnDelete = Callable[..., None]


@overload
def optional_link(
    to: type[_M], verbose_name: Any = ..., *, on_delete: OnDelete = ..., **options: Any
) -> models.ForeignKey[_M | None, _M | None]: ...
@overload
def optional_link(
    to: str, verbose_name: Any = ..., *, on_delete: OnDelete = ..., **options: Any
) -> models.ForeignKey[Any, Any]: ...
def optional_link(
    to: Any, verbose_name: Any = None, *, on_delete: OnDelete = models.SET_NULL, **options: Any
) -> models.ForeignKey[Any, Any]:
    """A link that may be empty, and is emptied when its target goes (unless ``on_delete`` says otherwise).

    No reverse accessor on the target (``related_name="+"``) unless ``options`` name one.
    """
    options.setdefault("related_name", "+")
    return models.ForeignKey(to, verbose_name=verbose_name, on_delete=on_delete, null=True, blank=True, **options)


def actor_field(verbose_name: Any = None) -> models.ForeignKey[User | None, User | None]:
    """Who did it: the user, emptied when the account is deleted; ``actor_label_field`` beside it keeps the name."""
    return optional_link(settings.AUTH_USER_MODEL, verbose_name)


def actor_label_field(verbose_name: Any, *, blank: bool = True) -> models.CharField[str, str]:
    """Who did it, as the name read then: it outlives the user account (and names a system actor too)."""
    return models.CharField(verbose_name, max_length=200, blank=blank)


@overload
def dealership_field(
    on_delete: OnDelete = ..., *, optional: Literal[False] = ..., **options: Any
) -> models.ForeignKey[Dealer, Dealer]: ...
@overload
def dealership_field(
    on_delete: OnDelete = ..., *, optional: Literal[True], **options: Any
) -> models.ForeignKey[Dealer | None, Dealer | None]: ...
def dealership_field(
    on_delete: OnDelete = models.PROTECT, *, optional: bool = False, **options: Any
) -> models.ForeignKey[Any, Any]:
    """The dealership a row belongs to: its tenant, whose ``dealer_id`` row-level security checks.

    ``optional``: a row without one is network-wide (the manufacturer's) or not yet placed.
    """
    options.setdefault("related_name", "+")
    if optional:
        options.update(null=True, blank=True)
    return models.ForeignKey("dealers.Dealer", verbose_name=_("dealership"), on_delete=on_delete, **options)


def created_field() -> models.DateTimeField[datetime, datetime]:
    """When the row was created: set once, not editable."""
    return models.DateTimeField(_("created"), default=timezone.now, editable=False)


def updated_field() -> models.DateTimeField[datetime, datetime]:
    """When the row last changed; the code that changes it sets it."""
    return models.DateTimeField(_("updated"), default=timezone.now)
