#!/usr/bin/env bash
# Run dockerlab's tests (as root: the integration tests start real containers).
#   ./scripts/test.sh              the unit and integration tests, the browser test, and the
#                                  course notebooks under nbval (each run top to bottom)
#   ./scripts/test.sh ARGS...      pytest with your arguments (nbval's options are added, so
#                                  ./scripts/test.sh notebooks/ checks the notebooks alone)
set -euo pipefail
cd "$(dirname "$0")/.."
nbval=()
if .venv/bin/python -c "import nbval" 2>/dev/null; then
  nbval=(--nbval-lax --nbval-current-env --nbval-sanitize-with notebooks/sanitize.cfg)
fi
if [ $# -eq 0 ]; then
  # committed notebooks keep their outputs but no widget state
  .venv/bin/python scripts/strip_widget_state.py --check notebooks/*.ipynb
  set -- tests
  [ ${#nbval[@]} -gt 0 ] && set -- tests notebooks
fi
exec .venv/bin/python -m pytest -q "${nbval[@]}" "$@"
