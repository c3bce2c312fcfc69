"""A big plain file is read in pieces at once (mcpsniff.model.pieces): the pieces are whole lines
that cover the file, DuckDB reads each through the pieces filesystem, and the model is the one the
careful reader makes, line numbers and problems included."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import duckdb
import pytest

import mcpsniff.model as model_pkg
import mcpsniff.model.store as store_mod
from mcpsniff.documents.analysis import analyze, document
from mcpsniff.model import fast, pieces
from mcpsniff.model.store import Store

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "samples" / "seed-two-planes.jsonl"


@pytest.mark.parametrize("tail", [b"\n", b""], ids=["newline", "no-newline"])
def test_pieces_are_whole_lines_that_cover_the_file(tmp_path, tail):
    lines = [b"x" * n for n in (1, 50, 3, 200, 7, 7, 90, 1, 1, 400, 2)]
    p = tmp_path / "f.jsonl"
    data = b"\n".join(lines) + tail
    p.write_bytes(data)
    for k in range(1, 8):
        got = pieces.cut(str(p), len(data), k)
        assert 1 <= len(got) <= k
        assert got[0].start == 0 and sum(x.length for x in got) == len(data)
        assert all(a.start + a.length == b.start for a, b in zip(got, got[1:]))
        assert all(data[x.start + x.length - 1:x.start + x.length] == b"\n" for x in got[:-1])
        counts = [fast.count_lines(str(p), False, x.start, x.length) for x in got]
        assert sum(counts) == fast.count_lines(str(p), False) == len(lines)
        assert [data[x.start:x.start + x.length].count(b"\n") for x in got[:-1]] == counts[:-1]
    assert len(pieces.cut(str(p), len(data), 2)) == 2


def test_a_line_longer_than_a_share_makes_fewer_pieces(tmp_path):
    p = tmp_path / "f.jsonl"
    data = b"a\n" + b"y" * 1000 + b"\nb\n"
    p.write_bytes(data)
    got = pieces.cut(str(p), len(data), 4)  # the shares at 251, 502 and 753 all end where the long line does
    assert [(x.start, x.length) for x in got] == [(0, 1003), (1003, 2)]
    assert pieces.cut(str(p), 0, 3) == [pieces.Piece(str(p), 0, 0)]


def test_duckdb_reads_a_piece_as_a_file_of_its_own(tmp_path):
    p = tmp_path / "f.jsonl"
    p.write_bytes(b"".join(b'{"n": %d, "pad": "%s"}\n' % (i, b"z" * (i % 37)) for i in range(1, 2001)))
    got = pieces.cut(str(p), p.stat().st_size, 3)
    fs = pieces.filesystem()
    con = duckdb.connect()
    con.register_filesystem(fs)
    seen = []
    for x in got:
        seen.append([n for (n,) in con.execute(f"SELECT n FROM read_json('{fs.add(x)}', format='newline_delimited')").fetchall()])
    assert [n for part in seen for n in part] == list(range(1, 2001)) and all(seen)
    assert fs.info(fs.add(got[1]))["size"] == got[1].length


def test_a_piece_reads_only_its_byte_range(tmp_path):
    p = tmp_path / "f.jsonl"
    p.write_bytes(b"0123456789")
    with pieces._Range(pieces.Piece(str(p), 3, 5)) as r:  # "34567"
        assert r.read(2) == b"34" and r.tell() == 2
        assert r.read(10) == b"567" and r.read(1) == b""
        r.seek(1)
        assert r.read() == b"4567"
        r.seek(-2, io.SEEK_END)
        assert r.read(None) == b"67"
        r.seek(0)
        buf = bytearray(4)
        assert r.readinto(buf) == 4 and buf == b"3456"


def _split(monkeypatch):
    """Every file tries the fast reader, two reads at once, and a file is cut in two."""
    monkeypatch.setattr(model_pkg, "FAST_MIN_BYTES", 0)
    monkeypatch.setattr(store_mod, "FAST_READ_FILES", 2)
    monkeypatch.setattr(store_mod, "FAST_PIECE_MIN_BYTES", 1)


def _careful(monkeypatch, paths):
    monkeypatch.setattr(model_pkg, "FAST_MIN_BYTES", 1 << 40)
    return document(analyze(paths))


def test_a_file_in_pieces_gives_the_careful_readers_document(tmp_path, monkeypatch):
    p = tmp_path / "cap.jsonl"
    p.write_bytes(SEED.read_bytes())
    careful = _careful(monkeypatch, [str(p)])
    _split(monkeypatch)
    jobs, together = [], threading.Barrier(2, timeout=30)
    read_one = Store._read_fast

    def spy(self, con, job, on_bytes):
        jobs.append(job)
        together.wait()  # BrokenBarrierError unless the two pieces are read at the same time
        return read_one(self, con, job, on_bytes)

    monkeypatch.setattr(Store, "_read_fast", spy)
    doc = document(analyze([str(p)]))
    assert doc == careful and doc["problems"] == []
    assert sorted(j.index for j in jobs) == [0, 1] and all(j.path.startswith("mcpsniff-piece://") for j in jobs)
    first = next(j.piece for j in jobs if j.index == 0)
    first_lines = p.read_bytes()[:first.length].count(b"\n")
    lines = [int(e["source"].rsplit(":", 1)[1]) for f in doc["findings"] for e in f["evidence"]]
    assert any(n > first_lines for n in lines)  # evidence from the second piece keeps its file line


@pytest.mark.parametrize("damage", [b"{nope", b""], ids=["not-json", "blank"])
def test_a_bad_line_in_a_later_piece_sends_the_whole_file_to_the_careful_reader(damage, tmp_path, monkeypatch):
    lines = SEED.read_bytes().splitlines()
    at = len(lines) - 3  # in the second half
    p = tmp_path / "cap.jsonl"
    p.write_bytes(b"\n".join(lines[:at] + [damage] + lines[at + 1:]) + b"\n")
    careful = _careful(monkeypatch, [str(p)])
    _split(monkeypatch)
    kept = []
    keep = Store._keep
    monkeypatch.setattr(Store, "_keep", lambda self, f, tables: kept.append(tables) or keep(self, f, tables))
    doc = document(analyze([str(p)]))
    assert doc == careful
    assert len(kept) == 1 and len(kept[0]) == 2 and kept[0][0] is not None and kept[0][1] is None
    if damage:
        assert doc["problems"] == [f"{p}:{at + 1}: " + careful["problems"][0].split(f":{at + 1}: ", 1)[1]]


def test_pieces_and_whole_files_mix_in_one_capture(tmp_path, monkeypatch):
    """A gzip file is read whole, a plain one in pieces; the inputs stay in order."""
    import gzip

    paths = []
    for i, data in enumerate([SEED.read_bytes(), gzip.compress((ROOT / "samples" / "clean-python-sdk.jsonl").read_bytes()),
                              SEED.read_bytes()]):
        p = tmp_path / (f"cap{i}.jsonl.gz" if i == 1 else f"cap{i}.jsonl")
        p.write_bytes(data)
        paths.append(str(p))
    careful = _careful(monkeypatch, paths)
    _split(monkeypatch)
    monkeypatch.setattr(store_mod, "FAST_READ_FILES", 6)  # a share is a sixth of all the bytes
    jobs = []
    read_one = Store._read_fast
    monkeypatch.setattr(Store, "_read_fast", lambda self, con, job, on_bytes: jobs.append(job) or read_one(self, con, job, on_bytes))
    doc = document(analyze(paths))
    assert doc == careful and [i["path"] for i in doc["inputs"]] == paths
    per_file = [sorted(j.index for j in jobs if j.file.name == p) for p in paths]
    assert per_file[1] == [0] and len(per_file[0]) > 1 and len(per_file[2]) > 1


def test_a_file_in_pieces_reports_its_bytes_once_each(tmp_path, monkeypatch):
    """Progress sums the pieces of a file: it never goes back and ends at the file's size."""
    p = tmp_path / "cap.jsonl"
    p.write_bytes(SEED.read_bytes() * 40)  # the same exchanges again and again: one long capture
    _split(monkeypatch)
    seen: list[int] = []
    m = model_pkg.build([str(p)], on_bytes=seen.append)
    try:
        assert m.inputs[0].fmt == "jsonl" and m.n == 40 * (len(SEED.read_bytes().splitlines()) - 1)
    finally:
        m.close()
    assert seen == sorted(seen) and seen[-1] == p.stat().st_size
