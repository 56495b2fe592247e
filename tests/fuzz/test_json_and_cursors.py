"""The JSON reader and the cursor codecs, fed anything: a value or their one refusal, fast and small."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from django.utils import translation
from hypothesis import example, given
from hypothesis import strategies as st
from rest_framework.exceptions import ValidationError

from crm.api.feed import decode_feed_cursor, encode_feed_cursor
from crm.api.pagination import KeysetPaginator, decode_cursor, encode_cursor
from crm.api.parsers import MAX_JSON_DEPTH, JsonRefused, load_json
from crm.models import Lead, Prospect, Task
from crm.ui import pagination as ui
from tests.fuzz.support import HOSTILE_TEXT, any_text, bounded_memory, fuzz_settings, json_values, refusal, within

MB = 1024 * 1024


def b64(raw: str | bytes) -> str:
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


DEEP = "[" * 100_000 + "]" * 100_000
HOSTILE_JSON = [
    DEEP,
    '{"a":' * 50_000 + "1" + "}" * 50_000,
    "[" * 100_000,
    '{"x": "\\u0000"}',
    '{"\\u0000": 1}',
    '{"x": "\\ud800"}',
    '["\\udfff\\ud800"]',
    "1e999",
    "-1e999",
    "[NaN]",
    "Infinity",
    "9" * 5000,
    '"' + "x" * 100_000 + '"',
    "\ufeff{}",
    "{}\x00",
    '{"a": 1, "a": 2}',
]


@fuzz_settings(150)
@given(st.one_of(any_text, st.sampled_from(HOSTILE_JSON), st.text(alphabet='[]{}",:0\\u ', max_size=400)))
@example(DEEP)
@example(HOSTILE_JSON[1])
@example('{"x": "\\u0000"}')
@example('{"x": "\\ud800"}')
@example("1e999")
def test_load_json_returns_a_value_or_refuses_in_bounded_time_and_memory(text: str) -> None:
    with within(), bounded_memory(20 * len(text) + MB):
        refused = refusal(lambda: load_json(text), JsonRefused)
    if refused is not None:
        assert refused.message
        assert refused.field


@fuzz_settings(60)
@given(json_values())
@example({"a": "\x00"})
@example(["\ud800"])
@example({"k\x00": 1})
def test_load_json_keeps_storable_values_and_names_the_unstorable_one(value: Any) -> None:
    text = json.dumps(value)
    refused = refusal(lambda: load_json(text), JsonRefused)
    if refused is None:
        assert load_json(text) == value
    elif refused.field != "body":  # a named field holds NUL or a lone surrogate
        assert "\\u0000" in text or "\\ud" in text


def test_nesting_up_to_the_limit_is_accepted_and_one_more_refused() -> None:
    assert load_json("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH) is not None
    with translation.override("en"), pytest.raises(JsonRefused, match="nested"):
        load_json("[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1))


CURSORS = st.one_of(
    any_text.filter(lambda s: "\x00" not in s),
    st.sampled_from(HOSTILE_TEXT),
    json_values(10).map(lambda v: b64(json.dumps(v))),
    st.binary(max_size=300).map(b64),
    st.sampled_from(HOSTILE_JSON).map(b64),
    st.tuples(any_text, any_text).map(lambda t: encode_cursor(list(t))),
    st.lists(st.integers(), max_size=5).map(lambda v: b64("c1:" + ":".join(map(str, v)))),
)


DECODERS = (decode_cursor, KeysetPaginator()._position, decode_feed_cursor)


@fuzz_settings(100)
@given(CURSORS)
@example(b64(DEEP))
@example("A" * 1_000_000)
@example(b64('["9999-12-31T23:59:59-23:59", "00000000-0000-0000-0000-000000000000"]'))
@example(b64('["2024-01-01T00:00:00", "00000000-0000-0000-0000-000000000000"]'))
@example(b64("c1:1:" + "9" * 4000 + ":1"))
@example(b64("c1:1:-1:-1"))
@example(encode_feed_cursor(1, 2**63, 2**63))
def test_api_cursors_decode_or_answer_a_field_error_named_cursor(cursor: str) -> None:
    with within(), bounded_memory(20 * len(cursor) + MB):
        refused = [refusal(lambda d=d: d(cursor), ValidationError) for d in DECODERS]
    for error in refused:
        assert error is None or set(error.detail) == {"cursor"}


@fuzz_settings(100)
@given(CURSORS)
@example(b64(DEEP))
@example("A" * 1_000_000)
@example(b64('[{"dt": [1]}, {"u": {"u": 1}}, 1]'))
@example(b64('[{"d": "0000-00-00"}, {"dec": "NaN"}, {"u": "x"}]'))
@example(b64('[{"dec": "1e999999999"}, "x", "y"]'))
@example(b64('["\\u0000", "x", {"u": "00000000-0000-0000-0000-000000000000"}]'))
def test_ui_cursors_decode_or_say_bad_cursor(cursor: str) -> None:
    orderings = [
        (Prospect, ("last_name", "first_name", "id")),
        (Lead, ("-created_at", "-id")),
        (Task, ("due_at", "id")),
    ]
    with within(), bounded_memory(20 * len(cursor) + MB):
        for model, ordering in orderings:
            refusal(lambda m=model, o=ordering: ui._typed(m, o, ui.decode_cursor(cursor, len(o))), ui.BadCursor)
