"""Draw redis_schema.png, the picture of the doshit Redis schema, from schema/schema.json.

    python schema/draw.py           redraw redis_schema.png
    python schema/draw.py --check   exit 1 if redis_schema.png is out of date

Every key pattern, field, state, transition text and script name in the picture comes from schema.json;
the layout is computed from it (a box grows with its fields), so the picture follows a schema edit.
The PNG carries a tEXt chunk `doshit-schema-sha256`: the sha256 of schema.json followed by this script.
--check reads it with the standard library only; drawing needs matplotlib (the dev extra).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import struct
import sys
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from matplotlib.axes import Axes
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
    while pos < len(data):
        if pos + 8 > len(data):
            raise ValueError("truncated chunk header")
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if len(body) != length or pos + 12 + length > len(data):
            raise ValueError(f"truncated {kind!r} chunk")
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        if zlib.crc32(kind + body) != crc:
            raise ValueError(f"bad CRC in {kind!r} chunk")
        chunks.append((kind, body))
        pos += 12 + length
        if kind == b"IEND":
            break
    return chunks


def png_text(data: bytes) -> dict[str, str]:
    """The keyword -> text pairs of a PNG's tEXt (and zTXt) chunks."""
    texts: dict[str, str] = {}
    for kind, body in png_chunks(data):
        if kind == b"tEXt":
            key, _, value = body.partition(b"\0")
            texts[key.decode("latin-1")] = value.decode("latin-1")
        elif kind == b"zTXt":
            key, _, rest = body.partition(b"\0")
            texts[key.decode("latin-1")] = zlib.decompress(rest[1:]).decode("latin-1")
    return texts


def is_current(png: Path = PNG_FILE, schema: Path = SCHEMA_FILE, script: Path = SCRIPT_FILE) -> bool:
    """True when `png` carries the digest of `schema` and `script`; False when it is missing, unreadable or stale."""
    try:
        recorded = png_text(png.read_bytes()).get(HASH_KEY)
    except (OSError, ValueError):
        return False
    return recorded == schema_digest(schema, script)


# --- layout -----------------------------------------------------------------------------------------

DPI = 100
MARGIN = 30.0
PAD = 12.0
GAP = 24.0

INK = "#1a202c"
MUTED = "#4a5568"
ADDED = "#1e6b34"
ADDED_BG = "#e2f3e6"
RULE = "#a0aec0"
STEP = "#c53030"
ARROW = "#2d3748"
ACTOR = ("#edf2f7", "#4a5568")
KEY = ("#dbeafe", "#2c5282")
STATE = ("#fef3c7", "#975a16")
CHANNEL = ("#ede9fe", "#553c9a")
PANEL = ("#ffffff", "#a0aec0")


class Style(NamedTuple):
    family: str
    size: float
    bold: bool = False
    italic: bool = False


SANS = "DejaVu Sans"
MONO = "DejaVu Sans Mono"
TITLE = Style(SANS, 20, bold=True)
HEAD = Style(SANS, 13, bold=True)
BODY = Style(SANS, 11)
BOLD = Style(SANS, 11, bold=True)
NOTE = Style(SANS, 11, italic=True)
CODE = Style(MONO, 11)
CODE_BOLD = Style(MONO, 12, bold=True)
ADDED_CODE = Style(MONO, 11, bold=True)
NUMBER = Style(SANS, 11, bold=True)


@dataclass
class Line:
    text: str
    style: Style
    color: str = INK
    wrap: bool = False


@dataclass
class Node:
    """One box of the flow lane: an actor, a key, a state or a channel."""

    name: str
    lines: list[Line]
    colors: tuple[str, str]
    x: float = 0.0
    width: float = 0.0


@dataclass
class Hop:
    """One numbered arrow of the flow lane."""

    src: str
    dst: str
    text: str
    label: list[str] = field(default_factory=list)


# The lane: each main transition of schema.json (by from/to state) as one or more arrows between lane
# nodes, its `how` text split at ", then " over them. A node is "kind:name", the kind one of key,
# channel, state (names in schema.json) or actor (a program using the schema).
MAIN_PATH: list[tuple[tuple[str | None, str], list[tuple[str, str]]]] = [
    ((None, "pending"), [("actor:producer", "key:pending")]),
    (("pending", "executing"), [("key:pending", "actor:worker"), ("actor:worker", "key:executing")]),
    (("executing", "finished"), [("key:executing", "state:finished"), ("state:finished", "channel:results")]),
]
CALLER_HOP = ("channel:results", "actor:caller")
CALLER_HOW = "SUBSCRIBE first (before submitting); on a message, HGETALL or HMGET the task hash it names"


class Sheet:
    """A matplotlib figure laid out in pixels, y growing downwards; its size is fixed at save time."""

    def __init__(self) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        self.fig = Figure(dpi=DPI)
        self.canvas = FigureCanvasAgg(self.fig)
        self.ax: Axes = self.fig.add_axes((0.0, 0.0, 1.0, 1.0))
        self.ax.set_axis_off()
        # Measures text exactly as the saved picture draws it (backend_agg carries no annotations).
        self.renderer: RendererBase = self.canvas.get_renderer()  # type: ignore[no-untyped-call]
        self._widths: dict[tuple[str, Style], float] = {}

    @staticmethod
    def font(style: Style) -> FontProperties:
        from matplotlib.font_manager import FontProperties

        return FontProperties(
            family=style.family,
            size=style.size,
            weight="bold" if style.bold else "normal",
            style="italic" if style.italic else "normal",
        )

    def width(self, text: str, style: Style) -> float:
        key = (text, style)
        if key not in self._widths:
            w, _, _ = self.renderer.get_text_width_height_descent(text, self.font(style), ismath=False)
            self._widths[key] = float(w)
        return self._widths[key]

    @staticmethod
    def line_height(style: Style) -> float:
        return style.size * DPI / 72 * 1.4

    def wrap(self, text: str, style: Style, max_width: float) -> list[str]:
        lines: list[str] = []
        current = ""
        for word in text.split():
            candidate = f"{current} {word}" if current else word
            if current and self.width(candidate, style) > max_width:
                lines.append(current)
                current = word
            else:
                current = candidate
        return [*lines, current] if current else lines

    def text(self, x: float, y: float, text: str, style: Style, color: str = INK, ha: str = "left") -> None:
        """Draw one line whose box top is at y."""
        self.ax.text(
            x,
            y + self.line_height(style) * 0.12,
            text,
            fontproperties=self.font(style),
            color=color,
            ha=ha,
            va="top",
            parse_math=False,
        )

    def rect(
        self, x: float, y: float, w: float, h: float, colors: tuple[str, str], rounded: bool = False, zorder: float = 1
    ) -> None:
        from matplotlib.patches import FancyBboxPatch

        style = "round,pad=0,rounding_size=10" if rounded else "square,pad=0"
        fill, edge = colors
        self.ax.add_patch(
            FancyBboxPatch((x, y), w, h, boxstyle=style, facecolor=fill, edgecolor=edge, lw=1.5, zorder=zorder)
        )

    def band(self, x: float, y: float, w: float, h: float, color: str) -> None:
        from matplotlib.patches import Rectangle

        self.ax.add_patch(Rectangle((x, y), w, h, facecolor=color, edgecolor="none"))

    def hline(self, x0: float, x1: float, y: float, color: str = RULE) -> None:
        self.ax.plot([x0, x1], [y, y], color=color, lw=1)

    def arrow(self, x0: float, y0: float, x1: float, y1: float) -> None:
        from matplotlib.patches import FancyArrowPatch

        self.ax.add_patch(
            FancyArrowPatch((x0, y0), (x1, y1), arrowstyle="-|>", mutation_scale=20, color=ARROW, lw=2, zorder=3)
        )

    def number(self, x: float, y: float, n: int) -> None:
        from matplotlib.patches import Circle

        self.ax.add_patch(Circle((x, y), 12, facecolor=STEP, edgecolor="white", lw=1.5, zorder=4))
        self.ax.text(
            x,
            y,
            str(n),
            fontproperties=self.font(NUMBER),
            color="white",
            ha="center",
            va="center_baseline",
            zorder=5,
            parse_math=False,
        )

    def lines_height(self, lines: list[tuple[str, Style, str]]) -> float:
        return sum(self.line_height(style) for _, style, _ in lines)

    def draw_lines(self, x: float, y: float, lines: list[tuple[str, Style, str]]) -> float:
        for text, style, color in lines:
            self.text(x, y, text, style, color)
            y += self.line_height(style)
        return y

    def overlaps(self, width: int, height: int) -> list[str]:
        """Texts that overlap one another or leave the picture, once it is `width` x `height`."""
        self.ax.set_xlim(0, width)
        self.ax.set_ylim(height, 0)
        self.fig.set_size_inches(width / DPI, height / DPI)
        self.fig.canvas.draw()
        boxes = [(t.get_text(), t.get_window_extent()) for t in self.ax.texts]
        found = [f"{text!r} leaves the picture" for text, box in boxes if box.x0 < 0 or box.y0 < 0]
        found += [f"{text!r} leaves the picture" for text, box in boxes if box.x1 > width or box.y1 > height]
        for i, (text, box) in enumerate(boxes):
            for other, other_box in boxes[i + 1 :]:
                apart_x = box.x1 <= other_box.x0 + 1 or other_box.x1 <= box.x0 + 1
                apart_y = box.y1 <= other_box.y0 + 1 or other_box.y1 <= box.y0 + 1
                if not (apart_x or apart_y):
                    found.append(f"{text!r} overlaps {other!r}")
        return found

    def save(self, path: Path, width: int, height: int, metadata: dict[str, str | None]) -> None:
        self.ax.set_xlim(0, width)
        self.ax.set_ylim(height, 0)
        self.fig.set_size_inches(width / DPI, height / DPI)
        self.fig.savefig(path, dpi=DPI, facecolor="white", metadata=metadata)


def layout_lines(sheet: Sheet, lines: list[Line], width: float) -> list[tuple[str, Style, str]]:
    """Lines ready to draw in `width` pixels, wrapping those marked to wrap."""
    out: list[tuple[str, Style, str]] = []
    for line in lines:
        parts = sheet.wrap(line.text, line.style, width) if line.wrap else [line.text]
        out += [(part, line.style, line.color) for part in parts]
    return out


def legacy_tag(flag: bool) -> str:
    return "legacy" if flag else "added"


def unquote(text: str) -> str:
    """Schema prose for the picture: `code` marks become typographic quotes."""
    return re.sub(r"`([^`]*)`", "\u2018\\1\u2019", text)


def plain(text: str) -> str:
    """Schema prose as a sentence: unquoted, the first letter a capital."""
    text = unquote(text)
    return text[:1].upper() + text[1:]


def node_name(ref: str) -> str:
    return ref.partition(":")[2]


def lane_node(schema: dict[str, Any], ref: str) -> Node:
    """The lane box for a "kind:name" reference."""
    kind, _, name = ref.partition(":")
    if kind == "key":
        key = schema["keys"][name]
        lines = [
            Line(f"{name} {key['type']} · {legacy_tag(key['legacy'])}", NOTE, MUTED),
            Line(key["pattern"], CODE_BOLD),
        ]
        if name in schema["states"]:
            lines.append(Line(f"The ids of the tasks in state {name}.", BODY, wrap=True))
        lines.append(Line(plain(key["doc"]), BODY, MUTED, wrap=True))
        return Node(name, lines, KEY)
    if kind == "channel":
        channel = schema["channels"][name]
        lines = [
            Line(f"{name} channel · {legacy_tag(channel['legacy'])}", NOTE, MUTED),
            Line(channel["pattern"], CODE_BOLD),
            Line(plain(channel["doc"]), BODY, MUTED, wrap=True),
        ]
        return Node(name, lines, CHANNEL)
    if kind == "state":
        lines = [
            Line("task state", NOTE, MUTED),
            Line(name, HEAD),
            Line(plain(schema["states"][name]), BODY, MUTED, wrap=True),
        ]
        return Node(name, lines, STATE)
    return Node(name, [Line("actor", NOTE, MUTED), Line(name, HEAD)], ACTOR)


def hop_label(schema: dict[str, Any], text: str) -> list[str]:
    """The short arrow label: the script the text names, else the Redis commands it names."""
    for name in schema["scripts"]:
        if re.search(rf"\b{re.escape(name)} script\b", text, re.IGNORECASE):
            return [name, "script"]
    commands = list(dict.fromkeys(re.findall(r"\b[A-Z]{4,}\b", text)))
    return commands[:2]


def lane_hops(schema: dict[str, Any]) -> tuple[list[Hop], list[dict[str, Any]]]:
    """The numbered hops of the lane, and the transitions that are not on it."""
    transitions = {(t["from"], t["to"]): t for t in schema["transitions"]}
    hops: list[Hop] = []
    used: set[tuple[str | None, str]] = set()
    for edge, path in MAIN_PATH:
        transition = transitions[edge]
        used.add(edge)
        parts = transition["how"].split(", then ")
        if len(parts) != len(path):
            parts = [transition["how"]] + ["(continued)"] * (len(path) - 1)
        hops += [Hop(src, dst, part) for (src, dst), part in zip(path, parts, strict=True)]
    hops.append(Hop(*CALLER_HOP, CALLER_HOW))
    for hop in hops:
        hop.label = hop_label(schema, hop.text)
        hop.text = plain(hop.text)
    others = [t for edge, t in transitions.items() if edge not in used]
    return hops, others


def draw_lane(sheet: Sheet, schema: dict[str, Any], hops: list[Hop], top: float) -> tuple[float, float]:
    """The flow lane: boxes joined by numbered arrows. Returns its (width, bottom)."""
    refs = [hops[0].src] + [hop.dst for hop in hops]
    nodes = [lane_node(schema, ref) for ref in refs]
    for node in nodes:
        fixed = [sheet.width(line.text, line.style) for line in node.lines if not line.wrap]
        least = 190.0 if any(line.wrap for line in node.lines) else 100.0
        node.width = max([least, *fixed]) + 2 * PAD
    laid = [layout_lines(sheet, node.lines, node.width - 2 * PAD) for node in nodes]
    height = max(sheet.lines_height(lines) for lines in laid) + 2 * PAD
    gaps = [max([24.0, *(sheet.width(s, BOLD) for s in hop.label)]) + 2 * PAD + 8 for hop in hops]
    x = MARGIN
    for i, node in enumerate(nodes):
        node.x = x
        x += node.width + (gaps[i] if i < len(gaps) else 0)
    mid = top + height / 2
    for node, lines in zip(nodes, laid, strict=True):
        sheet.rect(node.x, top, node.width, height, node.colors, rounded=node.colors is ACTOR)
        inner = sheet.lines_height(lines)
        sheet.draw_lines(node.x + PAD, mid - inner / 2, lines)
    for n, (hop, a, b) in enumerate(zip(hops, nodes, nodes[1:], strict=False), start=1):
        x0, x1 = a.x + a.width, b.x
        sheet.arrow(x0 + 3, mid, x1 - 3, mid)
        sheet.number((x0 + x1) / 2, mid, n)
        y = mid - 16 - sheet.line_height(BOLD) * len(hop.label)
        for label in hop.label:
            sheet.text((x0 + x1) / 2, y, label, BOLD, ARROW, ha="center")
            y += sheet.line_height(BOLD)
    return x - MARGIN, top + height


def draw_panel(sheet: Sheet, x: float, top: float, width: float, title: str, rows: list[list[Line]]) -> float:
    """A titled panel of rows of lines, some wrapped, without its frame. Returns its bottom."""
    y = top + PAD
    sheet.text(x + PAD, y, title, HEAD)
    y += sheet.line_height(HEAD) + 4
    for row in rows:
        laid = layout_lines(sheet, row, width - 2 * PAD)
        sheet.draw_lines(x + PAD, y, laid)
        y += sheet.lines_height(laid) + 8
    return y + PAD - 8


STEPS_TITLE = "The flow of a task (numbers as on the arrows)"


def step_leads(hops: list[Hop]) -> list[str]:
    return [f"{node_name(hop.src)} → {node_name(hop.dst)}" for hop in hops]


def steps_width(sheet: Sheet, hops: list[Hop]) -> float:
    """The width the numbered list needs to keep every step on one line."""
    lead_w = max(sheet.width(lead, BOLD) for lead in step_leads(hops))
    text_w = max(sheet.width(hop.text, BODY) for hop in hops)
    return max(PAD + 30 + lead_w + 16 + text_w, sheet.width(STEPS_TITLE, HEAD)) + 2 * PAD


def draw_steps(sheet: Sheet, hops: list[Hop], x: float, top: float, width: float) -> float:
    """The numbered list of the lane's arrows with their full texts, without its frame. Returns its bottom."""
    y = top + PAD
    sheet.text(x + PAD, y, STEPS_TITLE, HEAD)
    y += sheet.line_height(HEAD) + 6
    leads = step_leads(hops)
    lead_w = max(sheet.width(lead, BOLD) for lead in leads)
    text_x = x + PAD + 30 + lead_w + 16
    for n, (lead, hop) in enumerate(zip(leads, hops, strict=True), start=1):
        wrapped = sheet.wrap(hop.text, BODY, x + width - PAD - text_x)
        sheet.number(x + PAD + 12, y + sheet.line_height(BODY) / 2, n)
        sheet.text(x + PAD + 30, y, lead, BOLD)
        sheet.draw_lines(text_x, y, [(part, BODY, INK) for part in wrapped])
        y += sheet.line_height(BODY) * len(wrapped) + 6
    return y + PAD - 6


def script_rows(schema: dict[str, Any]) -> list[list[Line]]:
    """One row per Lua script: its name and file, KEYS, ARGV and what it returns."""
    return [
        [
            Line(f"{name} · {spec['file']}", BOLD),
            Line("KEYS: " + ", ".join(spec["keys"]), CODE, wrap=True),
            Line("ARGV: " + ", ".join(spec["argv"]), CODE, wrap=True),
            Line("Returns " + unquote(spec["returns"]), BODY, MUTED, wrap=True),
        ]
        for name, spec in schema["scripts"].items()
    ]


def field_table(
    sheet: Sheet, schema: dict[str, Any], name: str, x: float, top: float, fields: list[dict[str, Any]]
) -> tuple[float, float]:
    """A hash key's box with one row per field, added fields marked. Returns its (width, bottom)."""
    key = schema["keys"][name]
    columns = [("field", "name", CODE), ("type", "type", BODY)]
    if any("by" in f for f in fields):
        columns.append(("written by", "by", BODY))
    marker_w = sheet.width("+ ", CODE)
    widths = [
        max([sheet.width(head, BOLD), *(sheet.width(str(f.get(k, "")), style) for f in fields)])
        + (marker_w if k == "name" else 0)
        for head, k, style in columns
    ]
    head_lines = [
        Line(f"{name} {key['type']} · {legacy_tag(key['legacy'])}", NOTE, MUTED),
        Line(key["pattern"], CODE_BOLD),
    ]
    inner = max(sum(widths) + 20 * (len(widths) - 1), *(sheet.width(ln.text, ln.style) for ln in head_lines))
    head_lines.append(Line(plain(key["doc"]), BODY, MUTED, wrap=True))
    laid = layout_lines(sheet, head_lines, inner)
    width = inner + 2 * PAD
    row_h = sheet.line_height(BODY)
    head_h = PAD + sheet.lines_height(laid) + PAD
    height = head_h + (row_h * (len(fields) + 1) + PAD if fields else 0)
    sheet.rect(x, top, width, height, KEY)
    sheet.draw_lines(x + PAD, top + PAD, laid)
    if not fields:
        return width, top + height
    y = top + head_h
    sheet.band(x + 1, y, width - 2, top + height - y - 1, "white")
    col_x = [x + PAD + sum(widths[:i]) + 20 * i for i in range(len(widths))]
    for cx, (head, _, _) in zip(col_x, columns, strict=True):
        sheet.text(cx, y, head, BOLD, MUTED)
    y += row_h
    sheet.hline(x + 1, x + width - 1, y)
    for f in fields:
        added = not f["legacy"]
        if added:
            sheet.band(x + 1, y, width - 2, row_h, ADDED_BG)
        color = ADDED if added else INK
        for cx, (_, k, style) in zip(col_x, columns, strict=True):
            value = str(f.get(k, ""))
            if k == "name":
                sheet.text(cx, y, ("+ " if added else "  ") + value, ADDED_CODE if added else CODE, color)
            else:
                sheet.text(cx, y, value, style, color)
        y += row_h
    return width, top + height


def draw_channel(sheet: Sheet, schema: dict[str, Any], name: str, x: float, top: float, width: float) -> float:
    """A channel not on the lane, with the commands sent on it. Returns its bottom."""
    channel = schema["channels"][name]
    lines = [
        Line(f"{name} pub/sub channel · {legacy_tag(channel['legacy'])}", NOTE, MUTED),
        Line(channel["pattern"], CODE_BOLD),
        Line(channel["doc"], BODY, MUTED, wrap=True),
    ]
    laid = layout_lines(sheet, lines, width - 2 * PAD)
    y = top + PAD + sheet.lines_height(laid) + 6
    rows: list[tuple[float, list[tuple[str, Style, str]]]] = []
    first = y
    y += sheet.line_height(BOLD)
    for command_name, command in schema["commands"].items():
        row = [
            Line(f"{command_name} · {legacy_tag(command['legacy'])}", NOTE, MUTED),
            Line(command["pattern"], CODE),
            Line(command["doc"], BODY, wrap=True),
        ]
        row_laid = layout_lines(sheet, row, width - 2 * PAD - 10)
        rows.append((y, row_laid))
        y += sheet.lines_height(row_laid) + 6
    bottom = y + PAD - 6
    sheet.rect(x, top, width, bottom - top, CHANNEL)
    sheet.draw_lines(x + PAD, top + PAD, laid)
    sheet.band(x + 1, first - 3, width - 2, bottom - first + 2, "white")
    sheet.text(x + PAD, first, f"commands published on {channel['pattern']}", BOLD, MUTED)
    for row_y, row_laid in rows:
        sheet.hline(x + 1, x + width - 1, row_y - 3)
        sheet.draw_lines(x + PAD + 10, row_y, row_laid)
    return bottom


def legend_entries(version: int) -> list[tuple[tuple[str, str], str, str, Style, str]]:
    """(swatch colours, sample text, meaning, sample style, sample colour) for each legend row."""
    return [
        (("white", RULE), "  name", "field of the legacy protocol (version 1)", CODE, INK),
        ((ADDED_BG, RULE), "+ name", f"field added since; schema_version {version} writes it", ADDED_CODE, ADDED),
        (ACTOR, "", "actor: a program using the schema", BODY, INK),
        (KEY, "", "Redis key", BODY, INK),
        (STATE, "", "task state", BODY, INK),
        (CHANNEL, "", "pub/sub channel", BODY, INK),
    ]


def legend_swatch_width(sheet: Sheet, version: int) -> float:
    return max(sheet.width(sample, style) for _, sample, _, style, _ in legend_entries(version)) + 12


def legend_width(sheet: Sheet, version: int) -> float:
    text_w = max(sheet.width(text, BODY) for _, _, text, _, _ in legend_entries(version))
    return PAD + legend_swatch_width(sheet, version) + 12 + text_w + PAD


def draw_legend(sheet: Sheet, x: float, top: float, version: int) -> float:
    """The legend of field marks and box colours. Returns its bottom."""
    entries = legend_entries(version)
    row_h = sheet.line_height(BODY) + 6
    swatch_w = legend_swatch_width(sheet, version)
    height = PAD + sheet.line_height(HEAD) + 4 + row_h * len(entries) + PAD - 6
    sheet.rect(x, top, legend_width(sheet, version), height, PANEL)
    y = top + PAD
    sheet.text(x + PAD, y, "Legend", HEAD)
    y += sheet.line_height(HEAD) + 4
    for colors, sample, text, style, color in entries:
        sheet.rect(x + PAD, y, swatch_w, row_h - 6, colors)
        sheet.text(x + PAD + 6, y, sample, style, color)
        sheet.text(x + PAD + swatch_w + 12, y, text, BODY)
        y += row_h
    return top + height


def draw(schema_path: Path = SCHEMA_FILE, script_path: Path = SCRIPT_FILE, out: Path = PNG_FILE) -> tuple[int, int]:
    """Draw the picture of `schema_path` into `out`. Returns its (width, height) in pixels."""
    schema: dict[str, Any] = json.loads(schema_path.read_text())
    sheet = Sheet()
    version = schema["schema_version"]
    defaults = schema["defaults"]
    sheet.text(MARGIN, MARGIN - 10, f"doshit Redis schema · schema_version {version}", TITLE)
    y = MARGIN - 10 + sheet.line_height(TITLE)
    subtitle = (
        "Drawn by schema/draw.py from schema/schema.json (explained in schema/SPEC.md). "
        + ", ".join(f"{{{k}}} defaults to {v!r}" for k, v in defaults.items())
        + "."
    )
    sheet.text(MARGIN, y, subtitle, BODY, MUTED)
    y += sheet.line_height(BODY) + GAP

    hops, others = lane_hops(schema)
    lane_w, y = draw_lane(sheet, schema, hops, y)
    right = MARGIN + lane_w
    y += GAP

    # The numbered steps of the lane, the states, and the transitions off the lane, side by side.
    steps_w = min(steps_width(sheet, hops), (lane_w - GAP) / 2)
    frames = [(MARGIN, steps_w, draw_steps(sheet, hops, MARGIN, y, steps_w))]
    panels = [
        (
            "Task states",
            [[Line(state, BOLD), Line(plain(doc), BODY, wrap=True)] for state, doc in schema["states"].items()],
        )
    ]
    if others:
        rows = [
            [
                Line(f"{t['from'] or 'new'} → {t['to']}, by {unquote(t['by'])}", BOLD),
                Line(plain(t["how"]), BODY, wrap=True),
            ]
            for t in others
        ]
        panels.append(("Transitions off the main flow", rows))
    panel_x = MARGIN + steps_w + GAP
    panel_w = (right - panel_x - GAP * (len(panels) - 1)) / len(panels)
    for title, rows in panels:
        frames.append((panel_x, panel_w, draw_panel(sheet, panel_x, y, panel_w, title, rows)))
        panel_x += panel_w + GAP
    bottom = max(frame_bottom for _, _, frame_bottom in frames)
    for frame_x, frame_w, _ in frames:
        sheet.rect(frame_x, y, frame_w, bottom - y, PANEL, zorder=0)
    y = bottom + GAP

    # Hash keys not on the lane with their fields; channels not on the lane over the legend; the scripts.
    on_lane = {hops[0].src} | {hop.dst for hop in hops}
    x = MARGIN
    bottoms: list[float] = []
    for name in schema["keys"]:
        if f"key:{name}" not in on_lane:
            w, key_bottom = field_table(sheet, schema, name, x, y, schema.get(f"{name}_fields", []))
            x += w + GAP
            bottoms.append(key_bottom)
    column_w = legend_width(sheet, version)
    column_y = y
    for name in schema["channels"]:
        if f"channel:{name}" not in on_lane:
            column_y = draw_channel(sheet, schema, name, x, column_y, column_w) + GAP
    bottoms.append(draw_legend(sheet, x, column_y, version))
    x += column_w + GAP
    scripts_title = "Lua scripts (KEYS are key names above)"
    scripts_w = max(right - x, sheet.width(scripts_title, HEAD) + 2 * PAD, 440.0)
    scripts_bottom = draw_panel(sheet, x, y, scripts_w, scripts_title, script_rows(schema))
    sheet.rect(x, y, scripts_w, scripts_bottom - y, PANEL, zorder=0)
    bottoms.append(scripts_bottom)
    right = max(right, x + scripts_w)
    height = math.ceil(max(bottoms) + MARGIN)
    width = math.ceil(right + MARGIN)
    overlaps = sheet.overlaps(width, height)
    if overlaps:
        raise RuntimeError("the layout is broken: " + "; ".join(overlaps))
    sheet.save(out, width, height, {"Software": None, HASH_KEY: schema_digest(schema_path, script_path)})
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
