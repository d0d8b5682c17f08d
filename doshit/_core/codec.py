"""Values and timestamps as the schema writes them: JSON (never pickle), legacy datetime objects.

Fast path: orjson. It rounds integers beyond 64 bits to floats on reading and writes NaN as null, so
both cases fall back to the standard library, which keeps big integers exact and refuses NaN.
"""

from __future__ import annotations

import json
import math
import re
import time
from datetime import datetime, timezone
from typing import Any

import orjson

from .._errors import DecodeError, EncodeError
from .schema import (
    DATETIME_TYPE_KEY,
    DATETIME_TYPE_VALUE,
    DATETIME_VALUE_KEY,
    TIMESTAMP_FORMAT,
    TIMESTAMP_REGEX,
)
from .text import is_utf8

_ORJSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
_LONG_DIGITS = re.compile(r"\d{19}")
_DATETIME_MARK = f'"{DATETIME_TYPE_VALUE}"'
_TIMESTAMP = re.compile(TIMESTAMP_REGEX)


def now_timestamp() -> str:
    """The current UTC time in the schema's timestamp format."""
    return datetime.now(timezone.utc).strftime(TIMESTAMP_FORMAT)


def unix_ms(moment: datetime | str | None = None) -> int:
    """A moment (a datetime, a schema timestamp, or now) in unix milliseconds: the scores of the
    scheduled and failed sets."""
    if isinstance(moment, str):
        moment = parse_timestamp(moment)
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int((moment.timestamp() if moment is not None else time.time()) * 1000)


def format_timestamp(moment: datetime) -> str:
    """A datetime as a schema timestamp; a naive datetime is taken as UTC."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return moment.strftime(TIMESTAMP_FORMAT)


def parse_timestamp(text: str) -> datetime:
    """A schema timestamp as an aware UTC datetime."""
    if not _TIMESTAMP.fullmatch(text):
        raise DecodeError(f"not a doshit timestamp (YYYY-MM-DDTHH:MM:SS.ffffffZ): {text!r}")
    return datetime.strptime(text, TIMESTAMP_FORMAT).replace(tzinfo=timezone.utc)


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return {DATETIME_TYPE_KEY: DATETIME_TYPE_VALUE, DATETIME_VALUE_KEY: format_timestamp(value)}
    raise TypeError(f"{type(value).__name__} has no JSON form")


def _check_exact(value: Any) -> None:
    """What the slow path must refuse that the standard library would accept or alter."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{value!r} has no JSON form")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"object keys must be strings, got {type(key).__name__} {key!r}")
            _check_exact(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _check_exact(item)


def encode(value: Any) -> str:
    """A value as compact JSON text; raises EncodeError for anything JSON cannot hold exactly."""
    try:
        data = orjson.dumps(value, default=_default, option=_ORJSON_OPTIONS)
        if b"null" not in data:
            return data.decode()
    except TypeError as exc:
        if "64-bit" not in str(exc):
            raise EncodeError(str(exc)) from None
    try:
        _check_exact(value)
        return json.dumps(value, default=_default, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError, RecursionError) as exc:
        raise EncodeError(str(exc)) from None


def _revive(value: Any) -> Any:
    if isinstance(value, dict):
        if len(value) == 2 and value.get(DATETIME_TYPE_KEY) == DATETIME_TYPE_VALUE:
            stamp = value.get(DATETIME_VALUE_KEY)
            if isinstance(stamp, str) and _TIMESTAMP.fullmatch(stamp):
                return parse_timestamp(stamp)
        return {key: _revive(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_revive(item) for item in value]
    return value


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"number {text[:40]} is out of range")
    return number


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


class TooDeep(DecodeError):
    """The JSON nests deeper than the limit the reader set."""


def decode(text: str | bytes, max_depth: int | None = None) -> Any:
    """JSON text as a value; legacy datetime objects become aware UTC datetimes.

    DecodeError for anything that is not JSON: bad syntax, numbers beyond a double's range (1e999),
    bytes that were not UTF-8, nesting deeper than the parser or the interpreter can follow, or (a
    TooDeep) than ``max_depth``."""
    try:
        raw = text.decode() if isinstance(text, bytes) else text
        if _LONG_DIGITS.search(raw):  # orjson would round integers beyond 64 bits
            if not is_utf8(raw):
                raise ValueError("not valid UTF-8")
            value = json.loads(raw, parse_float=_finite, parse_constant=_refuse_constant)
        else:
            value = orjson.loads(raw)
        if max_depth is not None and depth(value, max_depth) > max_depth:
            raise TooDeep(f"nests deeper than {max_depth} levels")
        return _revive(value) if _DATETIME_MARK in raw else value
    except DecodeError:
        raise
    except ValueError as exc:
        raise DecodeError(str(exc).splitlines()[0]) from None
    except RecursionError:
        raise DecodeError("nested too deeply to decode") from None


def depth(value: Any, limit: int) -> int:
    """How deeply the value nests (a scalar is 0, [] is 1), counted no further than limit + 1."""
    deepest = 0
    stack = [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, (dict, list)):
            level += 1
            if level > deepest:
                deepest = level
                if deepest > limit:
                    break
            stack.extend((child, level) for child in (item.values() if isinstance(item, dict) else item))
    return deepest
