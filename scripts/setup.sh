#!/usr/bin/env bash
# Set up dockerlab on this machine and start the lab (for now: the CLI and a short demo).
# Run as root on Linux: installs Debian's busybox-static and procps when missing, makes a
# virtual environment in .venv with dockerlab installed, and bootstraps busybox:latest.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  echo "setup: run as root (sudo $0): dockerlab creates namespaces and mounts overlayfs" >&2
  exit 1
fi
need=()
[ -x /bin/busybox ] || need+=(busybox-static)
[ -x /usr/bin/tini-static ] || need+=(tini)
command -v ps >/dev/null || need+=(procps)
command -v unshare >/dev/null || need+=(util-linux)
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/pip install -q --upgrade pip >/dev/null 2>&1 || true
# compat mode: a plain .pth path, not an import hook (12 ms off every start);
# compiled up front because PYTHONDONTWRITEBYTECODE may be set.
.venv/bin/pip install -q -e '.[test]' --config-settings editable_mode=compat
.venv/bin/python -m compileall -q dockerlab >/dev/null
ln -sf "$PWD/.venv/bin/dockerlab" /usr/local/bin/dockerlab

dockerlab image bootstrap busybox
if [ "${CI:-}" != true ]; then
  echo
  echo "+ dockerlab run --rm busybox echo hello from a container"
  dockerlab run --rm busybox echo hello from a container
  echo "+ dockerlab images"
  dockerlab images
  echo
  echo "dockerlab is ready: try 'dockerlab run -it busybox sh'."
fi
