"""The vehicle catalogue the lead form suggests: the brand's current models and common trade-in makes.

Suggestions only (an HTML datalist): a lead may name any model, so this is data, not a rule.
"""

from __future__ import annotations

MODEL_NAMES: tuple[str, ...] = (
    "Clio",
    "Captur",
    "Mégane E-Tech",
    "Austral",
    "Scenic E-Tech",
    "Rafale",
    "Symbioz",
    "Twingo",
    "Kangoo",
    "Trafic",
    "Master",
    "Arkana",
    "Espace",
    "R5 E-Tech",
    "R4 E-Tech",
)
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
