#!/bin/sh
# A student's single-user server, started by JupyterHub's LocalProcessSpawner as the student
# (never as root): copy the course into ~/dockerlab-course on the first start (the students'
# copy, scripts/course_copies.py: no solutions), then start
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
  # the students' copy (solutions removed), never the teacher's; -n keeps what the student
  # already has; a file the student may not read is skipped, not a server that never starts
  "$venv/bin/python" "$(dirname "$0")/../../scripts/course_copies.py" -n --out "$course" \
    "$DOCKERLAB_COURSE" || echo "singleuser.sh: some course files were skipped" >&2
  touch "$course/.dockerlab-course-copied"
fi
mkdir -p "$course"
cd "$course"
exec "$venv/bin/jupyterhub-singleuser" "$@"
