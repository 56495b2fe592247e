"""``make run``'s progress: one line per step (install, database, migrate, demo data, servers) with its duration.

A first run on a bare machine takes minutes; the lines say where they go, and the summary next to
the URL says how long this run took from ``make run`` to the URL. The install step is timed by the
Makefile, which hands its figure over in ``CRM_INSTALL_SECONDS``, so the total covers it too.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

logger = logging.getLogger("devstack")

INSTALL_SECONDS = "CRM_INSTALL_SECONDS"


@dataclass
class Progress:
    """The durations of the steps so far, in order; ``step`` times one and prints its line when it ends."""

    steps: list[tuple[str, float]] = field(default_factory=list)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Progress:
        """Start with the Makefile's install step when it ran (``make run``), else with nothing."""
        value = (os.environ if environ is None else environ).get(INSTALL_SECONDS, "")
        try:
            return cls([("install", float(value))])
        except ValueError:
            return cls()

    @contextmanager
    def step(self, name: str, what: str = "") -> Iterator[None]:
        started = time.monotonic()
        yield
        seconds = time.monotonic() - started
        self.steps.append((name, seconds))
        logger.info("progress: %-9s %6.1f s%s", name, seconds, f"  {what}" if what else "")

    def summary(self) -> str:
        """``ready in 123.4 s (install 50.1 s, database 9.8 s, ...)``."""
        total = sum(seconds for _name, seconds in self.steps)
        parts = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in self.steps)
        return f"ready in {total:.1f} s ({parts})"
