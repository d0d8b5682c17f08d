"""Draw redis_schema.png, the picture of the doshit Redis schema, from schema/schema.json.

    python schema/draw.py           redraw redis_schema.png
    python schema/draw.py --check   exit 1 if redis_schema.png is out of date

Every key pattern, field, state, transition text, arrow label and script name in the picture comes from
schema.json: the lane is the `lane` hops of the transitions in order, then `reading`. The layout is computed
(a box grows with its fields), so the picture follows a schema edit.
The PNG carries a tEXt chunk `doshit-schema-sha256`: the sha256 of schema.json followed by this script.
--check reads it with the standard library only; drawing needs matplotlib (the dev extra).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
import struct
import sys
import zlib
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

if TYPE_CHECKING:
    from matplotlib.backend_bases import RendererBase
    from matplotlib.font_manager import FontProperties

SCHEMA_DIR = Path(__file__).resolve().parent
ROOT = SCHEMA_DIR.parent
SCHEMA_FILE = SCHEMA_DIR / "schema.json"
SCRIPT_FILE = Path(__file__).resolve()
PNG_FILE = ROOT / "redis_schema.png"
HASH_KEY = "doshit-schema-sha256"
STALE_MESSAGE = "redis_schema.png is out of date with schema/schema.json; run `make picture`"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# --- staleness: standard library only -------------------------------------------------------------


def schema_digest(schema: Path = SCHEMA_FILE, script: Path = SCRIPT_FILE) -> str:
    """The sha256 hex of schema.json's bytes followed by draw.py's bytes."""
    return hashlib.sha256(schema.read_bytes() + script.read_bytes()).hexdigest()


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """The (type, data) chunks of a PNG file, in order. ValueError if it is not a well-formed PNG."""
    if not data.startswith(PNG_SIGNATURE):
        raise ValueError("not a PNG file")
    chunks: list[tuple[bytes, bytes]] = []
    pos = len(PNG_SIGNATURE)
    while not chunks or chunks[-1][0] != b"IEND":
        if pos + 12 > len(data):
            raise ValueError("truncated PNG: no IEND chunk")
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body, crc = data[pos + 8 : pos + 8 + length], data[pos + 8 + length : pos + 12 + length]
        if len(crc) != 4 or crc != zlib.crc32(kind + body).to_bytes(4, "big"):
            raise ValueError(f"truncated or corrupt {kind!r} chunk")
        chunks.append((kind, body))
        pos += 12 + length
    return chunks


def png_text(data: bytes) -> dict[str, str]:
    """The keyword -> text pairs of a PNG's tEXt chunks."""
    texts: dict[str, str] = {}
    for kind, body in png_chunks(data):
        if kind == b"tEXt":
            key, _, value = body.partition(b"\0")
            texts[key.decode("latin-1")] = value.decode("latin-1")
    return texts


def is_current(png: Path = PNG_FILE, schema: Path = SCHEMA_FILE, script: Path = SCRIPT_FILE) -> bool:
    """True when `png` carries the digest of `schema` and `script`; False when it is missing, unreadable or stale."""
    try:
        recorded = png_text(png.read_bytes()).get(HASH_KEY)
    except (OSError, ValueError):
        return False
    return recorded == schema_digest(schema, script)


# --- drawing: matplotlib --------------------------------------------------------------------------

DPI = 100
MARGIN, PAD, GAP, COLUMN_GAP = 30.0, 12.0, 24.0, 20.0
WIDTH = 1800.0  # the least width of the picture; a wider lane widens it
PROSE, TILE = 400.0, 300.0  # the least width of a column of paragraphs, and of a small box below the flow

INK, MUTED, RULE, ARROW, STEP = "#1a202c", "#4a5568", "#a0aec0", "#2d3748", "#c53030"
ADDED, ADDED_BG = "#1e6b34", "#e2f3e6"
Colors = tuple[str, str]  # the fill and the edge of a box
ACTOR, KEY, STATE = ("#edf2f7", "#4a5568"), ("#dbeafe", "#2c5282"), ("#fef3c7", "#975a16")
CHANNEL, PANEL = ("#ede9fe", "#553c9a"), ("#ffffff", "#a0aec0")


class Style(NamedTuple):
    family: str
    size: float
    weight: str = "normal"
    slant: Literal["normal", "italic"] = "normal"


SANS, MONO = "DejaVu Sans", "DejaVu Sans Mono"
TITLE, HEAD = Style(SANS, 20, "bold"), Style(SANS, 13, "bold")
BODY, BOLD, NOTE = Style(SANS, 11), Style(SANS, 11, "bold"), Style(SANS, 11, slant="italic")
CODE, CODE_BOLD, ADDED_CODE = Style(MONO, 11), Style(MONO, 12, "bold"), Style(MONO, 11, "bold")


class Line(NamedTuple):
    """One line of text, or a paragraph when `wrap` (wrapped to the width it is drawn in)."""

    text: str
    style: Style = BODY
    color: str = INK
    wrap: bool = False


Cells = list[list[Line]]  # a row of a box's grid: the lines of each of its cells


def split(heights: list[float], n: int) -> list[list[int]]:
    """The indexes of `heights` cut in order into at most `n` runs, the tallest run as short as can be."""
    limits = sorted({sum(heights[i:j]) for i in range(len(heights)) for j in range(i + 1, len(heights) + 1)})
    for limit in limits:
        runs: list[list[int]] = [[]]
        for i, h in enumerate(heights):
            if runs[-1] and sum(heights[k] for k in runs[-1]) + h > limit:
                runs.append([])
            runs[-1].append(i)
        if len(runs) <= n:
            return runs
    return [list(range(len(heights)))]


def prose(text: str, capital: bool = True) -> str:
    """Schema prose for the picture: `code` marks become typographic quotes; a sentence starts with a capital."""
    text = re.sub(r"`([^`]*)`", "\u2018\\1\u2019", text)
    return text[:1].upper() + text[1:] if capital else text


class Sheet:
    """A matplotlib figure laid out in pixels, y growing downwards; its size is fixed at save time.

    A box is drawn as its head (lines) over a grid (rows with a cell of lines per column), then framed once its
    height is known, so that boxes side by side can share the height of the tallest."""

    def __init__(self) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        self.fig = Figure(dpi=DPI)
        self.ax = self.fig.add_axes((0.0, 0.0, 1.0, 1.0))
        self.ax.set_axis_off()
        # Measures text exactly as the saved picture draws it (backend_agg carries no annotations).
        self.renderer: RendererBase = FigureCanvasAgg(self.fig).get_renderer()  # type: ignore[no-untyped-call]

    @staticmethod
    def font(style: Style) -> FontProperties:
        from matplotlib.font_manager import FontProperties

        return FontProperties(family=style.family, size=style.size, weight=style.weight, style=style.slant)

    def width(self, text: str, style: Style) -> float:
        return float(self.renderer.get_text_width_height_descent(text, self.font(style), ismath=False)[0])

    def fixed(self, lines: list[Line]) -> float:
        """The width of the widest of `lines` that does not wrap."""
        return max([0.0] + [self.width(line.text, line.style) for line in lines if not line.wrap])

    def natural(self, rows: list[Cells]) -> list[float]:
        """The width of each column of `rows` with no line wrapped."""
        return [self.fixed([ln._replace(wrap=False) for cell in col for ln in cell]) for col in zip(*rows, strict=True)]

    @staticmethod
    def height(style: Style) -> float:
        return style.size * DPI / 72 * 1.4

    def lay(self, lines: list[Line], width: float) -> list[Line]:
        """`lines` as drawn `width` pixels wide: each paragraph broken into lines at spaces."""
        out: list[Line] = []
        for line in lines:
            current = ""
            for word in line.text.split() if line.wrap else [line.text]:
                candidate = f"{current} {word}" if current else word
                if current and self.width(candidate, line.style) > width:
                    out.append(line._replace(text=current))
                    candidate = word
                current = candidate
            out.append(line._replace(text=current))
        return out

    def measure(self, lines: list[Line], width: float = math.inf) -> float:
        return sum(self.height(line.style) for line in self.lay(lines, width))

    def write(self, x: float, y: float, lines: list[Line], width: float = math.inf, ha: str = "left") -> float:
        """Draw `lines` from y down, wrapped to `width`. Returns their bottom."""
        for line in self.lay(lines, width):
            top, font = y + self.height(line.style) * 0.12, self.font(line.style)
            self.ax.text(x, top, line.text, fontproperties=font, color=line.color, ha=ha, va="top", parse_math=False)
            y += self.height(line.style)
        return y

    def card(
        self, x: float, y: float, w: float, head: list[Line], cols: list[float], rows: list[Cells], gap: float = 0
    ) -> list[float]:
        """Draw a box's `head` and its `rows`, `gap` apart, each cell wrapped to its column. Returns the rows' tops,
        then the bottom of the last."""
        y = self.write(x + PAD, y + PAD, head, w - 2 * PAD) + 4
        tops: list[float] = []
        for row in rows:
            tops.append(y)
            lefts = [x + PAD + sum(cols[:i]) + COLUMN_GAP * i for i in range(len(cols))]
            y = max(self.write(left, y, cell, col) for left, col, cell in zip(lefts, cols, row, strict=True)) + gap
        return [*tops, y - gap if rows else y]

    def panel(self, x: float, y: float, w: float, title: str, rows: list[list[Line]], least: float = PROSE) -> float:
        """A titled box of paragraphs, not framed, read down as many columns at least `least` wide as fit, each as short
        as can be. Returns its bottom."""
        n = max(1, int((w - 2 * PAD + COLUMN_GAP) // (least + COLUMN_GAP)))
        col = (w - 2 * PAD - COLUMN_GAP * (n - 1)) / n
        top = bottom = self.write(x + PAD, y + PAD, [Line(title, HEAD)], w - 2 * PAD) + 4
        for i, run in enumerate(split([self.measure(row, col) + 8 for row in rows], n)):
            left, row_top = x + PAD + i * (col + COLUMN_GAP), top
            for k in run:
                row_top = self.write(left, row_top, rows[k], col) + 8
            bottom = max(bottom, row_top)
        return bottom - 8 + PAD

    def frame(self, x: float, y: float, w: float, bottom: float, colors: Colors = PANEL, body: float = 0) -> None:
        """A box's frame in its colours, white from `body` down when given."""
        self.rect(x, y, w, bottom - y, colors, zorder=0)
        if body:
            self.rect(x + 1, body, w - 2, bottom - body - 1, ("white", "none"), zorder=0.5)

    def rect(self, x: float, y: float, w: float, h: float, colors: Colors, zorder: float = 1) -> None:
        from matplotlib.patches import FancyBboxPatch

        shape = "round,pad=0,rounding_size=10" if colors is ACTOR else "square,pad=0"
        fill, edge = colors
        self.ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle=shape, fc=fill, ec=edge, lw=1.5, zorder=zorder))

    def rule(self, x0: float, x1: float, y: float) -> None:
        self.ax.plot([x0, x1], [y, y], color=RULE, lw=1)

    def number(self, x: float, y: float, n: int) -> None:
        """Step number `n` on a red disc 24 pixels wide, centred on (x, y)."""
        self.ax.plot(x, y, "o", ms=24 * 72 / DPI, mfc=STEP, mec="white", mew=1.5, zorder=4)
        font = self.font(BOLD)
        self.ax.text(x, y, str(n), fontproperties=font, color="white", ha="center", va="center_baseline", zorder=5)

    def save(self, path: Path, width: int, height: int, metadata: dict[str, str | None]) -> None:
        """Save the picture, `width` x `height` pixels. RuntimeError if texts overlap or leave it."""
        self.ax.set_xlim(0, width)
        self.ax.set_ylim(height, 0)
        self.fig.set_size_inches(width / DPI, height / DPI)
        self.fig.canvas.draw()
        boxes = [(t.get_text(), t.get_window_extent()) for t in self.ax.texts if t.get_text()]
        found = [f"{s!r} leaves the picture" for s, b in boxes if min(b.x0, b.y0) < 0 or b.x1 > width or b.y1 > height]
        for i, (text, a) in enumerate(boxes):
            for other, b in boxes[i + 1 :]:
                if min(a.x1, b.x1) > max(a.x0, b.x0) + 1 and min(a.y1, b.y1) > max(a.y0, b.y0) + 1:
                    found.append(f"{text!r} overlaps {other!r}")
        if found:
            raise RuntimeError("the layout is broken: " + "; ".join(found))
        self.fig.savefig(path, dpi=DPI, facecolor="white", metadata=metadata)


class Picture(Sheet):
    """The picture of one schema: the lane; its steps and the states beside the transitions off it; below them the
    keys, the legend and the channels in columns; and the scripts across the picture."""

    def __init__(self, schema: dict[str, Any]) -> None:
        super().__init__()
        self.schema = schema
        # The lane: the hops of the transitions that have them, in order, then how a caller reads the result.
        self.hops: list[dict[str, str]] = [hop for t in schema["transitions"] for hop in t.get("lane", [])]
        self.hops.append(schema["reading"])
        if any(a["to"] != b["from"] for a, b in itertools.pairwise(self.hops)):
            raise ValueError("the lane's hops do not join up: each must start where the one before ends")
        self.nodes = [self.hops[0]["from"], *(hop["to"] for hop in self.hops)]

    def head(self, label: str, item: dict[str, Any], *extra: Line) -> list[Line]:
        """What a key, channel or command is, whether legacy or added, its pattern and its doc."""
        tagged = Line(f"{label} · {'legacy' if item['legacy'] else 'added'}", NOTE, MUTED)
        return [tagged, Line(item["pattern"], CODE_BOLD), *extra, Line(prose(item["doc"]), BODY, MUTED, wrap=True)]

    def node(self, ref: str) -> tuple[list[Line], Colors]:
        """The lines and colours of the lane's box for `ref`: actor:, key:, state: or channel: and a name."""
        kind, _, name = ref.partition(":")
        if kind == "key":
            key = self.schema["keys"][name]
            ids = [Line(f"The ids of the tasks in state {name}.", wrap=True)] if name in self.schema["states"] else []
            return self.head(f"{name} {key['type']}", key, *ids), KEY
        if kind == "channel":
            return self.head(f"{name} channel", self.schema["channels"][name]), CHANNEL
        if kind == "state":
            doc = Line(prose(self.schema["states"][name]), BODY, MUTED, wrap=True)
            return [Line("task state", NOTE, MUTED), Line(name, HEAD), doc], STATE
        return [Line("actor", NOTE, MUTED), Line(name, HEAD)], ACTOR

    def lane(self, top: float) -> tuple[float, float]:
        """The lane's boxes, joined by numbered arrows with their labels. Returns its (right, bottom)."""
        boxes = [self.node(ref) for ref in self.nodes]
        # A box is as wide as its widest line that does not wrap, and wider when it has paragraphs.
        least = [190.0 if any(line.wrap for line in lines) else 100.0 for lines, _ in boxes]
        widths = [max(w, self.fixed(lines)) + 2 * PAD for w, (lines, _) in zip(least, boxes, strict=True)]
        height = max(self.measure(lines, w - 2 * PAD) for (lines, _), w in zip(boxes, widths, strict=True)) + 2 * PAD
        mid, x = top + height / 2, MARGIN
        for i, ((lines, colors), width) in enumerate(zip(boxes, widths, strict=True)):
            self.rect(x, top, width, height, colors)
            self.write(x + PAD, mid - self.measure(lines, width - 2 * PAD) / 2, lines, width - 2 * PAD)
            x += width
            if i < len(self.hops):
                label = [Line(word, BOLD, ARROW) for word in self.hops[i]["label"].split()]
                gap = max([24.0] + [self.width(line.text, BOLD) for line in label]) + 2 * PAD + 8
                arrow = {"arrowstyle": "-|>", "mutation_scale": 20, "color": ARROW, "lw": 2}
                self.ax.annotate("", (x + gap - 3, mid), (x + 3, mid), arrowprops=arrow)
                self.number(x + gap / 2, mid, i + 1)
                self.write(x + gap / 2, mid - 16 - self.measure(label), label, ha="center")
                x += gap
        return x, top + height

    def flow(self, top: float, right: float) -> float:
        """The lane's numbered steps over the task states, beside the transitions off the lane. Returns the bottom."""
        steps: list[Cells] = []
        for hop in self.hops:
            lead = Line(f"{hop['from'].partition(':')[2]} → {hop['to'].partition(':')[2]}", BOLD)
            steps.append([[], [lead], [Line(prose(hop["how"]), wrap=True)]])
        off_lane = []
        for t in (t for t in self.schema["transitions"] if "lane" not in t):
            what = f"{t['name']}: {t['from'] or 'new'} → {t['to']}, by {prose(t['by'], False)}"
            off_lane.append([Line(what, BOLD, wrap=True), Line(prose(t["how"]), wrap=True)])
        cols = [10.0, *self.natural(steps)[1:]]  # the number's disc takes the 10 pixels and the column gap
        steps_w = sum(cols) + 2 * COLUMN_GAP + 2 * PAD
        steps_w = min(steps_w, (right - MARGIN - GAP) / 2) if off_lane else right - MARGIN
        cols[2] = steps_w - 2 * PAD - 2 * COLUMN_GAP - cols[0] - cols[1]
        title = [Line("The flow of a task (numbers as on the arrows)", HEAD)]
        tops = self.card(MARGIN, top, steps_w, title, cols, steps, gap=6)
        self.frame(MARGIN, top, steps_w, tops[-1] + PAD)
        for n, row_top in enumerate(tops[:-1], start=1):
            self.number(MARGIN + PAD + 12, row_top + self.height(BODY) / 2, n)
        states = [[Line(state, BOLD), Line(prose(doc), wrap=True)] for state, doc in self.schema["states"].items()]
        y, x = tops[-1] + PAD + GAP, MARGIN + steps_w + GAP
        bottom = self.panel(MARGIN, y, steps_w, "Task states", states)
        if off_lane:
            bottom = max(bottom, self.panel(x, top, right - x, "Transitions off the main flow", off_lane))
            self.frame(x, top, right - x, bottom)
        self.frame(MARGIN, y, steps_w, bottom)
        return bottom

    def key(self, name: str, x: float, top: float, least: float = 0) -> tuple[float, float]:
        """A key's box, at least `least` wide, with one row per field, the added ones marked. Returns its
        (width, bottom)."""
        key, fields = self.schema["keys"][name], self.schema.get(f"{name}_fields", [])
        columns = [("field", "name"), ("type", "type")] + [("written by", "by")] * any("by" in f for f in fields)
        rows = [[[Line(title, BOLD, MUTED)] for title, _ in columns]] if fields else []
        for f in fields:
            mark, style, color = ("  ", CODE, INK) if f["legacy"] else ("+ ", ADDED_CODE, ADDED)
            values = [[Line(f.get(k, ""), BODY, color)] for _, k in columns[1:]]
            rows.append([[Line(mark + f["name"], style, color)], *values])
        cols, head = self.natural(rows), self.head(f"{name} {key['type']}", key)
        width = max(sum(cols) + COLUMN_GAP * (len(cols) - 1) + 2 * PAD, self.fixed(head) + 2 * PAD, least)
        tops = self.card(x, top, width, head, cols, rows)
        self.frame(x, top, width, tops[-1] + PAD, KEY, body=tops[0] if fields else 0)
        if fields:
            self.rule(x + 1, x + width - 1, tops[1])
        for f, y0, y1 in zip(fields, tops[1:-1], tops[2:], strict=True):
            if not f["legacy"]:
                self.rect(x + 1, y0, width - 2, y1 - y0, (ADDED_BG, "none"), zorder=0.7)
        return width, tops[-1] + PAD

    def channel(self, name: str, x: float, top: float, width: float) -> tuple[float, float]:
        """A channel's box with the commands sent on it. Returns its (width, bottom)."""
        channel = self.schema["channels"][name]
        rows = [[[Line(f"commands published on {channel['pattern']}", BOLD, MUTED, wrap=True)]]]
        rows += [[self.head(command, spec)] for command, spec in self.schema["commands"].items()]
        tops = self.card(x, top, width, self.head(f"{name} pub/sub channel", channel), [width - 2 * PAD], rows, 6)
        self.frame(x, top, width, tops[-1] + PAD, CHANNEL, body=tops[0] - 3)
        for y in tops[1:-1]:
            self.rule(x + 1, x + width - 1, y - 3)
        return width, tops[-1] + PAD

    def legend(self, x: float, top: float, width: float) -> tuple[float, float]:
        """The legend of field marks and box colours. Returns its (width, bottom)."""
        added = f"field added since; schema_version {self.schema['schema_version']} writes it"
        entries = [
            (("white", RULE), Line("  name", CODE), "field of the legacy protocol (version 1)"),
            ((ADDED_BG, RULE), Line("+ name", ADDED_CODE, ADDED), added),
            (ACTOR, Line(""), "actor: a program using the schema"),
            (KEY, Line(""), "Redis key"),
            (STATE, Line(""), "task state"),
            (CHANNEL, Line(""), "pub/sub channel"),
        ]
        rows = [[[sample], [Line(meaning, wrap=True)]] for _, sample, meaning in entries]
        cols = self.natural(rows)
        cols[1] = width - 2 * PAD - COLUMN_GAP - cols[0]
        tops = self.card(x, top, width, [Line("Legend", HEAD)], cols, rows, gap=6)
        for (colors, _, _), y in zip(entries, tops, strict=False):
            self.rect(x + PAD - 6, y, cols[0] + 12, self.height(BODY), colors)
        self.frame(x, top, width, tops[-1] + PAD)
        return width, tops[-1] + PAD

    def reference(self, top: float, right: float) -> float:
        """The keys and channels off the lane in columns: a column for each hash key with fields, and the other keys,
        the legend and the channels each in the shortest column wide enough. Under them, the Lua scripts across the
        picture. Returns the bottom."""
        keys = [name for name in self.schema["keys"] if f"key:{name}" not in self.nodes]
        hashes = [name for name in keys if self.schema.get(f"{name}_fields")]
        columns: list[list[float]] = []  # the left, width and top of the free space of each column
        x = MARGIN
        for name in hashes:
            width, bottom = self.key(name, x, top)
            columns.append([x, width, bottom + GAP])
            x += width + GAP
        # A tile: the lines it cannot wrap, and how to draw it at (x, top), so wide; that returns its (width, bottom).
        tiles: list[tuple[list[Line], Callable[[float, float, float], tuple[float, float]]]]
        tiles = [(self.head("", self.schema["keys"][n]), partial(self.key, n)) for n in keys if n not in hashes]
        tiles.append(([], self.legend))
        commands = [line for spec in self.schema["commands"].values() for line in self.head("", spec)]
        for name, spec in self.schema["channels"].items():
            if f"channel:{name}" not in self.nodes:
                tiles.append((self.head("", spec) + commands, partial(self.channel, name)))
        needs = [max(TILE, self.fixed(lines) + 2 * PAD) for lines, _ in tiles]
        n = max(1, int((right - x + GAP) // (max(needs) + GAP)))
        width = max(*needs, (right - x - GAP * (n - 1)) / n)
        columns += [[x + i * (width + GAP), width, top] for i in range(n)]
        for need, (_, tile) in zip(needs, tiles, strict=True):
            column = min((c for c in columns if c[1] >= need), key=lambda c: c[2])
            column[2] = tile(column[0], column[2], column[1])[1] + GAP
        scripts = [
            [Line(f"{name} · {spec['file']}", BOLD)]
            + [Line(f"{part.upper()}: {', '.join(spec[part])}", CODE, wrap=True) for part in ("keys", "argv")]
            + [Line("Returns " + prose(spec["returns"], False), BODY, MUTED, wrap=True)]
            for name, spec in self.schema["scripts"].items()
        ]
        title, y = "Lua scripts (KEYS are key names above)", max(c[2] for c in columns)
        bottom = self.panel(MARGIN, y, right - MARGIN, title, scripts)
        self.frame(MARGIN, y, right - MARGIN, bottom)
        return bottom


def draw(schema_path: Path = SCHEMA_FILE, script_path: Path = SCRIPT_FILE, out: Path = PNG_FILE) -> tuple[int, int]:
    """Draw the picture of `schema_path` into `out`. Returns its (width, height) in pixels."""
    picture = Picture(json.loads(schema_path.read_text()))
    defaults = ", ".join(f"{{{k}}} defaults to {v!r}" for k, v in picture.schema["defaults"].items())
    title = Line(f"doshit Redis schema · schema_version {picture.schema['schema_version']}", TITLE)
    subtitle = f"Drawn by schema/draw.py from schema/schema.json (explained in schema/SPEC.md). {defaults}."
    y = picture.write(MARGIN, MARGIN - 10, [title, Line(subtitle, color=MUTED)])
    right, y = picture.lane(y + GAP)
    right = max(right, MARGIN + WIDTH)
    y = picture.reference(picture.flow(y + GAP, right) + GAP, right)
    width, height = math.ceil(right + MARGIN), math.ceil(y + MARGIN)
    picture.save(out, width, height, {"Software": None, HASH_KEY: schema_digest(schema_path, script_path)})
    return width, height


def main(argv: list[str]) -> int:
    if argv == ["--check"]:
        if is_current(PNG_FILE, SCHEMA_FILE, SCRIPT_FILE):
            return 0
        print(STALE_MESSAGE, file=sys.stderr)
        return 1
    if argv:
        print(__doc__, file=sys.stderr)
        return 2
    width, height = draw()
    print(f"wrote {PNG_FILE.relative_to(ROOT)} ({width}x{height} px)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
