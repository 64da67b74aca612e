#!/usr/bin/env python3
"""The students' copies of the course, made from its one source (issue 14).

The notebooks in ``notebooks/`` are the teacher's copies: they hold the solution of every
exercise (cells tagged ``solution``) and run top to bottom under nbval. A student's copy is
the same notebook with the solution cells removed and the outputs of the exercise and check
cells (tags ``exercise``, ``check``) cleared, so the student sees an empty answer cell and a
check that has not run yet. Every other cell is copied unchanged, saved outputs included.

    python scripts/course_copies.py --out DIR                 # notebooks/ -> DIR
    python scripts/course_copies.py --out DIR -n SOURCE...    # folders or notebooks; -n keeps
                                                              # files DIR already has

Other files of a source folder (pictures, sanitize.cfg) are copied as they are; a state root
(``.dockerlab-root``), checkpoints and a chapter's scratch folders (``*-files``) never are.
Standard library only: deploy/jupyterhub/singleuser.sh runs it as the student.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SKIP_DIRS = (".dockerlab-root", ".ipynb_checkpoints")
CLEARED = ("exercise", "check")  # tags whose outputs a student's copy does not show


def tags(cell: dict[str, Any]) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def student_copy(notebook: dict[str, Any]) -> dict[str, Any]:
    """The student's copy of a notebook (a new dict; the source is not changed)."""
    out = json.loads(json.dumps(notebook))
    cells = []
    for cell in out.get("cells", []):
        if "solution" in tags(cell):
            continue
        if cell.get("cell_type") == "code" and any(t in CLEARED for t in tags(cell)):
            cell["outputs"] = []
            cell["execution_count"] = None
        cells.append(cell)
    out["cells"] = cells
    return out


def _skipped(path: Path) -> bool:
    return any(p in SKIP_DIRS or p.endswith("-files") for p in path.parts)


def _files(source: Path) -> list[tuple[Path, Path]]:
    """(file, its path relative to what is copied) for a folder or a single file."""
    if source.is_file():
        return [(source, Path(source.name))]
    found = []
    for dirpath, dirnames, filenames in os.walk(source):
        rel_dir = Path(dirpath).relative_to(source)
        dirnames[:] = sorted(d for d in dirnames if not _skipped(rel_dir / d))
        for name in sorted(filenames):
            found.append((Path(dirpath) / name, rel_dir / name))
    return found


def write_copy(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    if src.suffix == ".ipynb":
        notebook = json.loads(src.read_text(encoding="utf-8"))
        text = json.dumps(student_copy(notebook), ensure_ascii=False, indent=1) + "\n"
        dest.write_text(text, encoding="utf-8")
    else:
        shutil.copyfile(src, dest)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("sources", nargs="*", type=Path, help="folders or notebooks (notebooks/)")
    ap.add_argument("--out", required=True, type=Path, help="where the students' copies go")
    ap.add_argument(
        "-n", "--no-clobber", action="store_true", help="keep files the folder already has"
    )
    args = ap.parse_args(argv)
    sources = args.sources or [REPO / "notebooks"]
    status = 0
    for source in sources:
        if not source.exists():
            print(f"course_copies.py: {source}: no such file or folder", file=sys.stderr)
            status = 1
            continue
        for src, rel in _files(source):
            dest = args.out / rel
            if args.no_clobber and dest.exists():
                continue
            try:
                write_copy(src, dest)
            except (OSError, ValueError) as err:  # unreadable or not JSON: the rest still goes
                print(f"course_copies.py: skipped {src}: {err}", file=sys.stderr)
                status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
