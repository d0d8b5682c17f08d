"""How the worker and its child processes log: one line per record, as text or as JSON for log
shippers, with the task id on every line that is about a task (the output of a task included)."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

LOG_FORMATS = ("text", "json")
"""--log-format choices; the first is the default."""

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """A record as one JSON object: time, level, logger, message, the fields given as ``extra``
    (``task_id``, ...), and the traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({key: value for key, value in record.__dict__.items() if key not in _STANDARD})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """One line: time, level, logger and message, which a record about a task starts with its id."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def formatMessage(self, record: logging.LogRecord) -> str:
        task_id = getattr(record, "task_id", None)
        if task_id is not None:
            record.message = f"task {task_id}: {record.message}"
        return super().formatMessage(record)


def configure(level: int, log_format: str) -> None:
    """Log to stderr in this format: ``text`` (the default) or ``json``."""
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log format must be one of {', '.join(LOG_FORMATS)}, got {log_format!r}")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
