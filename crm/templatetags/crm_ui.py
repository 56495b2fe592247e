"""Small display helpers for the dealership UI's templates."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django import template
from django.http import QueryDict
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _

from crm.normalize import format_phone

register = template.Library()


def _span(delta: timedelta) -> str:
    minutes = int(abs(delta.total_seconds()) // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return _("%(d)d d %(h)d h") % {"d": days, "h": hours}
    if hours:
        return _("%(h)d h %(m)02d min") % {"h": hours, "m": mins}
    return _("%(m)d min") % {"m": mins}


@register.filter
def duration(value: timedelta | None) -> str:
    """A duration for people: ``2 h 05 min``, ``3 d 4 h``."""
    return "\u2013" if value is None else _span(value)


@register.filter
def in_unit(value: float, unit: str) -> str:
    """A chart's value as people read it: in ``minutes`` a duration (``1 d 17 h``), else the number and ``unit``."""
    if unit == "minutes":
        return _span(timedelta(minutes=value))
    return f"{value}{unit}"


@register.simple_tag
def countdown(due: datetime | None, done: datetime | None = None) -> str:
    """The first-contact clock: time left, or how long it is overdue; static/js/countdown.js keeps it running."""
    if due is None:
        return format_html('<span class="countdown none">{}</span>', _("no deadline"))
    if done is not None:
        return format_html('<span class="countdown done">{}</span>', _("contacted"))
    left = due - timezone.now()
    overdue = left.total_seconds() < 0
    text = (_("overdue %(span)s") if overdue else _("%(span)s left")) % {"span": _span(left)}
    css = "overdue" if overdue else ("soon" if left < timedelta(minutes=30) else "running")
    return format_html(
        '<span class="countdown {}" data-due="{}" data-left="{}" data-overdue="{}" data-units="{}" role="timer">'
        "{}</span>",
        css,
        due.isoformat(),
        _("%(span)s left") % {"span": "{}"},
        _("overdue %(span)s") % {"span": "{}"},
        "|".join((_("%(d)d d %(h)d h"), _("%(h)d h %(m)02d min"), _("%(m)d min"))),
        text,
    )


@register.simple_tag(takes_context=True)
def query_with(context: dict[str, Any], **changes: Any) -> str:
    """The current query string with some parameters replaced (None or "" removes them)."""
    request = context["request"]
    params: QueryDict = request.GET.copy()
    for key, value in changes.items():
        params.pop(key, None)
        if value not in (None, ""):
            params[key] = value
    encoded = params.urlencode()
    return f"?{encoded}" if encoded else "?"


@register.filter
def get_item(mapping: dict[Any, Any], key: Any) -> Any:
    return mapping.get(key) if mapping else None


@register.filter
def scale(share: float | None, width: int) -> int:
    """A chart bar's length: ``share`` (0..1) of ``width``, at least 2 px for a non-zero value."""
    if not share:
        return 0
    return max(2, round(float(share) * int(width)))


@register.filter
def percent(rate: float | None) -> str:
    return "\u2013" if rate is None else f"{rate * 100:.0f}\u00a0%"


@register.filter
def multiply(value: int, factor: int) -> int:
    return int(value) * int(factor)


@register.filter
def phone(value: str | None) -> str:
    """An E.164 number as people read it: ``+49 160 78213467`` (crm.normalize.format_phone, as in exports)."""
    return format_phone(value)


@register.filter
def person(user: Any) -> str:
    """A staff member's name (or email); a dash for nobody."""
    if user is None:
        return "\u2013"
    return user.get_full_name() or user.email


@register.filter
def floordiv(value: int, divisor: Any) -> int:
    """``600|floordiv:bars``: integer division; a list divisor counts its items."""
    count = len(divisor) if isinstance(divisor, list | tuple) else int(divisor)
    return int(value) // count if count else 0


@register.filter
def rsub(value: int, base: int) -> int:
    """``x|rsub:190`` is ``190 - x`` (SVG y grows downwards)."""
    return int(base) - int(value)
