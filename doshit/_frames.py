"""Frames between a worker and its child processes."""

from __future__ import annotations

import os
import struct
import tempfile
from typing import Any, BinaryIO

import orjson

HEADER = struct.Struct(">I")
"""Each frame is a 4-byte big-endian length and that many bytes of JSON."""

STARTED = struct.Struct("<Q")
"""The shared page a child writes the sequence number of the task it is about to run into."""


def started_page() -> int:
    """A file descriptor of a fresh page of memory that a child process can share."""
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create("doshit-started", os.MFD_CLOEXEC)
    else:  # pragma: no cover - platforms without memfd
        with tempfile.TemporaryFile() as backing:
            fd = os.dup(backing.fileno())
    os.ftruncate(fd, STARTED.size)
    return fd


def read_frame(stream: BinaryIO) -> Any:
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


def write_frame(stream: BinaryIO, message: Any) -> None:
    body = orjson.dumps(message)
    stream.write(HEADER.pack(len(body)) + body)
    stream.flush()
