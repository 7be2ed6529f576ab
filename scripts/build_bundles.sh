#!/usr/bin/env bash
# Build every bundle source under bundles/NAME/VERSION into build/bundles/, signed with the
# DEMO-ONLY key, verify each, and (unless NO_IMPORT=1) import them into the data folder.
set -euo pipefail
cd "$(dirname "$0")/.."
KEY=${BUNDLE_KEY:-bundles/DEMO-ONLY-signing.key}
OUT=${BUNDLE_OUT:-build/bundles}
APP=(.venv/bin/python -m appliance)
mkdir -p "$OUT"
chmod 600 "$KEY"  # git does not keep the mode of the demo key
for manifest in bundles/*/*/bundle.yml; do
  src=$(dirname "$manifest")
  file=$("${APP[@]}" bundle build "$src" --key "$KEY" -o "$OUT")
  "${APP[@]}" bundle verify "$file"
  if [ "${NO_IMPORT:-0}" != 1 ]; then "${APP[@]}" bundle import "$file"; fi
done
