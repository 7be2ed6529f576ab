"""Guards shared by build and import: safe relative paths, size limits, read-only trees.

Nothing here trusts an archive: a path is accepted only in its one canonical form, and the
decompressed stream is counted as it flows so that a bomb is stopped after at most a few MiB
beyond its limit, whatever the tar headers claim.
"""

from __future__ import annotations

import os
import re
import shutil
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from appliance.errors import BundleError

if TYPE_CHECKING:
    from appliance.settings import Settings

# Names that are fine in an Ansible project on every OS a laptop may run; a backslash or colon
# would mean something else on Windows, control characters make logs lie.
_BAD_CHARS = re.compile(r"[\x00-\x1f\x7f\\:]")
MAX_PATH_CHARS = 1024
# Characters that make a name look like another (right-to-left override, zero-width space, BOM,
# soft hyphen...): Unicode's format, control, private-use and line/paragraph separator classes.
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Zl", "Zp"})
MAX_PART_CHARS = 255

# Bytes of tar metadata (headers, pax records, padding) tolerated beyond file contents: a fixed
# allowance plus a little per member. A pax or GNU long-name header is held in memory whole by
# tarfile, so this is also the bound on what a crafted header can make us allocate.
OVERHEAD_BASE_BYTES = 4 * 1024 * 1024
OVERHEAD_PER_MEMBER_BYTES = 8 * 1024


@dataclass(frozen=True)
class Limits:
    """What an archive may unpack to; the caller fills it from settings."""

    max_total_bytes: int = 4 * 1024**3
    max_ratio: int = 200
    max_members: int = 100_000
    # bundle.yml lists every file: ~150 bytes each, so about 50,000 files (collections such as
    # community.general carry thousands)
    max_manifest_bytes: int = 8 * 1024 * 1024

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        """Take ``bundle_max_bytes`` and ``bundle_max_ratio`` from the appliance's settings."""
        return cls(
            max_total_bytes=int(settings.bundle_max_bytes),
            max_ratio=int(settings.bundle_max_ratio),
        )


def check_relpath(path: str, what: str = "path") -> str:
    """Return ``path`` if it is a canonical relative POSIX path inside the bundle, else refuse.

    Canonical means no leading ``/``, no empty, ``.`` or ``..`` parts, no backslashes: there is
    exactly one spelling of each file, so duplicates and escapes cannot hide behind another one.
    """
    hint = "Bundle paths are relative, use '/', and never leave the bundle (no '..')."
    if not isinstance(path, str) or not path:
        raise BundleError(f"{what} has an empty path (or is '/')", hint)
    shown = show_value(path)
    if len(path) > MAX_PATH_CHARS:
        raise BundleError(f"{what} {shown} is longer than {MAX_PATH_CHARS} characters", hint)
    if path.startswith("/"):
        raise BundleError(f"{what} {shown} is absolute", hint)
    parts = path.split("/")
    if ".." in parts:
        raise BundleError(f"{what} {shown} leaves the bundle ('..')", hint)
    if any(part in ("", ".") for part in parts):
        raise BundleError(f"{what} {shown} is not in canonical form (empty or '.' part)", hint)
    if any(len(part) > MAX_PART_CHARS for part in parts):
        raise BundleError(f"{what} {shown} has a name longer than {MAX_PART_CHARS}", hint)
    if _BAD_CHARS.search(path):
        raise BundleError(f"{what} {shown} contains a control character, '\\' or ':'", hint)
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        raise BundleError(f"{what} {shown} is not valid UTF-8", hint) from None
    hidden = [c for c in path if unicodedata.category(c) in _INVISIBLE_CATEGORIES]
    if hidden:
        raise BundleError(
            f"{what} {shown} contains an invisible or direction-changing character "
            f"(U+{ord(hidden[0]):04X})",
            "Rename the file with visible characters only; such names can pass for others.",
        )
    return path


def fold_name(path: str) -> str:
    """The spelling a case-insensitive, normalising file system (macOS, Windows) sees."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFD", path).casefold())


def check_no_collisions(paths: Iterable[str], what: str = "files") -> None:
    """Refuse two paths (or folders on their way) that are one file where case or Unicode
    normalisation does not count (``Bundle.yml`` beside ``bundle.yml``, ``é`` as NFC and NFD):
    there, extracting one would overwrite the other."""
    seen: dict[str, str] = {}
    for path in paths:
        parts = path.split("/")
        for depth in range(1, len(parts) + 1):
            spelled = "/".join(parts[:depth])
            first = seen.setdefault(fold_name(spelled), spelled)
            if first != spelled:
                raise BundleError(
                    f"{what} {show_value(first)} and {show_value(spelled)} are the same name "
                    "where case or Unicode normalisation does not count",
                    "Rename one of them: on macOS or Windows one would overwrite the other.",
                )


def show_value(value: object) -> str:
    """A short, printable rendering of an untrusted value for an error message."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class GuardedStream:
    """The decompressed archive, counted as tarfile reads it.

    ``content_bytes`` is advanced by the caller for file contents it consumed; everything else
    tarfile reads is metadata, which may not exceed its allowance. ``read`` raises BundleError
    the moment the allowance is passed, so a pax-header or padding bomb never gets far.
    """

    def __init__(self, source: _Readable, limits: Limits, packed_bytes: int) -> None:
        self._source = source
        self.limits = limits
        self.packed_bytes = max(packed_bytes, 1)
        self.total_bytes = 0
        self.content_bytes = 0
        self.members = 0

    def read(self, size: int = -1) -> bytes:
        # A read of "everything" is never needed by tarfile in stream mode; cap it anyway.
        want = 1024 * 1024 if size is None or size < 0 else size
        data = self._source.read(want)
        self.total_bytes += len(data)
        allowance = OVERHEAD_BASE_BYTES + OVERHEAD_PER_MEMBER_BYTES * self.members
        if self.total_bytes - self.content_bytes > allowance:
            raise BundleError(
                "archive holds far more tar metadata or padding than its files need "
                f"(over {allowance} bytes)",
                "This looks like an archive bomb or a corrupt archive; ask the vendor for "
                "the bundle built with 'appliance bundle build'.",
            )
        return data

    def add_content(self, count: int) -> None:
        """Account ``count`` bytes of file content; refuse once a limit is passed."""
        self.content_bytes += count
        if self.content_bytes > self.limits.max_total_bytes:
            raise BundleError(
                f"bundle unpacks to more than {self.limits.max_total_bytes} bytes",
                "Raise the bundle_max_bytes setting if this bundle is really that large.",
            )
        if self.content_bytes > self.limits.max_ratio * self.packed_bytes:
            raise BundleError(
                f"bundle unpacks to more than {self.limits.max_ratio} times its archive size "
                f"({self.packed_bytes} bytes packed)",
                "This looks like an archive bomb; raise the bundle_max_ratio setting only if "
                "the vendor confirms this bundle.",
            )

    def check_announced(self, name: str, size: int) -> None:
        """Refuse early when a header announces more than the limits allow.

        Only ever used to refuse: accepted sizes are still counted as the bytes arrive.
        """
        if size < 0 or self.content_bytes + size > self.limits.max_total_bytes:
            raise BundleError(
                f"member {show_value(name)} would make the bundle unpack to more than "
                f"{self.limits.max_total_bytes} bytes",
                "Raise the bundle_max_bytes setting if this bundle is really that large.",
            )


def make_read_only(root: Path, *, keep_root_writable: bool = False) -> None:
    """Drop write permission on a tree: files 0444 (0555 if executable), directories 0555.

    ``keep_root_writable`` leaves the top directory writable, because renaming a directory
    into another parent needs write permission on it (its ``..`` entry changes).
    """
    for dirpath, dirnames, filenames in os.walk(root, topdown=False):
        for name in filenames:
            path = os.path.join(dirpath, name)
            mode = os.lstat(path).st_mode
            os.chmod(path, 0o555 if mode & 0o111 else 0o444)
        for name in dirnames:
            os.chmod(os.path.join(dirpath, name), 0o555)
    if not keep_root_writable:
        os.chmod(root, 0o555)


def remove_tree(root: Path) -> None:
    """Delete a tree even if it was made read-only (a missing tree is fine)."""
    if not os.path.lexists(root):
        return
    if not os.path.isdir(root) or os.path.islink(root):
        os.unlink(root)
        return
    # Directories need write (and search) permission for their entries to be removed.
    os.chmod(root, 0o700)
    for dirpath, dirnames, _ in os.walk(root):
        for name in dirnames:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                os.chmod(path, 0o700)
    shutil.rmtree(root)
