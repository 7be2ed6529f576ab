"""Pack a PyInstaller onedir build behind the launcher: the one file that starts like a folder.

    python packaging/onefile/pack.py LAUNCHER ONEDIR OUT

OUT = LAUNCHER's bytes + records (one per folder, file and symlink of ONEDIR, sorted, folders
before what they hold) + a trailer: magic, payload offset and length (u64 little-endian), and
the payload's sha256 in hex, which names the build (the launcher's cache folder). The same
inputs give the same bytes. See launcher.c for the record layout and what a launch does.
"""

from __future__ import annotations

import hashlib
import os
import stat
import struct
import sys
from pathlib import Path

MAGIC = b"APPLIANCE-ONEDIR"
CHUNK = 1024 * 1024


def _records(root: Path):
    """(type, mode, relative path, data source) in a stable order."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        here = Path(dirpath)
        for name in sorted(dirnames + filenames):
            path = here / name
            rel = path.relative_to(root).as_posix()
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                yield b"l", 0o777, rel, os.readlink(path).encode()
            elif stat.S_ISDIR(st.st_mode):
                yield b"d", 0o755, rel, b""
            elif stat.S_ISREG(st.st_mode):
                yield b"f", 0o755 if st.st_mode & 0o111 else 0o644, rel, path
            else:
                raise SystemExit(f"pack: {path} is not a file, folder or symlink")


def pack(launcher: Path, onedir: Path, out: Path) -> str:
    if not (onedir / "appliance").is_file():
        raise SystemExit(f"pack: {onedir} has no 'appliance' executable")
    tmp = out.with_name(out.name + ".partial")
    digest = hashlib.sha256()
    with open(tmp, "wb") as f:
        f.write(launcher.read_bytes())
        offset = f.tell()
        for kind, mode, rel, data in _records(onedir):
            name = rel.encode()
            size = data.stat().st_size if isinstance(data, Path) else len(data)
            head = kind + struct.pack("<IIQ", mode, len(name), size) + name
            f.write(head)
            digest.update(head)
            if isinstance(data, Path):
                with open(data, "rb") as src:
                    left = size
                    while left:
                        chunk = src.read(min(CHUNK, left))
                        if not chunk:
                            raise SystemExit(f"pack: {data} shrank while being packed")
                        f.write(chunk)
                        digest.update(chunk)
                        left -= len(chunk)
            else:
                f.write(data)
                digest.update(data)
        length = f.tell() - offset
        build_id = digest.hexdigest()
        f.write(MAGIC + struct.pack("<QQ", offset, length) + build_id.encode())
    os.chmod(tmp, 0o755)
    os.replace(tmp, out)
    return build_id


if __name__ == "__main__":
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    build = pack(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))
    print(f"pack: {sys.argv[3]} (build {build[:16]})")
