"""The one-way flow of data and imports: faces → engine → kernel, never back."""

from __future__ import annotations

import ast
import pathlib
import subprocess
import sys

PKG = pathlib.Path(__file__).resolve().parents[2] / "dockerlab"
FACES = ("dockerlab.cli", "dockerlab.magics", "dockerlab.widgets", "dockerlab.api")
LOWER = ("engine", "format")  # what the faces stand on


def _imports(path: pathlib.Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_the_engine_and_format_never_import_a_face():
    offenders = []
    for part in LOWER:
        for path in (PKG / part).rglob("*.py"):
            for name in _imports(path):
                if name.startswith(FACES) or name.split(".")[0] in ("IPython", "ipywidgets"):
                    offenders.append(f"{path.relative_to(PKG.parent)} imports {name}")
    assert offenders == []


def test_starting_a_container_imports_no_slow_module():
    code = ("import sys; import dockerlab.engine.facade, dockerlab.engine.create, "
            "dockerlab.engine.runtime, dockerlab.engine.monitor; "
            "print(','.join(sorted(m for m in ('pyroute2', 'pandas', 'IPython', 'ipywidgets', "
            "'tarfile', 'dataclasses') if m in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == ""


def test_the_monitor_starts_without_json_or_re():
    code = (f"import sys; sys.path.insert(0, {str(PKG.parent)!r}); "
            "import dockerlab.engine.monitor, dockerlab.engine.cgroups; "
            "print(','.join(m for m in ('json', 're', 'typing', 'subprocess') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True,
                         text=True, check=True).stdout.strip()
    assert out == ""
