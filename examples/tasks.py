"""Task functions for the demo: ``doshit-worker --app examples.tasks`` (from the repository root).

Only functions registered on ``registry`` can be run by a worker; anything else in this module,
imported or not, is out of reach of a task.
"""

from __future__ import annotations

import asyncio

from doshit import Registry

registry = Registry()


@registry.task
def echo(text: str) -> str:
    return text


@registry.task
def add(a: float, b: float) -> float:
    return a + b


@registry.task
def fail(message: str) -> None:
    raise ValueError(message)


@registry.task(name="slow.square")
async def square(x: int, delay: float = 0.2) -> int:
    """An ``async def`` task registered under another name."""
    await asyncio.sleep(delay)
    return x * x
