"""ansible-runner as data and modules: Ansible loads its display callback plugin from a folder
(``ansible_runner/display_callback``), and ``importlib.metadata`` asks for its version and its
plugin entry points."""

from PyInstaller.utils.hooks import collect_data_files, collect_submodules, copy_metadata

datas = collect_data_files("ansible_runner", include_py_files=True)
datas += copy_metadata("ansible-runner")
hiddenimports = collect_submodules("ansible_runner")
