"""Actor labels (``system:routing``, ``api:<key prefix>``, an email) in words: ``{{ label|actor_name }}``, or
``{{ obj|actor_of:"column" }}`` for the rows of a list annotated by ``dealers.actors.with_actor_names``."""

from __future__ import annotations

from typing import Any

from django import template

from dealers.actors import actor_in_words, actor_label_in_words

register = template.Library()


@register.filter
def actor_name(label: str | None) -> str:
    """In words: "Automatic routing", "API key <name> (<dealership>)" or the person's name, never the label."""
    return actor_label_in_words(label)


@register.filter
def actor_of(obj: Any, field: str) -> str:
    """``{{ key|actor_of:"created_by" }}``: the actor label column ``field`` of ``obj`` in words; a list annotated
    with ``dealers.actors.with_actor_names`` needs no query per row."""
    return actor_in_words(obj, field)
