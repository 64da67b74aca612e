#!/bin/sh
# A student's single-user server, started by JupyterHub's LocalProcessSpawner as the student
# (never as root): copy the course into ~/dockerlab-course on the first start, then start
# jupyterhub-singleuser from the shared venv with JupyterHub's arguments. dockerlab runs
# rootless there: its store is the student's ($XDG_DATA_HOME/dockerlab, or each notebook's
# .dockerlab-root beside it), its containers are mapped to the student's /etc/subuid ranges.
set -eu
if [ "$(id -u)" = 0 ]; then
  echo "singleuser.sh: refusing to run a student's server as root" >&2
  exit 1
fi
venv=${DOCKERLAB_VENV:?DOCKERLAB_VENV is not set (jupyterhub_config.py sets it)}
course=$HOME/dockerlab-course
# a marker, not cp -n alone: a notebook the student deleted on purpose does not come back
if [ ! -e "$course/.dockerlab-course-copied" ] && [ -d "${DOCKERLAB_COURSE:-}" ]; then
  mkdir -p "$course"
  # -n keeps what the student already has; never a state root or checkpoints of the source
  (cd "$DOCKERLAB_COURSE" &&
    find . \( -name .dockerlab-root -o -name .ipynb_checkpoints \) -prune -o -type f -print) |
    while IFS= read -r f; do
      mkdir -p "$course/$(dirname "$f")"
      # a file the student may not read is skipped, not a server that never starts
      cp -n "$DOCKERLAB_COURSE/$f" "$course/$f" || echo "singleuser.sh: skipped $f" >&2
    done
  touch "$course/.dockerlab-course-copied"
fi
mkdir -p "$course"
cd "$course"
exec "$venv/bin/jupyterhub-singleuser" "$@"
