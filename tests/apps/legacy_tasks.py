"""A tasks module in the legacy style: the worker may run only what it decorated with @task()."""

from __future__ import annotations

from os import system  # noqa: F401 - imported on purpose: it must never be callable by name

from doshit import task

from .legacy_other import shout  # noqa: F401 - decorated elsewhere: not this module's to expose


@task()
def add(a: int, b: int = 10) -> int:
    return a + b


@task()
def greet(name: str, greeting: str = "hello", **extra: str) -> str:
    return f"{greeting} {name}{''.join(extra.values())}"


@task
def bare(x: int) -> int:
    return x * 2


def helper() -> str:
    return "not a task"
