"""Where a window can start (a display, glibc, Qt's libraries), and pywebview's Qt layer
made lean before it loads (appliance/desktop.py opens the window). Qt is imported here only
inside the functions."""

from __future__ import annotations

import ctypes.util
import importlib
import os
import sys
from typing import Any

from appliance.compat import is_frozen, resource_root

# The oldest glibc the window's Qt libraries (the PyQt6 wheels) load on; the rest of the one
# binary needs 2.31 (both measured by tests/frozen/test_glibc_floor.py).
QT_GLIBC_FLOOR = (2, 34)


# The classes whose enum members pywebview's Qt layer reads unscoped (``QtCore.Qt.NoContextMenu``,
# ``QMessageBox.Yes``; tests/test_desktop_qtpy.py reads its source for them). qtpy promotes the
# members of every class of QtCore, QtGui and QtWidgets at import: ~0.1 s of the window's start
# (sip fills ~530 class dictionaries on first look); only these are promoted here.
UNSCOPED_ENUM_CLASSES = frozenset({"Qt", "QEvent", "QFile", "QFileDialog", "QMessageBox"})


def promote_used_enums(module: Any) -> None:
    """qtpy's ``promote_enums`` for :data:`UNSCOPED_ENUM_CLASSES` only, the same way."""
    import enum

    for name in UNSCOPED_ENUM_CLASSES:
        klass = getattr(module, name, None)
        if klass is None:
            continue
        for attribute in [a for a in dir(klass) if a[0].isupper()]:
            value = getattr(klass, attribute)
            if isinstance(value, enum.EnumMeta):
                for member, item in value.__members__.items():
                    setattr(klass, member, item)


def lean_qtpy() -> None:
    """Before qtpy's Qt modules are imported (``import webview`` does not, the window does):
    make their enum promotion :func:`promote_used_enums`."""
    os.environ.setdefault("QT_API", "pyqt6")  # qtpy (pywebview's Qt layer) tries PyQt5 first
    if os.environ["QT_API"] != "pyqt6" or "qtpy.QtCore" in sys.modules:
        return
    try:
        import qtpy.enums_compat
    except ImportError:
        return  # window_unavailable says why
    if hasattr(qtpy.enums_compat, "promote_enums"):
        qtpy.enums_compat.promote_enums = promote_used_enums


def has_display() -> bool:
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _has_xcb_cursor() -> bool:
    if ctypes.util.find_library("xcb-cursor") is not None:
        return True
    # the one binary carries its own copy next to Qt's libraries (the system may have none)
    return is_frozen() and any(resource_root().rglob("libxcb-cursor.so*"))


def glibc_version() -> tuple[int, ...] | None:
    """The running C library's version when it is glibc ((2, 31)), else None."""
    try:
        text = os.confstr("CS_GNU_LIBC_VERSION") or ""
    except (AttributeError, ValueError, OSError):
        return None
    name, _, version = text.partition(" ")
    if name != "glibc":
        return None
    parts = tuple(int(p) for p in version.split(".")[:2] if p.isdigit())
    return parts or None


def window_unavailable() -> str | None:
    """Why no window can open here (one line), or None when it can be tried."""
    if not has_display():
        return "no display (DISPLAY/WAYLAND_DISPLAY unset)"
    libc = glibc_version()
    if libc is not None and libc < QT_GLIBC_FLOOR:
        need, have = ".".join(map(str, QT_GLIBC_FLOOR)), ".".join(map(str, libc))
        return f"the window's Qt libraries need glibc {need} or newer, this system has {have}"
    lean_qtpy()
    for module in ("webview", "PyQt6.QtWidgets", "PyQt6.QtWebEngineWidgets"):
        try:
            importlib.import_module(module)
        except ImportError as e:  # also missing shared libraries (libEGL, libnss3, ...)
            return f"cannot load {module}: {e}"
    if sys.platform.startswith("linux") and not os.environ.get("WAYLAND_DISPLAY"):
        # Qt's xcb plugin aborts the process (qFatal) instead of raising when this is missing.
        if not _has_xcb_cursor():
            return "missing library libxcb-cursor0 (Qt's X11 plugin needs it)"
    return None
