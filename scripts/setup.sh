#!/usr/bin/env bash
# Set up dockerlab on this machine and start the lab: JupyterLab on notebooks/.
# Run as root on Linux: installs Debian's busybox-static, tini, procps, libseccomp2,
# docker-registry, apache2-utils and debootstrap (the lab registry, distribution images), uidmap
# and slirp4netns (rootless mode: newuidmap/newgidmap, user-mode networking), fuse-overlayfs (a
# storage driver where the kernel refuses overlay), Chromium
# (for the browser test), gcc and libc6-dev (for the security tests' probe), a CJK font and
# a docker client (docker.io, its daemon never started: scripts/docker-client.sh) when missing,
# makes a virtual environment in .venv with dockerlab and its lab extra
# (IPython, ipywidgets, JupyterLab, nbval, Playwright), registers that environment's kernel with Jupyter, bootstraps busybox:latest, runs a
# container, then starts JupyterLab. With CI=true it only installs.
# The venv is made from the system's Python (Debian's /usr/bin/python3, with python3-venv), so
# every user of the machine can run the linked `dockerlab` (a classroom server's students too).
#   LAB_PORT (8888) and LAB_IP (127.0.0.1) choose where JupyterLab listens;
#   NO_LAB=1 installs without starting it;
#   PYTHON (/usr/bin/python3) is the Python the venv is made from;
#   BIN_DIR (/usr/local/bin) is where `dockerlab` is linked.
set -euo pipefail
cd "$(dirname "$0")/.."
# what setup makes (the venv, compiled files) is readable by every user, whatever root's umask
umask 022

if [ "$(id -u)" != 0 ]; then
  echo "setup: run as root (sudo $0): dockerlab creates namespaces and mounts overlayfs" >&2
  exit 1
fi
need=()
[ -x /bin/busybox ] || need+=(busybox-static)
[ -x /usr/bin/tini-static ] || need+=(tini)
command -v ps >/dev/null || need+=(procps)
command -v unshare >/dev/null || need+=(util-linux)
# the engine compiles seccomp profiles through libseccomp; the security tests build a small
# static probe with gcc and attack a loop device made with losetup
ldconfig -p | grep -q 'libseccomp\.so\.2' || need+=(libseccomp2)
command -v gcc >/dev/null || need+=(gcc)
[ -e /usr/lib/x86_64-linux-gnu/libc.a ] || [ -e /usr/lib/aarch64-linux-gnu/libc.a ] \
  || need+=(libc6-dev)
command -v losetup >/dev/null || need+=(mount)
# the default bridge network masquerades through dockerlab's own nftables table; the network
# tests use nsenter and ip (iproute2)
command -v nft >/dev/null || need+=(nftables)
command -v ip >/dev/null || need+=(iproute2)
# the lab registry (`dockerlab registry start`): Debian's docker-registry, and htpasswd for its
# --user logins; `dockerlab image bootstrap debian` makes a distribution image with debootstrap
[ -x /usr/bin/docker-registry ] || need+=(docker-registry)
command -v htpasswd >/dev/null || need+=(apache2-utils)
[ -x /usr/sbin/debootstrap ] || need+=(debootstrap)
[ -x /usr/bin/chromium ] || need+=(chromium)
# the classroom server's proxy (configurable-http-proxy) is an npm package
command -v npm >/dev/null || need+=(npm)
# rootless mode (a user namespace with the user's /etc/subuid ranges, user-mode networking)
command -v newuidmap >/dev/null || need+=(uidmap)
command -v slirp4netns >/dev/null || need+=(slirp4netns)
# rootless networking: slirp4netns opens /dev/net/tun as the user; Debian's udev makes it 0666,
# a host without udev (containers, some VMs) leaves the kernel's 0600
if [ -c /dev/net/tun ] && [ "$(stat -c %a /dev/net/tun)" != 666 ]; then
  echo "setup: chmod 0666 /dev/net/tun (as Debian's udev rules: rootless networking)"
  chmod 0666 /dev/net/tun
fi
# the fuse-overlayfs storage driver (where the kernel refuses an overlay mount: a state root on
# overlayfs, some user namespaces); its users need /dev/fuse usable (README, "Storage drivers")
command -v fuse-overlayfs >/dev/null || need+=(fuse-overlayfs)
# the venv comes from the system's Python, which every user can run (a pyenv or conda Python
# under root's home is private: other users' `dockerlab` would fail with "bad interpreter");
# Debian keeps venv's ensurepip in python3-venv
PY=${PYTHON:-/usr/bin/python3}
if [ -z "${PYTHON:-}" ]; then
  [ -x /usr/bin/python3 ] || need+=(python3)
  /usr/bin/python3 -c 'import ensurepip' 2>/dev/null || need+=(python3-venv)
fi
# the notebooks are in Chinese: without a CJK font the browser draws boxes
fc-list :lang=zh 2>/dev/null | grep -q . || need+=(fonts-wqy-microhei)
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  echo "setup: apt-get install ${need[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# a docker client for `dockerlab daemon` (its tests drive it): Debian's docker.io when there is
# no docker command, its daemon never started
./scripts/docker-client.sh
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "setup: $PY is not Python 3.11 or newer: set PYTHON to one every user can run" >&2
  exit 1
fi
# Can every user run FILE? Tried as `nobody`: a path check would miss ACLs and noexec mounts.
for_everyone() { runuser -u nobody -- "$@" >/dev/null 2>&1; }
if ! id -u nobody >/dev/null 2>&1; then
  echo "setup: warning: no user nobody: cannot check that other users can run dockerlab" >&2
  for_everyone() { true; }
fi
if [ -e .venv/bin/python ] || [ -L .venv/bin/python ]; then
  interp=$(readlink -f .venv/bin/python || true)
  if ! for_everyone "$interp" -c ''; then
    echo "setup: .venv's Python ($interp) is private to its owner, so other users could not" \
      "start dockerlab: making .venv again from $PY"
    rm -rf .venv
  fi
fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/pip install -q --upgrade pip >/dev/null 2>&1 || true
# compat mode: a plain .pth path, not an import hook (12 ms off every start);
# compiled up front because PYTHONDONTWRITEBYTECODE may be set.
.venv/bin/pip install -q -e '.[test,lab,hub]' --config-settings editable_mode=compat
# JupyterHub's proxy for the classroom server (deploy/jupyterhub/): configurable-http-proxy
# from npm, inside the venv (not global); 5.2 is the newest that runs on Debian's Node 20
chp=.venv/hub-proxy/node_modules/.bin/configurable-http-proxy
if [ ! -x "$chp" ]; then
  npm install --silent --no-audit --no-fund --prefix .venv/hub-proxy \
    configurable-http-proxy@5.2.0 >/dev/null
fi
ln -sf ../hub-proxy/node_modules/.bin/configurable-http-proxy .venv/bin/configurable-http-proxy
.venv/bin/python -m compileall -q dockerlab >/dev/null
# the tree is readable by every user where they need it: the editable install imports
# dockerlab/ from here, and students copy notebooks/
# (never a state root kept beside the notebooks: its layers hold the containers' files)
chmod a+rX .
chmod -R a+rX .venv dockerlab
find notebooks -name .dockerlab-root -prune -o -exec chmod a+rX {} +
bin_dir=${BIN_DIR:-/usr/local/bin}
ln -sf "$PWD/.venv/bin/dockerlab" "$bin_dir/dockerlab"
if ! for_everyone "$PWD/.venv/bin/dockerlab" --help; then
  dir=$PWD
  # the nearest folder on the way that others may not enter (its mode's last letter: x or t)
  while [ "$dir" != / ] && [[ "$(stat -c %A "$dir")" == *[xt] ]]; do
    dir=$(dirname "$dir")
  done
  if [ "$dir" != / ]; then
    echo "setup: warning: other users cannot enter $dir, so only root can run dockerlab from" \
      "$PWD; for a shared server put the tree in a world-readable place (e.g. /opt/dockerlab)" >&2
  else
    echo "setup: other users cannot run $PWD/.venv/bin/dockerlab:" >&2
    runuser -u nobody -- "$PWD/.venv/bin/dockerlab" --help 2>&1 >/dev/null | head -3 >&2 || true
    exit 1
  fi
fi
# the commands below run this tree's dockerlab, wherever BIN_DIR put the link
dockerlab() { "$PWD/.venv/bin/dockerlab" "$@"; }
# the notebooks' kernel is this environment's Python (kernel name python3, inside .venv)
.venv/bin/python -m ipykernel install --sys-prefix >/dev/null
# ipywidgets' JupyterLab extension ships prebuilt; say so if it is not enabled
.venv/bin/jupyter labextension list 2>&1 | grep "jupyter-widgets/jupyterlab-manager" \
  | grep -q enabled || echo "setup: warning: JupyterLab's widgets extension (jupyterlab_widgets) is not enabled" >&2
# no "get notified about Jupyter news?" pop-up over the course (overridable by the user)
overrides=.venv/share/jupyter/lab/settings/overrides.json
if [ ! -e "$overrides" ]; then
  mkdir -p "$(dirname "$overrides")"
  echo '{"@jupyterlab/apputils-extension:notification": {"fetchNews": "false"}}' > "$overrides"
fi

# busybox:latest made from this machine's /bin/busybox (the command prints its image ID alone)
busybox_id=$(dockerlab image bootstrap busybox)
echo "setup: image busybox:latest is ready (ID $busybox_id)"
if [ "${CI:-}" = true ]; then
  exit 0
fi
# the course's other images, made offline: web and db built from busybox, debian with
# debootstrap from this machine's apt mirror (about 30 s and 50 MB the first time, then cached)
for name in web db debian; do
  if dockerlab image bootstrap "$name" >/dev/null; then
    echo "setup: image $name:latest is ready"
  else
    echo "setup: warning: could not make the $name image (see above)" >&2
  fi
done
# the lab registry on 127.0.0.1:5000, seeded with those images as Docker Hub's `library/…`,
# so that `DOCKERLAB_MIRROR=http://127.0.0.1:5000 dockerlab pull busybox` works offline
if dockerlab registry status --format '{{.Running}}' | grep -qx true \
  || dockerlab registry start >/dev/null; then
  if dockerlab registry seed >/dev/null; then
    echo "setup: the lab registry runs on 127.0.0.1:5000 with the course's images;" \
      "export DOCKERLAB_MIRROR=http://127.0.0.1:5000 to pull from it"
  else
    echo "setup: warning: could not push the course's images to the lab registry" >&2
  fi
else
  echo "setup: warning: could not start the lab registry (see above)" >&2
fi
echo
echo "+ dockerlab run --rm busybox echo hello from a container"
dockerlab run --rm busybox echo hello from a container
echo "+ dockerlab images"
dockerlab images
echo
echo "dockerlab is ready: try 'dockerlab run -it busybox sh' in a shell."
if [ "${NO_LAB:-}" = 1 ]; then
  exit 0
fi
port=${LAB_PORT:-8888}
ip=${LAB_IP:-127.0.0.1}
echo "Starting JupyterLab on notebooks/ at http://$ip:$port/ (the URL with its token follows;"
echo "Ctrl-C stops it). Open 00-start.ipynb to begin."
exec .venv/bin/jupyter lab --allow-root --no-browser --ip "$ip" --port "$port" \
  --ServerApp.root_dir="$PWD/notebooks"
