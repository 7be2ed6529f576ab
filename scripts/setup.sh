#!/usr/bin/env bash
# Everything a fresh Debian machine needs to run and test the appliance: system packages
# (browser, virtual display, Qt runtime, sshd for test hosts) and the Python environment.
# Idempotent and quick when nothing changed (stamps under .stamps/).
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  chromium xvfb xauth imagemagick openssh-server openssh-client iproute2 sudo procps gcc libc6-dev
  libxcb-cursor0 libxkbcommon-x11-0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0
  libxcb-render-util0 libxcb-randr0 libxcb-shape0 libxcb-xinerama0 libxcb-xkb1 libnss3 libegl1
  libgl1 libgbm1 libxcomposite1 libxdamage1 libxrandr2 libxtst6 libxkbfile1 libasound2
  debootstrap  # the Debian 11 build root of the one binary (scripts/build_root.sh)
)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing system packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PYTHON=${PYTHON:-python3}
mkdir -p .stamps
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PYTHON" -m venv .venv
fi
want=$(sha256sum pyproject.toml | cut -c1-16)
if [ "$(cat .stamps/pip 2>/dev/null)" != "$want" ]; then
  echo "setup: installing Python packages"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".[dev,window]"
  echo "$want" > .stamps/pip
fi

# The older ansible-core carried beside the venv's (appliance/jobs/ansible/cores.py): 2.16, the
# last whose modules run on Python 2.7 and 3.6 targets (its controller: Python 3.10 to 3.12). Its
# own tree, put first on a run's PYTHONPATH when the site's hosts need it; its dependencies
# (Jinja2, PyYAML, cryptography, packaging) are the venv's. Installed here, never at run time.
OLD_ANSIBLE_CORE=2.16.19
core_dir=build/ansible-cores/${OLD_ANSIBLE_CORE%.*}
if [ "$(cat "$core_dir/.installed" 2>/dev/null)" != "$OLD_ANSIBLE_CORE" ]; then
  echo "setup: installing ansible-core $OLD_ANSIBLE_CORE into $core_dir (old targets)"
  rm -rf "$core_dir.tmp"
  .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps \
    --target "$core_dir.tmp" "ansible-core==$OLD_ANSIBLE_CORE"
  rm -rf "$core_dir.tmp/bin" "$core_dir.tmp/ansible_test"
  echo "$OLD_ANSIBLE_CORE" >"$core_dir.tmp/.installed"
  rm -rf "$core_dir"
  mv "$core_dir.tmp" "$core_dir"
fi
