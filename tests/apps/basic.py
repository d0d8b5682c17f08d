"""Task functions the tests' workers serve: every way a task can end."""

from __future__ import annotations

import asyncio
import ctypes
import os
import sys
import time
from datetime import datetime, timedelta
from typing import Any

from doshit import Registry

registry = Registry()


@registry.task
def echo(value: Any = None, text: Any = None) -> Any:
    return text if value is None else value


@registry.task
def add(a: int, b: int) -> int:
    return a + b


@registry.task(name="math.mul")
async def mul(a: float, b: float) -> float:
    await asyncio.sleep(0)
    return a * b


@registry.task
def fail(message: str = "bad input") -> None:
    raise ValueError(message)


@registry.task
def segfault() -> None:
    ctypes.string_at(0)


@registry.task
def hard_exit(code: int = 3) -> None:
    os._exit(code)


@registry.task
def sleep(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


@registry.task
async def async_sleep(seconds: float) -> float:
    await asyncio.sleep(seconds)
    return seconds


@registry.task
def stubborn(seconds: float) -> str:
    """Ignores the first interrupt, like badly behaved code."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            time.sleep(0.05)
        except KeyboardInterrupt:
            pass
    return "survived"


@registry.task
def allocate(megabytes: int) -> int:
    block = bytearray(megabytes * 1024 * 1024)
    return len(block)


@registry.task
def unencodable() -> set[int]:
    return {1, 2}


@registry.task
def noisy(text: str) -> str:
    print("a task printing to stdout", text)
    sys.stdout.flush()
    return text


@registry.task
def later(moment: datetime, days: int) -> datetime:
    return moment + timedelta(days=days)


@registry.task
def pid() -> int:
    return os.getpid()


def not_registered() -> str:
    return "must never run"
