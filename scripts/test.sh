#!/usr/bin/env bash
# Run dockerlab's tests (as root: the integration tests start real containers).
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python -m pytest -q "$@"
