"""schema/ is the single source of truth: generated code is current and nothing retypes it."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import doshit
from doshit import _schema

from .conftest import ROOT

SCHEMA = json.loads((ROOT / "schema" / "schema.json").read_text())


def test_generated_files_are_current() -> None:
    done = subprocess.run([sys.executable, "schema/codegen.py", "--check"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_lua_uses_only_schema_words() -> None:
    words = {f["name"] for f in SCHEMA["task_fields"]} | set(SCHEMA["states"]) | set(SCHEMA["results"])
    words |= {"run", "invalid", "skip", "missing", "cancelled", "killing", ""}
    for spec in SCHEMA["scripts"].values():
        source = (ROOT / "schema" / spec["file"]).read_text()
        code = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith("--"))
        literals = set(re.findall(r"'([^']*)'", code))
        redis_commands = {w for w in literals if w.isupper()}
        assert literals - redis_commands <= words, (spec["file"], literals - redis_commands - words)


def test_lua_keys_come_through_keys() -> None:
    for spec in SCHEMA["scripts"].values():
        source = (ROOT / "schema" / spec["file"]).read_text()
        code = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith("--"))
        assert ".." not in code, f"{spec['file']} builds a string (a key?) in Lua"
        assert "KEYS[" in source


def test_no_key_pattern_typed_twice() -> None:
    """Only the generated schema module spells key patterns and field names of the hash."""
    spelled = [*SCHEMA["keys"].values(), *SCHEMA["channels"].values(), *SCHEMA["commands"].values()]
    patterns = [part for item in spelled for part in re.split(r"\{[^}]*\}", item["pattern"]) if part.strip(":")]
    fields = [f["name"] for f in SCHEMA["task_fields"] if "-" in f["name"]]
    for path in (ROOT / "doshit").glob("*.py"):
        if path.name == "_schema.py":
            continue
        text = path.read_text()
        for needle in patterns:  # ':task:', ':pending', 'task:kill:', ...
            assert needle not in text, (path.name, needle)
        for field in fields:
            assert f'"{field}"' not in text, (path.name, field)


def test_spec_documents_every_field() -> None:
    spec = (ROOT / "schema" / "SPEC.md").read_text()
    for field in SCHEMA["task_fields"] + SCHEMA["worker_fields"]:
        assert f"`{field['name']}`" in spec


def test_schema_version_in_both_hashes() -> None:
    assert SCHEMA["schema_version"] == _schema.SCHEMA_VERSION
    assert _schema.TaskField.SCHEMA_VERSION == "schema-version"
    assert _schema.WorkerField.SCHEMA_VERSION == "schema-version"


def test_additions_are_additive() -> None:
    legacy = set(_schema.LEGACY_TASK_FIELDS)
    assert legacy == {
        "function", "state", "args", "pending-created", "executing-created", "finished-created", "result",
        "result-value", "error-reason", "error-exception", "username", "virtual-memory-limit",
    }  # fmt: skip
    assert doshit.__name__ == "doshit"
