"""The whitelist of functions a worker may run, by name."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar, overload

from .._core.worker_rules import RetryPolicy
from .._errors import RegistryError
from .context import context_parameter
from .events import EVENTS, FailureHook, Hook, check_failure_hook

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class TaskPolicy:
    """What a worker does about one function's failures and run time."""

    retry: RetryPolicy = field(default_factory=RetryPolicy)
    retry_on: tuple[type[BaseException], ...] | None = None
    """Exception types that are worth a retry (None: any exception)."""
    timeout: float | None = None
    """Seconds a run may take before it is killed (None: the worker's default, if any)."""
    concurrency: int | None = None
    """The most runs of the function one worker has at once (None: as many as it has slots)."""
    on_failure: FailureHook | None = None
    """Called (a function) or run (a command) when a task of the function fails for good; None: the
    worker's failure hook, if any."""

    def retryable(self, exc: BaseException) -> bool:
        return self.retry_on is None or isinstance(exc, self.retry_on)


DEFAULT_POLICY = TaskPolicy()


def loop_running() -> bool:
    """Whether this thread runs an asyncio event loop now."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class Registry:
    """Names and the functions they run. Only registered functions are ever run by a worker.

    >>> registry = Registry()
    >>> @registry.task
    ... def echo(text):
    ...     return text
    >>> @registry.task(name="math.add")
    ... async def add(a, b):
    ...     return a + b
    """

    def __init__(self) -> None:
        self._functions: dict[str, Callable[..., Any]] = {}
        self._signatures: dict[str, inspect.Signature] = {}
        self._policies: dict[str, TaskPolicy] = {}
        self._contexts: dict[str, str | None] = {}
        self._hooks: dict[str, list[Hook]] = {}

    @overload
    def task(self, function: F, /) -> F: ...

    @overload
    def task(
        self,
        /,
        *,
        name: str | None = None,
        retries: int = 0,
        backoff: float = 1.0,
        max_backoff: float = 300.0,
        retry_on: type[BaseException] | tuple[type[BaseException], ...] | None = None,
        timeout: float | None = None,
        concurrency: int | None = None,
        on_failure: FailureHook | None = None,
    ) -> Callable[[F], F]: ...

    def task(
        self,
        function: Callable[..., Any] | None = None,
        /,
        *,
        name: str | None = None,
        retries: int = 0,
        backoff: float = 1.0,
        max_backoff: float = 300.0,
        retry_on: type[BaseException] | tuple[type[BaseException], ...] | None = None,
        timeout: float | None = None,
        concurrency: int | None = None,
        on_failure: FailureHook | None = None,
    ) -> Any:
        """Register a plain or ``async def`` function under its own name or ``name``; returns it unchanged.

        ``retries``: run it again up to that many times after it raises (only ``retry_on`` exception
        types, when given), ``backoff`` seconds after the first failure, doubling up to
        ``max_backoff``, with jitter. ``timeout``: seconds a run may take before it is killed. A task's
        own ``_retries`` and ``_timeout`` win over these. ``concurrency``: the most runs of it one
        worker has at once. ``on_failure``: a function called with the Event, or a command (argv list,
        no shell) run, when a task of it fails for good (instead of the worker's failure hook)."""
        if timeout is not None and not timeout > 0:
            raise RegistryError(f"timeout must be a positive number of seconds, got {timeout!r}")
        if concurrency is not None and (isinstance(concurrency, bool) or not isinstance(concurrency, int)
                                        or concurrency < 1):  # fmt: skip
            raise RegistryError(f"concurrency must be a positive integer, got {concurrency!r}")
        try:
            hook = check_failure_hook(on_failure)
        except ValueError as exc:
            raise RegistryError(str(exc)) from None
        policy = TaskPolicy(
            RetryPolicy(retries, backoff, max_backoff),
            (retry_on,) if isinstance(retry_on, type) else retry_on,
            timeout,
            concurrency,
            hook,
        )
        if function is not None:
            return self.register(function, policy=policy)

        def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
            return self.register(fn, name=name, policy=policy)

        return decorate

    def register(self, function: F, *, name: str | None = None, policy: TaskPolicy = DEFAULT_POLICY) -> F:
        if not callable(function):
            raise RegistryError(f"only functions can be registered, got {function!r}")
        name = name or getattr(function, "__name__", None)
        if not name or not isinstance(name, str):
            raise RegistryError(f"{function!r} has no name; pass name=...")
        if name in self._functions and self._functions[name] is not function:
            raise RegistryError(f"a different function is already registered as {name!r}")
        self._functions[name] = function
        signature = inspect.signature(function)
        self._contexts[name] = context = context_parameter(function, signature)
        if context is not None:  # what a caller passes: the parameters without the task context
            signature = signature.replace(parameters=[p for p in signature.parameters.values() if p.name != context])
        self._signatures[name] = signature
        self._policies[name] = policy
        return function

    def policy(self, name: str) -> TaskPolicy:
        """The retry policy and time limit of a function (the defaults for a name not registered)."""
        return self._policies.get(name, DEFAULT_POLICY)

    def context_parameter(self, name: str) -> str | None:
        """The name of the parameter of a function that asks for the TaskContext, if it has one."""
        return self._contexts.get(name)

    def on(self, event: str) -> Callable[[Hook], Hook]:
        """``@registry.on("task_failed")``: call the function with the Event each time one of this kind
        happens in a worker serving this registry (see doshit.EVENTS). Plain or ``async def``."""
        if event not in EVENTS:
            raise RegistryError(f"no event named {event!r}; the events are: {', '.join(EVENTS)}")

        def attach(hook: Hook) -> Hook:
            if not callable(hook):
                raise RegistryError(f"a hook must be a function, got {hook!r}")
            self._hooks.setdefault(event, []).append(hook)
            return hook

        return attach

    def hooks(self) -> dict[str, list[Hook]]:
        """The hooks attached with ``on``, by event."""
        return {event: list(hooks) for event, hooks in self._hooks.items()}

    def get(self, name: str) -> Callable[..., Any] | None:
        return self._functions.get(name)

    def signature(self, name: str) -> inspect.Signature:
        return self._signatures[name]

    def names(self) -> list[str]:
        return sorted(self._functions)

    def __contains__(self, name: object) -> bool:
        return name in self._functions

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._functions)

    def __repr__(self) -> str:
        return f"<Registry {', '.join(self.names()) or '(empty)'}>"

    def call(self, name: str, /, **kwargs: Any) -> Any:
        """Run a registered function here and now, through the same JSON encoding and checks a worker
        applies, so tests of task functions catch what a worker would refuse. Raises TaskFailed.
        From inside a running event loop, use ``await registry.acall(...)``."""
        from .._core.codec import encode
        from .runner import run_call

        if inspect.iscoroutinefunction(self._functions.get(name)) and loop_running():
            raise RuntimeError(f"registry.call cannot run the async function {name} inside a running event loop; "
                               f"use await registry.acall({name!r}, ...)")  # fmt: skip
        return run_call(self, name, encode(kwargs)).result()

    async def acall(self, name: str, /, **kwargs: Any) -> Any:
        """``call`` for asyncio code: ``async def`` functions run on the current loop."""
        from .._core.codec import encode
        from .runner import run_call_async

        return (await run_call_async(self, name, encode(kwargs))).result()
