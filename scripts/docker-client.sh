#!/usr/bin/env bash
# A docker client for the daemon's tests and for students (`DOCKER_HOST=unix:///run/dockerlab/
# docker.sock docker ps`): when this machine has no `docker` command, install Debian's docker.io
# for its client (20.10, API 1.41). Its dockerd is never started: a policy-rc.d refuses every
# service start during the install (one already there is kept), and under systemd its units are
# disabled afterwards. dockerlab and its tests never need Docker's daemon.
#   POLICY_RC_D (/usr/sbin/policy-rc.d) is where the refusal goes (the tests' knob).
set -euo pipefail
if command -v docker >/dev/null; then
  exit 0
fi
policy=${POLICY_RC_D:-/usr/sbin/policy-rc.d}
made=
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\n# dockerlab setup: install docker.io without starting its daemon\nexit 101\n' \
    > "$policy"
  chmod 755 "$policy"
  made=$policy
fi
trap '[ -z "$made" ] || rm -f "$made"' EXIT
echo "setup: apt-get install docker.io (for its docker client only; its daemon stays off)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends docker.io >/dev/null
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
  systemctl disable --now docker.socket docker.service >/dev/null 2>&1 || true
fi
