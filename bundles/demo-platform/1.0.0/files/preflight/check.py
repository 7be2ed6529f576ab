#!/usr/bin/env python3
"""demo-platform preflight: read-only checks of one host, printed as one JSON object.

Stdlib only, Python 3.8+; writes nothing. Output: {"checks": [{name, status, message}], "problems":
[...], "notes": [...]}: every check is pass, warn or fail (the playbook reports them to the
appliance); problems are the messages of the failed ones (each says what to do), notes the
others. The playbook fails when there is any problem.
"""

import argparse
import errno
import json
import os
import socket
import sys
import urllib.request

MB = 1024 * 1024


class Checks:
    def __init__(self):
        self.items = []

    def add(self, name, status, message):
        self.items.append({"name": name, "status": status, "message": message})

    def result(self):
        problems = [c["message"] for c in self.items if c["status"] == "fail"]
        notes = [c["message"] for c in self.items if c["status"] != "fail"]
        return {"checks": self.items, "problems": problems, "notes": notes}


def existing_ancestor(path):
    path = os.path.abspath(path)
    while not os.path.exists(path):
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return path


def check_python(checks):
    version = sys.version.split()[0]
    if sys.version_info < (3, 8):
        checks.add("python", "fail", "Python %s at %s is too old, need 3.8+: install a newer "
                   "python3 and set ansible_python_interpreter" % (version, sys.executable))
    else:
        checks.add("python", "pass", "Python %s at %s" % (version, sys.executable))


def check_root(root, min_free_mb, warn_free_mb, checks):
    base = existing_ancestor(root)
    if os.path.exists(root) and not os.path.isdir(root):
        checks.add("install_root", "fail", "install_root %s exists but is not a directory: move "
                   "it away or choose another install_root" % root)
        return
    if not os.access(base, os.W_OK | os.X_OK):
        checks.add("install_root", "fail", "%s is not writable by this user (uid %d): create %s "
                   "and give it to that user, or choose another install_root"
                   % (base, os.getuid(), root))
    elif base != os.path.abspath(root):
        checks.add("install_root", "pass", "install_root %s will be created under %s"
                   % (root, base))
    else:
        checks.add("install_root", "pass", "install_root %s is writable" % root)
    free_mb = os.statvfs(base).f_bavail * os.statvfs(base).f_frsize // MB
    if free_mb < min_free_mb:
        checks.add("disk space", "fail", "only %d MB free under %s, need %d MB: free some space "
                   "or choose another install_root" % (free_mb, base, min_free_mb))
    elif free_mb < warn_free_mb:
        checks.add("disk space", "warn", "only %d MB free under %s (%d MB recommended): enough "
                   "for now, but free some space before the next upgrade"
                   % (free_mb, base, warn_free_mb))
    else:
        checks.add("disk space", "pass", "%d MB free under %s" % (free_mb, base))


def read_pid(pidfile):
    try:
        with open(pidfile, encoding="ascii") as fh:
            return int(fh.read().strip())
    except (OSError, ValueError):
        return None


def health(host, port):
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open("http://%s:%d/health" % (host, port), timeout=3) as resp:
            return json.loads(resp.read().decode("utf-8"))
    except Exception as exc:  # any answer but our JSON means "not our app"
        if hasattr(exc, "read"):
            try:
                return json.loads(exc.read().decode("utf-8"))
            except Exception:
                return None
        return None


def check_port(bind, port, pidfile, checks):
    family = socket.AF_INET6 if ":" in bind else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the app binds
    try:
        sock.bind((bind, port))
        checks.add("port", "pass", "port %d on %s is free" % (port, bind))
        return
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            checks.add("port", "fail", "cannot bind %s:%d (%s): set app_bind/app_port for this "
                       "host or site" % (bind, port, exc.strerror))
            return
    finally:
        sock.close()
    host = "127.0.0.1" if bind in ("0.0.0.0", "") else ("::1" if bind == "::" else bind)
    answer = health(host, port) or {}
    pid = read_pid(pidfile)
    if answer.get("app") == "demo-app" and pid is not None and answer.get("pid") == pid:
        checks.add("port", "pass", "port %d is held by our app %s (pid %d); it will be "
                   "restarted if needed" % (port, answer.get("version"), pid))
    else:
        checks.add("port", "fail", "port %d on %s is in use by another process (not the demo "
                   "app of %s): stop that process or set app_port for this host or site"
                   % (port, bind, pidfile))


def main(argv=None):
    parser = argparse.ArgumentParser(description="demo-platform preflight checks")
    parser.add_argument("--root", required=True)
    parser.add_argument("--bind", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pidfile", required=True)
    parser.add_argument("--min-free-mb", type=int, default=100)
    parser.add_argument("--warn-free-mb", type=int, default=1024)
    args = parser.parse_args(argv)
    checks = Checks()
    check_python(checks)
    check_root(args.root, args.min_free_mb, args.warn_free_mb, checks)
    check_port(args.bind, args.port, args.pidfile, checks)
    print(json.dumps(checks.result()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
