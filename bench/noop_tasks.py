"""The benchmark's task functions: they do nothing, so a benchmark measures doshit itself.

Served by ``doshit-worker --app bench.noop_tasks`` (run from the repository root).
"""

from __future__ import annotations

from doshit import Registry

registry = Registry()


@registry.task
def noop() -> None:
    """A plain function: a thread in the inline pool, a child process's call in the process pool."""
    return None


@registry.task
async def noop_async() -> None:
    """An ``async def`` function: runs on the worker's event loop in the inline pool."""
    return None
