"""Task functions the tests' workers serve: every way a task can end."""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
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


def announce(marker: str | None) -> None:
    """Tell a waiting test that the task is running now (a claimed task is `executing` before that)."""
    if marker:
        Path(marker).write_text(str(os.getpid()))


@registry.task
def sleep(seconds: float, marker: str | None = None) -> float:
    announce(marker)
    time.sleep(seconds)
    return seconds


@registry.task
async def async_sleep(seconds: float, marker: str | None = None) -> float:
    announce(marker)
    await asyncio.sleep(seconds)
    return seconds


@registry.task
def stubborn(seconds: float, marker: str | None = None) -> str:
    """Ignores interrupts (SIGINT), like badly behaved code: only SIGTERM or SIGKILL stop it.

    Ignored at the signal level, not by catching KeyboardInterrupt, which would leave gaps between
    the catches where a repeated SIGINT gets through."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        announce(marker)
        time.sleep(seconds)
    finally:
        signal.signal(signal.SIGINT, previous)
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


@registry.task
def exit_task(code: int = 2) -> None:
    """Calls sys.exit: the task's SystemExit must become its failure, never the worker's exit."""
    sys.exit(code)


FORGED_FRAME = b'\x00\x00\x00\x19[true,"\\"forged\\"","",""]'
"""What a finished call looks like on the worker's channel to a child, with the value "forged"."""


@registry.task
def chatter(text: str) -> dict[str, Any]:
    """Prints, writes a forged result frame straight to fd 1, and reads stdin: none of it may reach
    the channel between the worker and its child process."""
    print("chatter on stdout:", text, flush=True)
    os.write(1, FORGED_FRAME)
    return {"text": text, "stdin": sys.stdin.read()}


@registry.task
def talk(text: str) -> str:
    """Prints and logs: both must reach the worker's log labelled with the task's id."""
    print("printed:", text)
    logging.getLogger("tests.apps").warning("logged: %s", text)
    return text


@registry.task
def big_result(size: int) -> str:
    return "x" * size


@registry.task
async def block_loop(seconds: float, marker: str | None = None) -> float:
    """An async task that blocks its event loop, as badly written async code does."""
    announce(marker)
    time.sleep(seconds)
    return seconds


_held: list[bytearray] = []


@registry.task
def hold(megabytes: int) -> int:
    """Keeps the memory after the task: the child process grows."""
    _held.append(bytearray(b"\1" * megabytes * 1024 * 1024))
    return os.getpid()


@registry.task
def orphan_and_die(marker: str, code: int = 5) -> None:
    """Forks a process that keeps every descriptor of this one (the worker's pipe too) and sleeps,
    then dies: the worker must still notice at once, and the straggler must not outlive the task."""
    straggler = os.fork()
    if straggler == 0:
        time.sleep(120)
        os._exit(0)
    Path(marker).write_text(str(straggler))
    os._exit(code)


@registry.task
def leave_zombie() -> int:
    """Starts a short process and never waits for it."""
    return subprocess.Popen(["true"]).pid


# --------------------------------------------------------------------------- retries, time limits, crashes


def runs(counter: str) -> int:
    """Counts the runs of a task in the file ``counter``; returns this run's number."""
    path = Path(counter)
    done = int(path.read_text()) + 1 if path.exists() else 1
    path.write_text(str(done))
    return done


@registry.task(retries=2, backoff=0.05, max_backoff=0.1)
def flaky(counter: str, failures: int) -> int:
    """Fails its first ``failures`` runs, then returns the number of the run that worked."""
    done = runs(counter)
    if done <= failures:
        raise ValueError(f"run {done} fails")
    return done


class Transient(Exception):
    """An error worth another try."""


@registry.task(retries=3, backoff=0.05, max_backoff=0.1, retry_on=Transient)
def picky(counter: str, transient: bool) -> None:
    """Retried only when it raises Transient."""
    runs(counter)
    raise Transient("try again") if transient else ValueError("no use trying again")


@registry.task(timeout=0.5)
def limited(seconds: float, marker: str | None = None) -> float:
    announce(marker)
    time.sleep(seconds)
    return seconds


@registry.task(timeout=0.5)
async def async_limited(seconds: float, marker: str | None = None) -> float:
    announce(marker)
    await asyncio.sleep(seconds)
    return seconds


@registry.task
def stall_first(counter: str, marker: str | None = None) -> int:
    """Its first run hangs (until its worker is killed); a later one returns its run number at once."""
    done = runs(counter)
    announce(marker)
    if done == 1:
        time.sleep(600)
    return done


@registry.task
def kill_worker(counter: str) -> None:
    """SIGKILLs the worker that runs it (its parent, in the process pool): a poison task."""
    runs(counter)
    parent = os.getppid()
    if b"doshit._cli" not in Path(f"/proc/{parent}/cmdline").read_bytes():
        raise RuntimeError("kill_worker runs only in a worker's child process (the process pool)")
    os.kill(parent, signal.SIGKILL)
    time.sleep(600)
