"""What every fuzz test shares: hypothesis settings, hostile values, time and memory bounds, problem checks.

The corpus is in the code: each test carries ``@example(...)`` seeds with the hostile shapes that once
broke something or commonly break parsers (entity bombs, external entities, deep nesting, NUL bytes,
overlong strings, invalid UTF-8, CRLF, BOMs, Windows-1252), so a clean checkout replays them first.
Generation is derandomized: every run tries the same examples (``FUZZ_RANDOM=1`` explores afresh,
``FUZZ_EXAMPLES`` scales how many).
"""

from __future__ import annotations

import os
import signal
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

SCALE = float(os.environ.get("FUZZ_EXAMPLES", "1"))
RANDOM = os.environ.get("FUZZ_RANDOM") == "1"
E = TypeVar("E", bound=BaseException)
REQUEST_SECONDS = 10  # no single request or parse may take longer, even on a loaded machine


def fuzz_settings(examples: int) -> settings:
    return settings(
        max_examples=max(1, int(examples * SCALE)),
        deadline=timedelta(seconds=REQUEST_SECONDS),
        derandomize=not RANDOM,
        database=None,  # the corpus is the @example seeds, checked in with each test
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
        print_blob=True,
    )


class Hang(Exception):
    """The code under test ran past its time bound."""


@contextmanager
def within(seconds: float = REQUEST_SECONDS) -> Iterator[None]:
    """A per-request timeout: ``Hang`` is raised inside the code under test when it runs too long."""

    def expire(signum: int, frame: Any) -> None:
        raise Hang(f"took longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextmanager
def bounded_memory(limit_bytes: int) -> Iterator[None]:
    """Fails when the block's peak of newly allocated Python memory exceeds ``limit_bytes``."""
    tracemalloc.start()
    try:
        yield
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak <= limit_bytes, f"peak memory {peak} bytes > {limit_bytes}"


def refusal(call: Callable[[], Any], expected: type[E]) -> E | None:
    """None when ``call`` returns; the ``expected`` exception when it raises that; anything else propagates."""
    try:
        call()
    except expected as error:
        return error
    return None


# Values that commonly break parsers, for query parameters, cells and fields.
HOSTILE_TEXT = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\r\n",
    "line\r\nInjected: header",
    "\ufeff",
    "\ufeffname",
    "x" * 5000,
    "9" * 5000,
    "-1",
    "0",
    "1e999",
    "NaN",
    "Infinity",
    "²",
    "١٢٣",
    "٣",
    "1_000",
    " 1",
    "0x1f",
    "true",
    "TRUE",
    "yes",
    "null",
    "None",
    "[]",
    "{}",
    "[" * 2000,
    "%00",
    "%",
    "'; DROP TABLE crm_lead; --",
    "\\",
    "*",
    "%_%",
    "Ä€ß",
    "Mu\u0308ller",
    "\u202e",
    "\U0001f600",
    "0000-00-00",
    "9999-12-31T23:59:59-23:59",
    "0001-01-01T00:00:00+23:59",
    "2024-02-30",
    "2024-01-01T25:00:00Z",
    "00000000-0000-0000-0000-000000000000",
    "ffffffff-ffff-ffff-ffff-ffffffffffff",
    "{00000000-0000-0000-0000-000000000000}",
    "urn:uuid:00000000-0000-0000-0000-000000000000",
    "-9223372036854775809",
    "9223372036854775808",
    "2147483648",
    "1.5",
]

hostile_text = st.one_of(st.sampled_from(HOSTILE_TEXT), st.text(max_size=200))
# Any code point, lone surrogates included (only where the value is not encoded to UTF-8 on the way).
any_text = st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=200)


def json_values(max_leaves: int = 30) -> st.SearchStrategy[Any]:
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(10**30), max_value=10**30),
        st.floats(allow_nan=False, allow_infinity=False),
        any_text,
        st.sampled_from(HOSTILE_TEXT),
    )
    return st.recursive(
        scalars,
        lambda children: st.one_of(
            st.lists(children, max_size=5),
            st.dictionaries(st.one_of(any_text, st.sampled_from(HOSTILE_TEXT)), children, max_size=5),
        ),
        max_leaves=max_leaves,
    )


def assert_problem_naming(response: Any, allowed: set[str] | None = None) -> dict[str, Any]:
    """A 4xx problem+json whose ``errors`` names at least one field (each one in ``allowed``, if given)."""
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/problem+json"), response["Content-Type"]
    body = response.json()
    assert {"type", "title", "status", "detail", "errors"} <= set(body), body
    assert body["status"] == response.status_code
    assert isinstance(body["errors"], dict), body
    assert body["errors"], body
    if allowed is not None:
        assert set(body["errors"]) <= allowed, (body["errors"], allowed)
    return body
