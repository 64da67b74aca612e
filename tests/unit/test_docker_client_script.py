"""scripts/docker-client.sh: Debian's docker.io only where no docker command is, and never its
daemon started. Run with stand-ins for apt-get and systemctl that record what they were asked
(and whether service starts were refused at that moment), on a PATH without a docker."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

APT = """#!/bin/sh
echo "apt-get $* policy=$(sh "$POLICY_RC_D" start; echo $?)" >> "$LOG"
"""


def _run(tmp_path: Path, with_docker: bool, policy_exists: bool) -> tuple[list[str], Path]:
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    for tool in ("bash", "sh", "rm", "chmod", "cat"):
        os.symlink(f"/bin/{tool}" if Path(f"/bin/{tool}").exists() else f"/usr/bin/{tool}",
                   bin_ / tool)  # fmt: skip
    (bin_ / "apt-get").write_text(APT)
    (bin_ / "apt-get").chmod(0o755)
    if with_docker:
        (bin_ / "docker").write_text("#!/bin/sh\n")
        (bin_ / "docker").chmod(0o755)
    policy = tmp_path / "policy-rc.d"
    if policy_exists:
        policy.write_text("#!/bin/sh\nexit 101\n")
    log = tmp_path / "log"
    log.write_text("")
    env = {"PATH": str(bin_), "POLICY_RC_D": str(policy), "LOG": str(log)}
    done = subprocess.run(
        ["/bin/bash", str(REPO / "scripts" / "docker-client.sh")],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return log.read_text().splitlines(), policy


def test_a_machine_with_a_docker_command_installs_nothing(tmp_path):
    assert _run(tmp_path, with_docker=True, policy_exists=False)[0] == []


def test_docker_io_is_installed_with_service_starts_refused(tmp_path):
    calls, policy = _run(tmp_path, with_docker=False, policy_exists=False)
    assert calls == [
        "apt-get update -qq policy=101",
        "apt-get install -y -qq --no-install-recommends docker.io policy=101",
    ]
    assert not policy.exists()  # the refusal it put in place is gone again


def test_a_policy_already_there_is_kept(tmp_path):
    calls, policy = _run(tmp_path, with_docker=False, policy_exists=True)
    assert calls[-1].endswith("docker.io policy=101")
    assert policy.read_text() == "#!/bin/sh\nexit 101\n"
