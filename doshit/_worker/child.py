"""A worker's long-lived child process: ``python -m doshit._worker.child APP [--legacy] --parent PID --started FD``.

It imports the registry once, then runs one call at a time for the worker. Calls arrive on stdin and
outcomes leave on stdout as length-prefixed JSON frames; the task's own prints go to stderr, so they
can never corrupt the channel. A task with a virtual memory limit runs in a forked grandchild whose
RLIMIT_AS is set, so the limit and any crash stay with that one task.
"""

from __future__ import annotations

import asyncio
import ctypes
import mmap
import os
import resource
import signal
import sys
from types import FrameType
from typing import BinaryIO

import orjson

from .._core.outcome import Outcome, failed
from .._core.schema import Reason
from .app import AppRef
from .frames import STARTED, Request, hello, hello_error, outcome_from, outcome_message, read_frame, write_frame
from .registry import Registry
from .runner import run_call

PR_SET_PDEATHSIG = 1
"""prctl option: the signal this process gets when its parent dies."""

_in_task = False


def _on_sigint(signum: int, frame: FrameType | None) -> None:
    # The worker's kill starts with SIGINT: interrupt the task, never the frame I/O around it.
    if _in_task:
        raise KeyboardInterrupt


def die_with_parent(parent: int) -> None:
    """Be killed when the process that started us dies, even by SIGKILL (Linux), so that a task never
    runs on unsupervised after its worker is gone."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # it died before we asked
        os._exit(1)


def _run(registry: Registry, function: str, args: str, loop: asyncio.AbstractEventLoop) -> Outcome:
    global _in_task
    _in_task = True
    try:
        return run_call(registry, function, args, loop)
    finally:
        _in_task = False


def run_limited(registry: Registry, function: str, args: str, limit: int, loop: asyncio.AbstractEventLoop) -> Outcome:
    """Run the call in a forked process with RLIMIT_AS set to ``limit`` bytes."""
    read_end, write_end = os.pipe()
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:  # grandchild
        die_with_parent(parent)
        os.close(read_end)
        code = 0
        try:
            _, hard = resource.getrlimit(resource.RLIMIT_AS)
            resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
            body = orjson.dumps(outcome_message(_run(registry, function, args, loop)))
            with os.fdopen(write_end, "wb") as out:
                out.write(body)
        except BaseException:  # noqa: BLE001 - out of memory even for the report: say so by exit code
            code = 3
        os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as result:
        body = result.read()
    _, status = os.waitpid(pid, 0)
    if body:
        return outcome_from(orjson.loads(body))
    code = os.waitstatus_to_exitcode(status)
    return failed(
        Reason.RETURNCODE.format(code=code),
        f"the process running {function} with a virtual memory limit of {limit} bytes exited with code {code}",
    )


def serve(registry: Registry, requests: BinaryIO, replies: BinaryIO, started: mmap.mmap | None) -> None:
    loop = asyncio.new_event_loop()
    write_frame(replies, hello(os.getpid(), registry.names()))
    while True:
        message = read_frame(requests)
        if message is None:
            return
        request = Request(*message)
        if started is not None:  # tells the worker, should we die, that this task did start
            STARTED.pack_into(started, 0, request.seq)
        if request.memory_limit:
            outcome = run_limited(registry, request.function, request.args, request.memory_limit, loop)
        else:
            outcome = _run(registry, request.function, request.args, loop)
        write_frame(replies, outcome_message(outcome))


def main(argv: list[str]) -> int:
    """``APP [--legacy] --parent PID --started FD``."""
    if "--parent" in argv:
        die_with_parent(int(argv[argv.index("--parent") + 1]))
    signal.signal(signal.SIGINT, _on_sigint)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    # Keep the protocol on private copies of stdin/stdout; the task sees /dev/null and stderr.
    requests = os.fdopen(os.dup(0), "rb")
    replies = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(2, 1)
    app = AppRef(argv[0], legacy="--legacy" in argv[1:])
    try:
        registry = app.load()
    except Exception as exc:  # noqa: BLE001 - reported to the worker, which decides
        write_frame(replies, hello_error(f"{type(exc).__name__}: {exc}"))
        return 1
    started = None
    if "--started" in argv:
        started = mmap.mmap(int(argv[argv.index("--started") + 1]), STARTED.size)
    serve(registry, requests, replies, started)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
