"""The course notebooks follow the conventions every chapter author shares (COURSE.md,
issue 14): the chapters' file names, a `# 第 N 章` heading first, the standard start() cell as
the first code cell, and nbval's markers in cell tags, never in what students read."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
CHAPTERS = {
    0: "00-start",
    1: "01-containers-vs-vms",
    2: "02-docker-architecture",
    3: "03-images-layers-containers",
    4: "04-container-lifecycle",
    5: "05-dockerfile-build",
    6: "06-volumes",
    7: "07-network",
    8: "08-registry",
    9: "09-by-hand",
    10: "10-commands",
}
START = "from dockerlab.magics.course import start"


def _cells(path: Path) -> list[dict[str, Any]]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _source(cell: dict[str, Any]) -> str:
    return "".join(cell["source"])


def _chapter(path: Path) -> int:
    return int(path.name.split("-", 1)[0])


def test_the_chapters_are_named_as_the_plan_lists_them() -> None:
    assert NOTEBOOKS
    for path in NOTEBOOKS:
        assert re.fullmatch(r"\d\d-[a-z0-9-]+\.ipynb", path.name), path.name
        assert CHAPTERS.get(_chapter(path)) == path.stem, (
            f"{path.name}: chapter {_chapter(path)} is {CHAPTERS.get(_chapter(path))}.ipynb"
        )
    # chapter 0 and the images chapter exist; no notebook keeps the old chapter 1 name
    names = {p.name for p in NOTEBOOKS}
    assert {"00-start.ipynb", "03-images-layers-containers.ipynb"} <= names
    assert "01-images-layers-containers.ipynb" not in names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_a_chapter_opens_with_its_heading_and_the_start_cell(path: Path) -> None:
    cells = _cells(path)
    first = cells[0]
    assert first["cell_type"] == "markdown"
    heading = _source(first).splitlines()[0]
    assert re.match(rf"# 第 {_chapter(path)} 章　\S", heading), heading
    text = _source(first)
    for word in ("学习目标", "先修", "预计时间"):
        assert word in text, f"{path.name}: the first cell has no {word}"
    code = [c for c in cells if c["cell_type"] == "code"]
    start = _source(code[0])
    assert START in start and re.search(r"^engine = start\(", start, re.M), start
    assert "nbval-check-output" in code[0].get("metadata", {}).get("tags", [])
    assert _source(code[1]).strip() == "%load_ext dockerlab"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_nbval_markers_are_tags_not_comments(path: Path) -> None:
    said = [i for i, c in enumerate(_cells(path)) if "NBVAL" in _source(c)]
    assert not said, f"{path.name}: cells {said} name NBVAL in their source (use cell tags)"
