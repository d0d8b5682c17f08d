"""redis_schema.png is drawn from schema/schema.json by schema/draw.py and is current; schema/mermaid.py draws
the same flow as Mermaid diagrams for SPEC.md."""

from __future__ import annotations

import importlib.util
import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
DRAW_PY = ROOT / "schema" / "draw.py"
MERMAID_PY = ROOT / "schema" / "mermaid.py"
SCHEMA_JSON = ROOT / "schema" / "schema.json"
PNG = ROOT / "redis_schema.png"


def load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"doshit_schema_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


draw = load(DRAW_PY)
mermaid = load(MERMAID_PY)


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def rewrite_png(data: bytes, hash_value: str | None) -> bytes:
    """A copy of a PNG whose schema hash chunk says `hash_value`, or is gone when it is None."""
    out = draw.PNG_SIGNATURE
    for kind, body in draw.png_chunks(data):
        if kind == b"tEXt" and body.startswith(draw.HASH_KEY.encode("latin-1") + b"\0"):
            if hash_value is None:
                continue
            body = draw.HASH_KEY.encode("latin-1") + b"\0" + hash_value.encode("latin-1")
        out += chunk(kind, body)
    return bytes(out)


def ihdr_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_picture_is_current() -> None:
    done = subprocess.run([sys.executable, str(DRAW_PY), "--check"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert draw.is_current(PNG, SCHEMA_JSON, DRAW_PY), draw.STALE_MESSAGE


def test_picture_is_a_readable_png() -> None:
    data = PNG.read_bytes()
    width, height = ihdr_size(data)
    assert 1600 <= width <= 2200, width
    assert 600 <= height <= 2600, height
    assert draw.png_chunks(data)[-1][0] == b"IEND"
    texts = draw.png_text(data)
    assert set(texts) <= {draw.HASH_KEY, "Software"}, "no dates or other changing metadata"


def test_check_reports_a_stale_or_unmarked_picture(tmp_path: Path) -> None:
    data = PNG.read_bytes()
    current = tmp_path / "current.png"
    current.write_bytes(rewrite_png(data, draw.schema_digest(SCHEMA_JSON, DRAW_PY)))
    assert draw.is_current(current, SCHEMA_JSON, DRAW_PY)

    stale = tmp_path / "stale.png"
    stale.write_bytes(rewrite_png(data, "0" * 64))
    assert not draw.is_current(stale, SCHEMA_JSON, DRAW_PY)

    unmarked = tmp_path / "unmarked.png"
    unmarked.write_bytes(rewrite_png(data, None))
    assert not draw.is_current(unmarked, SCHEMA_JSON, DRAW_PY)

    assert not draw.is_current(tmp_path / "missing.png", SCHEMA_JSON, DRAW_PY)
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(data[:100])
    assert not draw.is_current(corrupt, SCHEMA_JSON, DRAW_PY)


def test_a_schema_or_script_edit_makes_the_picture_stale(tmp_path: Path) -> None:
    schema = tmp_path / "schema.json"
    schema.write_bytes(SCHEMA_JSON.read_bytes() + b"\n")
    assert not draw.is_current(PNG, schema, DRAW_PY)
    script = tmp_path / "draw.py"
    script.write_bytes(DRAW_PY.read_bytes() + b"\n")
    assert not draw.is_current(PNG, SCHEMA_JSON, script)


def test_check_runs_on_the_standard_library_alone() -> None:
    code = (
        "import runpy, sys\n"
        "sys.argv = ['draw.py', '--check']\n"
        "try:\n"
        f"    runpy.run_path({str(DRAW_PY)!r}, run_name='__main__')\n"
        "except SystemExit:\n"
        "    pass\n"
        "assert 'matplotlib' not in sys.modules, 'the check imported matplotlib'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_check_exit_status_and_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert draw.main(["--check"]) == 0
    stale = tmp_path / "stale.png"
    stale.write_bytes(rewrite_png(PNG.read_bytes(), "0" * 64))
    monkeypatch.setattr(draw, "PNG_FILE", stale)
    assert draw.main(["--check"]) == 1
    assert capsys.readouterr().err.strip() == (
        "redis_schema.png is out of date with schema/schema.json; run `make picture`"
    )


def test_an_added_field_is_drawn(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    schema = json.loads(SCHEMA_JSON.read_text())
    out = tmp_path / "before.png"
    _, before = draw.draw(SCHEMA_JSON, DRAW_PY, out)
    extra = [{"name": f"extra-{n}", "type": "string", "by": "producer", "legacy": False, "doc": "x"} for n in range(20)]
    schema["task_fields"] += extra
    edited = tmp_path / "schema.json"
    edited.write_text(json.dumps(schema))
    after_png = tmp_path / "after.png"
    width, after = draw.draw(edited, DRAW_PY, after_png)
    assert after > before, "the boxes grow with their fields"
    assert 1600 <= width <= 2200
    assert draw.is_current(after_png, edited, DRAW_PY)
    assert not draw.is_current(out, edited, DRAW_PY)


def test_a_lane_that_does_not_join_up_is_refused(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    schema = json.loads(SCHEMA_JSON.read_text())
    schema["reading"]["from"] = "channel:cmd"
    edited = tmp_path / "schema.json"
    edited.write_text(json.dumps(schema))
    with pytest.raises(ValueError, match="do not join up"):
        draw.draw(edited, DRAW_PY, tmp_path / "broken.png")


def test_the_mermaid_diagrams_follow_the_schema() -> None:
    schema = json.loads(SCHEMA_JSON.read_text())
    hops = [hop for t in schema["transitions"] for hop in t.get("lane", [])] + [schema["reading"]]
    sections = mermaid.render(schema)
    flow = sections["flow"].splitlines()
    assert flow[:2] == ["```mermaid", "flowchart LR"] and flow[-1] == "```"
    edges = [line.split() for line in flow if "-->" in line]
    assert [(edge[0], edge[-1]) for edge in edges] == [
        (hop["from"].replace(":", "_"), hop["to"].replace(":", "_")) for hop in hops
    ]
    for n, (edge, hop) in enumerate(zip(edges, hops, strict=True), start=1):
        assert " ".join(edge[1:-1]) == f'-->|"({n}) {hop["label"]}"|'
    states = sections["states"].splitlines()
    assert states[:2] == ["```mermaid", "stateDiagram-v2"]
    for t in schema["transitions"]:
        assert f"    {t['from'] or '[*]'} --> {t['to']}: {t['name']}" in states
    left = {t["from"] for t in schema["transitions"]}
    finals = [line for line in states if line.endswith("--> [*]")]
    assert finals == [f"    {state} --> [*]" for state in schema["states"] if state not in left]


def test_mermaid_labels_are_escaped_and_names_checked() -> None:
    schema = json.loads(SCHEMA_JSON.read_text())
    schema["reading"]["label"] = 'say "hi" <b>#1'
    last = sum(len(t.get("lane", [])) for t in schema["transitions"]) + 1
    assert f'|"({last}) say #quot;hi#quot; #lt;b#gt;#35;1"|' in mermaid.render(schema)["flow"]
    schema["transitions"][0]["name"] = "sub: mit"
    with pytest.raises(ValueError, match="cannot be written into a Mermaid diagram"):
        mermaid.render(schema)
