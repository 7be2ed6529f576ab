"""The window's lean enum promotion (appliance/desktop.py ``lean_qtpy``): every ``Class.Member``
that pywebview's Qt layer reads must still resolve when only UNSCOPED_ENUM_CLASSES are promoted.
Checked in a fresh interpreter (PyQt6 and pywebview as installed; no display needed): a process
where qtpy already promoted everything would pass without proving anything."""

from __future__ import annotations

import json
import subprocess
import sys

CHECK = r"""
import json, re, sys, inspect
from appliance import window_env as desktop
desktop.lean_qtpy()
import qtpy.QtCore
from PyQt6 import QtCore, QtGui, QtWidgets
import webview.platforms.qt as layer

source = inspect.getsource(layer)
pairs = sorted(set(re.findall(r"(?=\b(Q[A-Za-z]*)\.([A-Z][A-Za-z_]*)\b)", source)))
checked, missing = [], []
for cls, member in pairs:
    klass = next((getattr(m, cls) for m in (QtCore, QtGui, QtWidgets) if hasattr(m, cls)), None)
    if klass is None or not isinstance(klass, type):
        continue  # a module (QtCore.Qt) or a name of pywebview's own
    checked.append(f"{cls}.{member}")
    if not hasattr(klass, member):
        missing.append(f"{cls}.{member}")
print(json.dumps({"checked": checked, "missing": missing,
                  "promoted_everything": hasattr(QtWidgets.QWidget, "Window")}))
"""


def test_every_unscoped_enum_pywebview_reads_is_promoted() -> None:
    out = subprocess.run(
        [sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=120, check=True
    )
    found = json.loads(out.stdout.strip().splitlines()[-1])
    # the check saw the unscoped reads (Qt.NoContextMenu, QMessageBox.Yes, QEvent.Move ...)
    assert {"Qt.NoContextMenu", "QMessageBox.Yes", "QEvent.Move"} <= set(found["checked"])
    assert found["missing"] == [], found
    # and the promotion was the lean one (QWidget's own enums were left scoped)
    assert found["promoted_everything"] is False
