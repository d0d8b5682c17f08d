"""The legacy doshit 0.2 Python API, kept working unchanged on top of the new client.

    from doshit import task

    @task()
    def echo(text):
        return text

    handle = echo.exec_async("hi")     # positional arguments are bound to parameter names
    handle.wait()
    handle.get_result()                # ("successful", "hi")

Configuration comes from the environment, as it did: DOSHIT_REDIS (JSON connection keywords) or
DOSHIT_REDIS_URL, DOSHIT_APP_PREFIX, DOSHIT_QUEUE, DOSHIT_TASK_VIRTUAL_MEMORY_LIMIT.
A worker started as ``doshit worker tasks.py`` runs exactly the functions that module decorated with
``@task()``.
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Callable
from typing import Any

from .._core.schema import Result
from .._errors import TaskNotFound
from .sync import Client, Task

_client: Client | None = None
_client_lock = threading.Lock()


def _default_client() -> Client:
    global _client
    with _client_lock:
        if _client is None:
            _client = Client()
        return _client


class LegacyTask:
    """A function decorated with the legacy ``@task()``: callable as before, plus ``exec_async``."""

    def __init__(self, function: Callable[..., Any], queue: str | None = None) -> None:
        functools.update_wrapper(self, function)
        self.function = function
        self.queue = queue
        self.signature = inspect.signature(function)
        self.name: str = function.__name__

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.function(*args, **kwargs)

    def named_arguments(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """Bind a call to the parameter names, as the legacy producer did."""
        bound = self.signature.bind(*args, **kwargs)
        bound.apply_defaults()
        named: dict[str, Any] = {}
        for name, value in bound.arguments.items():
            kind = self.signature.parameters[name].kind
            if kind is inspect.Parameter.VAR_KEYWORD:
                named.update(value)
            elif kind is inspect.Parameter.VAR_POSITIONAL:
                if value:
                    raise TypeError(f"{self.name}: *{name} cannot be sent; tasks take named arguments only")
            else:
                named[name] = value
        return named

    def exec_async(self, *args: Any, **kwargs: Any) -> AsyncResultHandle:
        """Submit a call of this function; returns a handle to wait for its result."""
        client = _default_client()
        options = {"_queue": self.queue} if self.queue else {}
        return AsyncResultHandle(client.submit(self.name, **self.named_arguments(*args, **kwargs), **options))


def task(*args: Any, queue: str | None = None) -> Any:
    """The legacy decorator: ``@task()`` (or bare ``@task``)."""
    if len(args) == 1 and callable(args[0]):
        return LegacyTask(args[0])
    return lambda function: LegacyTask(function, queue=queue)


class AsyncResultHandle:
    """What ``exec_async`` returns: ``wait()``, ``poll()``, ``get_result()``, ``cancel()``, ``close()``."""

    def __init__(self, task: Task) -> None:
        self.task = task
        self.task_id = task.task_id
        self._outcome: tuple[str | None, Any] = (None, None)

    def wait(self, timeout: float | None = None) -> tuple[str | None, Any]:
        """Block until finished (legacy: no timeout; TaskTimeout when one is given and passes)."""
        self._record(self.task.wait(timeout))
        return self._outcome

    def poll(self) -> bool:
        try:
            info = self.task.info()
        except TaskNotFound:
            return False
        if info.finished:
            self._record(info)
        return info.finished

    def get_result(self) -> tuple[str | None, Any]:
        """("successful", value), ("failed", error_reason), or (None, None) while not finished."""
        if self._outcome[0] is None:
            self.poll()
        return self._outcome

    def cancel(self) -> str:
        return self.task.cancel()

    def close(self) -> None:
        """Nothing to release: the shared client keeps one subscription for every handle."""

    def _record(self, info: Any) -> None:
        if info.result == Result.SUCCESSFUL:
            self._outcome = (Result.SUCCESSFUL, info.result_value)
        else:
            self._outcome = (Result.FAILED, info.error_reason)
