"""Text for a terminal: values made safe to print, aligned columns, ages, a progress bar on stderr.

Nothing here reads Redis. Every value shown went through ``clean``: control characters, bytes that
were not UTF-8 and other invisible characters are escaped (``\\x1b``, ``\\udcff``), so a value
written by someone else can neither fake a line nor move the cursor, and long values are cut.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from typing import TextIO

CELL_CHARS = 60
"""At most this much of a value goes into a table cell."""
DASH = "-"
"""Stands for a value that is absent."""


def _escape(char: str) -> str:
    return repr(char)[1:-1] if char != "\\" else "\\"


def clean(text: str, limit: int | None = CELL_CHARS, keep_newlines: bool = False) -> str:
    """The text with anything that is not printable escaped, cut at ``limit`` characters."""
    cut = text if limit is None or len(text) <= limit else text[:limit]
    if not cut.isprintable():
        lines = cut.split("\n") if keep_newlines else [cut]
        cut = "\n".join(_clean_line(line) for line in lines)
    if cut is not text and limit is not None and len(text) > limit:
        cut += f"... ({len(text)} characters)"
    return cut


def _clean_line(line: str) -> str:
    return "".join(char if char.isprintable() else _escape(char) for char in line)


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[int] = ()) -> str:
    """Plain aligned columns, two spaces apart; the columns listed in ``right`` aligned right."""
    widths = [len(header) for header in headers]
    for row in rows:
        for index, cell in enumerate(row):
            widths[index] = max(widths[index], len(cell))
    lines = []
    for row in (headers, *rows):
        cells = [
            cell.rjust(widths[index]) if index in right else cell.ljust(widths[index]) for index, cell in enumerate(row)
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines) + "\n"


def age(seconds: float | None) -> str:
    """A duration the way a person reads it: 4s, 2m05s, 3h02m, 5d04h."""
    if seconds is None:
        return DASH
    negative = seconds < 0
    whole = int(abs(seconds))
    if whole < 60:
        text = f"{abs(seconds):.1f}s" if whole < 10 else f"{whole}s"
    elif whole < 3600:
        text = f"{whole // 60}m{whole % 60:02d}s"
    elif whole < 86400:
        text = f"{whole // 3600}h{whole % 3600 // 60:02d}m"
    else:
        text = f"{whole // 86400}d{whole % 86400 // 3600:02d}h"
    return f"-{text}" if negative else text


def number(value: int | None) -> str:
    return DASH if value is None else str(value)


def bar(fraction: float, width: int = 20) -> str:
    filled = round(max(0.0, min(1.0, fraction)) * width)
    return "[" + "#" * filled + "." * (width - filled) + "]"


class Progress:
    """A one-line progress bar on stderr, redrawn at most ten times a second; silent unless stderr is
    a terminal. ``total`` None: a counter without a bar (a SCAN, whose size is not known)."""

    def __init__(self, label: str, total: int | None, stream: TextIO | None = None) -> None:
        self.label = label
        self.total = total
        self.done = 0
        self.stream = stream or sys.stderr
        self.active = self.stream.isatty()
        self._shown = 0.0

    def step(self, count: int = 1) -> None:
        self.done += count
        now = time.monotonic()
        if self.active and now - self._shown >= 0.1:
            self._shown = now
            self._draw()

    def _draw(self) -> None:
        if self.total:
            text = f"{self.label} {bar(self.done / self.total, 30)} {self.done}/{self.total}"
        else:
            text = f"{self.label} {self.done}"
        self.stream.write(f"\r{text}\033[K")
        self.stream.flush()

    def close(self) -> None:
        if self.active and self._shown:
            self._draw()
            self.stream.write("\n")
            self.stream.flush()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
