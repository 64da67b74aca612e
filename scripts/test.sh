#!/usr/bin/env bash
# Run dockerlab's tests (as root: the integration tests start real containers).
#   ./scripts/test.sh              the unit and integration tests, the browser test, and the
#                                  course notebooks under nbval (each run top to bottom)
#   ./scripts/test.sh -x -k NAME   the same run with your pytest options added
#   ./scripts/test.sh PATH...      only those tests or notebooks (nbval's options are added, so
#                                  ./scripts/test.sh notebooks/ checks the notebooks alone)
set -euo pipefail
cd "$(dirname "$0")/.."
nbval=()
if .venv/bin/python -c "import nbval" 2>/dev/null; then
  nbval=(--nbval-lax --nbval-current-env --nbval-sanitize-with notebooks/sanitize.cfg)
fi
# A word naming an existing file or folder (tests/unit, tests/x.py::test_y) picks what runs;
# anything else (-x, -k NAME, --lf) is an option for the default run.
targets=0
for arg in "$@"; do
  case "$arg" in
    -*) ;;
    *) [ -e "${arg%%::*}" ] && targets=1 ;;
  esac
done
if [ "$targets" -eq 0 ]; then
  # committed notebooks keep their outputs but no widget state
  .venv/bin/python scripts/strip_widget_state.py --check notebooks/*.ipynb
  set -- "$@" tests
  [ ${#nbval[@]} -gt 0 ] && set -- "$@" notebooks
fi
exec .venv/bin/python -m pytest -q "${nbval[@]}" "$@"
