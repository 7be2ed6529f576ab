"""Ansible as data and as modules (measured to work frozen, see DESIGN.md "Faces").

Ansible finds plugins and modules by scanning folders and reads module source to build the
AnsiballZ payloads it sends to hosts, so its ``.py`` files must exist as files in the bundle, not
only as byte code in the PYZ. The playbook face imports them, hence the submodules too.
"""

from PyInstaller.utils.hooks import collect_data_files, collect_submodules, copy_metadata

datas = collect_data_files("ansible", include_py_files=True)
hiddenimports = collect_submodules("ansible")
# ansible._internal._templating asks importlib.metadata for Jinja2's version at import time.
datas += copy_metadata("ansible-core") + copy_metadata("jinja2")
