"""Who performs a change: a person, a dealer system (API key) or the system itself."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext_lazy as _


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
    """One audit row: ``actor`` did ``action`` to ``obj``, in the dealership ``dealer_id``.

    Without ``dealer_id`` the row belongs to the object's dealership (its ``dealer_id``), if it has one.
    """
    from dealers.models import AuditEvent

    if dealer_id is None and obj is not None:
        dealer_id = getattr(obj, "dealer_id", None)
    AuditEvent.objects.create(
        dealer_id=dealer_id,
        actor_id=actor.user_id,
        actor_label=actor.label,
        action=action,
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        data=data or {},
    )


# What the system's own actors are called on pages (their labels are ``system:<what>``).
SYSTEM_ACTOR_NAMES: dict[str, Any] = {
    "routing": _("Automatic routing"),
    "intake": _("Manufacturer lead intake"),
    "first-contact-sla": _("First-contact deadline check"),
    "retention job": _("Retention rules"),
    "retention command": _("Retention rules"),
    "restore": _("Restore from backup"),
    "seed_demo": _("Demo data"),
    "mail intake": _("E-mail intake"),  # replies received by SMTP (crm/messaging/intake.py)
}


def describe_actor(label: str, *, api_keys: dict[str, str] | None = None) -> str:
    """An audit or timeline actor label as people read it: ``system:routing`` is "Automatic routing",
    ``api:<key prefix>`` is "API key <name> (<dealership>)" when ``api_keys`` (prefix -> that text) knows it.
    A person's label (their email) is returned as it is; callers prefer the person's name where they have it.
    """
    kind, _sep, rest = label.partition(":")
    if kind == "system" and rest:
        if rest.startswith("file-import"):
            return str(_("File import"))
        known = SYSTEM_ACTOR_NAMES.get(rest)
        return str(known) if known else str(_("System (%(what)s)") % {"what": rest})
    if kind == "api" and rest:
        named = (api_keys or {}).get(rest)
        return named or str(_("API key %(prefix)s") % {"prefix": rest})
    return label


def api_key_names(labels: Any) -> dict[str, str]:
    """``prefix -> "API key <name> (<dealership>)"`` for the ``api:`` labels among ``labels``: one query."""
    from dealers.models import ApiKey

    prefixes = {label.partition(":")[2] for label in labels if label and label.startswith("api:")}
    if not prefixes:
        return {}
    keys = ApiKey.objects.filter(prefix__in=prefixes).select_related("dealer")
    names = {}
    for key in keys:
        owner = key.dealer.name if key.dealer else _("manufacturer")
        names[key.prefix] = str(_("API key %(name)s (%(dealer)s)") % {"name": key.name, "dealer": owner})
    return names


def with_api_key_names(audit_events: Any) -> Any:
    """Audit rows with the name and dealership of the API key an ``api:<prefix>`` label names
    (``api_key_name``, ``api_key_dealer``), joined in the list's own query: no lookup per row.
    """
    from django.db.models import OuterRef, Subquery
    from django.db.models.functions import Substr

    from dealers.models import ApiKey

    key = ApiKey.objects.filter(prefix=Substr(OuterRef("actor_label"), len("api:") + 1))
    return audit_events.annotate(
        api_key_name=Subquery(key.values("name")[:1]), api_key_dealer=Subquery(key.values("dealer__name")[:1])
    )


def _annotation(field: str, part: str) -> str:
    return f"_actor_{field}_{part}"


def with_actor_names(queryset: Any, *fields: str) -> Any:
    """Rows with, for each actor label column in ``fields``, what :func:`actor_in_words` needs: the name and
    dealership of the API key an ``api:<prefix>`` label names and the name of the person an email label
    names, joined in the list's own query (no lookup per row).
    """
    from django.db.models import CharField, OuterRef, Subquery, Value
    from django.db.models.functions import Concat, Substr, Trim

    from dealers.models import ApiKey, User

    annotations: dict[str, Any] = {}
    for field in fields:
        key = ApiKey.objects.filter(prefix=Substr(OuterRef(field), len("api:") + 1))
        person = User.objects.filter(email=OuterRef(field)).annotate(
            full_name=Trim(Concat("first_name", Value(" "), "last_name", output_field=CharField()))
        )
        annotations[_annotation(field, "key")] = Subquery(key.values("name")[:1])
        annotations[_annotation(field, "dealer")] = Subquery(key.values("dealer__name")[:1])
        annotations[_annotation(field, "person")] = Subquery(person.values("full_name")[:1])
    return queryset.annotate(**annotations) if annotations else queryset


def actor_in_words(obj: Any, field: str) -> str:
    """The actor label in ``obj.<field>`` as people read it: a person's name, "Automatic routing",
    "API key <name> (<dealership>)"; with the names :func:`with_actor_names` joined in, else looked up.
    """
    label = getattr(obj, field, "") or ""
    if not label:
        return ""
    if not hasattr(obj, _annotation(field, "key")):  # not from an annotated list: look the names up
        return actor_label_in_words(label)
    person = getattr(obj, _annotation(field, "person"), None)
    if person:
        return str(person)
    name = getattr(obj, _annotation(field, "key"), None)
    owner = getattr(obj, _annotation(field, "dealer"), None) or _("manufacturer")
    keys = {label.partition(":")[2]: str(_("API key %(name)s (%(dealer)s)") % {"name": name, "dealer": owner})}
    return describe_actor(label, api_keys=keys if name else {})


def actor_label_in_words(label: str | None) -> str:
    """One actor label as people read it (a page showing one record): at most one query for its name."""
    from dealers.models import User

    if not label:
        return ""
    if label.startswith("api:"):
        return describe_actor(label, api_keys=api_key_names([label]))
    if "@" in label and ":" not in label:
        person = User.objects.filter(email=label).first()
        if person is not None and person.get_full_name():
            return str(person.get_full_name())
    return describe_actor(label)
