#!/usr/bin/env bash
# Make FILE checkable with standard tools, next to it: FILE.sha256 (sha256sum format, the bare
# name, so `sha256sum -c FILE.sha256` works in FILE's folder), FILE.sig (`ssh-keygen -Y sign -n
# file`, detached) and allowed_signers (the release key's public half for `ssh-keygen -Y verify
# -f allowed_signers -I appliance-release -n file -s FILE.sig < FILE`). Then checks both, as
# the field guide tells the engineer to.
#
# RELEASE_KEY: an OpenSSH private key (a real release: kept offline, never in the repository).
# Unset: a DEV-ONLY key under ${XDG_CONFIG_HOME:-~/.config}/appliance/, made on first use; a
# file signed with it proves only that it was not changed since this machine built it.
set -euo pipefail
if [ $# -ne 1 ] || [ ! -f "$1" ]; then
  echo "usage: release.sh FILE (an existing file)" >&2
  exit 2
fi
identity=${RELEASE_IDENTITY:-appliance-release}
dir=$(cd "$(dirname "$1")" && pwd)
name=$(basename "$1")
key=${RELEASE_KEY:-}
if [ -z "$key" ]; then
  key_dir=${XDG_CONFIG_HOME:-$HOME/.config}/appliance
  key=$key_dir/DEV-ONLY-release-key
  if [ ! -f "$key" ]; then
    mkdir -p "$key_dir"
    chmod 700 "$key_dir"
    ssh-keygen -q -t ed25519 -N '' -C "appliance DEV-ONLY release key ($(hostname))" -f "$key"
  fi
fi
if [ ! -f "$key" ]; then
  echo "release.sh: no release key at $key (RELEASE_KEY)" >&2
  exit 2
fi
cd "$dir"
rm -f "$name.sha256" "$name.sig"
sha256sum -- "$name" > "$name.sha256"
ssh-keygen -q -Y sign -f "$key" -n file "$name"
printf '%s namespaces="file" %s\n' "$identity" "$(ssh-keygen -y -f "$key")" > allowed_signers
sha256sum --quiet -c "$name.sha256"
ssh-keygen -Y verify -f allowed_signers -I "$identity" -n file -s "$name.sig" < "$name" >/dev/null
echo "release.sh: $dir/$name.sha256, $name.sig, allowed_signers ($identity)"
