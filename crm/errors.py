"""Domain errors that every caller (UI, API, tasks) maps to its own way of saying no."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _


class StaleObject(Exception):
    """Someone else saved the record first: the caller's copy (``expected`` version) is out of date."""

    def __init__(self, *, current_version: int, expected: int) -> None:
        super().__init__(f"version {expected} is stale, current is {current_version}")
        self.current_version = current_version
        self.expected = expected

    message = _("Someone else changed this record in the meantime. Reload it and apply your change again.")
