"""Structured log formatters: one event per line, fields from ``extra=`` kept as keys."""

import json
import logging
from datetime import UTC, datetime
from typing import Any

# Attributes every LogRecord has; anything else came from ``extra=`` and is a field.
_STANDARD_ATTRS = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "ts": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
        "level": record.levelname.lower(),
        "logger": record.name,
        "event": record.getMessage(),
    }
    own = set(fields)
    for key, value in vars(record).items():
        if key not in _STANDARD_ATTRS and not key.startswith("_"):
            # an extra named like one of the line's own keys (``level``) must not replace it: log filters read them
            fields[f"extra_{key}" if key in own else key] = value
    if record.exc_info:
        fields["exc"] = logging.Formatter().formatException(record.exc_info)
    return fields


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(_fields(record), default=str, ensure_ascii=False)


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        parts = []
        for key, value in _fields(record).items():
            text = str(value)
            if not text or any(c in text for c in ' ="\n'):
                text = json.dumps(text, ensure_ascii=False)
            parts.append(f"{key}={text}")
        return " ".join(parts)


class DropHeartbeats(logging.Filter):
    """Drops the lines every run of a task writes when nothing went wrong: Celery's "Task ... received",
    "Task ... succeeded" and beat's "Scheduler: Sending due task". With a sweep every 10 s they were most
    of an idle log; tasks log what they did themselves (e.g. ``sync_relay_run``), and failures
    (WARNING and up) still pass. ``LOG_TASK_EVENTS=1`` keeps them (settings).
    """

    PER_TASK_LOGGERS = frozenset({"celery.app.trace", "celery.worker.strategy"})
    BEAT_SENDING = "Scheduler: Sending due task"

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING:
            return True
        if record.name in self.PER_TASK_LOGGERS:
            return False
        return not (record.name == "celery.beat" and str(record.msg).startswith(self.BEAT_SENDING))
