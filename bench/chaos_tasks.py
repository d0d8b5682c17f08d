"""The chaos test's task functions (bench/chaos.py). Each run notes its start and its end in
``$CHAOS_DIR/runs.log`` with the pid of the worker that runs it (the parent of the child process), so
the chaos test can tell which runs a killed worker cut short and which tasks ran more than once.
"""

from __future__ import annotations

import os
import random
import time

from doshit import Registry

registry = Registry()


class Transient(Exception):
    """A failure worth another try."""


def note(kind: str, n: int, detail: str = "") -> None:
    """One line of the runs log; O_APPEND makes each short write whole, whatever the writers."""
    line = f"{kind} {n} {os.getppid()} {time.time():.6f} {detail}\n".encode()
    fd = os.open(os.path.join(os.environ["CHAOS_DIR"], "runs.log"), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


@registry.task
def short(n: int) -> int:
    note("S", n)
    note("E", n, "ok")
    return n


@registry.task
def slow(n: int, seconds: float) -> int:
    note("S", n)
    time.sleep(seconds)
    note("E", n, "ok")
    return n


@registry.task(retries=3, backoff=0.2, max_backoff=1.0, retry_on=Transient)
def flaky(n: int, chance: float) -> int:
    """Fails with ``chance`` at each run: retried up to three times, so some end failed."""
    note("S", n)
    if random.random() < chance:
        note("E", n, "raise")
        raise Transient(f"run of task {n} failed by chance")
    note("E", n, "ok")
    return n


@registry.task(timeout=1)
def overtime(n: int, seconds: float) -> int:
    """Runs longer than its time limit of 1 s: killed, and finished failed."""
    note("S", n)
    time.sleep(seconds)
    note("E", n, "ok")
    return n
