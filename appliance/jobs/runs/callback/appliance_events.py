"""Ansible stdout callback of the appliance's runs: Ansible's ``default`` screen output, each
event's text captured instead of printed, and one JSON line per event written to the pipe named
by ``APPLIANCE_EVENTS_FIFO`` (runs/events.py reads it).

What stays on the terminal (ansible-runner's pty) is only what Ansible prints outside these
events: its prompts, its warnings and errors outside a task. Without ``APPLIANCE_EVENTS_FIFO``
this is the ``default`` callback.

An event: ``{"event", "counter", "uuid", "created", "pid", "parent_uuid", "stdout",
"event_data": {playbook, play, task, task_action, task_path, role, host, remote_addr, res,
start, end, duration, ignore_errors, ... artifact_data on playbook_on_stats}}``, the shape
ansible-runner gives its event handler. Ansible loads this file from disk (runner.py puts its
folder on ANSIBLE_CALLBACK_PLUGINS); it imports nothing of the appliance.
"""

from __future__ import annotations

import datetime
import json
import os
import threading
import uuid
from typing import Any

from ansible.plugins.callback.default import CallbackModule as DefaultCallback
from ansible.utils import display as display_module
from ansible.utils.color import stringc

DOCUMENTATION = """
    name: appliance_events
    type: stdout
    short_description: default screen output, events to the appliance
    description:
        - Ansible's default output; each event with the text it displayed goes as a JSON line to
          the pipe named by APPLIANCE_EVENTS_FIFO.
    extends_documentation_fragment:
      - default_callback
      - result_format_callback
    requirements:
      - set as stdout in configuration
"""

FIFO_ENV = "APPLIANCE_EVENTS_FIFO"
CENSORED = "the output has been hidden due to the fact that 'no_log: true' was specified"

_capture = threading.local()  # .parts: the text the current thread's event displayed


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _json_default(value: Any) -> Any:
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)  # vaulted text, templated objects: their text


def _parts(result: Any) -> tuple[Any, Any, Any]:
    """host, task and result dict of a task result (2.19 names them; 2.16 has the private)."""
    host = getattr(result, "host", None) or result._host
    task = getattr(result, "task", None) or result._task
    res = getattr(result, "result", None)
    return host, task, res if res is not None else result._result


def _censor(res: Any) -> Any:
    if not isinstance(res, dict):
        return res
    if res.get("_ansible_no_log"):
        return {"censored": CENSORED}
    items = res.get("results")
    if isinstance(items, list) and any(
        isinstance(i, dict) and i.get("_ansible_no_log") for i in items
    ):
        res = dict(res)
        res["results"] = [
            {"censored": CENSORED} if isinstance(i, dict) and i.get("_ansible_no_log") else i
            for i in items
        ]
    return res


_TASK_KEYS = (
    "task",
    "task_uuid",
    "task_action",
    "resolved_action",
    "task_args",
    "task_path",
    "role",
)


def _task_fields(task: Any) -> dict[str, Any]:
    return {
        "task": task.name or task.action,
        "task_uuid": str(task._uuid),
        "task_action": task.action,
        "resolved_action": getattr(task, "resolved_action", None) or task.action,
        "task_args": "",
    }


class CallbackModule(DefaultCallback):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "stdout"
    CALLBACK_NAME = "appliance_events"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._fd: int | None = None
        self._lock = threading.Lock()
        self._counter = 0
        self._pid = os.getpid()
        self._context: dict[str, Any] = {}  # playbook, play, task of the events to come
        self._started: dict[tuple[str, str], datetime.datetime] = {}  # (host, task) -> start
        path = os.environ.get(FIFO_ENV)
        if path:
            self._fd = os.open(path, os.O_WRONLY)  # the appliance holds the reading end open
            self._capture_display()

    def _capture_display(self) -> None:
        """Text a hook displays (on its own thread) goes to its event, not to the terminal."""
        shown = self._display
        real = shown.display

        def display(msg: str, color: str | None = None, *args: Any, **kwargs: Any) -> None:
            parts = getattr(_capture, "parts", None)
            if parts is None or kwargs.get("log_only"):
                real(msg, color, *args, **kwargs)
                return
            text = msg.replace("\r\n", "\n")
            end = "\n" if text.endswith("\n") or kwargs.get("newline", True) else ""
            if text.endswith("\n"):
                text = text[:-1]
            parts.append((stringc(text, color) if color else text) + end)
            if getattr(display_module, "logger", None) and not kwargs.get("screen_only"):
                real(msg, color, *args, **{**kwargs, "log_only": True})

        shown.display = display

    # -- the event -------------------------------------------------------------------------

    def _emit(self, event: str, call: Any, *args: Any, **data: Any) -> None:
        """Run the default callback's ``call`` capturing its text, then send the event."""
        if self._fd is None:
            call(*args)
            return
        created = _now()
        parts: list[str] = []
        _capture.parts = parts
        try:
            call(*args)
        finally:
            _capture.parts = None
        event_data = dict(self._context)
        event_data.update(data)
        if "res" in event_data:
            event_data["res"] = _censor(event_data["res"])
        event_data.setdefault("uuid", str(uuid.uuid4()))
        owners = ("task_uuid", "play_uuid", "playbook_uuid")
        parents = [event_data.get(k) for k in owners if event_data.get(k) != event_data["uuid"]]
        record = {
            "event": event,
            "uuid": event_data["uuid"],
            "created": created.isoformat(),
            "pid": self._pid,
            "parent_uuid": next(filter(None, parents), None),
            "stdout": "".join(parts).rstrip("\r\n"),
            "event_data": event_data,
        }
        with self._lock:
            self._counter += 1
            record["counter"] = self._counter
            line = json.dumps(record, ensure_ascii=False, default=_json_default) + "\n"
            # one write of the whole line (a blocking pipe: the appliance reads on a thread);
            # text Ansible decoded with surrogateescape (bytes not UTF-8) leaves as "?"
            view = memoryview(line.encode("utf-8", "replace"))
            while view:
                view = view[os.write(self._fd, view) :]

    def _set_task(self, task: Any) -> None:
        role = getattr(task, "_role", None)
        try:
            path = task.get_path()
        except AttributeError:
            path = None
        for key in _TASK_KEYS:
            self._context.pop(key, None)
        self._context.update(_task_fields(task), task_path=path)
        if role is not None:
            self._context["role"] = role.get_name()

    def _result(self, event: str, call: Any, result: Any, *more: Any, **data: Any) -> None:
        host, task, res = _parts(result)
        name = host.get_name()
        start = self._started.get((name, str(task._uuid)))
        end = _now()
        self._emit(
            event,
            call,
            result,
            *more,
            **_task_fields(task),
            host=name,
            remote_addr=host.address,
            res=res,
            start=start,
            end=end,
            duration=(end - start).total_seconds() if start else None,
            event_loop=getattr(task, "loop_with", None),
            **data,
        )

    # -- playbook, play, task --------------------------------------------------------------

    def v2_playbook_on_start(self, playbook: Any) -> None:
        name = getattr(playbook, "_file_name", "???")
        self._context = {"playbook": name, "playbook_uuid": str(uuid.uuid4())}
        super_call = super().v2_playbook_on_start
        self._emit("playbook_on_start", super_call, playbook, uuid=self._context["playbook_uuid"])

    def v2_playbook_on_play_start(self, play: Any) -> None:
        hosts = getattr(play, "hosts", "")
        pattern = ",".join(hosts) if isinstance(hosts, list) else str(hosts or "")
        self._context = {
            "playbook": self._context.get("playbook"),
            "playbook_uuid": self._context.get("playbook_uuid"),
            "play": play.get_name().strip() or pattern,
            "play_uuid": str(play._uuid),
            "play_pattern": pattern,
        }
        call = super().v2_playbook_on_play_start
        uuid_, name = str(play._uuid), play.get_name()
        self._emit("playbook_on_play_start", call, play, uuid=uuid_, name=name, pattern=pattern)

    def v2_playbook_on_task_start(self, task: Any, is_conditional: Any) -> None:
        self._set_task(task)
        call = super().v2_playbook_on_task_start
        self._emit(
            "playbook_on_task_start",
            call,
            task,
            is_conditional,
            uuid=str(task._uuid),
            name=task.get_name(),
            is_conditional=is_conditional,
        )

    def v2_playbook_on_handler_task_start(self, task: Any) -> None:
        self._set_task(task)
        call = super().v2_playbook_on_handler_task_start
        uuid_, name = str(task._uuid), task.get_name()
        self._emit("playbook_on_handler_task_start", call, task, uuid=uuid_, name=name)

    def v2_playbook_on_include(self, included_file: Any) -> None:
        call = super().v2_playbook_on_include
        self._emit("playbook_on_include", call, included_file, included=str(included_file))

    def v2_playbook_on_notify(self, handler: Any, host: Any) -> None:
        call = super().v2_playbook_on_notify
        self._emit(
            "playbook_on_notify",
            call,
            handler,
            host,
            host=host.get_name(),
            handler=handler.get_name(),
        )

    def v2_playbook_on_no_hosts_matched(self) -> None:
        self._emit("playbook_on_no_hosts_matched", super().v2_playbook_on_no_hosts_matched)

    def v2_playbook_on_no_hosts_remaining(self) -> None:
        self._emit("playbook_on_no_hosts_remaining", super().v2_playbook_on_no_hosts_remaining)

    def v2_playbook_on_stats(self, stats: Any) -> None:
        for key in ("play", "play_uuid", "play_pattern", *_TASK_KEYS):
            self._context.pop(key, None)
        custom = getattr(stats, "custom", None) or {}
        self._emit(
            "playbook_on_stats",
            super().v2_playbook_on_stats,
            stats,
            changed=stats.changed,
            dark=stats.dark,
            failures=stats.failures,
            ignored=getattr(stats, "ignored", {}),
            ok=stats.ok,
            processed=stats.processed,
            rescued=getattr(stats, "rescued", {}),
            skipped=stats.skipped,
            artifact_data=custom.get("_run", {}),
        )

    # -- hosts -----------------------------------------------------------------------------

    def v2_runner_on_start(self, host: Any, task: Any) -> None:
        name = host.get_name()
        self._started[(name, str(task._uuid))] = _now()
        self._emit(
            "runner_on_start",
            super().v2_runner_on_start,
            host,
            task,
            **_task_fields(task),
            host=name,
        )

    def v2_runner_on_ok(self, result: Any) -> None:
        self._result("runner_on_ok", super().v2_runner_on_ok, result)

    def v2_runner_on_failed(self, result: Any, ignore_errors: bool = False) -> None:
        call = super().v2_runner_on_failed
        self._result("runner_on_failed", call, result, ignore_errors, ignore_errors=ignore_errors)

    def v2_runner_on_skipped(self, result: Any) -> None:
        self._result("runner_on_skipped", super().v2_runner_on_skipped, result)

    def v2_runner_on_unreachable(self, result: Any) -> None:
        self._result("runner_on_unreachable", super().v2_runner_on_unreachable, result)

    def v2_runner_item_on_ok(self, result: Any) -> None:
        self._result("runner_item_on_ok", super().v2_runner_item_on_ok, result)

    def v2_runner_item_on_failed(self, result: Any) -> None:
        self._result("runner_item_on_failed", super().v2_runner_item_on_failed, result)

    def v2_runner_item_on_skipped(self, result: Any) -> None:
        self._result("runner_item_on_skipped", super().v2_runner_item_on_skipped, result)

    def v2_runner_retry(self, result: Any) -> None:
        self._result("runner_retry", super().v2_runner_retry, result)

    def v2_runner_on_async_poll(self, result: Any) -> None:
        self._result("runner_on_async_poll", super().v2_runner_on_async_poll, result)

    def v2_runner_on_async_ok(self, result: Any) -> None:
        self._result("runner_on_async_ok", super().v2_runner_on_async_ok, result)

    def v2_runner_on_async_failed(self, result: Any) -> None:
        self._result("runner_on_async_failed", super().v2_runner_on_async_failed, result)

    def v2_on_file_diff(self, result: Any) -> None:
        self._result("runner_on_file_diff", super().v2_on_file_diff, result)
