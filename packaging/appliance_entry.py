"""The frozen binary's entry script: the same dispatch as ``python -m appliance``.

Kept apart from ``appliance/__main__.py`` because PyInstaller runs its entry script as
``__main__`` outside the package; importing the package's entry point keeps one code path.
"""

from appliance.__main__ import main

main()
