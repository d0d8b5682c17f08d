"""schema/ is the single source of truth: generated code is current and nothing retypes it."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import doshit
from doshit._core import schema as _schema

from .conftest import ROOT

SCHEMA = json.loads((ROOT / "schema" / "schema.json").read_text())


def test_generated_files_are_current() -> None:
    done = subprocess.run([sys.executable, "schema/codegen.py", "--check"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_lua_uses_only_schema_words() -> None:
    words = {f["name"] for f in SCHEMA["task_fields"]} | set(SCHEMA["states"]) | set(SCHEMA["results"])
    for spec in SCHEMA["scripts"].values():  # the words and variant tags of the replies
        words |= set(spec["reply"].get("words", [])) | set(spec["reply"].get("tagged", {}))
    words |= {
        "",
        "ok",
        "hash",
        "none",
        "table",
        "string",
        "[]",
        "^%d+$",
        "%%",
        "%%%%",
        "^[\\128-\\191]+",
    }  # Redis', Lua's
    # and pattern words (the last: UTF-8 continuation bytes)
    words |= {f"{{{name}}}" for text in SCHEMA["error_reasons"].values() for name in re.findall(r"\{(\w+)\}", text)}
    for spec in SCHEMA["scripts"].values():
        source = (ROOT / "schema" / spec["file"]).read_text()
        code = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith("--"))
        code = re.sub(r"redis\.error_reply\('[^']*'\)", "", code)  # messages for a caller's bug
        literals = set(re.findall(r"'([^']*)'", code))
        redis_commands = {w for w in literals if w.isupper()}
        assert literals - redis_commands <= words, (spec["file"], literals - redis_commands - words)


def test_lua_keys_come_through_keys() -> None:
    for spec in SCHEMA["scripts"].values():
        source = (ROOT / "schema" / spec["file"]).read_text()
        code = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith("--"))
        assert ".." not in code, f"{spec['file']} builds a string (a key?) in Lua"
        assert "KEYS[" in source


def string_literals(path: Path) -> set[str]:
    """The string constants of a module's code, docstrings left out (prose may name things)."""
    tree = ast.parse(path.read_text())
    docstrings = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(body, list)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
        ):
            docstrings.add(id(body[0].value))
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    }


def test_no_key_pattern_typed_twice() -> None:
    """Only the generated schema module spells key patterns, hash field names, states, results, error
    reasons and environment variables (the Node suite checks the same of lib/)."""
    spelled = [*SCHEMA["keys"].values(), *SCHEMA["channels"].values(), *SCHEMA["commands"].values()]
    patterns = [part for item in spelled for part in re.split(r"\{[^}]*\}", item["pattern"]) if part.strip(":")]
    words = {f["name"] for f in SCHEMA["task_fields"] if "-" in f["name"]}
    words |= {*SCHEMA["states"], *SCHEMA["results"], *SCHEMA["error_reasons"].values()}
    words |= {var["name"] for var in SCHEMA["config"]["environment"].values()}
    for path in (ROOT / "doshit").rglob("*.py"):
        if path == ROOT / "doshit" / "_core" / "schema.py":
            continue
        literals = string_literals(path)
        for needle in patterns:  # ':task:', ':pending', 'task:kill:', ...
            assert not [text for text in literals if needle in text], (path.name, needle)
        assert not literals & words, (path.name, literals & words)


def test_replies_are_what_the_scripts_return() -> None:
    """Every reply schema.json names is one its script can return, and the reverse."""
    for spec in SCHEMA["scripts"].values():
        source = (ROOT / "schema" / spec["file"]).read_text()
        code = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith("--"))
        returned = set(re.findall(r"\breturn\s+(-?\d+|'[^']*'|\{'[^']*')", code))
        reply = spec["reply"]
        named = {code for code in reply.get("codes", {})}
        named |= {f"'{word}'" for word in reply.get("words", [])}
        named |= {f"{{'{tag}'" for tag in reply.get("tagged", {})}
        assert named <= returned | {"'finished'"}, (spec["file"], named - returned)  # cancel returns state itself
        assert returned <= named, (spec["file"], returned - named)


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
