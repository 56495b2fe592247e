"""Names in German order in the database, whatever its collation (small lists: staff, not prospects).

Under the ``C`` collation (the default of many servers, and the only one of the embedded PostgreSQL) a
name that starts with an umlaut sorted after every other: "Özdemir" after "Zimmermann". Prospects, who
run into millions, carry a stored key of their own (``crm.normalize.sort_name``); a dealership's staff are
a few dozen, so an expression is enough.
"""

from __future__ import annotations

from django.db.models import F, Func, Value
from django.db.models.functions import Lower, Replace

# As German name lists sort (DIN 5007-2), upper case spelt out too: lower() under plain C leaves Ä alone.
_SPELT_OUT = (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("Ä", "ae"), ("Ö", "oe"), ("Ü", "ue"), ("ß", "ss"))


def in_german_order(field: str) -> Func:
    """``field`` as an ``order_by`` term that sorts names as German name lists do (Böhm before Brandt)."""
    expression: Func = Lower(F(field))
    for letter, spelt in _SPELT_OUT:
        expression = Replace(expression, Value(letter), Value(spelt))
    return expression


def staff_order(prefix: str = "") -> tuple[Func, Func, str]:
    """Users (or ``prefix`` + user fields) by last name, first name, e-mail, in German order."""
    return (in_german_order(f"{prefix}last_name"), in_german_order(f"{prefix}first_name"), f"{prefix}email")
