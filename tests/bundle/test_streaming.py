"""The large-bundle paths: the parallel gzip writer gives ordinary, reproducible gzip (stored
where data does not compress, deflated where it does), and import reads any valid gzip,
multi-member and zero-padded included, while still refusing garbage after the last member."""

from __future__ import annotations

import gzip
import io
import os
import zlib
from pathlib import Path

import pytest

from appliance.bundle import Limits, import_bundle, verify_bundle
from appliance.bundle.build import build_bundle
from appliance.bundle.deflate import BLOCK, ParallelGzipWriter
from appliance.errors import BundleError
from tests.bundle.conftest import Keys, write_project


def _pack(data: bytes, workers: int) -> bytes:
    out = io.BytesIO()
    writer = ParallelGzipWriter(out, workers=workers)
    for start in range(0, len(data), 300_000):  # writes that straddle the blocks
        writer.write(data[start : start + 300_000])
    writer.close()
    return out.getvalue()


def test_parallel_gzip_is_ordinary_reproducible_gzip() -> None:
    text = b"".join(b"- name: task %d\n  debug: msg=hello\n" % i for i in range(120_000))
    noise = os.urandom(3 * BLOCK + 12345)
    data = text[: BLOCK + 999] + noise + text
    packed = _pack(data, workers=3)
    assert gzip.decompress(packed) == data  # CRC and length checked by gzip
    assert zlib.decompress(packed, 16 + zlib.MAX_WBITS) == data
    assert packed == _pack(data, workers=1)  # the same bytes however many cores
    # Text still compresses (blocks primed with the previous window); noise is stored, not
    # grown: the whole is within a little of text-compressed + noise.
    assert len(packed) < len(gzip.compress(text)) * 1.2 + len(noise) * 1.01
    assert _pack(b"", workers=2) and gzip.decompress(_pack(b"", workers=2)) == b""


def _bundle(tmp_path: Path, keys: Keys) -> Path:
    src = write_project(tmp_path / "src")
    (src / "files" / "payload.bin").write_bytes(os.urandom(2 * BLOCK + 7))
    return build_bundle(src, keys.key_path, tmp_path / "b.bundle")


def test_multi_member_and_zero_padded_archives_import(tmp_path: Path, keys: Keys) -> None:
    archive = _bundle(tmp_path, keys)
    tar = gzip.decompress(archive.read_bytes())
    cut = len(tar) // 3
    other = tmp_path / "members.bundle"
    other.write_bytes(gzip.compress(tar[:cut]) + gzip.compress(tar[cut:]) + bytes(700))
    checked = verify_bundle(other, keys.trusted, Limits())
    assert checked.size == other.stat().st_size
    imported = import_bundle(other, tmp_path / "bundles", tmp_path / "tmp", keys.trusted, Limits())
    assert (imported.path / "files" / "payload.bin").stat().st_size == 2 * BLOCK + 7


@pytest.mark.parametrize(
    ("tail", "message"),
    [(b"\0\0\0garbage", "trailing garbage"), (b"\x1f\x8b\x08\x00", "truncated")],
)
def test_after_the_last_member_only_zeros_may_follow(
    tmp_path: Path, keys: Keys, tail: bytes, message: str
) -> None:
    archive = _bundle(tmp_path, keys)
    archive.write_bytes(archive.read_bytes() + tail)
    with pytest.raises(BundleError, match=message):
        verify_bundle(archive, keys.trusted, Limits())
