"""scripts/test.sh and the packaging setup.sh builds (issue 9): what pytest is asked to run,
checked with a stand-in Python that records its arguments instead of running the suite."""

from __future__ import annotations

import os
import shutil
import subprocess
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

STUB = """#!/bin/sh
# the venv's python, standing in: records `-m pytest ...`, answers the other calls
if [ "$1" = "-m" ] && [ "$2" = "pytest" ]; then
  shift 2
  printf '%s\\n' "$@" > "$(dirname "$0")/../../pytest-args"
fi
exit 0
"""


def run_test_sh(tmp_path: Path, *args: str) -> list[str]:
    (tmp_path / "scripts").mkdir(exist_ok=True)
    shutil.copy(REPO / "scripts" / "test.sh", tmp_path / "scripts" / "test.sh")
    (tmp_path / ".venv" / "bin").mkdir(parents=True, exist_ok=True)
    python = tmp_path / ".venv" / "bin" / "python"
    python.write_text(STUB)
    python.chmod(0o755)
    for folder in ("tests/unit", "notebooks"):
        (tmp_path / folder).mkdir(parents=True, exist_ok=True)
    (tmp_path / "notebooks" / "01.ipynb").write_text("{}")
    r = subprocess.run(
        ["bash", str(tmp_path / "scripts" / "test.sh"), *args],
        capture_output=True,
        timeout=60,
        env={**os.environ},
    )
    assert r.returncode == 0, r.stderr
    return (tmp_path / "pytest-args").read_text().splitlines()


NBVAL = ["--nbval-lax", "--nbval-current-env", "--nbval-sanitize-with", "notebooks/sanitize.cfg"]


def test_no_arguments_run_the_tests_and_the_notebooks(tmp_path):
    assert run_test_sh(tmp_path) == ["-q", *NBVAL, "tests", "notebooks"]


def test_options_are_added_to_the_default_run(tmp_path):
    # the README: "add pytest options after it"; -x used to drop the notebooks
    got = run_test_sh(tmp_path, "-x", "-k", "not slow")
    assert got == ["-q", *NBVAL, "-x", "-k", "not slow", "tests", "notebooks"]


def test_a_path_picks_what_runs(tmp_path):
    assert run_test_sh(tmp_path, "notebooks/") == ["-q", *NBVAL, "notebooks/"]
    got = run_test_sh(tmp_path, "-x", "tests/unit::test_a")
    assert got == ["-q", *NBVAL, "-x", "tests/unit::test_a"]


def test_the_licence_is_an_spdx_string_for_a_setuptools_that_reads_it():
    # a TOML table made setuptools warn four times during setup.sh
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert project["project"]["license"] == "Apache-2.0"
    assert "setuptools>=77" in project["build-system"]["requires"]


def test_setup_sh_says_what_the_bootstrapped_image_id_is():
    lines = (REPO / "scripts" / "setup.sh").read_text().splitlines()
    assert "dockerlab image bootstrap busybox" not in lines  # its bare sha256: line
    assert any("$(dockerlab image bootstrap busybox)" in line for line in lines)
