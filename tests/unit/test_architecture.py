"""The one-way flow of data and imports: faces → engine → kernel, never back."""

from __future__ import annotations

import ast
import pathlib
import subprocess
import sys

PKG = pathlib.Path(__file__).resolve().parents[2] / "dockerlab"
FACES = (
    "dockerlab.cli",
    "dockerlab.magics",
    "dockerlab.widgets",
    "dockerlab.api",
    "dockerlab.daemon",
)
LOWER = ("engine", "format")  # what the faces stand on
# IPython's `%load_ext dockerlab` hooks in dockerlab/__init__.py import the magics when IPython
# calls them; no module of ours calls them, so they are entry points, not dependencies.
ENTRY_HOOKS = {"dockerlab"}


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
    code = (
        "import sys; import dockerlab.engine.facade, dockerlab.engine.containers.create, "
        "dockerlab.engine.runtime.spawn, dockerlab.engine.runtime.monitor; "
        "print(','.join(sorted(m for m in ('pyroute2', 'pandas', 'IPython', 'ipywidgets', "
        "'tarfile', 'dataclasses') if m in sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == ""


def test_the_monitor_starts_without_json_or_re():
    code = (
        f"import sys; sys.path.insert(0, {str(PKG.parent)!r}); "
        "import dockerlab.engine.runtime.monitor, dockerlab.engine.runtime.cgroups; "
        "print(','.join(m for m in ('json', 're', 'typing', 'subprocess') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == ""


def _module_graph() -> dict[str, set[str]]:
    """Every module of dockerlab/ and the modules of ours it imports: at the top, in a
    function or under TYPE_CHECKING alike (a lazy import is still a dependency). ``from
    pkg import name`` counts as ``pkg.name`` when that is a module, else as ``pkg``."""
    files: dict[str, pathlib.Path] = {}
    for path in PKG.rglob("*.py"):
        parts = path.relative_to(PKG.parent).with_suffix("").parts
        files[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        tree = ast.parse(path.read_text())
        nodes = tree.body if name in ENTRY_HOOKS else ast.walk(tree)
        targets: set[str] = set()
        for node in nodes:
            if isinstance(node, ast.Import):
                targets.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(up + ([node.module] if node.module else []))
                targets.update(
                    f"{base}.{a.name}" if f"{base}.{a.name}" in files else base for a in node.names
                )
        deps = set()
        for target in targets:
            while target and target not in files:  # dockerlab.engine.x.Name -> the module
                target = target.rpartition(".")[0]
            if target and target != name:
                deps.add(target)
        graph[name] = deps
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_module_of_dockerlab_imports_itself_back():
    graph = _module_graph()
    assert "dockerlab.engine.facade" in graph and graph["dockerlab.engine.facade"]
    cycles = _cycles(graph)
    described = [
        " <-> ".join(c)
        + ": "
        + "; ".join(f"{m} imports {', '.join(sorted(d for d in graph[m] if d in c))}" for m in c)
        for c in cycles
    ]
    assert described == []


def test_imports_flow_one_way_between_the_layers():
    """Faces → engine → kernel: the engine never imports a face; format imports nothing of
    the engine or of a face (it is pure text); the widgets use format, not the CLI."""
    graph = _module_graph()
    offenders = []
    for module, deps in graph.items():
        for dep in deps:
            if module.startswith("dockerlab.engine") and dep.startswith(FACES):
                offenders.append(f"{module} imports {dep}")
            if module.startswith("dockerlab.format") and dep.startswith(
                ("dockerlab.engine", *FACES)
            ):
                offenders.append(f"{module} imports {dep}")
            if module.startswith("dockerlab.widgets") and dep.startswith(
                ("dockerlab.cli", "dockerlab.magics")
            ):
                offenders.append(f"{module} imports {dep}")
    assert offenders == []


def test_the_start_path_helpers_import_nothing_but_the_basics():
    """engine/basics.py is what the monitor shares with the rest: it must stay free of
    dockerlab's other modules and of any slow or typing import."""
    tree = ast.parse((PKG / "engine" / "basics.py").read_text())
    imported = {
        name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for name in (
            [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
        )
    }
    assert imported <= {"__future__", "_json", "os", "stat", "time"}


# What `dockerlab run`, `start` and `exec` must not import: each costs the CLI's start
# milliseconds (argparse with gettext and locale ~3 ms, typing ~1.5, socket.py with selectors
# and its enums ~2, ctypes ~1.5), or more, or belongs to other verbs. DESIGN.md, "Starting
# containers fast".
CLI_START_FORBIDDEN = (
    "argparse",
    "gettext",
    "locale",
    "typing",
    "socket",
    "ctypes",
    "zlib",
    "subprocess",
    "threading",
    "tarfile",
    "dataclasses",
    "shutil",
    "tempfile",
    "hashlib",
    "pathlib",
    "datetime",
    "inspect",
    "dockerlab.cli.render",
    "dockerlab.format.gotemplate",
    "dockerlab.engine.runtime.monitor",
    "dockerlab.engine.runtime.process",
    "dockerlab.engine.runtime.security.seccomp",
    "zstandard",
)


def test_the_cli_start_path_imports_no_slow_module():
    """The modules `run` loads up to the monitor's start (parse, the create body, the engine's
    create and start, the terminal verbs), without a container: the real path is checked
    end to end by tests/integration/test_cli_start_imports.py."""
    code = (
        "import sys; from dockerlab.cli import parser; "
        "ns = parser.parse(['run', '--rm', '-e', 'A=1', '-v', '/tmp:/x', 'busybox', 'true']); "
        "from dockerlab.cli import commands, terminal; "
        "from dockerlab.cli.options import create_body; create_body(ns); "
        "import dockerlab.engine.facade, dockerlab.engine.containers.create, "
        "dockerlab.engine.runtime.spawn, dockerlab.terminal.verbs, dockerlab.engine.images.store; "
        "from dockerlab.engine.images import reference; reference.parse_tagged('busybox'); "
        "from dockerlab.engine.runtime import spawn; spawn._tag(); "
        "from dockerlab.engine.paths import runtime_dir_for; runtime_dir_for('/tmp/x'); "
        f"print(','.join(m for m in {CLI_START_FORBIDDEN!r} if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=PKG.parent
    ).stdout.strip()
    assert out == ""


def test_pandas_and_matplotlib_load_only_when_a_frame_or_a_figure_is_asked_for():
    """The CLI, ``%load_ext dockerlab``'s modules and the widgets' package import neither:
    ``Listing.to_pandas()``, ``ResourceMonitor.to_pandas()``/``plot()`` and the widgets'
    static pictures import them when called (DESIGN.md names them for the notebook face)."""
    code = (
        "import sys; import dockerlab.cli, dockerlab.cli.commands, dockerlab.cli.render; "
        "from dockerlab.cli import parser; parser.parse(['ps']); "
        "import dockerlab.magics, dockerlab.magics.display, dockerlab.magics.runner, "
        "dockerlab.magics.frames, dockerlab.widgets, dockerlab.widgets.static, "
        "dockerlab.widgets.plots; "
        "print(','.join(m for m in ('pandas', 'matplotlib', 'numpy') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=PKG.parent
    ).stdout.strip()
    assert out == ""
    # the command itself, end to end: -X importtime lists every module it loaded
    loaded = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "dockerlab", "--help"],
        capture_output=True,
        text=True,
        cwd=PKG.parent,
    ).stderr
    assert "| dockerlab.cli" in loaded
    assert not [line for line in loaded.splitlines() if line.endswith(("pandas", "matplotlib"))]
