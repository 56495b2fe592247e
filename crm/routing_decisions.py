"""How a routed lead's recorded decisions read to people, in the reader's language.

The lead router (sync.inbound.routing) records each reason as a code with parameters
(``{"code": "at_capacity", "params": {}}``), never as prose: this module is the one place that
turns the record into text, at read time, for the lead page, the admin and anything else that
shows it. It lives in ``crm`` because the lead page is ``crm``'s and ``crm`` never imports ``sync``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone
from django.utils.functional import Promise
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

_OWN_SALESPERSON = gettext_lazy("the prospect's own salesperson")
_ABSENT = gettext_lazy("absent")
_AT_CAPACITY = gettext_lazy("at capacity")
_LEFT_UNASSIGNED = gettext_lazy("left unassigned for the sales manager")

REASONS: dict[str, Promise | str] = {
    # The dealership
    "customer_chose": gettext_lazy("customer chose dealer %(dealer)s"),
    "in_territory": gettext_lazy("postcode %(postcode)s lies in territory %(territory)s"),
    "nearest_dealer": gettext_lazy("no territory holds postcode %(postcode)s: nearest active dealer"),
    "closest_postcode": gettext_lazy(
        "no territory holds postcode %(postcode)s: active dealer with the closest postcode"
    ),
    "coordinates_sent": gettext_lazy("coordinates sent with the lead"),
    "postcode_area_centre": gettext_lazy("centre of the dealerships in postcode area %(area)s"),
    "same_person_recently": gettext_lazy("the same person's lead from channel %(source)s went here (%(at)s)"),
    "same_person_elsewhere": gettext_lazy("the same person's recent lead is at another dealership"),
    "city_in_territory": gettext_lazy("city %(city)s (%(towns)s) lies in territory %(territory)s"),
    "area_code_in_territory": gettext_lazy(
        "landline area code %(area_code)s (%(towns)s) lies in territory %(territory)s"
    ),
    "lead_desk_assigned": gettext_lazy("assigned by the lead desk (%(user)s)"),
    # A dealership passed over
    "inactive": gettext_lazy("inactive"),
    "unknown_dealer_number": gettext_lazy("unknown dealer number"),
    "inactive_territory_holder": gettext_lazy("inactive (holds territory %(territory)s)"),
    # The salesperson
    "own_salesperson": _OWN_SALESPERSON,
    "round_robin": gettext_lazy("round robin"),
    "no_salespeople": format_lazy("{}: {}", gettext_lazy("no salespeople"), _LEFT_UNASSIGNED),
    "nobody_available": format_lazy("{}: {}", gettext_lazy("nobody available with capacity"), _LEFT_UNASSIGNED),
    # A salesperson passed over
    "absent": _ABSENT,
    "at_capacity": _AT_CAPACITY,
    "own_salesperson_absent": format_lazy("{}, {}", _OWN_SALESPERSON, _ABSENT),
    "own_salesperson_at_capacity": format_lazy("{}, {}", _OWN_SALESPERSON, _AT_CAPACITY),
    # An English reason of an older release that the migration to codes did not know: shown as recorded
    "as_recorded": "%(text)s",
}

MATCHED_BY = {
    "email": gettext_lazy("email address"),
    "phone": gettext_lazy("phone number"),
    "name_postcode": gettext_lazy("name and postcode"),
}


def reason(code: str, **params: Any) -> dict[str, Any]:
    """A reason as the decisions record it."""
    if code not in REASONS:
        raise ValueError(f"unknown routing reason {code!r}")
    return {"code": code, "params": params}


def say_reason(recorded: dict[str, Any]) -> str:
    """A recorded reason in the reader's language."""
    return str(REASONS[recorded["code"]]) % recorded.get("params", {})


def _dealer_line(dealer: dict[str, Any]) -> str:
    method = dealer.get("method")
    if dealer.get("follows_lead"):  # a second channel's lead of the same person (sync.inbound.routing)
        why = say_reason(dealer["reason"])
    elif method == "chosen":
        why = _("chosen by the customer")
    elif method == "territory":
        why = _("postcode territory %(prefix)s") % {"prefix": dealer.get("territory", "")}
    elif method in ("city", "area_code", "lead_desk"):  # leads without a postcode (sync.inbound.routing)
        why = say_reason(dealer["reason"])
    else:
        why = _("nearest active dealership")
        if "distance_km" in dealer:
            why += f" ({dealer['distance_km']} km)"
    return _("Dealership %(number)s %(name)s: %(why)s") % {**dealer, "why": why}


def _skipped_person(entry: dict[str, Any]) -> str:
    load = f", {entry['open_leads']}/{entry['capacity']}" if "capacity" in entry else ""
    return f"{entry['name']} ({say_reason(entry['reason'])}{load})"


def routing_summary(decisions: dict[str, Any]) -> list[str]:
    """The decisions as short lines for the lead's history."""
    dealer = decisions["dealer"]
    lines = [_dealer_line(dealer)]
    lines += [
        _("Skipped dealership %(dealer)s: %(reason)s") % {"dealer": s["dealer"], "reason": say_reason(s["reason"])}
        for s in dealer.get("skipped", [])
    ]
    prospect = decisions["prospect"]
    if prospect.get("matched"):
        key = prospect.get("by", "")
        lines.append(_("Known prospect, matched by %(key)s") % {"key": MATCHED_BY.get(key, key)})
    else:
        lines.append(_("New prospect"))
    person = decisions["salesperson"]
    if person.get("user_id"):
        lines.append(
            _("Salesperson %(name)s: %(reason)s")
            % {"name": person.get("name", ""), "reason": say_reason(person["reason"])}
        )
    else:
        lines.append(_("No salesperson: %(reason)s") % {"reason": say_reason(person["reason"])})
    skipped = [_skipped_person(entry) for entry in person.get("skipped", [])]
    if skipped:
        lines.append(_("Skipped: %(people)s") % {"people": "; ".join(skipped)})
    first_contact = decisions["first_contact"]
    due = timezone.localtime(datetime.fromisoformat(first_contact["due_at"]))
    lines.append(
        _("First contact due %(due)s (%(minutes)s working minutes)")
        % {"due": due.strftime("%d.%m.%Y %H:%M"), "minutes": first_contact["working_minutes"]}
    )
    return [str(line) for line in lines]
