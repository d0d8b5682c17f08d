"""Generate the code of both languages and the tables of schema/SPEC.md from schema/schema.json.

Outputs: doshit/_core/schema.py (Python constants, the scripts, and the task fields as typed
properties), clients/node/lib/schema.js and clients/node/lib/fields.d.ts (the same facts and the task
fields' TypeScript types for Node), and the tables and Mermaid diagrams (mermaid.py) of SPEC.md.

    python schema/codegen.py           rewrite both
    python schema/codegen.py --check   exit 1 if either is out of date

Only the standard library is used, so it runs before anything is installed.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any

import mermaid

SCHEMA_DIR = Path(__file__).resolve().parent
ROOT = SCHEMA_DIR.parent
SCHEMA_FILE = SCHEMA_DIR / "schema.json"
PY_OUT = ROOT / "doshit" / "_core" / "schema.py"
NODE_OUT = ROOT / "clients" / "node" / "lib" / "schema.js"
NODE_TYPES_OUT = ROOT / "clients" / "node" / "lib" / "fields.d.ts"
SPEC = SCHEMA_DIR / "SPEC.md"
BEGIN = "<!-- BEGIN GENERATED {name}: edit schema.json and run `make schema` -->"
END = "<!-- END GENERATED {name} -->"


def const_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", name).upper()


def lua_header(source: str) -> tuple[list[str], list[str]]:
    """The KEYS and ARGV lists a script declares in its header comment."""
    found: dict[str, list[str]] = {}
    for line in source.splitlines():
        m = re.match(r"-- (KEYS|ARGV): (.*)$", line)
        if m:
            found[m.group(1)] = [part.strip() for part in m.group(2).split(",")]
    return found.get("KEYS", []), found.get("ARGV", [])


def doc_line(text: str) -> str:
    return '    """' + text.replace('"""', "'''") + '"""\n'


PY_TYPES = {
    "string": "str | None",
    "enum": "str | None",
    "timestamp": "datetime | None",
    "integer": "int | None",
    "json-object": "dict[str, Any]",
    "json-array": "list[Any]",
    "json": "Any",
}
"""The Python type of a decoded field of each schema type (json-object: {} when absent)."""


def render_python(schema: dict[str, Any]) -> str:
    out: list[str] = [
        '"""The doshit wire schema as Python constants.\n\n'
        "GENERATED from schema/schema.json by schema/codegen.py: do not edit by hand.\n"
        '"""\n\n',
        "from __future__ import annotations\n\n",
        "from collections.abc import Mapping\n",
        "from datetime import datetime\n",
        "from typing import Any, Final, NamedTuple, cast\n\n",
        f"SCHEMA_VERSION: Final = {schema['schema_version']}\n",
        '"""The schema version this package writes into task and worker hashes."""\n\n',
        f"DEFAULT_PREFIX: Final = {schema['defaults']['prefix']!r}\n",
        '"""Key prefix used when none is configured."""\n\n',
        f"DEFAULT_QUEUE: Final = {schema['defaults']['queue']!r}\n",
        '"""Queue used when none is configured."""\n\n',
    ]
    config = schema["config"]
    out.append(f"DEFAULT_URL: Final = {config['default_url']!r}\n")
    out.append('"""Redis URL used when neither an argument nor the environment names one."""\n\n')
    out.append(f"URL_SCHEMES: Final = {tuple(config['url_schemes'])!r}\n")
    out.append('"""The URL schemes a Redis URL may have."""\n\n')
    out.append(f"RECONNECT_DELAYS: Final = {tuple(float(d) for d in config['reconnect_delays_seconds'])!r}\n")
    out.append(
        '"""Seconds a lost results subscription waits before each attempt to subscribe again; the last repeats."""\n\n'
    )
    out.append(f"NAME_REGEX: Final = {schema['names']['regex']!r}\n")
    out.append(f'"""{schema["names"]["doc"]}"""\n\n')
    out.append(f"RESERVED_QUEUES: Final = {tuple(schema['names']['reserved_queues'])!r}\n")
    out.append('"""Queue names that would collide with other keys of the prefix."""\n\n')
    limits = schema["limits"]
    for name, text in (
        ("max_args_bytes", "Default largest args JSON, in bytes, a client submits and a worker runs."),
        ("max_result_bytes", "Default largest return value JSON, in bytes, a worker writes."),
        ("max_depth", "Default deepest nesting of args a worker decodes."),
        ("result_ttl_max_seconds", "The largest result-ttl a task may ask for."),
        ("echo_chars", "At most this much of a bad value is copied into error-exception or a log line."),
        ("submit_many_max", "The most tasks one submit_many call writes (one script call, atomic)."),
    ):
        out.append(f"{const_name(name)}: Final = {limits[name]!r}\n")
        out.append(f'"""{text}"""\n\n')
    for name, key in schema["keys"].items():
        out.append(f"{const_name(name)}_KEY: Final = {key['pattern']!r}\n")
        out.append(f'"""{key["type"]}: {key["doc"]}"""\n\n')
    for name, channel in schema["channels"].items():
        out.append(f"{const_name(name)}_CHANNEL: Final = {channel['pattern']!r}\n")
        out.append(f'"""pub/sub channel: {channel["doc"]}"""\n\n')
    for name, command in schema["commands"].items():
        out.append(f"{const_name(name)}_COMMAND: Final = {command['pattern']!r}\n")
        out.append(f'"""{command["doc"]}"""\n\n')
    cluster = schema["cluster"]
    out.append(f"CLUSTER_SCHEME: Final = {cluster['scheme']!r}\n")
    out.append(f'"""{cluster["doc"]}"""\n\n')
    out.append(f"CLUSTER_DEFAULT_PORT: Final = {cluster['default_port']!r}\n")
    for name, text in (("queue_tagged", "queue"), ("prefix_tagged", "prefix")):
        patterns = tuple(schema["keys"][key]["pattern"] for key in cluster[name])
        out.append(f"CLUSTER_{name.upper()}: Final = {patterns!r}\n")
        out.append(f'"""The patterns of the keys written with the {text} as hash tag on Redis Cluster."""\n\n')
    out.append(f"CLUSTER_TAG: Final = {(cluster['tag_open'], cluster['tag_close'])!r}\n")
    out.append('"""What opens and closes a hash tag."""\n\n')
    out.append(f"TASK_ID_REGEX: Final = {schema['task_id']['regex']!r}\n")
    out.append(f'"""{schema["task_id"]["doc"]}"""\n\n')
    out.append(f"TIMESTAMP_FORMAT: Final = {schema['timestamp']['strftime']!r}\n")
    out.append(f'"""{schema["timestamp"]["doc"]}"""\n\n')
    out.append(f"TIMESTAMP_REGEX: Final = {schema['timestamp']['regex']!r}\n\n")
    dt = schema["datetime_value"]
    out.append(f"DATETIME_TYPE_KEY: Final = {dt['type_key']!r}\n")
    out.append(f"DATETIME_TYPE_VALUE: Final = {dt['type_value']!r}\n")
    out.append(f"DATETIME_VALUE_KEY: Final = {dt['value_key']!r}\n")
    out.append(f'"""{dt["doc"]}"""\n\n')
    steps = tuple((s["signal"], s["times"], float(s["wait_seconds"])) for s in schema["kill_escalation"]["steps"])
    out.append(f"KILL_ESCALATION: Final = {steps!r}\n")
    out.append(f'"""(signal name, times, seconds to wait after each): {schema["kill_escalation"]["doc"]}"""\n\n')
    hb = schema["heartbeat"]
    out.append(f"HEARTBEAT_INTERVAL: Final = {hb['interval_seconds']}\n")
    out.append('"""Default seconds between worker heartbeats."""\n\n')
    out.append(f"HEARTBEAT_EXPIRY_INTERVALS: Final = {hb['expiry_intervals']}\n")
    out.append('"""A worker hash expires this many heartbeat intervals after the last heartbeat."""\n\n')
    out.append(f"RESULT_TTL: Final = {schema['result_ttl_seconds']}\n")
    out.append('"""Default seconds a finished task hash is kept when it has no result-ttl field."""\n\n')
    out.append(f"STATS_BUCKETS: Final = {tuple(schema['stats_buckets'])!r}\n")
    out.append('"""Upper bounds (seconds, as written in the stats_durations fields) of the run time buckets."""\n\n')

    def enum_class(cls: str, doc: str, items: dict[str, str]) -> None:
        out.append(f"\nclass {cls}:\n")
        out.append(doc_line(doc))
        for value, text in items.items():
            out.append(f"\n    {const_name(value)}: Final = {value!r}\n")
            out.append(doc_line(text))

    out.append("\nclass Env:\n")
    out.append(doc_line("Names of the environment variables clients and workers read."))
    for key, var in config["environment"].items():
        tag = "legacy" if var["legacy"] else "added"
        out.append(f"\n    {const_name(key)}: Final = {var['name']!r}\n")
        out.append(doc_line(f"{tag}: {var['doc']}"))
    enum_class("State", "Values of the task hash's state field.", schema["states"])
    enum_class("Result", "Values of the task hash's result field.", schema["results"])
    enum_class(
        "TaskField",
        "Field names of the task hash.",
        {f["name"]: f"{f['type']}, by {f['by']}: {f['doc']}" for f in schema["task_fields"]},
    )
    enum_class(
        "WorkerField",
        "Field names of the worker hash.",
        {f["name"]: f"{f['type']}: {f['doc']}" for f in schema["worker_fields"]},
    )
    out.append("\n\nclass Reason:\n")
    out.append(doc_line("error-reason texts; {placeholders} are filled with str.format."))
    for name, text in schema["error_reasons"].items():
        out.append(f"\n    {const_name(name)}: Final = {text!r}\n")
    legacy = tuple(f["name"] for f in schema["task_fields"] if f["legacy"])
    out.append(f"\n\nLEGACY_TASK_FIELDS: Final = {legacy!r}\n")
    out.append('"""Task fields the legacy clients know; every other field is an addition."""\n')
    out += render_task_fields(schema)
    out += render_scripts(schema)
    return "".join(out)


def render_task_fields(schema: dict[str, Any]) -> list[str]:
    """A base class with one typed, decoding property per task field (the Node client derives the same)."""
    out = [
        "\n\nclass TaskFields:\n",
        doc_line("One property per task hash field, decoded by ``_decoded(field, type)``, which a subclass provides."),
        "\n    __slots__ = ()\n\n",
        "    def _decoded(self, field: str, kind: str) -> Any:\n",
        "        raise NotImplementedError\n",
    ]
    for field in schema["task_fields"]:
        prop = const_name(field["name"]).lower()
        kind = PY_TYPES[field["type"]]
        out.append(f"\n    @property\n    def {prop}(self) -> {kind}:\n")
        out.append("    " + doc_line(f"{field['name']} ({field['type']}): {field['doc']}"))
        call = f"self._decoded({field['name']!r}, {field['type']!r})"
        out.append(f"        return {call}\n" if kind == "Any" else f"        return cast({kind!r}, {call})\n")
    return out


def render_scripts(schema: dict[str, Any]) -> list[str]:
    """Each script's source and SHA, its KEYS/ARGV names and its reply by name; a constant class per reply."""
    out = ["\n\nclass ScriptSpec(NamedTuple):\n"]
    out.append(
        doc_line(
            "One Lua script: its source, its SHA1 (for EVALSHA), the names of its KEYS and ARGV (a name "
            "ending in '...' takes the rest as field/value pairs, one ending in '*' the rest as a list), "
            "and its reply: integer codes, tagged lists or words, by name."
        )
    )
    out.append("\n    name: str\n    source: str\n    sha: str\n    keys: tuple[str, ...]\n    argv: tuple[str, ...]\n")
    out.append(
        "    codes: Mapping[int, str]\n    tagged: Mapping[str, tuple[str, ...]]\n    words: tuple[str, ...]\n\n\n"
    )
    out.append("SCRIPTS: Final[dict[str, ScriptSpec]] = {\n")
    replies: dict[str, list[str]] = {}
    for name, spec in scripts_with_source(schema).items():
        reply = spec["reply"]
        codes = {int(code): word for code, word in reply.get("codes", {}).items()}
        tagged = {tag: tuple(names) for tag, names in reply.get("tagged", {}).items()}
        words = tuple(reply.get("words", ()))
        replies[name] = [*codes.values(), *tagged, *words]
        out.append(f"    {name!r}: ScriptSpec(\n        name={name!r},\n        source={spec['source']!r},\n")
        out.append(f"        sha={spec['sha']!r},\n")
        out.append(f"        keys={tuple(spec['keys'])!r},\n        argv={tuple(spec['argv'])!r},\n")
        out.append(f"        codes={codes!r},\n        tagged={tagged!r},\n        words={words!r},\n    ),\n")
    out.append("}\n")
    out.append('"""The atomic operations, one Lua script each (schema/scripts/)."""\n')
    for name, statuses in replies.items():
        cls = "".join(part.capitalize() for part in name.split("_")) + "Reply"
        out.append(f"\n\nclass {cls}:\n")
        out.append(doc_line(f"What the {name} script's reply says (Reply.status)."))
        for status in statuses:
            out.append(f"\n    {const_name(status)}: Final = {status!r}\n")
    return out


def scripts_with_source(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each script's schema.json entry plus its Lua source and SHA1 (for EVALSHA)."""
    scripts = {}
    for name, spec in schema["scripts"].items():
        source = (SCHEMA_DIR / spec["file"]).read_text()
        scripts[name] = {**spec, "source": source, "sha": hashlib.sha1(source.encode()).hexdigest()}
    return scripts


def render_node(schema: dict[str, Any]) -> str:
    """schema.json as a frozen CommonJS module, with the scripts' sources: the npm package carries it."""
    facts = {key: value for key, value in schema.items() if not key.startswith("$")}
    facts["scripts"] = scripts_with_source(schema)
    body = json.dumps(facts, indent=2, ensure_ascii=False)
    return (
        "// The doshit wire schema for Node.js.\n"
        "// GENERATED from schema/schema.json and schema/scripts/ by schema/codegen.py: do not edit by hand.\n"
        "'use strict';\n\n"
        "function freeze(value) {\n"
        "  if (value && typeof value === 'object') Object.values(value).forEach(freeze);\n"
        "  return Object.freeze(value);\n"
        "}\n\n"
        f"module.exports = freeze({body});\n"
    )


def camel(name: str) -> str:
    """A hash field name as a JavaScript property name: result-value -> resultValue."""
    head, *rest = name.split("-")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def ts_type(field: dict[str, Any], schema: dict[str, Any]) -> str:
    if field["name"] == "state":
        return " | ".join(f"'{state}'" for state in schema["states"])
    if field["name"] == "result":
        return " | ".join(f"'{result}'" for result in schema["results"])
    return {
        "string": "string",
        "enum": "string",
        "timestamp": "Date",
        "integer": "number | bigint",  # bigint beyond 2^53, as for JSON values
        "json-object": "Record<string, unknown>",
        "json-array": "unknown[]",
        "json": "unknown",
    }[field["type"]]


def render_node_types(schema: dict[str, Any]) -> str:
    """The task hash's fields as decoded by the Node client, for its type declarations."""
    out = [
        "// GENERATED from schema/schema.json by schema/codegen.py: do not edit by hand.\n\n",
        "/** The task hash's fields, decoded; null when the hash does not have the field. */\n",
        "export interface TaskFields {\n",
    ]
    for field in schema["task_fields"]:
        out.append(f"  /** `{field['name']}`: {field['doc']} */\n")
        out.append(f"  readonly {camel(field['name'])}: {ts_type(field, schema)} | null;\n")
    out.append("}\n")
    return "".join(out)


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def yes(flag: bool) -> str:
    return "legacy" if flag else "**added**"


def transition_how(transition: dict[str, Any]) -> str:
    """How a transition happens: its own text, or the texts of its hops on the lane in order."""
    return transition.get("how") or ", then ".join(hop["how"] for hop in transition["lane"])


def cluster_rows(schema: dict[str, Any]) -> list[list[str]]:
    """Every key and channel in both layouts, for prefix doshit, queue emails, task id ID, worker W."""
    cluster = schema["cluster"]

    def tag(name: str) -> str:
        return f"{cluster['tag_open']}{name}{cluster['tag_close']}"

    plain = {"prefix": "doshit", "queue": "emails", "task_id": "ID", "worker_id": "W"}
    rows = []
    for name, key in [*schema["keys"].items(), *schema["channels"].items()]:
        names = dict(plain, task_id=tag(plain["queue"]) + ":ID")
        if name in cluster["queue_tagged"]:
            names["queue"] = tag(plain["queue"])
        if name in cluster["prefix_tagged"]:
            names["prefix"] = tag(plain["prefix"])
        rows.append([name, f"`{key['pattern'].format(**plain)}`", f"`{key['pattern'].format(**names)}`"])
    return rows


def render_tables(schema: dict[str, Any]) -> dict[str, str]:
    keys = [[f"`{k['pattern']}`", k["type"], yes(k["legacy"]), k["doc"]] for k in schema["keys"].values()]
    keys += [[f"`{c['pattern']}`", "pub/sub channel", yes(c["legacy"]), c["doc"]] for c in schema["channels"].values()]
    commands = [[f"`{c['pattern']}`", c["doc"]] for c in schema["commands"].values()]
    task_fields = [[f"`{f['name']}`", f["type"], f["by"], yes(f["legacy"]), f["doc"]] for f in schema["task_fields"]]
    worker_fields = [[f"`{f['name']}`", f["type"], yes(f["legacy"]), f["doc"]] for f in schema["worker_fields"]]
    transitions = [[t["from"] or "(none)", t["to"], t["by"], transition_how(t)] for t in schema["transitions"]]
    reasons = [[f"`{name}`", f"`{text}`"] for name, text in schema["error_reasons"].items()]
    scripts = [
        [f"`{s['file']}`", ", ".join(s["keys"]), ", ".join(s["argv"]), s["returns"]] for s in schema["scripts"].values()
    ]
    environment = [[f"`{v['name']}`", yes(v["legacy"]), v["doc"]] for v in schema["config"]["environment"].values()]
    kill = [
        [f"`{s['signal']}`", str(s["times"]), f"{s['wait_seconds']:g} s"] for s in schema["kill_escalation"]["steps"]
    ]
    return {
        "cluster": table(["key", "plain layout", "cluster layout"], cluster_rows(schema)),
        "keys": table(["key / channel", "type", "origin", "meaning"], keys),
        "commands": table(["message on the cmd channel", "meaning"], commands),
        "task-fields": table(["field", "type", "written by", "origin", "meaning"], task_fields),
        "worker-fields": table(["field", "type", "origin", "meaning"], worker_fields),
        "transitions": table(["from", "to", "who", "how"], transitions),
        "reasons": table(["name", "error-reason text"], reasons),
        "scripts": table(["script", "KEYS", "ARGV", "returns"], scripts),
        "environment": table(["variable", "origin", "meaning"], environment),
        "kill": table(["signal", "times", "wait after each"], kill),
    }


def render_spec(schema: dict[str, Any], spec_text: str) -> str:
    for name, body in {**render_tables(schema), **mermaid.render(schema)}.items():
        begin, end = BEGIN.format(name=name), END.format(name=name)
        pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.S)
        if not pattern.search(spec_text):
            raise SystemExit(f"SPEC.md has no generated section {name!r}")
        replacement = f"{begin}\n{body}\n{end}"
        spec_text = pattern.sub(replacement.replace("\\", "\\\\"), spec_text)  # a template: backslashes doubled
    return spec_text


def check_scripts(schema: dict[str, Any]) -> list[str]:
    """Every script's header must list the KEYS and ARGV that schema.json declares."""
    problems = []
    for spec in schema["scripts"].values():
        keys, argv = lua_header((SCHEMA_DIR / spec["file"]).read_text())
        if keys != spec["keys"] or argv != spec["argv"]:
            problems.append(
                f"{spec['file']}: header says KEYS {keys} ARGV {argv}, "
                f"schema.json says KEYS {spec['keys']} ARGV {spec['argv']}"
            )
    return problems


def current(path: Path, text: str) -> bool:
    return path.exists() and path.read_text() == text


def main(argv: list[str]) -> int:
    schema = json.loads(SCHEMA_FILE.read_text())
    problems = check_scripts(schema)
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    outputs = {
        PY_OUT: render_python(schema),
        NODE_OUT: render_node(schema),
        NODE_TYPES_OUT: render_node_types(schema),
        SPEC: render_spec(schema, SPEC.read_text()),
    }
    if "--check" in argv:
        stale = [str(path.relative_to(ROOT)) for path, text in outputs.items() if not current(path, text)]
        if stale:
            print(f"out of date with schema/schema.json: {', '.join(stale)}; run `make schema`", file=sys.stderr)
            return 1
        return 0
    for path, text in outputs.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
