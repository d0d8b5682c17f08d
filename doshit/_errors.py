"""The exceptions doshit raises."""

from __future__ import annotations


class DoshitError(Exception):
    """Base class of every doshit error."""


class EncodeError(DoshitError, TypeError, ValueError):
    """A value cannot be written as doshit JSON (NaN, bytes, a set, a non-string key, ...)."""


class DecodeError(DoshitError, ValueError):
    """A field in Redis does not hold what the schema says it should."""


class ConfigError(DoshitError, ValueError):
    """The Redis connection, queue or prefix configuration is unusable."""


class RegistryError(DoshitError, LookupError):
    """A registry or --app specification cannot be used."""


class TaskExists(DoshitError):
    """A submit asked for a task id whose hash already exists; nothing was written."""


class TaskNotDurable(DoshitError):
    """A submit asked for replicas (the URL's durable_replicas) and fewer had the task when their time
    (durable_timeout_ms) was up. The task is written to the master and will run, unless a failover
    loses it: ``task_id`` says which (empty for several), ``acknowledged`` how many replicas had it."""

    def __init__(self, message: str, *, task_id: str = "", acknowledged: int = 0) -> None:
        super().__init__(message)
        self.task_id = task_id
        self.acknowledged = acknowledged


class TaskNotFound(DoshitError, LookupError):
    """No task hash exists for that id (never submitted, or expired)."""


class TaskTimeout(DoshitError, TimeoutError):
    """The task did not finish within the timeout. It may still finish later."""


class TaskFailed(DoshitError):
    """The task finished with result=failed. The message is the task's error-reason."""

    def __init__(self, reason: str, *, task_id: str = "", exception: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.task_id = task_id
        self.exception = exception
        """The task's error-exception field: usually the remote traceback."""


class TaskError(DoshitError):
    """Raise it in a task to fail with exactly this ``reason`` (the task's error-reason) and ``detail``
    (its error-exception, instead of the traceback). Command tasks fail with it."""

    def __init__(self, reason: str, detail: str | None = None, *, retryable: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail
        self.retryable = retryable
        """Worth a retry whatever the function's retry_on says (it still needs retries left)."""
