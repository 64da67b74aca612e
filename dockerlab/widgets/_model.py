"""Pure parts of the widgets: file trees, dive's efficiency score, text previews and diffs.

Nothing here imports ipywidgets or the engine; everything takes and returns plain data, so it
is unit-tested on its own and reused by every widget.
"""

from __future__ import annotations

import difflib
import html
from dataclasses import dataclass, field
from typing import Any

#: Colours of the change kinds, as dive draws them: added green, modified yellow, removed red.
#: CSS colours (JupyterLab's theme variables; the light theme's values as fallbacks).
KIND_COLOURS = {
    "A": "var(--jp-success-color1, #2e7d32)",
    "C": "var(--jp-warn-color1, #b8860b)",
    "D": "var(--jp-error-color1, #c62828)",
    "U": "var(--jp-ui-font-color2, #555555)",
}
# theme-aware (JupyterLab's variables), as in _base
_HIGHLIGHT = "rgba(255, 193, 7, 0.35)"
_MUTED = "var(--jp-ui-font-color2, #555)"
_FAINT = "var(--jp-ui-font-color3, #888)"
KIND_NAMES = {"A": "added", "C": "modified", "D": "removed", "U": "unchanged"}
#: ``docker diff``'s numeric kinds (API ``/changes``) as letters.
DIFF_KIND_LETTERS = {0: "C", 1: "A", 2: "D"}

MONO = "font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px"


def human_size(size: float) -> str:
    """Docker's decimal sizes (``4.15MB``), as ``docker history`` prints them."""
    from dockerlab.format.units import human_size_with_precision

    return human_size_with_precision(size, 3)


def short_ref(ref: str) -> str:
    """How a widget's text repr names an image or container: the reference as the user gave
    it, except IDs (they change from run to run), which become ``<id>``."""
    text = ref[7:] if ref.startswith("sha256:") else ref
    if len(text) >= 12 and all(ch in "0123456789abcdef" for ch in text):
        return "<id>"
    return ref


# ---- efficiency (dive) ------------------------------------------------------------------------
@dataclass
class PathWaste:
    """One path seen in more than one layer: how often, where, and its bytes across them."""

    path: str
    count: int
    cumulative: int
    layers: list[int] = field(default_factory=list)


@dataclass
class Efficiency:
    score: float  # 1.0 = no byte is stored twice or stored then removed
    wasted_bytes: int
    user_size: int  # bytes of every layer but the base (dive's "user" size)
    inefficiencies: list[PathWaste]  # biggest first

    @property
    def wasted_user_percent(self) -> float:
        return 100.0 * self.wasted_bytes / self.user_size if self.user_size else 0.0


def _leaves(files: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Entries with no other entry of the same layer below them (dive visits leaves only)."""
    ordered = sorted(files, key=lambda f: f["Path"])
    out = []
    for i, f in enumerate(ordered):
        nxt = ordered[i + 1]["Path"] if i + 1 < len(ordered) else ""
        if not nxt.startswith(f["Path"].rstrip("/") + "/"):
            out.append(f)
    return out


def efficiency(
    layers: list[tuple[int, list[dict[str, Any]]]], layer_sizes: list[int] | None = None
) -> Efficiency:
    """dive's image efficiency over ``layers`` = ``[(index, layer_files(index)), …]``, oldest
    first (``Kind`` A/C/D, ``Size``).

    For every path, each layer that holds it as a leaf is one sighting of its size; a removal
    is a sighting of size 0. Score = Σ smallest sighting / Σ all sightings (1.0 when nothing
    was seen). Wasted bytes = Σ all sightings of the paths sighted more than once. As in dive,
    a removed file costs its earlier size in full; unlike dive, a removed *directory* counts
    as the removal of every file below it (dive adds the folder's total as a new path, which
    raises the score instead of lowering it).
    """
    sightings: dict[str, list[tuple[int, int]]] = {}
    stacked: dict[str, int] = {}  # the image as it stands after each layer: path -> size
    for index, files in layers:
        for f in _leaves(files):
            path = f["Path"]
            if f["Kind"] == "D":
                prefix = path.rstrip("/") + "/"
                gone = [p for p in stacked if p == path or p.startswith(prefix)]
                below = [p for p in gone if p != path]
                for p in below or [path]:
                    sightings.setdefault(p, []).append((index, 0))
                for p in gone:
                    del stacked[p]
            else:
                size = int(f.get("Size") or 0)
                sightings.setdefault(path, []).append((index, size))
                stacked[path] = size
    minimum = total = wasted = 0
    waste: list[PathWaste] = []
    for path, seen in sightings.items():
        sizes = [s for _, s in seen]
        minimum += min(sizes)
        total += sum(sizes)
        if len(seen) > 1:
            wasted += sum(sizes)
            waste.append(PathWaste(path, len(seen), sum(sizes), [i for i, _ in seen]))
    waste.sort(key=lambda w: (-w.cumulative, w.path))
    sizes = list(layer_sizes or [])
    user = sum(sizes[1:]) if sizes else 0
    return Efficiency(minimum / total if total else 1.0, wasted, user, waste)


# ---- file trees -------------------------------------------------------------------------------
@dataclass
class Node:
    name: str
    path: str
    kind: str = "U"  # A, C, D or U (unchanged / only there to hold children)
    size: int = 0
    type: str = "dir"
    layer: int | None = None
    children: dict[str, Node] = field(default_factory=dict)

    def walk(self, depth: int = 0):
        """(depth, node) for every node below this one, folders first then by name."""
        for child in sorted(
            self.children.values(), key=lambda n: (not n.children and n.type != "dir", n.name)
        ):
            yield depth, child
            yield from child.walk(depth + 1)

    def count(self) -> dict[str, int]:
        counts = {"A": 0, "C": 0, "D": 0, "U": 0}
        for _, n in self.walk():
            counts[n.kind] += 1
        return counts


def build_tree(files: list[dict[str, Any]]) -> Node:
    """A tree from flat entries (``Path``, ``Kind``, optional ``Size``/``Type``/``Layer``);
    folders that only hold changes get kind ``U``. ``Kind`` may be a letter or docker diff's
    number (0 C, 1 A, 2 D)."""
    root = Node("/", "/")
    for f in files:
        parts = [p for p in f["Path"].split("/") if p]
        node = root
        for i, part in enumerate(parts):
            child = node.children.get(part)
            if child is None:
                child = Node(part, "/" + "/".join(parts[: i + 1]))
                node.children[part] = child
            node = child
        kind = f.get("Kind", "U")
        node.kind = DIFF_KIND_LETTERS.get(kind, str(kind)) if isinstance(kind, int) else kind
        node.size = int(f.get("Size") or 0)
        node.type = f.get("Type") or ("dir" if node.children else "file")
        node.layer = f.get("Layer")
    return root


def filter_files(
    files: list[dict[str, Any]], kinds: set[str], pattern: str = ""
) -> list[dict[str, Any]]:
    """Entries whose kind is in ``kinds`` (A/C/D, and U for a cumulative view's unchanged
    entries) and whose path contains ``pattern``."""
    return [f for f in files if f.get("Kind", "U") in kinds and pattern in f["Path"]]


def tree_text(root: Node, limit: int = 0) -> list[str]:
    """The tree as text lines (``A ├── name``), like ``tree``; at most ``limit`` lines."""
    lines: list[str] = []
    _text(root, "", lines, limit)
    return lines


def _ordered(node: Node) -> list[Node]:
    return sorted(
        node.children.values(), key=lambda n: (not n.children and n.type != "dir", n.name)
    )


def _text(node: Node, prefix: str, lines: list[str], limit: int) -> None:
    kids = _ordered(node)
    for i, child in enumerate(kids):
        if limit and len(lines) >= limit:
            return
        last = i == len(kids) - 1
        lines.append(f"{child.kind} {prefix}{'└── ' if last else '├── '}{child.name}")
        _text(child, prefix + ("    " if last else "│   "), lines, limit)


def tree_html(
    root: Node, selected: str = "", limit: int = 3000, open_depth: int = 1, show_layer: bool = False
) -> str:
    """The tree as nested ``<details>`` (folders open and close in the browser with no
    script), each entry coloured by kind, with its size; ``selected`` is highlighted."""
    out = [f'<div class="dl-tree" style="{MONO}; line-height: 1.35">']
    shown = [0]

    def emit(node: Node, depth: int) -> None:
        for child in _ordered(node):
            if shown[0] >= limit:
                return
            shown[0] += 1
            colour = KIND_COLOURS.get(child.kind, _MUTED)
            name = html.escape(child.name) + ("/" if child.children or child.type == "dir" else "")
            style = f"color: {colour}"
            if child.kind == "D":
                style += "; text-decoration: line-through"
            if child.path == selected:
                style += f"; background: {_HIGHLIGHT}; font-weight: bold"
            extra = ""
            if child.type == "symlink":
                extra = " →"
            size = (
                f' <span style="color:{_FAINT}">{human_size(child.size)}</span>'
                if (child.size and child.kind != "D")
                else ""
            )
            layer = (
                f' <span style="color:{_FAINT}">[{child.layer}]</span>'
                if show_layer and child.layer is not None
                else ""
            )
            label = (
                f'<span title="{html.escape(child.path)} ({KIND_NAMES[child.kind]})" '
                f'style="{style}">{child.kind if child.kind != "U" else "·"} '
                f"{name}{extra}</span>{size}{layer}"
            )
            if child.children:
                attr = (
                    " open" if depth < open_depth or selected.startswith(child.path + "/") else ""
                )
                out.append(
                    f'<details{attr} style="margin-left: {12 if depth else 0}px">'
                    f"<summary>{label}</summary>"
                )
                emit(child, depth + 1)
                out.append("</details>")
            else:
                pad = 12 if depth else 0
                out.append(f'<div style="margin-left: {pad + 14}px">{label}</div>')

    emit(root, 0)
    if shown[0] >= limit:
        out.append(
            f'<div style="color:{_FAINT}">… only the first {limit} entries are shown; '
            "filter to see the rest</div>"
        )
    if not root.children:
        out.append(f'<div style="color:{_FAINT}">(nothing to show)</div>')
    out.append("</div>")
    return "".join(out)


# ---- file contents ----------------------------------------------------------------------------
def is_text(data: bytes | None) -> bool:
    """Text = no NUL byte in the first 8 KiB and valid UTF-8 there (a cut character at the end
    of the sample is allowed)."""
    if data is None:
        return False
    head = data[:8192]
    if b"\0" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return len(data) > 8192 and exc.start >= len(head) - 3
    return True


def preview(data: bytes | None, max_bytes: int = 4096, max_lines: int = 80) -> str:
    """The start of a file as text, or a one-line description of why it is not shown."""
    if data is None:
        return "(not a regular file at this layer)"
    if not is_text(data):
        return f"(binary file, {len(data)} bytes)"
    text = data[:max_bytes].decode("utf-8", "replace")
    lines = text.splitlines()
    cut = len(data) > max_bytes or len(lines) > max_lines
    text = "\n".join(lines[:max_lines])
    if cut:
        text += f"\n… (truncated: {len(data)} bytes in all)"
    return text


def unified_diff(
    old: bytes | None, new: bytes | None, old_label: str, new_label: str, max_lines: int = 400
) -> str | None:
    """A unified diff of two versions of a text file (None stands for "absent"); None when
    either side is binary."""
    if (old is not None and not is_text(old)) or (new is not None and not is_text(new)):
        return None
    a = (old or b"").decode("utf-8", "replace").splitlines(keepends=True)
    b = (new or b"").decode("utf-8", "replace").splitlines(keepends=True)
    lines = list(
        difflib.unified_diff(
            a,
            b,
            old_label if old is not None else "/dev/null",
            new_label if new is not None else "/dev/null",
        )
    )
    lines = [ln if ln.endswith("\n") else ln + "\n\\ No newline at end of file\n" for ln in lines]
    if len(lines) > max_lines:
        lines = lines[:max_lines] + [f"… ({len(lines) - max_lines} more lines)\n"]
    return "".join(lines)


def diff_html(diff: str) -> str:
    """A unified diff coloured the usual way (``+`` green, ``-`` red, ``@@`` blue)."""
    rows = []
    for line in diff.splitlines():
        colour = "inherit"
        if line.startswith(("+++", "---")):
            colour = _MUTED
        elif line.startswith("+"):
            colour = KIND_COLOURS["A"]
        elif line.startswith("-"):
            colour = KIND_COLOURS["D"]
        elif line.startswith("@@"):
            colour = "var(--jp-brand-color1, #1565c0)"
        rows.append(f'<span style="color:{colour}">{html.escape(line)}</span>')
    return f'<pre style="{MONO}; margin: 0">' + "\n".join(rows) + "</pre>"


def pre(text: str) -> str:
    return f'<pre style="{MONO}; margin: 0; white-space: pre-wrap">{html.escape(text)}</pre>'
