"""A task hash, decoded on access: one property per schema field, typed by the field's schema type."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .._errors import DecodeError, TaskFailed
from . import codec
from .schema import Result, State, TaskField, TaskFields
from .text import is_utf8


def _integer(text: str) -> int:
    # isdigit() alone also takes digits int() refuses ('²') or reads as other numbers ('٣')
    if not (text.isascii() and text.isdigit()):
        raise DecodeError(f"not a non-negative integer: {text!r}")
    return int(text)


def _container(kind: type) -> Callable[[str], Any]:
    def decode(text: str) -> Any:
        value = codec.decode(text)
        if not isinstance(value, kind):
            raise DecodeError(f"not a JSON {'object' if kind is dict else 'array'}")
        return value

    return decode


DECODERS: Mapping[str, Callable[[str], Any]] = {
    "string": str,
    "enum": str,
    "timestamp": codec.parse_timestamp,
    "integer": _integer,
    "json-object": _container(dict),
    "json-array": _container(list),
    "json": codec.decode,
}
"""How a field of each schema type decodes (the Node client has the same table)."""


class TaskInfo(TaskFields):
    """A snapshot of a task hash, decoded on access. ``fields`` holds the raw strings.

    Every field of the schema is a property (``function``, ``state``, ``args``, ``pending_created``,
    ``result_value``, ...). A field that does not decode raises a DecodeError naming it; the others
    still read.
    """

    __slots__ = ("fields", "task_id")

    def __init__(self, task_id: str, fields: Mapping[str, str]) -> None:
        self.task_id = task_id
        self.fields = dict(fields)

    def __repr__(self) -> str:
        return f"<TaskInfo {self.task_id} {self.function} {self.state} {self.result or ''}>".replace(" >", ">")

    def _decoded(self, field: str, kind: str) -> Any:
        text = self.fields.get(field)
        if not text and kind in ("json-object", "timestamp"):
            return {} if kind == "json-object" else None  # args absent: no arguments
        if text is None:
            return None
        try:
            if not is_utf8(text):
                raise DecodeError("not valid UTF-8")
            return DECODERS[kind](text)
        except DecodeError as exc:
            raise DecodeError(f"task {self.task_id}: field {field}: {exc}") from None

    @property
    def finished(self) -> bool:
        return self.state == State.FINISHED

    def outcome(self) -> Any:
        """The return value of a successful task; raises TaskFailed for a failed one."""
        if self.result == Result.SUCCESSFUL:
            return self.result_value
        if self.result == Result.FAILED:
            raise TaskFailed(
                self.error_reason or "failed without an error-reason",
                task_id=self.task_id,
                exception=self.error_exception or "",
            )
        raise DecodeError(f"task {self.task_id} is {self.state} with result {self.result!r}")


WAIT_FIELDS = (
    TaskField.STATE,
    TaskField.RESULT,
    TaskField.RESULT_VALUE,
    TaskField.ERROR_REASON,
    TaskField.ERROR_EXCEPTION,
)
"""The fields a wait reads: enough for the outcome."""
