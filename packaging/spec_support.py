"""What build.spec collects and trims, kept out of the spec so it can be read (and tested) alone.

- ``stdlib_modules()``: every standard-library module of the build's Python, as hidden imports.
  Ansible modules run by the python face (and the scripts bundles ship, such as the demo app)
  import whatever they like from the stdlib; an import PyInstaller did not see would fail on the
  customer's laptop only.
- ``trim_qt(datas, binaries)``: the QtWebEngine window needs a fraction of PyQt6's 500 MB.
  Measured (DESIGN.md "Packaging"): the window still renders with only the entries kept here.
- ``drop_system_libs(binaries)``: libraries taken from the system that runs the file, not the
  build root (see SYSTEM_LIBS).
- ``describe_qt_without_loading_it()``: PyInstaller's answers about Qt where Qt cannot load (the
  Debian 11 build root, glibc older than the wheels need).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterable

# Standard-library parts no face can use: GUI toolkits other than Qt, tests, demos, installers.
STDLIB_EXCLUDED = frozenset(
    {
        "tkinter",
        "_tkinter",
        "turtle",
        "turtledemo",
        "idlelib",
        "test",
        "lib2to3",
        "ensurepip",
        "pydoc_data",
        "antigravity",
        "this",
        "__phello__",
        "_testcapi",
        "_testinternalcapi",
        "_testbuffer",
        "_testimportmultiple",
        "_testmultiphase",
        "_testclinic",
        "_xxtestfuzz",
        "xxlimited",
        "xxlimited_35",
        "xxsubtype",
        "_xxsubinterpreters",
        "_ctypes_test",
    }
)
_SKIP_DIRS = frozenset({"__pycache__", "test", "tests", "idle_test"})


def _package_modules(name: str, folder: str) -> Iterable[str]:
    """Module names under a stdlib package folder, found by walking files (nothing imported)."""
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(
            d
            for d in dirs
            if d not in _SKIP_DIRS and os.path.isfile(os.path.join(root, d, "__init__.py"))
        )
        rel = os.path.relpath(root, folder)
        prefix = name if rel == "." else name + "." + rel.replace(os.sep, ".")
        yield prefix
        for file in sorted(files):
            stem, ext = os.path.splitext(file)
            if ext == ".py" and stem != "__init__" and stem != "__main__":
                yield f"{prefix}.{stem}"


def stdlib_modules() -> list[str]:
    """Every importable stdlib module (packages walked), minus STDLIB_EXCLUDED."""
    names: list[str] = []
    for top in sorted(sys.stdlib_module_names):
        if top in STDLIB_EXCLUDED:
            continue
        try:
            spec = importlib.util.find_spec(top)
        except (ImportError, ValueError):
            continue
        if spec is None:  # other platforms' modules (winreg, msvcrt, _scproxy...)
            continue
        locations = list(spec.submodule_search_locations or [])
        if locations:
            names.extend(_package_modules(top, locations[0]))
        else:
            names.append(top)
    return names


# --- Qt trimming ------------------------------------------------------------------------------

QT_PREFIX = "PyQt6/Qt6/"
# Qt libraries the bindings, QtWebEngineProcess and the kept plugins load.
QT_LIBS_KEPT = frozenset(
    {
        "Core",
        "DBus",
        "Gui",
        "Network",
        "OpenGL",
        "OpenGLWidgets",
        "Positioning",
        "PrintSupport",
        "Qml",
        "QmlMeta",
        "QmlModels",
        "QmlWorkerScript",
        "Quick",
        "QuickWidgets",
        "Svg",
        "WebChannel",
        "WebEngineCore",
        "WebEngineWidgets",
        "Widgets",
        "XcbQpa",
        "WaylandClient",
        "WaylandEglClientHwIntegration",
        "WlShellIntegration",
        "EglFSDeviceIntegration",
        "EglFsKmsSupport",
        "EglFsKmsGbmSupport",
    }
)
QT_PLUGIN_DIRS_KEPT = frozenset(
    {
        "platforms",
        "xcbglintegrations",
        "platforminputcontexts",
        "imageformats",
        "iconengines",
        "tls",
        "egldeviceintegrations",
        "networkinformation",
        "generic",
        "wayland-decoration-client",
        "wayland-graphics-integration-client",
        "wayland-shell-integration",
    }
)
# The page is English; Chromium wants one locale pack to start.
QT_LOCALES_KEPT = frozenset({"en-US.pak"})


def _qt_entry_kept(dest: str) -> bool:
    """Whether a bundle entry (destination path) under PyQt6/Qt6/ survives the trim."""
    rel = dest.replace(os.sep, "/")[len(QT_PREFIX) :]
    top, _, rest = rel.partition("/")
    if top in ("qml", "qsci"):
        return False
    if top == "translations":
        return rest.startswith("qtwebengine_locales/") and rest.split("/")[-1] in QT_LOCALES_KEPT
    if top == "resources":
        return "devtools" not in rest
    if top == "plugins":
        return rest.split("/")[0] in QT_PLUGIN_DIRS_KEPT
    if top == "lib" and rest.startswith("libQt6"):
        module = rest[len("libQt6") :].split(".so")[0]
        return module in QT_LIBS_KEPT
    return True


def _is_qt(dest: str) -> bool:
    return dest.replace(os.sep, "/").startswith(QT_PREFIX)


def _is_qt_binding(dest: str) -> bool:
    """PyQt6/QtXxx.abi3.so extension modules: kept only when their Qt library is kept."""
    path = dest.replace(os.sep, "/")
    if not path.startswith("PyQt6/Qt") or "/" in path[len("PyQt6/") :]:
        return False
    return path.endswith(".so")


def _binding_kept(dest: str) -> bool:
    module = dest.replace(os.sep, "/")[len("PyQt6/Qt") :].split(".")[0]
    return module in QT_LIBS_KEPT or module == "sip"


def _linked_names(paths: Iterable[str]) -> set[str]:
    """Basenames of every shared library the given binaries load (ldd: transitively)."""
    from PyInstaller.depend.bindepend import get_imports

    names: set[str] = set()
    for path in paths:
        try:
            for name, _full in get_imports(path):
                names.add(os.path.basename(name))
        except Exception as e:  # a data file that looked binary; nothing links through it
            print(f"spec_support: cannot read the imports of {path}: {e}", file=sys.stderr)
    return names


def _dropped_qt_libs(path: str) -> list[str]:
    """The Qt libraries outside QT_LIBS_KEPT that a binary links to (e.g. imageformats/libqpdf
    needs Qt6Pdf): such a plugin could never load, so it goes too."""
    return [
        name
        for name in _linked_names([path])
        if name.startswith("libQt6") and name[len("libQt6") :].split(".so")[0] not in QT_LIBS_KEPT
    ]


def _symlink_target(entry: tuple) -> str:
    dest, target = entry[0].replace(os.sep, "/"), entry[1].replace(os.sep, "/")
    return os.path.normpath(os.path.join(os.path.dirname(dest), target)).replace(os.sep, "/")


def trim_qt(datas: list, binaries: list) -> tuple[list, list, dict[str, int]]:
    """Drop the Qt parts the window does not use, the plugins that need a dropped Qt library,
    every host library (top-level entry, not inside a package) that nothing kept links to any
    more (GTK, CUPS, multimedia ... pulled in by dropped plugins), and the symlinks left pointing
    at nothing. Returns (datas, binaries, counts of what was dropped)."""
    stage_datas = [e for e in datas if not _is_qt(e[0]) or _qt_entry_kept(e[0])]
    stage = []
    for entry in binaries:
        dest = entry[0].replace(os.sep, "/")
        if _is_qt(dest) and not _qt_entry_kept(dest):
            continue
        if _is_qt_binding(dest) and not _binding_kept(dest):
            continue
        if dest.startswith(QT_PREFIX + "plugins/") and _dropped_qt_libs(entry[1]):
            continue
        stage.append(entry)

    def host_lib(entry: tuple) -> bool:
        # Python extensions (typecode EXTENSION, e.g. _cffi_backend) may sit at the top too.
        dest, typecode = entry[0].replace(os.sep, "/"), entry[2]
        return typecode == "BINARY" and "/" not in dest and not dest.startswith("libpython")

    roots = [e[1] for e in stage if e[2] != "SYMLINK" and not host_lib(e) and os.path.isfile(e[1])]
    linked = _linked_names(roots)
    stage = [e for e in stage if not host_lib(e) or os.path.basename(e[0]) in linked]

    present = {e[0].replace(os.sep, "/") for e in (*stage, *stage_datas) if e[2] != "SYMLINK"}

    def dangling(entry: tuple) -> bool:
        return entry[2] == "SYMLINK" and _symlink_target(entry) not in present

    kept_datas = [e for e in stage_datas if not dangling(e)]
    kept_binaries = [e for e in stage if not dangling(e)]
    counts = {"datas": len(datas) - len(kept_datas), "binaries": len(binaries) - len(kept_binaries)}
    return kept_datas, kept_binaries, counts


# --- libraries left to the system -------------------------------------------------------------

# The C++ runtime and the GPU buffer library come from the system that runs the file. Only the Qt
# window loads them (nothing of the server, CLI or Ansible does), and the window's floor is a
# system where they are new enough: the PyQt6 wheels need libstdc++ GLIBCXX_3.4.29, newer than
# the Debian 11 build root's, and the system's graphics drivers are built against the system's
# libstdc++ and libgbm, not older copies. libgcc_s is part of every glibc system.
SYSTEM_LIBS = frozenset({"libstdc++.so.6", "libgcc_s.so.1", "libgbm.so.1"})


def drop_system_libs(binaries: list) -> tuple[list, int]:
    """binaries without the top-level entries of SYSTEM_LIBS; (kept, number dropped)."""
    kept = [
        e
        for e in binaries
        if not ("/" not in e[0].replace(os.sep, "/") and os.path.basename(e[0]) in SYSTEM_LIBS)
    ]
    return kept, len(binaries) - len(kept)


# --- Qt's layout where Qt cannot load ---------------------------------------------------------

QT_NEEDS_GLIBC = (2, 34)
# QLibraryInfo's paths in the PyPI wheels: fixed folders under PyQt6/Qt6 ("" = the prefix).
QT_WHEEL_PATHS = {
    "ArchDataPath": "",
    "BinariesPath": "bin",
    "DataPath": "",
    "DocumentationPath": "doc",
    "ExamplesPath": "examples",
    "HeadersPath": "include",
    "LibrariesPath": "lib",
    "LibraryExecutablesPath": "libexec",
    "PluginsPath": "plugins",
    "PrefixPath": "",
    "Qml2ImportsPath": "qml",
    "SettingsPath": "",
    "TestsPath": "tests",
    "TranslationsPath": "translations",
}


def _glibc() -> tuple[int, ...]:
    name, _, version = (os.confstr("CS_GNU_LIBC_VERSION") or "").partition(" ")
    return tuple(int(p) for p in version.split(".")[:2]) if name == "glibc" else ()


def describe_qt_without_loading_it() -> str | None:
    """PyInstaller learns where Qt's plugins, resources and helper process are by importing
    PyQt6.QtCore in a child process and asking QLibraryInfo. Where the wheels' Qt cannot load
    (glibc older than QT_NEEDS_GLIBC: the Debian 11 build root) that fails and no Qt part would
    be collected; the answers are then filled in from the wheels' fixed layout (QT_WHEEL_PATHS,
    the same as QLibraryInfo reports on a newer system) and the PyQt6-Qt6 version; QtNetwork's
    OpenSSL is left to the system. Returns a
    note when it did so, None when PyInstaller can ask Qt itself."""
    if not _glibc() or _glibc() >= QT_NEEDS_GLIBC:
        return None
    import importlib.metadata
    import pathlib

    from PyInstaller.utils.hooks import qt

    spec = importlib.util.find_spec("PyQt6")
    if spec is None or not spec.submodule_search_locations:
        return None
    package = pathlib.Path(list(spec.submodule_search_locations)[0]).resolve()
    prefix = package / "Qt6"
    info = qt.pyqt6_library_info
    info.version = [int(p) for p in importlib.metadata.version("PyQt6-Qt6").split(".")[:3]]
    info.is_debug_build = False
    info.location = {k: str(prefix / v) if v else str(prefix) for k, v in QT_WHEEL_PATHS.items()}
    info.package_location = package
    info.qt_inside_package = True
    info.qt_lib_dir = prefix / "lib"
    # The other question PyInstaller asks Qt (in hook-PyQt6.QtNetwork): which OpenSSL QtNetwork
    # loads, to carry it. Qt 6 loads the system's libssl.so.3 itself when a page needs TLS; the
    # window shows the appliance over plain HTTP on loopback, so none is carried.
    info.collect_qtnetwork_files = list
    return f"Qt {'.'.join(map(str, info.version))} described from the wheel's layout ({prefix})"


def carried_cores(root: str) -> list[tuple[str, str]]:
    """The older ansible-cores carried beside the binary's own (appliance/jobs/ansible/cores.py),
    as (file, folder in the bundle) data entries: ``build/ansible-cores/<series>/ansible/...``
    -> ``ansible-cores/<series>/ansible/...``, plain ``.py`` files loaded by the file finder
    when a run chooses that core. Byte code (a source checkout's, of another Python) and the
    package metadata are left out. scripts/setup.sh installs the trees."""
    top = os.path.join(root, "build", "ansible-cores")
    found = []
    for series in sorted(os.listdir(top)) if os.path.isdir(top) else []:
        tree = os.path.join(top, series, "ansible")
        for folder, dirs, files in os.walk(tree):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            dest = os.path.join("ansible-cores", os.path.relpath(folder, top))
            kept = sorted(f for f in files if not f.endswith(".pyc"))
            found += [(os.path.join(folder, f), dest) for f in kept]
    if not found:
        raise SystemExit(
            f"build.spec: no carried ansible-core under {top}; run scripts/setup.sh (it installs "
            "ansible-core 2.16 there for Python 2.7 / 3.6 hosts)"
        )
    return found
