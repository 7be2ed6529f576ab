#!/usr/bin/env bash
# Runs the whole suite (slow end-to-end tests included) on all cores.
set -uo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check appliance tests bench || exit 1
.venv/bin/python -m pytest -n auto --dist loadfile "$@"
rc=$?
if [ $rc -eq 5 ]; then
  echo "test: pytest collected no tests: that is a broken suite, not a pass" >&2
  exit 1
fi
exit $rc
