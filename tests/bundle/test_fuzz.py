"""Property tests: whatever manifest or archive comes in, the only outcomes are a valid bundle
or a BundleError/Conflict, and verify and import always agree."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import math
import os
import stat
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, event, given, reject, settings
from hypothesis import strategies as st

from appliance.bundle import (
    Limits,
    Manifest,
    dump_manifest,
    import_bundle,
    parse_manifest,
    verify_bundle,
)
from appliance.bundle.manifest import NAME_RE, RESERVED_NAMES, VERSION_RE
from appliance.errors import BundleError, Conflict
from tests.bundle.conftest import Keys, entry, sha

FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "150")),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
LIMITS = Limits(max_total_bytes=64 * 1024, max_members=50, max_manifest_bytes=16 * 1024)

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**30)
    | st.floats(allow_nan=True)
    | st.text(max_size=12)
    | st.sampled_from(
        [
            "p.yml",
            "a/b.yml",
            "1.0",
            "1.0.*",
            "../x",
            "/etc/x",
            "db",
            "sha256:" + "0" * 64,
            "preflight",
            "rollback",
        ]
    )
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.text(max_size=10) | st.sampled_from(["name", "version", "playbook"]),
            inner,
            max_size=4,
        )
    ),
    max_leaves=12,
)
TOP_KEYS = [
    "format",
    "name",
    "version",
    "description",
    "upgrade_from",
    "expected_minutes",
    "components",
    "stages",
    "files",
    "other",
]


def valid_doc() -> dict[str, Any]:
    return {
        "format": 1,
        "name": "demo",
        "version": "1.0",
        "upgrade_from": ["0.*"],
        "components": [{"name": "db", "version": "2", "playbook": "p.yml"}],
        "stages": {"verify": "v.yml"},
        "files": {"p.yml": sha(b"p"), "v.yml": sha(b"v")},
    }


@st.composite
def manifest_docs(draw: st.DrawFn) -> Any:
    """Mostly a valid manifest with a few fields replaced, dropped or added; sometimes junk."""
    if draw(st.integers(0, 3)) == 0:
        return draw(values)
    doc = valid_doc()
    for key in draw(st.lists(st.sampled_from(TOP_KEYS), max_size=3)):
        if draw(st.booleans()):
            doc.pop(key, None)
        else:
            doc[key] = draw(values)
    if draw(st.booleans()):
        comps = doc.get("components")
        first = comps[0] if isinstance(comps, list) and comps else None
        comp = dict(first) if isinstance(first, dict) else {}
        for key in draw(
            st.lists(st.sampled_from(["name", "version", "playbook", "x"]), max_size=2)
        ):
            comp[key] = draw(values)
        doc["components"] = [comp]
    return doc


def check_valid(manifest: Manifest) -> None:
    assert NAME_RE.fullmatch(manifest.name) and VERSION_RE.fullmatch(manifest.version)
    assert manifest.components
    assert len({c.name for c in manifest.components}) == len(manifest.components)
    assert all(p in manifest.files for p in manifest.playbooks())
    assert not RESERVED_NAMES & set(manifest.files)
    assert parse_manifest(dump_manifest(manifest)) == manifest
    json.dumps(manifest.to_json())


@FUZZ
@given(manifest_docs())
def test_random_manifests_are_valid_or_refused(doc: Any) -> None:
    try:
        data = yaml.safe_dump(doc).encode()
    except (yaml.YAMLError, ValueError):
        reject()
    try:
        manifest = parse_manifest(data)
    except BundleError as e:
        assert e.message and e.hint
        event("refused")
        return
    event("accepted")
    check_valid(manifest)


@FUZZ
@given(st.binary(max_size=300) | st.text(max_size=300).map(lambda t: t.encode("utf-8", "replace")))
def test_random_bytes_as_manifest_are_refused_cleanly(data: bytes) -> None:
    try:
        check_valid(parse_manifest(data))
    except BundleError as e:
        assert e.message


# --- archives -------------------------------------------------------------------------------

NAMES = st.sampled_from(
    [
        "p.yml",
        "v.yml",
        "a/b.yml",
        "a",
        "a/",
        "./p.yml",
        "../x",
        "a/../../x",
        "/etc/x",
        "",
        ".",
        "bundle.yml",
        "bundle.sig",
        ".bundle-meta.json",
        "a\\b",
        "c:x",
        "é/ü.yml",
        "a//b",
        "x" * 300,
    ]
) | st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
CLEAN_NAMES = st.sampled_from(["v.yml", "a/b.yml", "a/c/d.yml", "roles/x.yml", "é/ü.yml", "a", "b"])
CLEAN_TYPES = st.sampled_from([tarfile.REGTYPE, tarfile.REGTYPE, tarfile.DIRTYPE])
TYPES = st.sampled_from(
    [
        tarfile.REGTYPE,
        tarfile.REGTYPE,
        tarfile.REGTYPE,
        tarfile.AREGTYPE,
        tarfile.DIRTYPE,
        tarfile.SYMTYPE,
        tarfile.LNKTYPE,
        tarfile.CHRTYPE,
        tarfile.BLKTYPE,
        tarfile.FIFOTYPE,
        tarfile.CONTTYPE,
        b"Z",
    ]
)


@st.composite
def archives(draw: st.DrawFn, keys: Keys) -> tuple[bytes, dict[str, bytes]]:
    # Half of the archives are well-formed apart from chance, so acceptance gets exercised too.
    clean = draw(st.booleans())
    names, types = (CLEAN_NAMES, CLEAN_TYPES) if clean else (NAMES, TYPES)
    members = draw(
        st.lists(
            st.tuples(
                names, types, st.binary(max_size=40), st.sampled_from([0o644, 0o755, 0o6777])
            ),
            max_size=6,
            unique_by=lambda m: m[0] if clean else id(m),
        )
    )
    regular = [
        (n, d)
        for n, t, d, _ in members
        if t in (tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.CONTTYPE)
    ]
    listed = {n: d for n, d in regular if n and (clean or draw(st.booleans()))}
    files = {
        n: (sha(d) if clean or draw(st.integers(0, 9)) else sha(d + b"!"))
        for n, d in listed.items()
    }
    files.setdefault("p.yml", sha(b"p"))
    doc = valid_doc()
    doc["files"] = files
    doc["stages"] = {}
    if not clean and draw(st.integers(0, 4)) == 0:
        doc[draw(st.sampled_from(TOP_KEYS))] = draw(values)
    manifest_bytes = yaml.safe_dump(doc).encode()
    signature = keys.private_key.sign(manifest_bytes)
    if not clean and draw(st.integers(0, 9)) == 0:
        signature = draw(st.binary(min_size=64, max_size=64))
    head = [entry("bundle.yml", manifest_bytes), entry("bundle.sig", signature)]
    body = [entry("p.yml", b"p")] if clean or draw(st.booleans()) else []
    for name, kind, data, mode in members:
        info, payload = entry(name, data, kind, mode=mode)
        if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE):
            info.linkname = draw(st.sampled_from(["p.yml", "/etc/passwd", "../.."]))
        if kind == tarfile.CONTTYPE:
            info.size = len(data)
            payload = data or None
        body.append((info, payload))
    at = draw(st.integers(0, len(body)))
    order = head + body if clean or draw(st.booleans()) else body[:at] + head + body[at:]
    buf = io.BytesIO()
    try:
        with tarfile.open(
            fileobj=buf,
            mode="w",
            format=draw(st.sampled_from([tarfile.PAX_FORMAT, tarfile.GNU_FORMAT])),
        ) as tar:
            for info, payload in order:
                tar.addfile(info, io.BytesIO(payload) if payload is not None else None)
    except (ValueError, UnicodeError):
        reject()
    return gzip.compress(buf.getvalue(), mtime=0), {"p.yml": b"p", **listed}


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def verify_and_import(raw: bytes, keys: Keys, scratch: Path) -> tuple[Any, Any, Path]:
    """Run both paths on ``raw``; they must agree. Returns (verified | error, imported, dir)."""
    work = Path(tempfile.mkdtemp(dir=scratch))
    archive = work / "x.bundle"
    archive.write_bytes(raw)
    bundles, tmp = work / "bundles", work / "tmp"
    outcomes = []
    for call in (
        lambda: verify_bundle(archive, keys.trusted, LIMITS),
        lambda: import_bundle(archive, bundles, tmp, keys.trusted, LIMITS),
    ):
        try:
            outcomes.append(call())
        except (BundleError, Conflict) as e:
            assert e.message and e.hint
            outcomes.append(e)
    verified, imported = outcomes
    event("accepted" if not isinstance(imported, Exception) else type(imported).__name__)
    assert isinstance(verified, Exception) == isinstance(imported, Exception)
    if isinstance(verified, Exception):
        assert verified.message == imported.message  # type: ignore[union-attr]
        assert not bundles.exists() or not any(bundles.rglob("*"))
    assert not tmp.exists() or os.listdir(tmp) == []
    return verified, imported, work


def check_tree(imported: Any) -> None:
    """An accepted bundle is on disk exactly as its manifest says, and nothing else."""
    check_valid(imported.manifest)
    root = imported.path
    found = {}
    for path in root.rglob("*"):
        mode = path.lstat().st_mode
        assert not stat.S_ISLNK(mode)
        assert mode & 0o222 == 0
        if stat.S_ISREG(mode):
            found[path.relative_to(root).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    for name in RESERVED_NAMES:
        found.pop(name)
    assert found == dict(imported.manifest.files)


@FUZZ
@given(data=st.data())
def test_random_archives_are_valid_or_refused(
    data: st.DataObject, keys: Keys, scratch: Path
) -> None:
    raw, _ = data.draw(archives(keys))
    verified, imported, _ = verify_and_import(raw, keys, scratch)
    if not isinstance(imported, Exception):
        assert imported.manifest == verified.manifest
        check_tree(imported)


@pytest.fixture(scope="module")
def good_archive(keys: Keys) -> bytes:
    files = {"p.yml": b"- hosts: all\n", "roles/r/tasks/main.yml": b"[]\n" * 50}
    doc = valid_doc()
    doc["stages"] = {}
    doc["files"] = {n: sha(d) for n, d in files.items()}
    manifest_bytes = yaml.safe_dump(doc).encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for info, payload in [
            entry("bundle.yml", manifest_bytes),
            entry("bundle.sig", keys.private_key.sign(manifest_bytes)),
            *[entry(n, d) for n, d in files.items()],
        ]:
            tar.addfile(info, io.BytesIO(payload) if payload is not None else None)
    return gzip.compress(buf.getvalue(), mtime=0)


@FUZZ
@given(data=st.data())
def test_damaged_archives_are_refused_or_unchanged(
    data: st.DataObject, keys: Keys, scratch: Path, good_archive: bytes
) -> None:
    raw = bytearray(good_archive)
    for _ in range(data.draw(st.integers(1, 4))):
        action = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        at = data.draw(st.integers(0, max(len(raw) - 1, 0)))
        if action == "flip" and raw:
            raw[at] ^= data.draw(st.integers(1, 255))
        elif action == "cut":
            del raw[at : at + data.draw(st.integers(1, 64))]
        else:
            raw[at:at] = data.draw(st.binary(min_size=1, max_size=16))
    _, imported, _ = verify_and_import(bytes(raw), keys, scratch)
    if not isinstance(imported, Exception):
        # The signature pins the manifest, the manifest pins every file.
        original = parse_manifest(gzip_member(good_archive, "bundle.yml"))
        assert imported.manifest == original
        check_tree(imported)


def gzip_member(raw: bytes, name: str) -> bytes:
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r:gz") as tar:
        member = tar.extractfile(name)
        assert member is not None
        return member.read()


def test_floats_in_versions_do_not_crash() -> None:
    text = b"format: 1\nname: a\nversion: .inf\ncomponents: [{name: b, version: .nan, "
    text += b"playbook: p}]\nfiles: {p: 'sha256:" + b"0" * 64 + b"'}\n"
    manifest = parse_manifest(text)
    assert manifest.version == str(math.inf)
