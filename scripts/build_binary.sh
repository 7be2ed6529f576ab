#!/usr/bin/env bash
# Build the one binary: the signed bundles from bundles/ into build/carried-bundles/ (imported
# nowhere), the page's ES modules bundled into one script (packaging/page.py: build/page/), then
# PyInstaller with build.spec into the onedir build/onedir/appliance/ (work files
# under build/pyinstaller-*/, kept so a rebuild reuses the analysis of unchanged parts), then the
# launcher of packaging/onefile/ (static, gcc) with that folder packed behind it into the one
# file dist/appliance; last packaging/release.sh writes dist/appliance.sha256, dist/appliance.sig
# and dist/allowed_signers (RELEASE_KEY, else a DEV-ONLY key outside the repo).
#
# PyInstaller and gcc run in the Debian 11 build root of scripts/build_root.sh (cached outside
# the repository; made on first use), so the file runs on glibc 2.31 and newer (the Qt window:
# 2.34). BUILD_ON_HOST=1 builds with .venv and the host's gcc instead: the file then needs the
# host's glibc (for a quick local build; not for release).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
rm -rf build/carried-bundles  # carry exactly what bundles/ holds now
NO_IMPORT=1 BUNDLE_OUT=build/carried-bundles bash scripts/build_bundles.sh >/dev/null
.venv/bin/python packaging/page.py build/page >/dev/null  # one script for the page
LAUNCHER_FLAGS=(-O2 -static -Wall -Wno-format-truncation)
if [ "${BUILD_ON_HOST:-0}" = 1 ]; then
  where="the host"
  .venv/bin/pyinstaller build.spec --noconfirm --log-level WARN \
    --distpath build/onedir --workpath build/pyinstaller
  gcc "${LAUNCHER_FLAGS[@]}" -o build/onefile-launcher packaging/onefile/launcher.c
else
  if [ "$(id -u)" -ne 0 ]; then
    echo "build_binary: the build root needs root (chroot); BUILD_ON_HOST=1 builds on this" \
      "machine instead (the file then needs this machine's glibc)" >&2
    exit 1
  fi
  root=$(bash scripts/build_root.sh ensure)
  where="the build root $root"
  bash scripts/build_root.sh run sh -ec "
    cd /appliance
    pyinstaller build.spec --noconfirm --log-level WARN \
      --distpath build/onedir --workpath build/pyinstaller-root
    gcc ${LAUNCHER_FLAGS[*]} -o build/onefile-launcher packaging/onefile/launcher.c
  "
fi
mkdir -p dist
rm -rf dist/appliance  # an older build may have left a folder of that name
.venv/bin/python packaging/onefile/pack.py build/onefile-launcher build/onedir/appliance \
  dist/appliance >/dev/null
bash packaging/release.sh dist/appliance >/dev/null
size=$(du -m dist/appliance | cut -f1)
echo "build_binary: dist/appliance (${size} MB) built in $(( $(date +%s) - start )) s in $where"
