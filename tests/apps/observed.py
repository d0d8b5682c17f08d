"""Task functions and hooks for the tests of events, failure hooks, the task context and queues.

Every event the worker emits is appended as one JSON line to ``$OBSERVED_DIR/events.jsonl``; the
function-level failure command writes to ``$OBSERVED_DIR/own-failures.jsonl``.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any

from doshit import EVENTS, Event, Registry, TaskContext

registry = Registry()
HERE = Path(__file__).parent


def _out(name: str) -> Path:
    return Path(os.environ.get("OBSERVED_DIR", "/tmp")) / name


def record(event: Event) -> None:
    line = event.to_json().decode()
    with _out("events.jsonl").open("a") as out:
        out.write(line + "\n")


for _kind in EVENTS:
    registry.on(_kind)(record)


@registry.on("task_failed")
def broken_hook(event: Event) -> None:
    raise RuntimeError("this hook is broken")


@registry.on("task_failed")
async def slow_hook(event: Event) -> None:
    if event.function == "fail_slowly_heard":
        await asyncio.sleep(60)


@registry.task
def steps(n: int, pause: float, ctx: TaskContext) -> dict[str, Any]:
    for done in range(1, n + 1):
        time.sleep(pause)
        ctx.progress(done / n)
    ctx.logger.info("did %d steps", n)
    return {"task_id": ctx.task_id, "attempt": ctx.attempt, "queue": ctx.queue, "worker": ctx.worker_id}


@registry.task
async def asteps(n: int, pause: float, ctx: "TaskContext") -> dict[str, Any]:  # noqa: UP037 - a string, on purpose
    for done in range(1, n + 1):
        await asyncio.sleep(pause)
        ctx.progress({"done": done, "of": n})
    return {"task_id": ctx.task_id, "attempt": ctx.attempt, "queue": ctx.queue, "worker": ctx.worker_id}


@registry.task
def many_reports(ctx: TaskContext) -> int:
    for i in range(100_000):
        ctx.progress(i)
    return 100_000


@registry.task
def fail(message: str = "bad input") -> None:
    raise ValueError(message)


@registry.task
def fail_slowly_heard() -> None:
    raise ValueError("heard by a slow hook")


@registry.task(on_failure=[sys.executable, str(HERE / "record_failure.py"), "own-failures.jsonl"])
def fail_own_hook() -> None:
    raise KeyError("its own hook hears this")


@registry.task(retries=1, backoff=0.0)
def flaky(ctx: TaskContext) -> int:
    if ctx.attempt == 1:
        raise ConnectionError("first attempt fails")
    return ctx.attempt


@registry.task
def echo(text: str = "") -> str:
    return text


@registry.task
def note(path: str, name: str) -> str:
    with open(path, "a") as out:
        out.write(name + "\n")
    return name


@registry.task(concurrency=1)
def one_at_a_time(path: str, name: str, pause: float = 0.3) -> str:
    with open(path, "a") as out:
        out.write(f"start {name} {time.time()}\n")
    time.sleep(pause)
    with open(path, "a") as out:
        out.write(f"end {name} {time.time()}\n")
    return name


@registry.task
def sleep(seconds: float, marker: str | None = None) -> float:
    if marker:
        Path(marker).write_text(str(os.getpid()))
    time.sleep(seconds)
    return seconds
