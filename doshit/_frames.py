"""Frames between a worker and its child processes."""

from __future__ import annotations

import struct
from typing import Any, BinaryIO

import orjson

HEADER = struct.Struct(">I")
"""Each frame is a 4-byte big-endian length and that many bytes of JSON."""


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
