#!/usr/bin/env python3
"""Strip widget state from notebooks before they are committed; keep their outputs.

Committed notebooks keep the outputs a reader sees on GitHub, but not ``metadata.widgets``
(the saved state of every widget model: large, different on every run, and useless without
a kernel). Widget outputs keep their ``text/plain`` repr, which nbval compares.

    python scripts/strip_widget_state.py notebooks/*.ipynb          # rewrite in place
    python scripts/strip_widget_state.py --check notebooks/*.ipynb  # exit 1 if any has state

Only the standard library: the notebook JSON is edited as JSON and written back the way
Jupyter writes it (indent 1, keys sorted, a final newline).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def strip(nb: dict) -> bool:
    """Remove widget state (notebook and cell metadata); True if anything changed."""
    changed = False
    if "widgets" in nb.get("metadata", {}):
        del nb["metadata"]["widgets"]
        changed = True
    for cell in nb.get("cells", []):
        meta = cell.get("metadata", {})
        for key in ("widgets", "execution"):
            if key in meta:
                del meta[key]
                changed = True
    return changed


def has_state(nb: dict) -> bool:
    return "widgets" in nb.get("metadata", {}) or any(
        "widgets" in c.get("metadata", {}) for c in nb.get("cells", [])
    )


def dumps(nb: dict) -> str:
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--check",
        action="store_true",
        help="change nothing; exit 1 if a notebook holds widget state",
    )
    ap.add_argument("notebooks", nargs="+", type=Path)
    args = ap.parse_args(argv)
    bad = 0
    for path in args.notebooks:
        nb = json.loads(path.read_text(encoding="utf-8"))
        if args.check:
            if has_state(nb):
                print(f"{path}: holds widget state (run scripts/strip_widget_state.py)")
                bad += 1
            continue
        if strip(nb):
            path.write_text(dumps(nb), encoding="utf-8")
            print(f"{path}: widget state stripped")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
