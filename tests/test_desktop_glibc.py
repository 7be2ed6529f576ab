"""The window's glibc floor check (appliance.desktop): the running C library's version as
glibc reports it, and no glibc reason on a system that meets the floor. The refusal itself on a
real glibc 2.31 is tests/frozen/test_bullseye.py (the one file in a Debian 11 root)."""

from __future__ import annotations

import platform

from appliance import window_env as desktop


def test_glibc_version_is_the_running_c_library() -> None:
    name, version = platform.libc_ver()
    assert name == "glibc"
    assert desktop.glibc_version() == tuple(int(p) for p in version.split(".")[:2])


def test_a_system_at_the_floor_gets_no_glibc_reason(monkeypatch) -> None:
    assert desktop.glibc_version() >= desktop.QT_GLIBC_FLOOR  # this machine (Debian 12)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setenv("DISPLAY", ":0")
    reason = desktop.window_unavailable()
    assert reason is None or "glibc" not in reason
