"""A log search carried out: one ad-hoc Ansible command (the carried module
``library/appliance_logsearch.py``) on the site's hosts, with the site's inventory and
credentials as a run uses them, and its results as they arrive, host by host.

It is not a run: no site lock, no history row; the request was refused while a run is active
(request.py). Bounds: per host ``lines`` lines and ``MAX_BYTES`` bytes, at most ``MAX_FILES``
files, the last ``SCAN_BYTES`` of each file, lines cut at ``MAX_LINE_CHARS``, ``HOST_SECONDS``
of searching (the module's own timer), ``TASK_TIMEOUT`` per host for Ansible (connection
included) and ``TOTAL_TIMEOUT`` for the whole command. The search reads as the login user
(no become): log files are normally readable without it.
"""

from __future__ import annotations

import json
import logging
import queue
import shutil
import tempfile
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from appliance.ansible_env import local_remote_temp
from appliance.context import Context
from appliance.jobs.ansible import hostkeys
from appliance.jobs.ansible.inventory import inventory_yaml
from appliance.jobs.ansible.secrets import RunnerSecrets
from appliance.jobs.logsearch.request import MAX_BYTES, SearchRequest
from appliance.jobs.sites.check import check_env
from appliance.jobs.sites.service import site_secrets

logger = logging.getLogger(__name__)

LIBRARY = Path(__file__).with_name("library")  # package data (pyproject, build.spec)
MODULE = "appliance_logsearch"
MAX_FILES = 50
SCAN_BYTES = 16 * 1024 * 1024
MAX_LINE_CHARS = 2000
HOST_SECONDS = 10.0
TASK_TIMEOUT = 60
TOTAL_TIMEOUT = 180
_DONE = object()


def module_args(req: SearchRequest) -> str:
    """The module's arguments as JSON; the pattern as hex, so Ansible never templates it
    (the globs are templated with each host's variables, as bundle.yml says)."""
    return json.dumps(
        {
            "globs": req.globs(),
            "pattern_hex": req.pattern.text.encode("utf-8").hex(),
            "regex": req.pattern.regex,
            "lines": req.lines,
            "max_bytes": MAX_BYTES,
            "seconds": HOST_SECONDS,
            "max_files": MAX_FILES,
            "scan_bytes": SCAN_BYTES,
            "max_line_chars": MAX_LINE_CHARS,
            "facts": req.facts,
        }
    )


def search(data_dir: Path, req: SearchRequest, secrets: RunnerSecrets) -> Iterator[dict[str, Any]]:
    """NDJSON objects: ``{"host", "file", "line"}`` per line found, host by host as each
    answers, then one ``{"summary": ...}``. Closing the iterator stops the search."""
    results: queue.Queue[Any] = queue.Queue()
    stop = threading.Event()
    worker = threading.Thread(
        target=_run, args=(data_dir, req, secrets, results, stop), name="logsearch", daemon=True
    )
    worker.start()
    summary: dict[str, dict[str, Any]] = {}
    try:
        while (item := results.get()) is not _DONE:
            host, status, res = item
            if host in summary:
                continue
            summary[host] = _host_summary(status, res, secrets)
            for index, text in res.get("lines") or [] if status == "ok" else []:
                files = res.get("files") or []
                path = files[index]["path"] if 0 <= index < len(files) else "?"
                yield {"host": host, "file": path, "line": secrets.redact(text)}
        for h in req.hosts:
            summary.setdefault(
                h["name"], _host_summary("unreachable", {"msg": "no answer"}, secrets)
            )
        yield {"summary": {**_request_json(req), "hosts": summary}}
    finally:
        stop.set()
        logger.info(
            "log search on site %s: %s",
            req.site,
            ", ".join(f"{h}={s['lines']} lines" for h, s in summary.items()) or "stopped",
        )


def open_search(
    ctx: Context, req: SearchRequest, passphrase: str | None = None
) -> Iterator[dict[str, Any]]:
    """The search's results; the credentials are loaded first, so a locked key answers (423)
    before anything runs or streams."""
    secrets = site_secrets(ctx, req.site_id, passphrase)
    return search(ctx.paths.root, req, secrets)


def _request_json(req: SearchRequest) -> dict[str, Any]:
    return {
        "site": req.site,
        "components": list(req.components),
        "lines": req.lines,
        **req.pattern.to_json(),
    }


def _host_summary(status: str, res: Mapping[str, Any], secrets: RunnerSecrets) -> dict[str, Any]:
    ok = status == "ok"
    error = None
    if not ok:
        text = res.get("msg") or res.get("module_stderr") or res.get("stderr") or status
        error = secrets.redact(" ".join(str(text).split())[:500])
    return {
        "files": [
            {"path": f.get("path"), "size": f.get("size"), "matched": f.get("matched")}
            for f in (res.get("files") or [] if ok else [])
        ],
        "lines": len(res.get("lines") or []) if ok else 0,
        "truncated": bool(res.get("truncated")) if ok else False,
        "timed_out": bool(res.get("timed_out")) if ok else False,
        "errors": [secrets.redact(str(e)) for e in res.get("errors") or []] if ok else [],
        "unreachable": status == "unreachable",
        "error": error,
        **({"facts": res["facts"]} if ok and isinstance(res.get("facts"), dict) else {}),
    }


def _run(
    data_dir: Path,
    req: SearchRequest,
    secrets: RunnerSecrets,
    results: queue.Queue[Any],
    stop: threading.Event,
) -> None:
    try:
        _adhoc(data_dir, req, secrets, results, stop)
    except Exception:  # the thread's edge: the summary reports the hosts as not answered
        logger.exception("log search on site %s failed", req.site)
    finally:
        results.put(_DONE)


def _adhoc(
    data_dir: Path,
    req: SearchRequest,
    secrets: RunnerSecrets,
    results: queue.Queue[Any],
    stop: threading.Event,
) -> None:
    import ansible_runner  # heavy; only a search needs it

    def on_event(event: dict[str, Any]) -> bool:
        data = event.get("event_data") or {}
        status = {
            "runner_on_ok": "ok",
            "runner_on_failed": "failed",
            "runner_on_unreachable": "unreachable",
        }.get(event.get("event", ""))
        if status and data.get("host"):
            res = data.get("res") if isinstance(data.get("res"), dict) else {}
            results.put((data["host"], status, res))
        return False

    # as the login user: no become flag, no become password, whatever the site says
    flags = [f for f in secrets.flags if "become" not in f] + ["-e", "ansible_become=false"]
    kwargs = secrets.run_kwargs(become=False)
    with _scratch(data_dir, req) as (private, env):
        ansible_runner.run(
            private_data_dir=str(private),
            host_pattern="all",
            module=MODULE,
            module_args=module_args(req),
            limit=",".join(h["name"] for h in req.hosts),
            cmdline=" ".join(flags),
            envvars=env,
            event_handler=on_event,
            cancel_callback=stop.is_set,
            quiet=True,
            timeout=TOTAL_TIMEOUT,
            **kwargs,
        )


@contextmanager
def _scratch(data_dir: Path, req: SearchRequest) -> Iterator[tuple[Path, dict[str, str]]]:
    """A private_data_dir under ``<data>/tmp`` with the site's inventory, and the environment
    as the site check has it (the site's trusted host keys, strictly checked; an SSH control
    folder of its own) plus the carried module on ANSIBLE_LIBRARY; both removed afterwards."""
    known_hosts = hostkeys.known_hosts_file(data_dir, req.site_id)
    hosts, site_vars = hostkeys.enforce_vars(req.hosts, req.site_vars, known_hosts)
    scratch = data_dir / "tmp"
    scratch.mkdir(parents=True, exist_ok=True)
    private = Path(tempfile.mkdtemp(prefix="logsearch-", dir=scratch))
    control = tempfile.mkdtemp(prefix="appliance-cp-")  # short: socket paths
    try:
        (private / "inventory").mkdir(mode=0o700)
        local = {"ansible_remote_tmp": local_remote_temp(data_dir)}
        (private / "inventory" / "hosts.yml").write_text(inventory_yaml(hosts, site_vars, local))
        env = check_env(data_dir, known_hosts)
        env.update(
            {
                "ANSIBLE_LIBRARY": str(LIBRARY),
                "ANSIBLE_TASK_TIMEOUT": str(TASK_TIMEOUT),
                "ANSIBLE_SSH_CONTROL_PATH_DIR": control,
            }
        )
        (private / "env").mkdir(mode=0o700)
        (private / "env" / "envvars").write_text(yaml.safe_dump(env))
        yield private, env
    finally:
        shutil.rmtree(private, ignore_errors=True)
        shutil.rmtree(control, ignore_errors=True)
