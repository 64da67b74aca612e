"""The course notebook in a real browser: JupyterLab, headless Chromium, Run All Cells.

Starts JupyterLab on a temporary copy of ``notebooks/`` (so the notebook's own state root
is a temporary one too), opens chapter 3 in Debian's Chromium driven by Playwright, runs
every cell, and checks what a reader sees: no cell failed, the widgets are drawn, and a
click on a layer of the LayerTree changes the file tree beside it. Screenshots go to
``artifacts/`` (gitignored) for a person to look at.

Skips, naming what is missing, only when Chromium, Playwright or JupyterLab is absent, or
when containers cannot run here (the notebook runs real ones).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import MISSING  # tests/conftest.py: why containers cannot run here

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = "03-images-layers-containers.ipynb"
ARTIFACTS = REPO / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
RUN_TIMEOUT_S = 300


def _why_skip() -> str | None:
    if not os.access(CHROMIUM, os.X_OK):
        return f"Chromium is missing ({CHROMIUM}; Debian package chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is missing (pip install '.[lab]')"
    try:
        import jupyterlab  # noqa: F401
    except ImportError:
        return "JupyterLab is missing (pip install '.[lab]')"
    if MISSING:
        return MISSING
    return None


pytestmark = pytest.mark.skipif(bool(_why_skip()), reason=_why_skip() or "")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, proc: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"JupyterLab did not answer {url} within {timeout} s")


@pytest.fixture
def lab(tmp_path):
    """A JupyterLab server on a copy of notebooks/, its own settings, a free port."""
    nbdir = tmp_path / "notebooks"
    scratch = shutil.ignore_patterns(".dockerlab-root", ".ipynb_checkpoints", "*-files")
    shutil.copytree(REPO / "notebooks", nbdir, ignore=scratch)
    settings = tmp_path / "lab-settings"
    # no news or update pop-ups over the notebook
    notif = settings / "@jupyterlab" / "apputils-extension"
    notif.mkdir(parents=True)
    (notif / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    token = os.urandom(12).hex()
    port = _free_port()
    env = dict(
        os.environ,
        JUPYTERLAB_SETTINGS_DIR=str(settings),
        JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "lab-workspaces"),
        JUPYTER_RUNTIME_DIR=str(tmp_path / "jupyter-runtime"),
    )
    env.pop("DOCKERLAB_ROOT", None)
    log = open(tmp_path / "jupyterlab.log", "wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter",
            "lab",
            "--no-browser",
            "--allow-root",
            f"--port={port}",
            "--ip=127.0.0.1",
            f"--ServerApp.token={token}",
            f"--notebook-dir={nbdir}",
            "--ServerApp.open_browser=False",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=tmp_path,
    )
    try:
        _wait_http(f"http://127.0.0.1:{port}/api/status?token={token}", proc)
        yield {
            "url": f"http://127.0.0.1:{port}",
            "token": token,
            "dir": nbdir,
            "log": tmp_path / "jupyterlab.log",
        }
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        # the chapter leaves its containers for its widgets (the next start() removes them)
        root = nbdir / ".dockerlab-root"
        if root.exists():
            from dockerlab.engine import Engine

            eng = Engine(str(root))
            for cid in eng.container_ids():
                try:
                    eng.remove(cid, force=True)
                except Exception:  # noqa: BLE001 - teardown must go on
                    pass
            from dockerlab.engine.network import record

            record.remove_default_bridge(eng.paths)  # the copy's root goes with tmp_path


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"browser-{name}.png"), full_page=False)


def _cell_states(page) -> dict:
    """Counts of code cells by prompt: running ``[*]``, done ``[n]``, never run ``[ ]``."""
    return page.evaluate("""() => {
        const prompts = [...document.querySelectorAll(
            '.jp-Notebook .jp-CodeCell .jp-InputArea-prompt')].map(e => e.textContent.trim());
        return {total: prompts.length,
                running: prompts.filter(t => t.includes('*')).length,
                done: prompts.filter(t => /\\[\\d+\\]/.test(t)).length};
    }""")


def _added(text: str) -> int:
    """The ``N added, N modified, N removed`` line of a LayerTree's file tree (in English or
    the course's Chinese)."""
    # (the course's widgets speak Chinese: 新增 added, 修改 modified, 删除 removed)
    found = re.search(r"(\d+) (?:added|新增), \d+ (?:modified|修改), \d+ (?:removed|删除)", text)
    assert found, "the LayerTree shows no file count"
    return int(found.group(1))


def _run_all(page) -> None:
    page.locator(".lm-MenuBar-item", has_text="Run").first.click()
    page.locator(".lm-Menu-item:visible", has_text="Run All Cells").first.click()


def test_notebook_runs_in_jupyterlab_and_its_widgets_answer_clicks(lab):
    from playwright.sync_api import sync_playwright

    started = time.monotonic()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{lab['url']}/lab/tree/{NOTEBOOK}?token={lab['token']}")
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=90_000)
            # the kernel must be ready before Run All, or the first cells queue silently
            page.wait_for_function(
                "() => (document.querySelector('#jp-main-statusbar') || {textContent: ''})"
                ".textContent.includes('Idle')",
                timeout=90_000,
            )
            _shot(page, "1-opened")
            # saved without widget state, a widget output shows its text repr until it runs
            assert page.get_by_text("LayerTree(busybox:").count() > 0

            _run_all(page)
            deadline = time.monotonic() + RUN_TIMEOUT_S
            states = _cell_states(page)
            while time.monotonic() < deadline:
                states = _cell_states(page)
                if states["running"] == 0 and states["done"] == states["total"]:
                    break
                time.sleep(1)
            _shot(page, "2-ran")
            assert states["running"] == 0 and states["done"] == states["total"], (
                f"cells did not all finish within {RUN_TIMEOUT_S} s: {states}"
            )
            errors = page.locator(
                ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.error']"
            )
            assert errors.count() == 0, (
                "a cell raised:\n" + "\n".join(errors.all_inner_texts())[:3000]
            )
            ran_s = time.monotonic() - started

            # widgets are drawn, not left as "Loading widget..." or an error
            widgets = page.locator(".jp-OutputArea-output:has(.jupyter-widgets)")
            assert widgets.count() >= 5, f"only {widgets.count()} widgets were drawn"
            assert page.locator(".widget-html, .widget-button").count() > 0
            for bad in ("Error displaying widget", "Loading widget", "model not found"):
                assert page.get_by_text(bad).count() == 0, f"a widget shows {bad!r}"
            for i in range(widgets.count()):
                widgets.nth(i).scroll_into_view_if_needed()
                widgets.nth(i).screenshot(path=str(ARTIFACTS / f"browser-widget-{i:02d}.png"))

            # LayerTree of happy:v1: the list of layers beside the file tree of the selected
            # one (the top layer: happiness.txt); a click on the base layer shows busybox
            tree = page.locator(
                ".jp-OutputArea-output:has(.jupyter-widgets)", has_text="happy:v1 —"
            ).first
            tree.scroll_into_view_if_needed()
            _shot(page, "3-layertree")
            select = tree.locator("select").first
            before = tree.inner_text()
            assert "happiness.txt" in before, "the top layer of happy:v1 should show its file"
            select.locator("option").first.click()
            page.wait_for_function(
                "([el, before]) => el.innerText !== before",
                arg=[tree.element_handle(), before],
                timeout=10_000,
            )
            _shot(page, "4-layertree-clicked")
            after = tree.inner_text()
            assert select.input_value().split()[0] == "0", select.input_value()
            # the tree's own count line: the top layer added one file, the base all of busybox
            assert _added(before) == 1, before[:2000]
            assert _added(after) > 100 and "A busybox" in after, after[:2000]
        finally:
            browser.close()
    print(f"notebook ran in the browser in {ran_s:.0f} s")
