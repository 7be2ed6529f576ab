#!/usr/bin/env bash
# Runs the whole suite (slow end-to-end tests included) on all cores.
set -uo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check appliance tests bench || exit 1
# The frozen tests build the one binary in the Debian 11 build root (scripts/build_root.sh).
# Made here, before pytest, when it is not cached yet: the first time takes longer (CPython from
# source) than a test may (pytest-timeout); cached, this takes a second.
if [ "$(id -u)" -eq 0 ] && [[ "$*" != *"not slow"* ]]; then
  bash scripts/build_root.sh ensure >/dev/null || exit 1
  # the Debian 11 root whose Python 2.7 an SSH test host runs (tests/remote/test_old_targets.py)
  bash scripts/old_python_root.sh ensure >/dev/null || exit 1
fi
.venv/bin/python -m pytest -n auto --dist loadfile "$@"
rc=$?
if [ $rc -eq 5 ]; then
  echo "test: pytest collected no tests: that is a broken suite, not a pass" >&2
  exit 1
fi
exit $rc
