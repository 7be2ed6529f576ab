#!/usr/bin/env bash
# The build root of the one binary: Debian 11 (bullseye, glibc 2.31) made with debootstrap from
# Debian's package registry, CPython built there from Debian's source package (the upstream
# tarball plus Debian's CVE patches; configure/make only, --enable-shared), and a venv with the
# project's dependencies (pyproject.toml: dependencies, the window extra, PyInstaller). What the
# binary carries then asks at most glibc 2.31 of the system (the Qt window apart: its wheels need
# 2.34). Cached outside the repository, named by the hash of the recipe below, so a second build
# reuses it (the venv is remade when pyproject.toml's requirements change). Needs root (chroot,
# mount namespace) and debootstrap (scripts/setup.sh installs it).
#
#   build_root.sh ensure       make the root unless cached (progress on stderr); print its path
#   build_root.sh run CMD ...  run CMD in the root, the repository mounted at /appliance
#   build_root.sh source       the CPython source a build takes (the pinned revision, else the
#                              newest of Debian's signed indexes), fetched and verified
#   build_root.sh target       a bare bullseye root (minbase, no Python) where the built file is
#                              tried (tests/frozen/test_bullseye.py); print its path
#   build_root.sh run-target CMD ...  run CMD there, the repository at /appliance
#
# APPLIANCE_BUILD_CACHE: where roots live (default ~/.cache/appliance-build).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD

# --- the recipe (its hash names the root) -----------------------------------------------------
SUITE=bullseye
MIRROR=http://deb.debian.org/debian
# compilers and the headers CPython's modules build against; patch/pkg-config for the build;
# then the X11/graphics runtime Qt links to (PyInstaller bundles the bullseye copies, as a build
# on the host bundles the host's)
PACKAGES=gcc,make,libc6-dev,binutils,patch,pkg-config,xz-utils,ca-certificates,libssl-dev,\
zlib1g-dev,libffi-dev,libsqlite3-dev,libbz2-dev,liblzma-dev,uuid-dev,libncurses-dev,\
libxcb-cursor0,libxkbcommon-x11-0,libxcb-icccm4,libxcb-keysyms1,libxcb-image0,\
libxcb-render-util0,libxcb-randr0,libxcb-shape0,libxcb-xinerama0,libxcb-xkb1,libnss3,libegl1,\
libgl1,libgbm1,libxcomposite1,libxdamage1,libxrandr2,libxtst6,libxkbfile1,libasound2,\
libfontconfig1,libdbus-1-3
# Debian has no newer CPython 3.11 than 3.11.2 (no tarfile extraction filters, which
# appliance/jobs/datafolder.py uses); trixie's 3.13 is the one carried. Debian's pool keeps only
# current revisions: when this one is gone, the build takes the newest python3.13 source of
# PY_SUITES (newest_source, below: checksums from the suites' signed indexes) and says so; bump
# the pins to it then (dists/trixie/main/source/Sources).
PY_VERSION=3.13.5
PY_DEBIAN=3.13.5-2+deb13u5
PY_ORIG_SHA256=93e583f243454e6e9e4588ca2c2662206ad961659863277afcdb96801647d640
PY_DEBIAN_SHA256=a51f456e654ce2c9b40cc1db8005e5041cdb0b2c3aa96ab0871c49fe95280366
# no rpath: the files PyInstaller carries would keep it, pointing at /opt/python/lib on the
# laptop; in the root, LD_LIBRARY_PATH (in_root) finds libpython
PY_CONFIGURE="--prefix=/opt/python --enable-shared --with-ensurepip=install"
PY_SUITES="$MIRROR/dists/trixie ${MIRROR%/debian}/debian-security/dists/trixie-security"
PY_POOL=$MIRROR/pool/main/p/python3.13
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg  # what debootstrap trusts too
RECIPE=1
# the bare root: what a minimal Debian 11 server has, and ps for the tests
TARGET_PACKAGES=procps
# ----------------------------------------------------------------------------------------------

CACHE=${APPLIANCE_BUILD_CACHE:-$HOME/.cache/appliance-build}
KEY=$(printf '%s\n' "$SUITE" "$MIRROR" "$PACKAGES" "$PY_VERSION" "$PY_DEBIAN" "$PY_ORIG_SHA256" \
  "$PY_DEBIAN_SHA256" "$PY_CONFIGURE" "$RECIPE" | sha256sum | cut -c1-12)
ROOT=$CACHE/$SUITE-$KEY
TARGET_KEY=$(printf '%s\n' "$SUITE" "$MIRROR" "$TARGET_PACKAGES" "$RECIPE" | sha256sum | cut -c1-12)
TARGET=$CACHE/$SUITE-target-$TARGET_KEY

say() { echo "build_root: $*" >&2; }
EXEC=  # "exec" for run/run-target: the command started is then CMD itself (signals reach it)

# CMD in the root: a private mount namespace (the mounts vanish with it), the repository at
# /appliance, /proc and /dev from the host, a clean environment (the build root's Python on
# PATH; the target root gets nothing of it).
in_root() {
  local root=$1
  shift
  local ROOT_ENV=PATH=/usr/sbin:/usr/bin:/sbin:/bin
  if [ "$root" != "$TARGET" ]; then
    ROOT_ENV="PATH=/opt/venv/bin:/opt/python/bin:/usr/sbin:/usr/bin:/sbin:/bin LD_LIBRARY_PATH=/opt/python/lib"
  fi
  export ROOT_ENV
  $EXEC unshare --mount --propagation private -- sh -c '
    set -e
    root=$1 repo=$2
    shift 2
    mkdir -p "$root/appliance"
    mount --bind "$repo" "$root/appliance"
    mount -t proc proc "$root/proc"
    mount --rbind /dev "$root/dev"
    exec chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb $ROOT_ENV "$@"' \
    sh "$root" "$REPO" "$@"
}

fetch_source() {  # name sha256 -> path of the verified file in $CACHE/sources; 1: not there,
  # 3: not what was pinned
  local name=$1 sum=$2 dest=$CACHE/sources/$1
  mkdir -p "$CACHE/sources"
  if ! echo "$sum  $dest" | sha256sum -c --status 2>/dev/null; then
    say "downloading $name"
    curl -fsSL --retry 3 -o "$dest.part" "$PY_POOL/$name" || {
      say "cannot download $PY_POOL/$name"
      return 1
    }
    mv "$dest.part" "$dest"
    echo "$sum  $dest" | sha256sum -c --status || { say "$name: sha256 mismatch"; exit 3; }
  fi
  echo "$dest"
}

# The newest python3.13 source package of PY_SUITES, trusted through Debian's own chain: gpgv
# checks each suite's InRelease against the archive keys, the signed text gives the sha256 of
# main/source/Sources.xz, and that index gives the sha256 of the package's files. Sets PY_VERSION,
# PY_DEBIAN, PY_ORIG_SHA256, PY_DEBIAN_SHA256 and PY_POOL; exits when no suite has one.
newest_source() {
  local tmp suite sum best
  tmp=$(mktemp -d)
  : >"$tmp/found"
  for suite in $PY_SUITES; do
    curl -fsSL --retry 3 -o "$tmp/InRelease" "$suite/InRelease" || continue
    rm -f "$tmp/Release"
    gpgv --keyring "$KEYRING" --output "$tmp/Release" "$tmp/InRelease" 2>/dev/null || {
      say "$suite/InRelease: no good signature from Debian's archive keys"
      exit 1
    }
    sum=$(awk '/^SHA256:/ { s = 1; next } /^[^ ]/ { s = 0 }
      s && $3 == "main/source/Sources.xz" { print $1 }' "$tmp/Release")
    curl -fsSL --retry 3 -o "$tmp/Sources.xz" "$suite/main/source/Sources.xz" || continue
    echo "$sum  $tmp/Sources.xz" | sha256sum -c --status || {
      say "$suite/main/source/Sources.xz: sha256 differs from the signed index"
      exit 1
    }
    # one line per python3.13 stanza: version, pool folder, orig sha256, debian sha256
    xz -dc "$tmp/Sources.xz" | awk -v base="${suite%/dists/*}" '
      /^Package: / { p = ($2 == "python3.13"); c = 0 }
      p && /^Version: / { v = $2 }
      p && /^Directory: / { d = $2 }
      p && /^Checksums-Sha256:/ { c = 1; next }
      c && /^ / { if ($3 ~ /orig\.tar\.xz$/) o = $1; if ($3 ~ /debian\.tar\.xz$/) x = $1; next }
      { c = 0 }
      /^$/ { if (p && v && o && x) print v, base "/" d, o, x; p = 0; v = o = x = "" }
      END { if (p && v && o && x) print v, base "/" d, o, x }' >>"$tmp/found"
  done
  best=$(sort -V -k1,1 "$tmp/found" | tail -1)
  rm -rf "$tmp"
  [ -n "$best" ] || { say "no python3.13 source package in $PY_SUITES"; exit 1; }
  read -r PY_DEBIAN PY_POOL PY_ORIG_SHA256 PY_DEBIAN_SHA256 <<<"$best"
  PY_VERSION=${PY_DEBIAN%%-*}
}

# The pinned source, or the newest one when Debian has replaced it. Sets ORIG and DEBIAN.
sources() {
  local rc=0 pinned=$PY_DEBIAN
  ORIG=$(fetch_source "python3.13_$PY_VERSION.orig.tar.xz" "$PY_ORIG_SHA256") &&
    DEBIAN=$(fetch_source "python3.13_$PY_DEBIAN.debian.tar.xz" "$PY_DEBIAN_SHA256") || rc=$?
  [ "$rc" -eq 0 ] && return
  [ "$rc" -eq 1 ] || exit "$rc"  # a file that is not what was pinned: never another source
  newest_source
  say "python3.13 $pinned is gone from Debian's pool: building $PY_DEBIAN from $PY_POOL" \
    "(checksums from the signed index; pin it in scripts/build_root.sh)"
  ORIG=$(fetch_source "python3.13_$PY_VERSION.orig.tar.xz" "$PY_ORIG_SHA256")
  DEBIAN=$(fetch_source "python3.13_$PY_DEBIAN.debian.tar.xz" "$PY_DEBIAN_SHA256")
}

make_base() {  # debootstrap + CPython into $ROOT.partial, renamed to $ROOT when complete
  local part=$ROOT.partial started=$SECONDS
  command -v debootstrap >/dev/null || { say "needs debootstrap (apt-get install debootstrap)"; exit 1; }
  rm -rf "$part"
  say "debootstrap $SUITE into $part"
  debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$part" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 || {
    tail -20 "$CACHE/debootstrap.log" >&2
    exit 1
  }
  cp /etc/resolv.conf "$part/etc/resolv.conf"
  sources
  mkdir -p "$part/usr/src/python"
  tar -C "$part/usr/src/python" -xJf "$ORIG"
  tar -C "$part/usr/src/python" -xJf "$DEBIAN"
  say "building CPython $PY_VERSION (Debian's CVE patches of $PY_DEBIAN) in the root"
  in_root "$part" sh -ec "
    cd /usr/src/python/Python-$PY_VERSION
    for p in \$(grep '^CVE' ../debian/patches/series); do
      patch -p1 -s --no-backup-if-mismatch < ../debian/patches/\$p
    done
    ./configure -q $PY_CONFIGURE >/dev/null
    make -s -j\$(nproc) >/dev/null 2>&1 || make -j1
    make -s install >/dev/null
  " >"$CACHE/cpython.log" 2>&1 || {
    tail -30 "$CACHE/cpython.log" >&2
    exit 1
  }
  rm -rf "$part/usr/src/python" "$part/var/cache/apt/archives/"*.deb
  touch "$part/.complete"
  mv "$part" "$ROOT"
  say "base root made in $((SECONDS - started)) s"
}

# The venv: requirements read from pyproject.toml by the root's Python. The PyQt6 wheels are
# manylinux_2_34, which pip refuses on glibc 2.31: they are installed first for that platform
# (the window's own floor), then pip sees them as installed.
make_venv() {
  local reqs want
  reqs=$(in_root "$ROOT" /opt/python/bin/python3 -c '
import re, tomllib
p = tomllib.load(open("/appliance/pyproject.toml", "rb"))["project"]
opt = p["optional-dependencies"]
for r in [*p["dependencies"], *opt["window"], *[d for d in opt["dev"] if d.startswith("pyinstaller")]]:
    print(r)')
  want=$(printf '%s\n' "$reqs" | sha256sum | cut -c1-16)
  if [ "$(cat "$ROOT/opt/venv/.requirements" 2>/dev/null)" = "$want" ]; then
    return
  fi
  local started=$SECONDS
  say "installing the requirements into the root's venv"
  # pip in the root trusts what the host trusts (a proxy's or a local mirror's own CA)
  local ca=${PIP_CERT:-${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}}
  if [ -f "$ca" ]; then cp "$ca" "$ROOT/etc/ssl/certs/build-host-ca.crt"; fi
  printf '%s\n' "$reqs" >"$ROOT/tmp/requirements.txt"
  printf '%s\n' "$reqs" | grep -i '^pyqt6' >"$ROOT/tmp/qt-requirements.txt"
  in_root "$ROOT" sh -ec '
    rm -rf /opt/venv
    /opt/python/bin/python3 -m venv /opt/venv
    site=$(/opt/venv/bin/python -c "import sysconfig; print(sysconfig.get_paths()[\"purelib\"])")
    if [ -f /etc/ssl/certs/build-host-ca.crt ]; then
      export PIP_CERT=/etc/ssl/certs/build-host-ca.crt
    fi
    pip() { /opt/venv/bin/python -m pip -q --disable-pip-version-check "$@"; }
    pip install --only-binary=:all: --platform manylinux_2_34_x86_64 --platform manylinux_2_28_x86_64 \
      --platform manylinux2014_x86_64 --python-version 3.13 --implementation cp \
      --target /tmp/qt -r /tmp/qt-requirements.txt
    rm -rf /tmp/qt/bin  # the Qt tools (pyuic6 ...), which the binary does not carry
    cp -a /tmp/qt/. "$site/"
    rm -rf /tmp/qt
    pip install -r /tmp/requirements.txt
  ' >"$CACHE/venv.log" 2>&1 || {
    tail -30 "$CACHE/venv.log" >&2
    exit 1
  }
  echo "$want" >"$ROOT/opt/venv/.requirements"
  say "venv made in $((SECONDS - started)) s"
}

ensure() {
  mkdir -p "$CACHE"
  exec 9>"$CACHE/.lock"
  flock 9
  if [ ! -f "$ROOT/.complete" ]; then
    make_base
    # older recipes' roots (and half-made ones) go: each is ~1 GB
    for old in "$CACHE/$SUITE"-*; do
      case "$old" in "$ROOT" | "$CACHE/$SUITE"-target-*) continue ;; esac
      rm -rf "$old"
    done
  fi
  make_venv
  echo "$ROOT"
}

target() {
  mkdir -p "$CACHE"
  exec 8>"$CACHE/.lock-target"  # its own lock: not held up while a build root is being made
  flock 8
  if [ ! -f "$TARGET/.complete" ]; then
    command -v debootstrap >/dev/null || { say "needs debootstrap (apt-get install debootstrap)"; exit 1; }
    rm -rf "$TARGET.partial" "$CACHE/$SUITE"-target-*
    say "debootstrap a bare $SUITE into $TARGET"
    debootstrap --variant=minbase --include="$TARGET_PACKAGES" "$SUITE" "$TARGET.partial" \
      "$MIRROR" >"$CACHE/debootstrap-target.log" 2>&1 || {
      tail -20 "$CACHE/debootstrap-target.log" >&2
      exit 1
    }
    rm -f "$TARGET.partial/var/cache/apt/archives/"*.deb
    touch "$TARGET.partial/.complete"
    mv "$TARGET.partial" "$TARGET"
  fi
  echo "$TARGET"
}

case "${1:-}" in
  ensure) ensure ;;
  source)  # which CPython source a build would take (fetched and verified), without building
    sources
    echo "$PY_DEBIAN $ORIG $DEBIAN"
    ;;
  run)
    shift
    [ -f "$ROOT/.complete" ] || { say "no build root yet: run '$0 ensure' first"; exit 1; }
    EXEC=exec in_root "$ROOT" "$@"
    ;;
  target) target ;;
  run-target)
    shift
    [ -f "$TARGET/.complete" ] || { say "no target root yet: run '$0 target' first"; exit 1; }
    EXEC=exec in_root "$TARGET" "$@"
    ;;
  *)
    echo "usage: $0 ensure | source | run CMD ... | target | run-target CMD ..." >&2
    exit 2
    ;;
esac
