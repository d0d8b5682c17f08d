"""A worker's long-lived child process:
``python -m doshit._worker.child APP [--legacy] --parent PID --started FD [--log-format F] [--max-...=N]``.

It imports the registry once, then runs one call at a time for the worker. Calls arrive on stdin and
outcomes leave on stdout as length-prefixed JSON frames; the task's own output never reaches that
channel: ``print`` and ``logging`` inside a task become log lines on stderr labelled with the task's
id (in the worker's log format), and whatever writes to the file descriptors directly (a subprocess,
a C library) goes to stderr as it is. A task with a virtual memory limit runs in a forked grandchild
whose RLIMIT_AS is set, so the limit and any crash stay with that one task. The child is the
subreaper of what its tasks start: processes they leave behind are reaped after each task.
"""

from __future__ import annotations

import asyncio
import ctypes
import io
import logging
import mmap
import os
import resource
import signal
import sys
import threading
from types import FrameType
from typing import BinaryIO

import orjson

from .._core.limits import Limits
from .._core.outcome import Outcome, failed
from .._core.schema import Reason
from .._logs import LOG_FORMATS, configure
from .._process import killed_with_parent
from .app import AppRef
from .context import Report, TaskContext
from .frames import (
    STARTED,
    Request,
    hello,
    hello_error,
    outcome_from,
    outcome_message,
    progress_message,
    read_frame,
    write_frame,
)
from .registry import Registry
from .runner import run_call

PR_SET_PDEATHSIG = 1
"""prctl option: the signal this process gets when its parent dies."""
PR_SET_CHILD_SUBREAPER = 36
"""prctl option: orphans among this process's descendants become its children (so it can reap them)."""

task_log = logging.getLogger("doshit.task")
_current: str | None = None
"""The id of the task running now, for the SIGINT handler and the log labels."""
_busy = False
"""True while a request is handled: then the processes a task started are its own to wait for."""


def _on_sigint(signum: int, frame: FrameType | None) -> None:
    # The worker's kill starts with SIGINT: interrupt the task, never the frame I/O around it.
    if _current is not None:
        raise KeyboardInterrupt


class TaskLabel(logging.Filter):
    """Puts the running task's id on every record logged while it runs."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _current is not None and not hasattr(record, "task_id"):
            record.task_id = _current
        return True


class TaskOutput(io.TextIOBase):
    """What a task prints, one log record per line, on the ``doshit.task`` logger."""

    def __init__(self, stream: str, fallback: BinaryIO) -> None:
        self.stream = stream
        self._fallback = fallback
        self._line = ""
        self._emitting = False

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if self._emitting:  # a handler the task added writes to us: straight out, or it would loop
            self._fallback.write(text.encode("utf-8", "backslashreplace"))
            return len(text)
        self._line += text
        while "\n" in self._line:
            line, self._line = self._line.split("\n", 1)
            self._emit(line)
        return len(text)

    def flush(self) -> None:
        if self._line:
            line, self._line = self._line, ""
            self._emit(line)

    def _emit(self, line: str) -> None:
        self._emitting = True
        try:
            task_log.info("%s", line, extra={"stream": self.stream})
        finally:
            self._emitting = False


def die_with_parent(parent: int) -> None:
    """Be killed when the process that started us dies, even by SIGKILL (Linux), so that a task never
    runs on unsupervised after its worker is gone."""
    killed_with_parent()
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1)
    if os.getppid() != parent:  # it died before we asked
        os._exit(1)


def _on_sigchld(signum: int, frame: FrameType | None) -> None:
    if not _busy:  # between tasks: what ends now was left behind by a task that is over
        reap()


def reap() -> None:
    """Collect the processes a task left behind that have ended, so none stays a zombie."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _run(
    registry: Registry,
    request: Request,
    loop: asyncio.AbstractEventLoop,
    limits: Limits,
    report: Report | None = None,
) -> Outcome:
    global _current
    _current = request.task_id
    context = None
    if registry.context_parameter(request.function) is not None:
        context = TaskContext(
            request.task_id, request.function, request.queue, request.worker_id, request.attempt, report
        )
    try:
        return run_call(registry, request.function, request.args, loop, limits, context)
    finally:
        _current = None
        sys.stdout.flush()
        sys.stderr.flush()


def run_limited(
    registry: Registry,
    request: Request,
    loop: asyncio.AbstractEventLoop,
    limits: Limits,
    report: Report | None = None,
) -> Outcome:
    """Run the call in a forked process with RLIMIT_AS set to the request's memory limit. The limit
    counts the memory this child already holds, which the fork shares."""
    limit = request.memory_limit
    assert limit is not None
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
            body = orjson.dumps(outcome_message(_run(registry, request, loop, limits, report)))
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
        f"the process running {request.function} with a virtual memory limit of {limit} bytes exited with code {code}",
        retryable=True,
    )


def serve(registry: Registry, requests: BinaryIO, replies: BinaryIO, started: mmap.mmap | None, limits: Limits) -> None:
    loop = asyncio.new_event_loop()
    write_frame(replies, hello(os.getpid(), registry.names()))
    lock = threading.Lock()  # a task's threads may report progress while the outcome is written

    def report(value: str) -> None:
        with lock:
            write_frame(replies, progress_message(value))

    while True:
        message = read_frame(requests)
        if message is None:
            return
        request = Request(*message)
        global _busy
        _busy = True
        try:
            if started is not None:  # tells the worker, should we die, that this task did start
                STARTED.pack_into(started, 0, request.seq)
            if request.memory_limit:
                outcome = run_limited(registry, request, loop, limits, report)
            else:
                outcome = _run(registry, request, loop, limits, report)
        finally:
            _busy = False
        reap()
        with lock:
            write_frame(replies, outcome_message(outcome))


def _option(argv: list[str], name: str) -> str | None:
    return argv[argv.index(name) + 1] if name in argv else None


def main(argv: list[str]) -> int:
    """``APP [--legacy] --parent PID --started FD [--log-format F] [--max-args-bytes=N ...]``."""
    parent = _option(argv, "--parent")
    if parent is not None:
        die_with_parent(int(parent))
    signal.signal(signal.SIGINT, _on_sigint)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    # Keep the protocol on private copies of stdin/stdout; the task sees /dev/null and stderr.
    requests = os.fdopen(os.dup(0), "rb")
    replies = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(2, 1)
    configure(logging.INFO, _option(argv, "--log-format") or LOG_FORMATS[0])
    for handler in logging.getLogger().handlers:
        handler.addFilter(TaskLabel())
    raw_stderr = os.fdopen(os.dup(2), "wb", buffering=0)
    sys.stdout = TaskOutput("stdout", raw_stderr)
    sys.stderr = TaskOutput("stderr", raw_stderr)
    app = AppRef(argv[0], legacy="--legacy" in argv[1:])
    try:
        registry = app.load()
    except Exception as exc:  # noqa: BLE001 - reported to the worker, which decides
        write_frame(replies, hello_error(f"{type(exc).__name__}: {exc}"))
        return 1
    signal.signal(signal.SIGCHLD, _on_sigchld)  # after the import, which may wait for processes of its own
    started_fd = _option(argv, "--started")
    started = mmap.mmap(int(started_fd), STARTED.size) if started_fd is not None else None
    serve(registry, requests, replies, started, Limits.from_argv(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
