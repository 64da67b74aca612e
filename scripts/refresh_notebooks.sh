#!/usr/bin/env bash
# Re-run the course notebooks top to bottom and save them with their new outputs, without
# widget state: what to do before committing a notebook (as root: they run containers).
#   ./scripts/refresh_notebooks.sh                 every notebook in notebooks/
#   ./scripts/refresh_notebooks.sh notebooks/01-*.ipynb
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -gt 0 ] || set -- notebooks/*.ipynb
for nb in "$@"; do
  .venv/bin/jupyter nbconvert --to notebook --execute --inplace \
    --ExecutePreprocessor.timeout=300 "$nb"
done
.venv/bin/python scripts/strip_widget_state.py "$@"
