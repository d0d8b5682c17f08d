"""How one task call ended, and the task hash fields that record it. No I/O."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .._errors import TaskFailed
from . import codec
from .schema import Result, TaskField

MAX_REASON = 1000
"""error-reason is one line; longer messages are cut here (the whole text is in error-exception)."""


@dataclass(frozen=True)
class Outcome:
    """How one call ended: the result JSON, or a reason and detail text."""

    ok: bool
    value: str = ""
    reason: str = ""
    exception: str = ""
    retryable: bool = False
    """For a failure: whether running the task again may help (the function raised an exception its
    retry policy names, or its process died), as opposed to a failure it would meet again."""

    def fields(self) -> dict[str, str]:
        """The task hash fields that record this outcome (without state and timestamp)."""
        if self.ok:
            return {TaskField.RESULT: Result.SUCCESSFUL, TaskField.RESULT_VALUE: self.value}
        return {
            TaskField.RESULT: Result.FAILED,
            TaskField.ERROR_REASON: self.reason,
            TaskField.ERROR_EXCEPTION: self.exception,
        }

    def result(self) -> Any:
        """The decoded return value; raises TaskFailed for a failure."""
        if self.ok:
            return codec.decode(self.value)
        raise TaskFailed(self.reason, exception=self.exception)


def failed(reason: str, exception: str = "", *, retryable: bool = False) -> Outcome:
    """A failure whose reason is one line of at most MAX_REASON characters."""
    line = " ".join(reason.split())
    return Outcome(False, reason=line[:MAX_REASON], exception=exception, retryable=retryable)
