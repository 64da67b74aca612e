"""deploy/kubernetes: the Zero to JupyterHub values file carries the pod settings dockerlab
needs and KubeSpawner (the chart's spawner, a test dependency) renders them into the pod;
the chart's own schema is not vendored here (it is upstream's: deploy/kubernetes/README.md
says how to check with `helm lint`); the single-user Dockerfile parses with dockerlab's own
parser and gives jovyan subordinate IDs that fit a pod's user namespace. What these settings
do to dockerlab for real is tested in tests/integration/test_capability_probe.py."""

from __future__ import annotations

import asyncio
import os
import re
from typing import Any

import pytest
import yaml  # (jupyter-events, in the lab extra, needs it)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEPLOY = os.path.join(REPO, "deploy", "kubernetes")
POD_IDS = 65536  # a pod with hostUsers: false gets 0..65535


def _values() -> dict[str, Any]:
    with open(os.path.join(DEPLOY, "values.yaml")) as f:
        return yaml.safe_load(f)


def _csc(values: dict[str, Any]) -> dict[str, Any]:
    return values["hub"]["config"]["KubeSpawner"]["container_security_context"]


def test_the_settings_dockerlab_needs():
    values = _values()
    # the chart exits at start on a hub.config section that is no Configurable class name
    assert all(name[:1].isupper() for name in values["hub"]["config"])
    # KubeSpawner refuses container_security_context keys in snake_case
    csc = _csc(values)
    assert all("_" not in key for key in csc)
    # the pod settings dockerlab needs (README.md says why each)
    assert values["singleuser"]["extraPodConfig"]["hostUsers"] is False
    assert csc["procMount"] == "Unmasked"
    assert csc["seccompProfile"] == {"type": "Unconfined"}
    assert csc["appArmorProfile"] == {"type": "Unconfined"}
    assert csc["capabilities"]["drop"] == ["ALL"]
    assert set(csc["capabilities"]["add"]) == {"SETUID", "SETGID", "SYS_ADMIN", "DAC_OVERRIDE"}
    # setuid newuidmap works only without no_new_privs, set in both places the chart reads
    assert values["singleuser"]["allowPrivilegeEscalation"] is True
    assert csc["allowPrivilegeEscalation"] is True
    # the container runs as the image's jovyan, and the notebooks' state is off overlayfs
    assert (csc["runAsUser"], csc["runAsGroup"]) == (values["singleuser"]["uid"], 100)
    mounts = values["singleuser"]["storage"]["extraVolumeMounts"]
    assert {"name": "dockerlab-state", "mountPath": "/home/jovyan/.local/share/dockerlab"} in mounts


def _dockerfile() -> str:
    with open(os.path.join(DEPLOY, "Dockerfile")) as f:
        return f.read()


def test_dockerfile_parses_with_dockerlabs_parser():
    from dockerlab.engine.build.parser import parse

    parsed = parse(_dockerfile())
    cmds = [i.cmd for i in parsed.instructions]
    assert cmds[:2] == ["arg", "from"] and "user" in cmds and cmds[-1] == "cmd"


def _subids(kind: str) -> list[tuple[int, int]]:
    """jovyan's ranges as the Dockerfile writes /etc/sub{kind}."""
    found = re.search(rf"printf '([^']*)' > /etc/sub{kind}\b", _dockerfile())
    assert found, f"the Dockerfile writes no /etc/sub{kind}"
    lines = found.group(1).split("\\n")
    out = []
    for line in filter(None, lines):
        name, start, count = line.split(":")
        assert name == "jovyan"
        out.append((int(start), int(count)))
    return out


@pytest.mark.parametrize(("kind", "own"), [("uid", 1000), ("gid", 100)])
def test_subordinate_ids_are_the_pods_ids_but_root_and_jovyans_own(kind, own):
    """Inside the pod's 65536 IDs (newuidmap refuses the rest), none twice, not 0, not
    jovyan's own (mapped as the container's root): and all the others, so that containers
    get uids 0..65534 (busybox's nobody is 65534)."""
    assert re.search(r"useradd [^\n]*--uid 1000 --gid 100 ", _dockerfile())
    ids: list[int] = []
    for start, count in _subids(kind):
        ids.extend(range(start, start + count))
    assert len(ids) == len(set(ids))
    assert set(ids) == set(range(1, POD_IDS)) - {own}
    assert 1 + len(ids) == 65535  # container IDs 0..65534


def test_kubespawner_renders_the_pod_dockerlab_needs():
    """The pod KubeSpawner (the `test` extra) makes of the values carries them as the chart
    passes them."""
    from kubernetes_asyncio import client
    from kubespawner import objects

    values = _values()
    su = values["singleuser"]
    pod = objects.make_pod(
        name="jupyter-alice",
        cmd=[su["cmd"]],
        port=8888,
        image=f"{su['image']['name']}:{su['image']['tag']}",
        uid=su["uid"],
        fs_gid=su["fsGid"],
        allow_privilege_escalation=su["allowPrivilegeEscalation"],
        container_security_context=_csc(values),
        volumes=su["storage"]["extraVolumes"],
        volume_mounts=su["storage"]["extraVolumeMounts"],
        extra_pod_config=su["extraPodConfig"],
    )

    async def serialize() -> Any:
        async with client.ApiClient() as api:
            return api.sanitize_for_serialization(pod)

    spec = asyncio.run(serialize())["spec"]
    assert spec["hostUsers"] is False
    sc = spec["containers"][0]["securityContext"]
    assert sc["procMount"] == "Unmasked" and sc["allowPrivilegeEscalation"] is True
    assert sc["capabilities"]["add"] == _csc(values)["capabilities"]["add"]
