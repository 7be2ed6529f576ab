"""Entry point of the one binary (console script ``appliance`` and ``python -m appliance``).

The face is chosen first (see :mod:`appliance.faces`); only the appliance face loads the CLI.
Nothing heavy is imported here: ``appliance --version`` must not load Ansible.
"""

from __future__ import annotations

import sys


def main() -> None:
    import os

    from appliance import compat, faces

    compat.restore_library_path(os.environ)

    code = faces.dispatch(sys.argv)
    if code is None:
        from appliance.cli import main as cli_main

        code = cli_main(sys.argv[1:])
    sys.exit(code)


if __name__ == "__main__":
    main()
