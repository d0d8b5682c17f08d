"""Text that came from Redis, made safe to show: every name, id and value there was written by
someone else and may hold control characters, invalid UTF-8 or a megabyte of anything."""

from __future__ import annotations

from .schema import ECHO_CHARS

NAME_CHARS = 200
"""At most this much of a name or id goes into a log line or a message."""


def is_utf8(text: str) -> bool:
    """False when the text holds bytes that were not UTF-8 (read with surrogateescape)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def shown(text: str, limit: int = NAME_CHARS) -> str:
    """A repr of at most ``limit`` characters of the text: control characters and undecodable bytes
    escaped, so it stays on one line and cannot fake another one."""
    quoted = repr(text[:limit])
    return quoted if len(text) <= limit else f"{quoted}... ({len(text)} characters)"


def echo(text: str, limit: int = ECHO_CHARS) -> str:
    """A bad value as error-exception detail: the text itself, cut at ``limit`` characters."""
    if len(text) <= limit:
        return text if is_utf8(text) else text.encode("utf-8", "backslashreplace").decode("utf-8")
    return echo(text[:limit], limit) + f"... ({len(text)} characters in all)"
