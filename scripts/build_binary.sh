#!/usr/bin/env bash
# Build the one binary: the signed bundles from bundles/ into build/carried-bundles/ (imported
# nowhere), then PyInstaller with build.spec into the onedir build/onedir/appliance/ (work files
# under build/pyinstaller/, kept so a rebuild reuses the analysis of unchanged parts), then the
# launcher of packaging/onefile/ (static, needs gcc) with that folder packed behind it into the
# one file dist/appliance; last packaging/release.sh writes dist/appliance.sha256,
# dist/appliance.sig and dist/allowed_signers (RELEASE_KEY, else a DEV-ONLY key outside the repo).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
rm -rf build/carried-bundles  # carry exactly what bundles/ holds now
NO_IMPORT=1 BUNDLE_OUT=build/carried-bundles bash scripts/build_bundles.sh >/dev/null
.venv/bin/pyinstaller build.spec --noconfirm --log-level WARN \
  --distpath build/onedir --workpath build/pyinstaller
gcc -O2 -static -Wall -Wno-format-truncation -o build/onefile-launcher packaging/onefile/launcher.c
mkdir -p dist
rm -rf dist/appliance  # an older build may have left a folder of that name
.venv/bin/python packaging/onefile/pack.py build/onefile-launcher build/onedir/appliance \
  dist/appliance >/dev/null
bash packaging/release.sh dist/appliance >/dev/null
size=$(du -m dist/appliance | cut -f1)
echo "build_binary: dist/appliance (${size} MB) built in $(( $(date +%s) - start )) s"
