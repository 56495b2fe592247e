"""The structured log formatters: one event a line, ``extra=`` fields as keys, the line's own keys kept."""

from __future__ import annotations

import json
import logging

from crm.logging import JsonFormatter, KeyValueFormatter


def _record(message: str, **extra: object) -> logging.LogRecord:
    logger = logging.getLogger("crm.test_logging")
    return logger.makeRecord(logger.name, logging.INFO, __file__, 1, message, (), None, extra=extra)


def test_extra_fields_are_keys_of_the_line() -> None:
    line = json.loads(JsonFormatter().format(_record("lead_escalated", lead_id="abc", recipients=2)))
    assert line["level"] == "info"
    assert line["logger"] == "crm.test_logging"
    assert line["event"] == "lead_escalated"
    assert (line["lead_id"], line["recipients"]) == ("abc", 2)


def test_an_extra_field_named_like_a_key_of_the_line_never_replaces_it() -> None:
    # An escalation's level passed as "level" made the line read level=1: a filter on the log level missed it.
    record = _record("lead_escalated", level=1, event="other", ts="then", logger="someone")
    line = json.loads(JsonFormatter().format(record))
    assert (line["level"], line["event"], line["logger"]) == ("info", "lead_escalated", "crm.test_logging")
    assert line["ts"] != "then"
    assert (line["extra_level"], line["extra_event"], line["extra_ts"], line["extra_logger"]) == (
        1,
        "other",
        "then",
        "someone",
    )
    text = KeyValueFormatter().format(record)
    assert text.split()[1] == "level=info"
    assert "extra_level=1" in text.split()
