"""Python functions served by the same deployment file (app = "python_tasks.py:registry")."""

from __future__ import annotations

from doshit import Registry

registry = Registry()


@registry.task
def shout(text: str) -> str:
    return text.upper() + "!"
