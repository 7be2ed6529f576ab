#!/usr/bin/env bash
# A real Python 2.7 for an SSH test host (tests/remote/test_old_targets.py): a small Debian 11
# (bullseye) root made with debootstrap from Debian's package registry holding Debian's own
# python2.7 (2.7.18) and nothing newer, and a launcher in it, bin-old/python2.7, that starts that
# interpreter with the root's own loader and libraries (glibc 2.31, libssl1.1 ...), wherever the
# root is mounted. No chroot: a test host's login user runs it as the interpreter Ansible names
# (ansible_python_interpreter), with or without sudo.
#
#   old_python_root.sh ensure   make the root unless cached (progress on stderr); print its path
#
# Cached outside the repository (APPLIANCE_BUILD_CACHE, default ~/.cache/appliance-build), named
# by the hash of the recipe below; made into NAME.partial and renamed when complete, under a lock
# (two test processes may ask at once: the second waits and reuses it). Needs root and
# debootstrap (scripts/setup.sh installs it). The name does not start with "bullseye-", whose
# old recipes scripts/build_root.sh removes.
set -euo pipefail

SUITE=bullseye
MIRROR=http://deb.debian.org/debian
PACKAGES=python2.7
LAUNCHER='#!/bin/sh
# Debian 11 Python 2.7 with Debian 11 loader and libraries, from wherever this root is
r=$(cd "$(dirname "$0")/.." && pwd -P)
lib=$r/usr/lib/x86_64-linux-gnu
exec "$lib/ld-linux-x86-64.so.2" --library-path "$lib" "$r/usr/bin/python2.7" "$@"
'
RECIPE=1

CACHE=${APPLIANCE_BUILD_CACHE:-$HOME/.cache/appliance-build}
KEY=$(printf '%s\n' "$SUITE" "$MIRROR" "$PACKAGES" "$LAUNCHER" "$RECIPE" | sha256sum | cut -c1-12)
ROOT=$CACHE/oldpython-$SUITE-$KEY

say() { echo "old_python_root: $*" >&2; }

ensure() {
  mkdir -p "$CACHE"
  exec 7>"$CACHE/.lock-oldpython"
  flock 7
  if [ ! -f "$ROOT/.complete" ]; then
    command -v debootstrap >/dev/null || { say "needs debootstrap (apt-get install debootstrap)"; exit 1; }
    [ "$(id -u)" -eq 0 ] || { say "needs root (debootstrap)"; exit 1; }
    local part=$ROOT.partial started=$SECONDS
    rm -rf "$part" "$CACHE"/oldpython-"$SUITE"-*  # half-made ones and older recipes' roots
    say "debootstrap $SUITE with $PACKAGES into $part"
    debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$part" "$MIRROR" \
      >"$CACHE/debootstrap-oldpython.log" 2>&1 || {
      tail -20 "$CACHE/debootstrap-oldpython.log" >&2
      exit 1
    }
    rm -f "$part/var/cache/apt/archives/"*.deb
    mkdir -p "$part/bin-old"
    printf '%s' "$LAUNCHER" >"$part/bin-old/python2.7"
    chmod 755 "$part" "$part/bin-old" "$part/bin-old/python2.7"
    # the proof it works before it is named complete
    "$part/bin-old/python2.7" -c 'import sys, json, zipfile, ssl, ctypes; assert sys.version_info[:2] == (2, 7)' || {
      say "the root's python2.7 does not start"
      exit 1
    }
    touch "$part/.complete"
    mv "$part" "$ROOT"
    say "made in $((SECONDS - started)) s"
  fi
  echo "$ROOT"
}

case "${1:-}" in
  ensure) ensure ;;
  *)
    echo "usage: $0 ensure" >&2
    exit 2
    ;;
esac
