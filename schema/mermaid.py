"""The flow of schema/schema.json as Mermaid diagrams, for the generated sections of schema/SPEC.md.

Forges render Mermaid in Markdown, so SPEC.md shows the flow without redis_schema.png. codegen.py calls
render(); only the standard library is used.

- `flow`: a flowchart of the lane, the same one redis_schema.png draws: the `lane` hops of the transitions
  in order, then `reading`, each edge numbered and labelled with the hop's `label`.
- `states`: a state diagram of every transition, labelled with its name; `(none)` (a `from` of null) is
  the start, and a state no transition leaves is final.
"""

from __future__ import annotations

import re
from typing import Any

SHAPES = {"actor": ("(", ")"), "key": ("[(", ")]"), "state": ("([", "])"), "channel": ("[/", "/]")}
"""Mermaid's node shape for each kind of lane node: actors rounded, keys as storage, states as stadiums,
channels as parallelograms."""

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
"""What a state, transition or lane node name must look like to be written into a diagram unquoted."""


def checked(name: str) -> str:
    """`name`, if it can be a Mermaid id or a state transition's label as it is; ValueError otherwise."""
    if not NAME.match(name):
        raise ValueError(f"{name!r} cannot be written into a Mermaid diagram: use letters, digits and _")
    return name


ENTITIES = str.maketrans({"#": "#35;", '"': "#quot;", "<": "#lt;", ">": "#gt;"})
"""The characters that would end or break a quoted label, as Mermaid entity codes."""


def quoted(*lines: str) -> str:
    """`lines` as one quoted Mermaid label, a line break between each."""
    return '"' + "<br/>".join(line.translate(ENTITIES) for line in lines) + '"'


def lane(schema: dict[str, Any]) -> list[dict[str, str]]:
    """The hops of the lane: those of the transitions that have them, in order, then `reading`."""
    return [hop for transition in schema["transitions"] for hop in transition.get("lane", [])] + [schema["reading"]]


def node(schema: dict[str, Any], ref: str) -> str:
    """The declaration of the lane node `ref` (kind:name): its id, shape and label."""
    kind, _, name = ref.partition(":")
    if kind == "key":
        label = quoted(f"{name} {schema['keys'][name]['type']}", schema["keys"][name]["pattern"])
    elif kind == "channel":
        label = quoted(f"{name} channel", schema["channels"][name]["pattern"])
    elif kind == "state":
        label = quoted(f"{name} (task state)")
    else:
        label = quoted(name)
    opening, closing = SHAPES[kind]
    return f"{checked(kind)}_{checked(name)}{opening}{label}{closing}"


def flowchart(schema: dict[str, Any]) -> str:
    """The lane as a left-to-right flowchart with numbered edges."""
    hops = lane(schema)
    refs = list(dict.fromkeys([hops[0]["from"], *(hop["to"] for hop in hops)]))
    lines = ["flowchart LR", *(f"    {node(schema, ref)}" for ref in refs)]
    for n, hop in enumerate(hops, start=1):
        source, target = (ref.replace(":", "_") for ref in (hop["from"], hop["to"]))
        label = quoted(f"({n}) {hop['label']}")
        lines.append(f"    {source} -->|{label}| {target}")
    return "\n".join(lines)


def state_diagram(schema: dict[str, Any]) -> str:
    """Every transition between the task states, labelled with its name."""
    lines = ["stateDiagram-v2"]
    for transition in schema["transitions"]:
        source = checked(transition["from"]) if transition["from"] else "[*]"
        lines.append(f"    {source} --> {checked(transition['to'])}: {checked(transition['name'])}")
    left = {transition["from"] for transition in schema["transitions"]}
    lines += [f"    {checked(state)} --> [*]" for state in schema["states"] if state not in left]
    return "\n".join(lines)


def render(schema: dict[str, Any]) -> dict[str, str]:
    """The generated sections of SPEC.md that hold diagrams, by name, each a fenced Mermaid block."""
    return {
        "flow": f"```mermaid\n{flowchart(schema)}\n```",
        "states": f"```mermaid\n{state_diagram(schema)}\n```",
    }
