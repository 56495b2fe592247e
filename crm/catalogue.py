"""The vehicle catalogue: the manufacturer's model range (a table, ``VehicleModel``) and common trade-in makes.

The range is maintained in the admin and offered as a pick list wherever a vehicle is chosen (the lead
form now; quotes and campaigns read it through the same selectors). A lead copies model, trim and
powertrain, so a version retired later still reads on the leads that named it. The API keeps accepting
any model name on leads: dealer systems also send used cars and other makes (docs/api.md).
The trade-in makes are suggestions only (an HTML datalist), so they stay data.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import groupby

from django.db.models import QuerySet

from crm.models import VehicleModel


def active_models() -> QuerySet[VehicleModel]:
    """The versions on sale, in the manufacturer's order (network-wide reference data: no viewer)."""
    return VehicleModel.objects.filter(is_active=True).order_by("position", "model_name", "trim", "powertrain")


def grouped_by_model(versions: Iterable[VehicleModel] | None = None) -> list[tuple[str, list[VehicleModel]]]:
    """``active_models()`` as (model name, its versions), in the catalogue's order, for a grouped pick list."""
    rows = list(active_models() if versions is None else versions)
    order: dict[str, int] = {}
    for row in rows:
        order.setdefault(row.model_name, len(order))
    rows.sort(key=lambda row: order[row.model_name])  # stable: each model's versions keep their order
    return [(name, list(group)) for name, group in groupby(rows, key=lambda row: row.model_name)]


def matching(*, model_name: str, trim: str, powertrain: str) -> VehicleModel | None:
    """The catalogue entry (active or not) a lead's vehicle names, if any."""
    return VehicleModel.objects.filter(model_name=model_name, trim=trim, powertrain=powertrain).first()


TRADEIN_MAKES: tuple[str, ...] = (
    "Renault",
    "Dacia",
    "Volkswagen",
    "Opel",
    "Ford",
    "BMW",
    "Mercedes-Benz",
    "Audi",
    "Skoda",
    "Toyota",
)
