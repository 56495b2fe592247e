"""The one scoping rule: the only door to dealer-owned rows.

Every dealer-owned model's queryset derives from :class:`DealerScopedQuerySet`, and every
view, API endpoint, export, change feed, report and task fetches through ``visible_to``.
A foreign row and a missing row then look the same: absent, hence 404.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, Self

from django.db import models


class Viewer(Protocol):
    """Who is looking: a staff membership, or a dealer system's API key (see ``SystemViewer``)."""

    @property
    def dealer_id(self) -> int: ...
    @property
    def user_id(self) -> int | None: ...
    @property
    def restricted_to_own(self) -> bool: ...
    @property
    def sees_unassigned(self) -> bool: ...


@dataclass(frozen=True)
class SystemViewer:
    """A dealer's own system (API key, file exchange, a task acting for the dealership): sees all of it."""

    dealer_id: int
    user_id: int | None = None
    restricted_to_own: bool = False
    sees_unassigned: bool = True


class DealerScopedQuerySet(models.QuerySet[Any]):
    """Rows owned by one dealership (``dealer_id``).

    ``owner_field`` names the salesperson a row belongs to; a salesperson sees only rows
    they own (plus unowned ones where the dealer allows it). Models whose visibility
    follows another row override ``visible_to`` and still start from ``for_dealer``.
    """

    owner_field: ClassVar[str | None] = None

    def for_dealer(self, dealer_id: int) -> Self:
        return self.filter(dealer_id=dealer_id)

    def visible_to(self, viewer: Viewer | None) -> Self:
        if viewer is None:
            return self.none()
        qs = self.for_dealer(viewer.dealer_id)
        if viewer.restricted_to_own and self.owner_field:
            own = models.Q(**{f"{self.owner_field}_id": viewer.user_id})
            if viewer.sees_unassigned:
                own |= models.Q(**{f"{self.owner_field}__isnull": True})
            qs = qs.filter(own)
        return qs
