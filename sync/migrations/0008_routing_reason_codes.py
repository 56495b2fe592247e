"""Routing reasons as codes with parameters instead of English sentences (issue 10, item 4).

Older releases recorded each routing decision's reason as an English phrase (``"round robin"``,
``"inactive (holds territory 803)"``) and a ``summary`` of lines in the language active while
routing. Now a reason is ``{"code": ..., "params": {...}}`` and the summary is rendered when read
(crm.routing_decisions), in the reader's language. This rewrites the decisions older releases left
on LeadRouting and on the leads' ``routed`` events. Data only; nothing to undo.
"""

from __future__ import annotations

import re
from typing import Any

from django.db import migrations

UNASSIGNED = ": left unassigned for the sales manager"
FIXED = {
    "round robin": "round_robin",
    "the prospect's own salesperson": "own_salesperson",
    "no salespeople" + UNASSIGNED: "no_salespeople",
    "nobody available with capacity" + UNASSIGNED: "nobody_available",
    "absent": "absent",
    "at capacity": "at_capacity",
    "the prospect's own salesperson, absent": "own_salesperson_absent",
    "the prospect's own salesperson, at capacity": "own_salesperson_at_capacity",
    "inactive": "inactive",
    "unknown dealer number": "unknown_dealer_number",
    "coordinates sent with the lead": "coordinates_sent",
}
PATTERNS = [
    (re.compile(r"customer chose dealer (?P<dealer>.*)"), "customer_chose"),
    (re.compile(r"postcode (?P<postcode>.*) lies in territory (?P<territory>.*)"), "in_territory"),
    (re.compile(r"no territory holds postcode (?P<postcode>.*): nearest active dealer"), "nearest_dealer"),
    (
        re.compile(r"no territory holds postcode (?P<postcode>.*): active dealer with the closest postcode"),
        "closest_postcode",
    ),
    (re.compile(r"inactive \(holds territory (?P<territory>.*)\)"), "inactive_territory_holder"),
    (re.compile(r"centre of the dealerships in postcode area (?P<area>.*)"), "postcode_area_centre"),
]


def reason_code(text: Any) -> Any:
    """An old English reason as a code with parameters; anything else (already a code) unchanged."""
    if not isinstance(text, str):
        return text
    if text in FIXED:
        return {"code": FIXED[text], "params": {}}
    for pattern, code in PATTERNS:
        match = pattern.fullmatch(text)
        if match:
            return {"code": code, "params": match.groupdict()}
    return {"code": "as_recorded", "params": {"text": text}}  # not one of ours: shown as it was


def with_reason_codes(decisions: dict[str, Any]) -> dict[str, Any]:
    decisions = {key: value for key, value in decisions.items() if key != "summary"}
    for part in ("dealer", "salesperson"):
        if part not in decisions:
            continue
        section = dict(decisions[part])
        for key in ("reason", "location"):
            if key in section:
                section[key] = reason_code(section[key])
        section["skipped"] = [{**entry, "reason": reason_code(entry["reason"])} for entry in section.get("skipped", [])]
        decisions[part] = section
    return decisions


def convert(apps: Any, schema_editor: Any) -> None:
    LeadRouting = apps.get_model("sync", "LeadRouting")
    LeadEvent = apps.get_model("crm", "LeadEvent")
    for routing in LeadRouting.objects.exclude(decisions={}).iterator():
        routing.decisions = with_reason_codes(routing.decisions)
        routing.save(update_fields=["decisions"])
    for event in LeadEvent.objects.filter(kind="routed").iterator():
        event.data = with_reason_codes(event.data)
        event.save(update_fields=["data"])


class Migration(migrations.Migration):
    dependencies = [
        ("sync", "0007_scrub_webhook_error_details"),
        ("crm", "0005_lead_contact_channel"),
    ]

    operations = [migrations.RunPython(convert, migrations.RunPython.noop)]
