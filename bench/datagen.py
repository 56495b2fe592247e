"""Deterministic bench data (work in progress: the generator lands in the next commit)."""

from __future__ import annotations

from collections.abc import Callable

STAFF_PASSWORD = "bench-Passwort-2026"  # noqa: S105 (bench data on loopback only)


def staff_email(dealer_id: int, role: str) -> str:
    return f"{role}.{dealer_id}@bench.crm.example"


def load(owner_url: str, *, rows: int, seed: int = 1, echo: Callable[[str], None] = print) -> None:
    raise NotImplementedError("bench/datagen.py: the generator lands in the next commit")
