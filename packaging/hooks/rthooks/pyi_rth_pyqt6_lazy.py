"""Replaces PyInstaller's PyQt6 run-time hook (this folder's rthooks.dat takes precedence).

PyInstaller's hook imports PyQt6.QtCore at every start, to write an embedded qt.conf: that loads
Qt (libQt6Core, ICU) into ``--version``, ``serve`` and every module the python face runs, none of
which use Qt. The PyPI PyQt6 wheels embed their own qt.conf when QtCore is imported (its prefix
is the package's Qt6 folder, under sys._MEIPASS when frozen), so only the environment part of
the hook is kept: Qt is loaded when the window asks for it.
"""


def _pyi_rthook() -> None:
    import os
    import sys

    qt_path = os.path.join(sys._MEIPASS, "PyQt6", "Qt6")
    os.environ["QT_PLUGIN_PATH"] = os.path.join(qt_path, "plugins")
    os.environ["QML2_IMPORT_PATH"] = os.path.join(qt_path, "qml")


_pyi_rthook()
del _pyi_rthook
