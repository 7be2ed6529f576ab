#!/usr/bin/env python3
"""demo-platform app: a small HTTP service over the demo SQLite database.

Stdlib only, Python 3.8+. Run as a script; it never relies on __file__ (a frozen interpreter
may run it), so every path is an argument.

  demo_app.py serve --app-dir DIR --config INI --pidfile FILE   run in the foreground
  demo_app.py start --app-dir DIR --config INI --pidfile FILE --log FILE [--timeout S]
        start `serve` detached (new session, stdio to the log), wait for its pid file
  demo_app.py stop --pidfile FILE [--port P [--host H]] [--timeout S]
        SIGTERM, then SIGKILL; then wait until nothing listens on H:P any more

Endpoints: GET /health -> {"status", "app", "version", "schema", "pid"}; GET /items.
`start` prints "started ..." and `stop` prints "stopped ..." only when they changed something.
"""

import argparse
import configparser
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

APP = "demo-app"
MIN_SCHEMA = 2  # oldest database schema this release can serve (quantity column)


def read_config(path):
    parser = configparser.ConfigParser()
    with open(path, encoding="utf-8") as fh:
        parser.read_file(fh)
    return {
        "bind": parser.get("server", "bind", fallback="127.0.0.1"),
        "port": parser.getint("server", "port"),
        "db": parser.get("database", "path"),
    }


def read_version(app_dir):
    with open(os.path.join(app_dir, "VERSION"), encoding="utf-8") as fh:
        return fh.read().strip()


def db_schema(db):
    if not os.path.exists(db):
        return None
    con = sqlite3.connect(db, timeout=5)
    try:
        return con.execute("PRAGMA user_version").fetchone()[0]
    finally:
        con.close()


def list_items(db):
    con = sqlite3.connect(db, timeout=5)
    try:
        rows = con.execute("SELECT id, name, quantity FROM items ORDER BY id").fetchall()
    finally:
        con.close()
    return [{"id": r[0], "name": r[1], "quantity": r[2]} for r in rows]


class Handler(BaseHTTPRequestHandler):
    server_version = APP

    def do_GET(self):
        info = self.server.info
        path = self.path.split("?", 1)[0]
        if path == "/health":
            try:
                schema = db_schema(info["db"])
            except sqlite3.Error as exc:
                return self._json(503, {"status": "error", "version": info["version"],
                                        "reason": "database: %s" % exc})
            body = {"status": "ok", "app": APP, "version": info["version"], "schema": schema,
                    "pid": os.getpid()}
            if schema is None or schema < MIN_SCHEMA:
                body.update(status="error", reason="database %s has schema %s, need >= %d"
                            % (info["db"], schema, MIN_SCHEMA))
                return self._json(503, body)
            return self._json(200, body)
        if path == "/items":
            try:
                return self._json(200, {"items": list_items(info["db"])})
            except sqlite3.Error as exc:
                return self._json(503, {"error": "database: %s" % exc})
        if path == "/":
            return self._json(200, {"app": APP, "version": info["version"],
                                    "endpoints": ["/health", "/items"]})
        return self._json(404, {"error": "not found: %s" % path})

    def _json(self, status, body):
        data = (json.dumps(body) + "\n").encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s %s\n" % (time.strftime("%Y-%m-%dT%H:%M:%S"),
                                         self.address_string(), fmt % args))


# --- pid file helpers -------------------------------------------------------------------------

def read_pid(pidfile):
    try:
        with open(pidfile, encoding="ascii") as fh:
            return int(fh.read().strip())
    except (OSError, ValueError):
        return None


def is_ours(pid):
    """True if `pid` is alive and is this app (guards against a recycled pid)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False  # someone else's process: never ours
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as fh:
            cmdline = fh.read()
    except FileNotFoundError:
        return not os.path.isdir("/proc/self")  # no procfs (not Linux): trust the pid file
    except OSError:
        return False
    return b"demo_app" in cmdline  # empty for a zombie, which is as good as gone


def running_pid(pidfile):
    pid = read_pid(pidfile)
    return pid if pid and is_ours(pid) else None


def write_pid(pidfile, pid):
    tmp = "%s.%d.tmp" % (pidfile, pid)
    with open(tmp, "w", encoding="ascii") as fh:
        fh.write("%d\n" % pid)
    os.replace(tmp, pidfile)


def remove_pid(pidfile, pid=None):
    if pid is None or read_pid(pidfile) == pid:
        try:
            os.unlink(pidfile)
        except FileNotFoundError:
            pass


def wait_gone(pid, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not is_ours(pid):
            return True
        time.sleep(0.1)
    return not is_ours(pid)


# --- commands ---------------------------------------------------------------------------------

def serve(args):
    cfg = read_config(args.config)
    version = read_version(args.app_dir)
    server = ThreadingHTTPServer((cfg["bind"], cfg["port"]), Handler)
    server.daemon_threads = True
    server.info = {"version": version, "db": cfg["db"]}
    pid = os.getpid()

    def on_term(signum, _frame):
        sys.stderr.write("%s signal %d: shutting down\n" % (time.strftime("%H:%M:%S"), signum))
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    write_pid(args.pidfile, pid)  # only once the port is bound: `start` waits for this file
    sys.stderr.write("%s %s %s listening on %s:%d (pid %d, db %s)\n" % (
        time.strftime("%Y-%m-%dT%H:%M:%S"), APP, version, cfg["bind"], cfg["port"], pid,
        cfg["db"]))
    sys.stderr.flush()
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        remove_pid(args.pidfile, pid)
    return 0


def log_tail(path, lines=15):
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return "".join(fh.readlines()[-lines:])
    except OSError:
        return ""


def start(args):
    pid = running_pid(args.pidfile)
    if pid:
        print("already running: pid %d" % pid)
        return 0
    remove_pid(args.pidfile)
    for path in (args.pidfile, args.log):
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    script = os.path.join(args.app_dir, "demo_app.py")
    cmd = [sys.executable, script, "serve", "--app-dir", args.app_dir, "--config", args.config,
           "--pidfile", args.pidfile]
    # A frozen interpreter's child must unpack its own copy, or it dies with its parent.
    env = dict(os.environ, PYINSTALLER_RESET_ENVIRONMENT="1")
    with open(args.log, "ab") as log, open(os.devnull, "rb") as null:
        child = subprocess.Popen(cmd, stdin=null, stdout=log, stderr=subprocess.STDOUT,
                                 cwd=args.app_dir, env=env, close_fds=True,
                                 start_new_session=True)
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        code = child.poll()
        if code is not None:
            print("error: %s exited with code %d while starting; last lines of %s:\n%s"
                  % (APP, code, args.log, log_tail(args.log)), file=sys.stderr)
            return 1
        pid = running_pid(args.pidfile)
        if pid:
            print("started %s from %s: pid %d, log %s" % (APP, args.app_dir, pid, args.log))
            return 0
        time.sleep(0.1)
    child.kill()
    print("error: %s did not write %s within %ss; last lines of %s:\n%s"
          % (APP, args.pidfile, args.timeout, args.log, log_tail(args.log)), file=sys.stderr)
    return 1


def port_in_use(host, port):
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def stop(args):
    pid = running_pid(args.pidfile)
    if pid:
        os.kill(pid, signal.SIGTERM)
        if not wait_gone(pid, args.timeout):
            os.kill(pid, signal.SIGKILL)
            if not wait_gone(pid, 10):
                print("error: pid %d survived SIGKILL" % pid, file=sys.stderr)
                return 1
        remove_pid(args.pidfile, pid)
        print("stopped %s pid %d" % (APP, pid))
    else:
        remove_pid(args.pidfile)
        print("not running (no live %s in %s)" % (APP, args.pidfile))
    if args.port:
        deadline = time.monotonic() + args.timeout
        while port_in_use(args.host, args.port):
            if time.monotonic() > deadline:
                print("error: port %d on %s is still in use after %ss: another process holds "
                      "it; stop that process or set app_port for this host or site"
                      % (args.port, args.host, args.timeout), file=sys.stderr)
                return 1
            time.sleep(0.1)
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description="demo-platform HTTP app")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("serve", "start"):
        p = sub.add_parser(name)
        p.add_argument("--app-dir", required=True, help="folder holding demo_app.py and VERSION")
        p.add_argument("--config", required=True, help="app.ini")
        p.add_argument("--pidfile", required=True)
        if name == "start":
            p.add_argument("--log", required=True)
            p.add_argument("--timeout", type=float, default=30)
    p = sub.add_parser("stop")
    p.add_argument("--pidfile", required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, help="wait until nothing listens on this port")
    p.add_argument("--timeout", type=float, default=30)
    args = parser.parse_args(argv)
    return {"serve": serve, "start": start, "stop": stop}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
