#!/usr/bin/python
"""Ansible module the appliance carries for its log search (run ad hoc on each host, never
part of a bundle): expand the globs, read the tail of each file, keep the matching lines, all
within bounds. Runs on the host's own Python (3.8 or newer): only the standard library.

Arguments (the appliance sends them; the pattern as hex so Ansible never templates it):
globs, pattern_hex, regex, lines, max_bytes, seconds, max_files, scan_bytes, max_line_chars,
facts. Returns files (path, size, matched), lines ([file index, text]), truncated, timed_out,
errors, and with ``facts`` the host's basic facts (for a support bundle).
"""

from __future__ import annotations

import binascii
import collections
import glob
import os
import platform
import re
import signal

from ansible.module_utils.basic import AnsibleModule


class TimeUp(Exception):
    pass


def _time_up(signum, frame):
    raise TimeUp()


def _matcher(pattern, regex):
    if not pattern:
        return lambda line: True
    if regex:
        return re.compile(pattern).search
    return lambda line: pattern in line


def _files(globs, max_files, errors):
    found = []
    for pattern in globs:
        if not os.path.isabs(pattern):
            errors.append(f"{pattern} is not an absolute path")
            continue
        for path in sorted(glob.glob(pattern)):
            if os.path.isfile(path) and path not in found:
                found.append(path)
    return found[:max_files], len(found) > max_files


def _tail(path, scan_bytes, keep, match, max_line_chars):
    """The last ``keep`` matching lines of the file's last ``scan_bytes`` bytes."""
    size = os.path.getsize(path)
    start = max(0, size - scan_bytes)
    with open(path, "rb") as fh:
        fh.seek(start)
        data = fh.read(scan_bytes)
    if start > 0:  # the first line is cut: skip it
        data = data[data.find(b"\n") + 1 :] if b"\n" in data else b""
    kept = collections.deque(maxlen=keep)
    matched = 0
    for raw in data.decode("utf-8", "replace").splitlines():
        line = raw[:max_line_chars]
        if match(line):
            matched += 1
            kept.append(line)
    return size, matched, list(kept), start > 0


def _meminfo():
    out = {}
    with open("/proc/meminfo") as fh:
        for line in fh:
            name, _, rest = line.partition(":")
            if name in ("MemTotal", "MemAvailable"):
                out[name] = int(rest.split()[0]) * 1024
    return {"total": out.get("MemTotal"), "available": out.get("MemAvailable")}


def _os_name():
    try:
        with open("/etc/os-release") as fh:
            for line in fh:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return " ".join(platform.uname()[0:3:2])


def facts(paths):
    """Basic facts for a support bundle: OS, Python, disk of / and of the log folders, memory,
    uptime; what cannot be read is left out."""
    out = {"os": _os_name(), "kernel": platform.release(), "python": platform.python_version()}
    disks = {}
    for path in ["/", *sorted({os.path.dirname(p) for p in paths})]:
        try:
            st = os.statvfs(path)
        except OSError:
            continue
        disks[path] = {"total": st.f_blocks * st.f_frsize, "free": st.f_bavail * st.f_frsize}
    out["disks"] = disks
    try:
        out["memory"] = _meminfo()
        with open("/proc/uptime") as fh:
            out["uptime_seconds"] = int(float(fh.read().split()[0]))
    except (OSError, ValueError, IndexError):
        pass
    return out


def search(args):
    pattern = binascii.unhexlify(args["pattern_hex"]).decode("utf-8")
    match = _matcher(pattern, args["regex"])
    out = {"files": [], "lines": [], "truncated": False, "timed_out": False, "errors": []}
    used = 0
    signal.signal(signal.SIGALRM, _time_up)
    signal.setitimer(signal.ITIMER_REAL, args["seconds"])
    try:
        paths, more = _files(args["globs"], args["max_files"], out["errors"])
        out["truncated"] = more
        for path in paths:
            try:
                size, matched, kept, cut = _tail(
                    path, args["scan_bytes"], args["lines"], match, args["max_line_chars"]
                )
            except OSError as e:
                out["errors"].append(f"{path}: {e.strerror or e}")
                continue
            index = len(out["files"])
            out["files"].append({"path": path, "size": size, "matched": matched, "cut": cut})
            if matched > len(kept):
                out["truncated"] = True
            for line in kept:
                cost = len(line.encode("utf-8")) + len(path) + 16
                if len(out["lines"]) >= args["lines"] or used + cost > args["max_bytes"]:
                    out["truncated"] = True
                    break
                used += cost
                out["lines"].append([index, line])
        if args.get("facts"):
            out["facts"] = facts([f["path"] for f in out["files"]])
    except TimeUp:
        out["timed_out"] = out["truncated"] = True
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    return out


def main():
    module = AnsibleModule(
        argument_spec={
            "globs": {"type": "list", "elements": "str", "required": True},
            "pattern_hex": {"type": "str", "default": ""},
            "regex": {"type": "bool", "default": False},
            "lines": {"type": "int", "default": 100},
            "max_bytes": {"type": "int", "default": 262144},
            "seconds": {"type": "float", "default": 10.0},
            "max_files": {"type": "int", "default": 50},
            "scan_bytes": {"type": "int", "default": 16777216},
            "max_line_chars": {"type": "int", "default": 2000},
            "facts": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
    )
    module.exit_json(changed=False, **search(module.params))


if __name__ == "__main__":
    main()
