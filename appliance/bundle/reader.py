"""One streaming pass over a bundle archive: check every member, hash every file, optionally
write the files out. Nothing is written before its member passed the checks, and nothing is
written at all before the signed manifest said the file belongs.

The pass reads the archive once, in order: raw bytes (hashed for the archive's sha256 by a
read-ahead thread) -> zlib (``GunzipStream``) -> ``GuardedStream`` (counts decompressed bytes)
-> ``tarfile`` in stream mode ``r|``. bundle.yml and bundle.sig must come before the first
other file, as ``build_bundle`` writes them, so an unsigned or unlisted file is refused before
a byte of it is stored.

The signed manifest is the archive's index: before anything is created on disk, the members it
accounts for (its files and their folders) must fit ``max_members``. Folder members are never
created as they stream by (a listed file's folders are made with it); folders that hold no
listed file are only remembered, and created once the whole archive passed every check, so a
flood of members is refused with nothing on disk.
"""

from __future__ import annotations

import hashlib
import os
import tarfile
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from appliance.bundle import writeout
from appliance.bundle.inflate import GunzipStream
from appliance.bundle.manifest import (
    MANIFEST_NAME,
    RESERVED_NAMES,
    SIGNATURE_NAME,
    Manifest,
    parents,
    parse_manifest,
)
from appliance.bundle.safety import (
    GuardedStream,
    Limits,
    check_relpath,
    fold_name,
    show_value,
)
from appliance.bundle.signing import verify_signature
from appliance.bundle.trust import TrustedKey
from appliance.errors import BundleError

CHUNK = 1024 * 1024
MAX_SIGNATURE_BYTES = 4096
_VENDOR_HINT = "Ask the vendor for the bundle as built by 'appliance bundle build'."

# Called once the signed manifest is known: returns the folder to write files into, or None
# to only check them (verify, or an import whose identical copy is already in place).
ChooseDest = Callable[[Manifest, bytes], Path | None]


@dataclass(frozen=True)
class Scan:
    manifest: Manifest
    manifest_bytes: bytes
    key: TrustedKey
    sha256: str
    size: int


@dataclass
class _State:
    manifest_bytes: bytes | None = None
    signature: bytes | None = None
    manifest: Manifest | None = None
    key: TrustedKey | None = None
    dest: Path | None = None
    folders: frozenset[str] = frozenset()  # every folder of a listed file
    empty_dirs: list[str] = field(default_factory=list)  # folder members holding no listed file
    folded: dict[str, str] = field(default_factory=dict)  # fold_name(path) -> path, when needed
    # Writes a file's previous chunk while the next one is inflated and hashed.
    writer: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="bundle-write")
    )


def scan_archive(
    archive: Path, trusted: list[TrustedKey], limits: Limits, choose_dest: ChooseDest
) -> Scan:
    """Check the whole archive; write its files under ``choose_dest(...)`` if that gives one."""
    try:
        raw_file = open(archive, "rb")  # noqa: SIM115 - closed in the finally below
    except OSError as e:
        raise BundleError(
            f"cannot open bundle {archive}: {e.strerror or e}",
            "Check the path and its permissions.",
        ) from e
    stream = GunzipStream(raw_file)
    state = _State()
    try:
        packed = os.fstat(raw_file.fileno()).st_size
        guard = GuardedStream(stream, limits, packed)
        try:
            # bufsize: tarfile's stream reads its source in blocks of this size (default 10 KiB)
            with tarfile.open(fileobj=guard, mode="r|", bufsize=CHUNK) as tar:  # type: ignore[call-overload]
                _scan_members(tar, trusted, limits, guard, state, choose_dest)
        except (tarfile.TarError, EOFError, ValueError, UnicodeError, OverflowError) as e:
            raise BundleError(
                f"archive is not a valid tar.gz bundle ({e})",
                _VENDOR_HINT,
                code="bundle.not_archive",
            ) from None
        # Read to the end: gzip checks its CRC and length only there, which is what tells a
        # truncated archive from a whole one, and the archive hash must cover every byte.
        while guard.read(CHUNK):
            pass
        sha256, size = stream.finish()
    finally:
        state.writer.shutdown()
        stream.close()
        raw_file.close()
    if state.dest is not None:
        for name in state.empty_dirs:
            writeout.makedirs(state.dest, name)
        writeout.sync_tree(state.dest)
    assert state.manifest is not None and state.key is not None and state.manifest_bytes
    return Scan(state.manifest, state.manifest_bytes, state.key, sha256, size)


def _scan_members(
    tar: tarfile.TarFile,
    trusted: list[TrustedKey],
    limits: Limits,
    guard: GuardedStream,
    state: _State,
    choose_dest: ChooseDest,
) -> None:
    seen: dict[str, str] = {}
    early_dirs: list[str] = []  # folder members before the manifest: checked once it is known
    while (member := tar.next()) is not None:
        guard.members += 1
        if guard.members > limits.max_members:
            raise BundleError(
                f"archive has more than {limits.max_members} members",
                "This looks like an archive bomb. " + _VENDOR_HINT,
            )
        if member.name == "." and member.isdir():
            continue  # the root of "tar -C dir ." archives
        name = _member_name(member)
        if name in seen:
            raise BundleError(f"archive member {show_value(name)} appears twice", _VENDOR_HINT)
        kind = _member_kind(member, name)
        seen[name] = kind
        if kind == "dir":
            if state.manifest is None:
                early_dirs.append(name)
            else:
                _directory(state, name)
            continue
        if name == MANIFEST_NAME:
            state.manifest_bytes = _read_small(tar, member, limits.max_manifest_bytes, guard)
        elif name == SIGNATURE_NAME:
            state.signature = _read_small(tar, member, MAX_SIGNATURE_BYTES, guard)
        elif state.manifest is None:
            missing = MANIFEST_NAME if state.manifest_bytes is None else SIGNATURE_NAME
            raise BundleError(
                f"{missing} is missing or not at the start of the archive "
                f"(found {show_value(name)} before it)",
                _VENDOR_HINT,
            )
        else:
            _file(tar, member, name, state, guard)
            continue
        if (
            state.manifest is None
            and state.manifest_bytes is not None
            and state.signature is not None
        ):
            _accept_manifest(state, trusted, limits, choose_dest)
            for directory in early_dirs:
                _directory(state, directory)

    if state.manifest_bytes is None:
        raise BundleError(f"archive has no {MANIFEST_NAME}", _VENDOR_HINT)
    if state.signature is None:
        raise BundleError(
            f"archive has no {SIGNATURE_NAME} (the bundle is unsigned)",
            _VENDOR_HINT,
            code="bundle.unsigned",
        )
    assert state.manifest is not None
    missing_files = [path for path in state.manifest.files if seen.get(path) != "file"]
    if missing_files:
        more = f" and {len(missing_files) - 1} more" if len(missing_files) > 1 else ""
        raise BundleError(
            f"file {show_value(missing_files[0])}{more} listed in bundle.yml is missing from "
            "the archive",
            _VENDOR_HINT,
        )


def _accept_manifest(
    state: _State, trusted: list[TrustedKey], limits: Limits, choose_dest: ChooseDest
) -> None:
    # The signature is checked before the YAML is parsed: only signed text reaches the parser.
    assert state.manifest_bytes is not None and state.signature is not None
    state.key = verify_signature(trusted, state.manifest_bytes, state.signature)
    state.manifest = parse_manifest(state.manifest_bytes)
    state.folders = frozenset(p for path in state.manifest.files for p in parents(path))
    announced = len(state.manifest.files) + len(state.folders) + 2  # bundle.yml, bundle.sig
    if announced > limits.max_members:
        raise BundleError(
            f"bundle.yml lists {len(state.manifest.files)} files in {len(state.folders)} "
            f"folders: more than the {limits.max_members} archive members allowed",
            "This looks like an archive bomb. " + _VENDOR_HINT,
        )
    # Only now may the caller create anything (the import's temporary folder).
    state.dest = choose_dest(state.manifest, state.manifest_bytes)
    if state.dest is not None:
        for name, data in (
            (MANIFEST_NAME, state.manifest_bytes),
            (SIGNATURE_NAME, state.signature),
        ):
            with writeout.create(state.dest, name, executable=False) as out:
                try:
                    out.write(data)
                    writeout.flush(out)
                except OSError as e:
                    raise writeout.write_error(state.dest / name, e) from e


def _member_name(member: tarfile.TarInfo) -> str:
    name = member.name
    # "./x" and "x" are one file; accept the prefix tar adds, then insist on canonical form.
    while name.startswith("./"):
        name = name[2:]
    return check_relpath(name, "archive member")


def _member_kind(member: tarfile.TarInfo, name: str) -> str:
    shown = show_value(name)
    if member.issym():
        problem = "is a symbolic link"
    elif member.islnk():
        problem = "is a hard link"
    elif member.ischr() or member.isblk():
        problem = "is a device file"
    elif member.isfifo():
        problem = "is a FIFO"
    elif member.isdir():
        return "dir"
    elif member.isreg():
        if member.sparse is not None or member.type == tarfile.GNUTYPE_SPARSE:
            problem = "is a sparse file"
        else:
            return "file"
    else:
        problem = f"has unsupported type {member.type!r}"
    raise BundleError(
        f"archive member {shown} {problem}; bundles hold only regular files and folders",
        _VENDOR_HINT,
    )


def _directory(state: _State, name: str) -> None:
    assert state.manifest is not None
    files = state.manifest.files
    for path in [name, *parents(name)]:
        if path in files or path in RESERVED_NAMES:
            raise BundleError(
                f"archive folder {show_value(name)} clashes with file {path}", _VENDOR_HINT
            )
    if name in state.folders:
        return
    if not state.folded:  # every name the manifest gives, as a folding file system sees it
        names = [*files, *state.folders, *RESERVED_NAMES]
        state.folded = {fold_name(path): path for path in names}
    for path in [*parents(name), name]:
        first = state.folded.setdefault(fold_name(path), path)
        if first != path:
            raise BundleError(
                f"archive folder {show_value(path)} and {show_value(first)} are the same name "
                "where case or Unicode normalisation does not count",
                "Rename one of them: on macOS or Windows one would overwrite the other.",
            )
    state.empty_dirs.append(name)  # created after every check passed, never before


def _file(
    tar: tarfile.TarFile, member: tarfile.TarInfo, name: str, state: _State, guard: GuardedStream
) -> None:
    assert state.manifest is not None
    expected = state.manifest.files.get(name)
    if expected is None:
        raise BundleError(
            f"archive member {show_value(name)} is not listed in bundle.yml",
            "Unlisted files are refused: they are not covered by the signature. " + _VENDOR_HINT,
            code="bundle.unlisted_file",
            params={"file": show_value(name)},
        )
    guard.check_announced(name, member.size)
    source = tar.extractfile(member)
    assert source is not None
    digest = hashlib.sha256()
    if state.dest is None:
        while chunk := source.read(CHUNK):
            guard.add_content(len(chunk))
            digest.update(chunk)
    else:
        with writeout.create(state.dest, name, bool(member.mode & 0o111)) as out:
            try:
                writing: Future[int] | None = None
                while chunk := source.read(CHUNK):
                    guard.add_content(len(chunk))
                    if writing is not None:
                        writing.result()
                    writing = state.writer.submit(out.write, chunk)
                    digest.update(chunk)
                if writing is not None:
                    writing.result()
                writeout.flush(out)
            except OSError as e:
                raise writeout.write_error(state.dest / name, e) from e
    if digest.hexdigest() != expected:
        raise BundleError(
            f"file {show_value(name)} does not match its sha256 in bundle.yml (it was altered "
            "or damaged)",
            "Copy the bundle again or ask the vendor for an intact one.",
            code="bundle.hash_mismatch",
            params={"file": show_value(name)},
        )


def _read_small(
    tar: tarfile.TarFile, member: tarfile.TarInfo, limit: int, guard: GuardedStream
) -> bytes:
    if member.size < 0 or member.size > limit:
        raise BundleError(f"{member.name} is larger than {limit} bytes", _VENDOR_HINT)
    source = tar.extractfile(member)
    assert source is not None
    data = bytearray()
    # In chunks, each counted as content at once: a manifest over the metadata allowance
    # (several MiB for bundles carrying collections) is not mistaken for a header bomb.
    while len(data) <= limit and (chunk := source.read(min(CHUNK, limit + 1 - len(data)))):
        guard.add_content(len(chunk))
        data += chunk
    if len(data) > limit:
        raise BundleError(f"{member.name} is larger than {limit} bytes", _VENDOR_HINT)
    return bytes(data)
