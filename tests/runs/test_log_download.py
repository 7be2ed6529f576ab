"""The raw log download's reader: the log as it is now, colour codes removed across block
boundaries (or the bytes as written), never a control sequence cut in two."""

from __future__ import annotations

from pathlib import Path

from appliance.jobs.runs.log import log_blocks, strip_ansi

COLOURED = (
    b"=== run 7: install ===\n"
    b"\x1b[0;32mok: [local]\x1b[0m\n"
    b'\x1b[1;31mfatal: [db1]: FAILED! => {"msg": "\xe6\x97\xa0"}\x1b[0m\n'
    b"no newline at the end \x1b[0;33mchanged\x1b[0m"
)


def test_blocks_strip_colours_at_any_block_size(tmp_path: Path) -> None:
    log = tmp_path / "output.log"
    log.write_bytes(COLOURED)
    for block in (1, 2, 3, 7, 16, 64, 1 << 20):
        stripped = b"".join(log_blocks(log, strip=True, block=block))
        assert stripped == strip_ansi(COLOURED), block
        assert b"\x1b" not in stripped
        assert b"".join(log_blocks(log, strip=False, block=block)) == COLOURED


def test_blocks_stop_at_the_size_found_when_asked(tmp_path: Path) -> None:
    log = tmp_path / "output.log"
    log.write_bytes(b"line 1\n")
    blocks = log_blocks(log, strip=True, block=4)
    first = next(blocks)
    with open(log, "ab") as f:  # the run goes on writing while the download is sent
        f.write(b"line 2\n")
    assert first + b"".join(blocks) == b"line 1\n"


def test_a_line_longer_than_the_blocks_keeps_its_escapes_whole(tmp_path: Path) -> None:
    line = b"".join(b"\x1b[0;3%dm%s\x1b[0m" % (i % 8, b"x" * 40) for i in range(400)) + b"\n"
    log = tmp_path / "output.log"
    log.write_bytes(line * 3)
    for block in (16, 1000):
        assert b"".join(log_blocks(log, strip=True, block=block)) == strip_ansi(line * 3)
