"""scripts/course_copies.py (issue 14): the teacher's copy (notebooks/, solutions in cells
tagged `solution`) and the students' copy come from one source. The students' copy keeps every
other cell unchanged (outputs of exercise and check cells cleared), has no solution cell, and
every exercise of the course has its solution before its check."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "course_copies.py"
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))

_spec = importlib.util.spec_from_file_location("course_copies", SCRIPT)
assert _spec and _spec.loader
course_copies = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(course_copies)


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def _tags(cell: dict[str, Any]) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def _same_but_outputs(a: dict[str, Any], b: dict[str, Any]) -> bool:
    strip = ("outputs", "execution_count")
    return {k: v for k, v in a.items() if k not in strip} == {
        k: v for k, v in b.items() if k not in strip
    }


@pytest.fixture(scope="module")
def copies(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The students' copies of notebooks/, made by the script as a teacher runs it."""
    out = tmp_path_factory.mktemp("students")
    r = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    return out


def test_the_course_has_notebooks() -> None:
    assert NOTEBOOKS, "notebooks/ has no notebook"


@pytest.mark.parametrize("source", NOTEBOOKS, ids=lambda p: p.name)
def test_the_students_copy_is_the_source_minus_its_solutions(source: Path, copies: Path) -> None:
    teacher, student = _load(source), _load(copies / source.name)
    kept = [c for c in teacher["cells"] if "solution" not in _tags(c)]
    assert len(student["cells"]) == len(kept)
    for want, got in zip(kept, student["cells"], strict=True):
        if got["cell_type"] == "code" and {"exercise", "check"} & set(_tags(got)):
            # an exercise or check cell: the same source and tags, not yet run
            assert _same_but_outputs(want, got), got["source"]
            assert got["outputs"] == [] and got["execution_count"] is None
        else:
            assert got == want  # unchanged, outputs included
    assert not [c for c in student["cells"] if "solution" in _tags(c)]
    assert student["metadata"] == teacher["metadata"]


@pytest.mark.parametrize("source", NOTEBOOKS, ids=lambda p: p.name)
def test_every_check_has_an_answer_cell_and_a_solution_before_it(source: Path) -> None:
    """Each exercise: an empty answer cell (`exercise`), the teacher's `solution`, then its
    `check`, in that order, with no other check in between."""
    cells = _load(source)["cells"]
    since: set[str] = set()
    for i, cell in enumerate(cells):
        tags = set(_tags(cell))
        if "check" in tags:
            assert {"exercise", "solution"} <= since, (
                f"{source.name}: check cell {i} has no "
                f"{' and '.join(sorted({'exercise', 'solution'} - since))} cell before it"
            )
            assert "nbval-check-output" in tags, f"{source.name}: check cell {i} is not checked"
            since = set()
        since |= tags & {"exercise", "solution"}
        if "exercise" in tags:
            code = [line for line in "".join(cell["source"]).splitlines() if line.strip()]
            assert code and all(line.lstrip().startswith("#") for line in code), (
                f"{source.name}: exercise cell {i} should be empty but for a comment"
            )
        if "solution" in tags:
            assert cell["cell_type"] == "code", f"{source.name}: solution cell {i} is markdown"
    assert not since, f"{source.name}: an exercise or solution with no check after it"


def test_a_made_up_notebook(tmp_path: Path) -> None:
    """The rules on a small notebook: solution gone, exercise/check outputs cleared, the rest
    kept; -n keeps a student's own file; state roots and checkpoints are not copied."""
    out = [{"output_type": "stream", "name": "stdout", "text": ["x\n"]}]

    def code(src: str, *tags: str) -> dict[str, Any]:
        meta = {"tags": list(tags)} if tags else {}
        return {
            "cell_type": "code",
            "execution_count": 3,
            "metadata": meta,
            "outputs": out,
            "source": [src],
        }

    nb = {
        "cells": [
            {"cell_type": "markdown", "metadata": {}, "source": ["# 第 9 章"]},
            code("engine = start()", "nbval-check-output"),
            code("# 在这里写你的答案", "exercise"),
            code("print(1)", "solution"),
            code("print('✓')", "check", "nbval-check-output"),
        ],
        "metadata": {"kernelspec": {"name": "python3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    src = tmp_path / "src"
    (src / ".dockerlab-root").mkdir(parents=True)
    (src / ".dockerlab-root" / "x").write_text("state")
    (src / ".ipynb_checkpoints").mkdir()
    (src / "09-x.ipynb").write_text(json.dumps(nb))
    (src / "sanitize.cfg").write_text("[a]\n")
    (src / "10-y.ipynb").write_text(json.dumps(nb))
    dest = tmp_path / "students"
    dest.mkdir()
    (dest / "10-y.ipynb").write_text("mine")
    assert course_copies.main(["-n", "--out", str(dest), str(src)]) == 0
    assert sorted(p.name for p in dest.iterdir()) == ["09-x.ipynb", "10-y.ipynb", "sanitize.cfg"]
    assert (dest / "10-y.ipynb").read_text() == "mine"
    cells = _load(dest / "09-x.ipynb")["cells"]
    assert [c["source"] for c in cells] == [
        ["# 第 9 章"],
        ["engine = start()"],
        ["# 在这里写你的答案"],
        ["print('✓')"],
    ]
    assert cells[1]["outputs"] == out and cells[1]["execution_count"] == 3
    assert cells[2]["outputs"] == cells[3]["outputs"] == []
    assert nb["cells"][3]["source"] == ["print(1)"]  # the source is not changed


def test_a_missing_source_says_so(tmp_path: Path) -> None:
    r = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(tmp_path), str(tmp_path / "nope")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 1 and "no such file or folder" in r.stderr
    assert "Traceback" not in r.stderr
