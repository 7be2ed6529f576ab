#!/usr/bin/env bash
# Build the one binary: the signed bundles from bundles/ into build/carried-bundles/ (imported
# nowhere), then PyInstaller with build.spec into dist/appliance (work files under
# build/pyinstaller/, kept so a rebuild reuses the analysis of unchanged parts).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
rm -rf build/carried-bundles  # carry exactly what bundles/ holds now
NO_IMPORT=1 BUNDLE_OUT=build/carried-bundles bash scripts/build_bundles.sh >/dev/null
.venv/bin/pyinstaller build.spec --noconfirm --log-level WARN \
  --distpath dist --workpath build/pyinstaller
size=$(du -m dist/appliance | cut -f1)
echo "build_binary: dist/appliance (${size} MB) built in $(( $(date +%s) - start )) s"
