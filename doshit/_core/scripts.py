"""Named calls of the schema's Lua scripts, and their replies read by name. No I/O.

A call names its keys and arguments; the order of KEYS and ARGV comes from schema.json, so no caller
types it, and a name that is missing or unknown is refused before anything is sent. A reply is read
by the names schema.json gives it: an integer code, a list whose first element names its variant, or
a word. The shared vectors in schema/vectors/scripts.json hold the same calls and replies for Node.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .._errors import DecodeError
from .schema import SCRIPTS, ScriptSpec

REST = "..."
"""An ARGV name ending in this takes the rest of ARGV: a mapping of field to value, flattened."""
LIST = "*"
"""A KEYS or ARGV name ending in this takes the rest: a list of values, as they are."""


@dataclass(frozen=True)
class ScriptCall:
    """One call of a script, its KEYS and ARGV in the order the script reads them."""

    spec: ScriptSpec
    keys: tuple[str, ...]
    argv: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.spec.name


@dataclass(frozen=True)
class Reply:
    """A script's reply, by name: ``status`` names the code, variant or word; the rest by ``reply[name]``."""

    script: str
    status: str
    values: Mapping[str, Any]

    def __getitem__(self, name: str) -> Any:
        return self.values[name]


def _spec(name: str) -> ScriptSpec:
    spec = SCRIPTS.get(name)
    if spec is None:
        raise TypeError(f"no script named {name!r}; the scripts are {', '.join(SCRIPTS)}")
    return spec


def _text(script: str, name: str, value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise TypeError(f"script {script}: argument {name} must be text or an integer, got {type(value).__name__}")


def _check_names(script: str, kind: str, declared: list[str], given: Mapping[str, object]) -> None:
    missing = [name for name in declared if name not in given]
    unknown = [name for name in given if name not in declared]
    if missing or unknown:
        parts = [f"missing {', '.join(missing)}" if missing else "", f"unknown {', '.join(unknown)}" if unknown else ""]
        raise TypeError(f"script {script}: {kind}: {'; '.join(p for p in parts if p)} (it takes {', '.join(declared)})")


_ONE, _PAIRS, _LIST = range(3)
"""How a KEYS or ARGV name takes its value: one value, a mapping flattened to pairs, a list."""


@functools.cache
def _layout(declared: tuple[str, ...]) -> tuple[list[str], list[tuple[str, int]]]:
    """The names of KEYS or ARGV without their '...' or '*', and how each takes its value."""
    ways = [(name.removesuffix(REST).removesuffix(LIST), _PAIRS if name.endswith(REST) else
             _LIST if name.endswith(LIST) else _ONE) for name in declared]  # fmt: skip
    return [name for name, _ in ways], ways


def _flatten(script: str, kind: str, declared: tuple[str, ...], given: Mapping[str, Any]) -> tuple[str, ...]:
    names, ways = _layout(declared)
    if len(given) != len(names) or not all(name in given for name in names):
        _check_names(script, kind, names, given)
    flat: list[str] = []
    for name, way in ways:
        value = given[name]
        if way == _ONE:
            flat.append(value if type(value) is str else _text(script, name, value))
        elif way == _LIST:
            if not isinstance(value, (list, tuple)):
                raise TypeError(f"script {script}: {kind} {name} must be a list")
            if all(type(item) is str for item in value):  # the usual case, and a long list: no call each
                flat += value
            else:
                flat += [_text(script, name, item) for item in value]
        elif isinstance(value, Mapping):
            for field, item in value.items():
                if type(field) is str and type(item) is str:
                    flat += (field, item)
                else:
                    flat += (_text(script, name, field), _text(script, name, item))
        else:
            raise TypeError(f"script {script}: argument {name} must map field names to values")
    return tuple(flat)


def script_call(name: str, *, keys: Mapping[str, Any], argv: Mapping[str, Any]) -> ScriptCall:
    """The call of script ``name`` with these keys and arguments, each by its schema name."""
    spec = _spec(name)
    return ScriptCall(spec, _flatten(name, "keys", spec.keys, keys), _flatten(name, "argv", spec.argv, argv))


def _bad(spec: ScriptSpec, raw: object) -> DecodeError:
    return DecodeError(f"script {spec.name} replied {raw!r}, which is not one of its replies")


def parse_reply(name: str, raw: object) -> Reply:
    """What the script's reply says, by name; DecodeError when it is not one the schema lists."""
    spec = _spec(name)
    if spec.codes:
        if isinstance(raw, int) and not isinstance(raw, bool) and raw in spec.codes:
            return Reply(name, spec.codes[raw], {})
        raise _bad(spec, raw)
    if spec.tagged:
        if isinstance(raw, (list, tuple)) and raw and isinstance(raw[0], str) and raw[0] in spec.tagged:
            fields = spec.tagged[raw[0]]
            if len(raw) == len(fields) + 1:
                return Reply(name, raw[0], dict(zip(fields, raw[1:], strict=True)))
        raise _bad(spec, raw)
    if isinstance(raw, str) and raw in spec.words:
        return Reply(name, raw, {})
    raise _bad(spec, raw)
