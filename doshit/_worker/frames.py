"""What a worker and its child processes say to each other, and how: length-prefixed JSON frames.

The child says hello once (``ready``, or the ``error`` that kept it from loading the registry), then
answers each request with the call's outcome (a list), which progress reports (objects) may
precede. Both sides build and read the messages here.
"""

from __future__ import annotations

import asyncio
import os
import struct
import tempfile
from typing import Any, BinaryIO, NamedTuple

import orjson

from .._core.outcome import Outcome

HEADER = struct.Struct(">I")
"""Each frame is a 4-byte big-endian length and that many bytes of JSON."""

STARTED = struct.Struct("<Q")
"""The shared page a child writes the sequence number of the task it is about to run into."""


class Request(NamedTuple):
    """Run one call: the sequence number the child marks as started, the task's id (for the labels of
    its output), the function, its args JSON, the virtual memory limit (bytes) to run it under, and
    what the task's context tells it (attempt, queue, worker)."""

    seq: int
    task_id: str
    function: str
    args: str
    memory_limit: int | None
    attempt: int = 1
    queue: str = ""
    worker_id: str = ""


def hello(pid: int, functions: list[str]) -> dict[str, Any]:
    return {"ready": pid, "functions": functions}


def hello_error(error: str) -> dict[str, Any]:
    return {"error": error}


def progress_message(value: str) -> dict[str, Any]:
    """A running task's progress (JSON text), sent before its outcome, any number of times."""
    return {"progress": value}


def outcome_message(outcome: Outcome) -> list[Any]:
    return [outcome.ok, outcome.value, outcome.reason, outcome.exception, outcome.retryable]


def outcome_from(message: list[Any]) -> Outcome:
    ok, value, reason, exception, retryable = message
    return Outcome(ok, value, reason, exception, retryable)


def started_page() -> int:
    """A file descriptor of a fresh page of memory that a child process can share."""
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create("doshit-started", os.MFD_CLOEXEC)
    else:  # pragma: no cover - platforms without memfd
        with tempfile.TemporaryFile() as backing:
            fd = os.dup(backing.fileno())
    os.ftruncate(fd, STARTED.size)
    return fd


def pack(message: Any) -> bytes:
    body = orjson.dumps(message)
    return HEADER.pack(len(body)) + body


def read_frame(stream: BinaryIO) -> Any:
    """The next message on a blocking stream; None at its end."""
    header = stream.read(HEADER.size)
    if len(header) < HEADER.size:
        return None
    (size,) = HEADER.unpack(header)
    body = stream.read(size)
    while len(body) < size:
        more = stream.read(size - len(body))
        if not more:
            return None
        body += more
    return orjson.loads(body)


async def read_frame_async(stream: asyncio.StreamReader) -> Any:
    """The next message on an asyncio stream; asyncio.IncompleteReadError at its end."""
    (size,) = HEADER.unpack(await stream.readexactly(HEADER.size))
    return orjson.loads(await stream.readexactly(size))


def write_frame(stream: BinaryIO, message: Any) -> None:
    stream.write(pack(message))
    stream.flush()
