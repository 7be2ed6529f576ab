"""The page as the one binary carries it: appliance/ui/static with its ES modules bundled into
one ``js/app.js`` (esbuild), so the window's page loads one script instead of ~30 modules, each
found only once the one importing it has arrived (docs/architecture.md, "The window").

    python packaging/page.py OUT      # writes OUT/static (build.spec carries it)

``js/states.js``, which the server makes from appliance/states.py, is made here the same way and
bundled in. The other modules are left out of OUT: a module the bundle missed would be a 404 in
the frozen tests, not a second copy of a module with its own state.

esbuild is one static executable, published on the npm registry; it is fetched once at build
time (never at run time) into the build cache (``$APPLIANCE_BUILD_CACHE``, default
``~/.cache/appliance-build``), checked against the registry's sha512 below before use.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STATIC = ROOT / "appliance" / "ui" / "static"
ESBUILD_VERSION = "0.28.2"
ESBUILD_URL = f"https://registry.npmjs.org/@esbuild/linux-x64/-/linux-x64-{ESBUILD_VERSION}.tgz"
# The registry's "integrity" of that tarball (npm view @esbuild/linux-x64@0.28.2 dist.integrity)
ESBUILD_SHA512 = (
    "4xTZr1FUmSoQW4XIWmit3tzQrUTZM+N3P0XV8xROKYF50XfI7xeO90+1bZvNwxIufQ9hDQVRJH5YhgPVF8A/HQ=="
)
ENTRY = "js/app.js"


class PageError(Exception):
    pass


def build_cache() -> Path:
    default = Path.home() / ".cache" / "appliance-build"
    return Path(os.environ.get("APPLIANCE_BUILD_CACHE") or default)


def esbuild() -> Path:
    """The pinned esbuild, fetched and checked on first use."""
    exe = build_cache() / f"esbuild-{ESBUILD_VERSION}" / "esbuild"
    if exe.is_file():
        return exe
    with urllib.request.urlopen(ESBUILD_URL, timeout=120) as resp:
        data = resp.read()
    digest = base64.b64encode(hashlib.sha512(data).digest()).decode()
    if digest != ESBUILD_SHA512:
        raise PageError(f"{ESBUILD_URL}: sha512 {digest}, expected {ESBUILD_SHA512}")
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        member = tar.extractfile("package/bin/esbuild")
        if member is None:
            raise PageError(f"{ESBUILD_URL} has no package/bin/esbuild")
        binary = member.read()
    exe.parent.mkdir(parents=True, exist_ok=True)
    tmp = exe.with_name(f".esbuild.{os.getpid()}")
    tmp.write_bytes(binary)
    tmp.chmod(0o755)
    os.replace(tmp, exe)  # whole or not at all
    return exe


def states_module() -> str:
    sys.path.insert(0, str(ROOT))
    from appliance.backend.routes.ui import states_module as made_by_the_server

    return made_by_the_server()


def build(out: Path) -> tuple[int, int]:
    """Write ``out/static``; returns (modules bundled, bytes of the bundle)."""
    target = out / "static"
    staging = out / "modules"
    for folder in (target, staging):
        shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(STATIC, staging)
    (staging / "js" / "states.js").write_text(states_module(), encoding="utf-8")
    modules = sorted(p for p in (staging / "js").rglob("*.js"))
    shutil.copytree(STATIC, target, ignore=shutil.ignore_patterns("js"))
    bundle = target / ENTRY
    bundle.parent.mkdir(parents=True)
    proc = subprocess.run(
        [
            str(esbuild()),
            str(staging / ENTRY),
            "--bundle",
            "--format=esm",
            "--minify",
            "--log-level=warning",
            f"--outfile={bundle}",
        ],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise PageError(f"esbuild failed:\n{proc.stderr}")
    shutil.rmtree(staging)
    return len(modules), bundle.stat().st_size


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python packaging/page.py OUT", file=sys.stderr)
        return 2
    try:
        count, size = build(Path(argv[0]))
    except (PageError, OSError) as e:
        print(f"page: {e}", file=sys.stderr)
        return 1
    print(f"page: {count} modules bundled into {ENTRY} ({size / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
