"""The fast SQL reader computes exactly what the careful row reader computes, and gives way to it
whenever a file is not clean."""

from __future__ import annotations

import gzip
import json
import math
import threading
from pathlib import Path

import pytest

import mcpsniff.model as model_pkg
from mcpsniff.documents.analysis import analyze, document
from mcpsniff.model.columns import COLUMNS
from mcpsniff.model.store import Store

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = sorted((ROOT / "samples").glob("*.jsonl"))


def table(path: Path, fast: bool) -> list[tuple]:
    s = Store()
    try:
        if fast:
            assert s.read_fast(str(path), 0) is not None, f"the fast reader refused {path}"
        else:
            s.read_careful(str(path), 0, lambda p: pytest.fail(str(p)), strict=False)
        cols = ", ".join(c.name for c in COLUMNS)
        s.finish()
        return s.con.execute(f"SELECT {cols} FROM u ORDER BY line").fetchall()
    finally:
        s.close()


def same(a, b) -> bool:
    return (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)) or a == b


def golden_files(tmp_path: Path) -> list[Path]:
    from golden import cases  # tests/checks/cases/

    return [p for case in cases().values() for p in case.write(tmp_path)]


def test_fast_and_careful_readers_give_the_same_rows(tmp_path):
    files = SAMPLES + golden_files(tmp_path)
    assert len(files) > 60
    diffs = []
    for path in files:
        a, b = table(path, False), table(path, True)
        assert len(a) == len(b), path
        for ra, rb in zip(a, b):
            for (name, *_), va, vb in zip(COLUMNS, ra, rb):
                if not same(va, vb):
                    diffs.append((path.name, ra[9], name, va, vb))
    assert diffs == []


def test_gzip_goes_the_fast_way_too(tmp_path):
    p = tmp_path / "seed.jsonl.gz"
    p.write_bytes(gzip.compress(SAMPLES[-2].read_bytes()))
    assert table(p, True) == table(SAMPLES[-2], True)


def _set(path: str, value):
    def damage(rec: dict) -> bytes:
        node = rec
        *parents, last = path.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value
        return json.dumps(rec).encode()
    return damage


# values DuckDB would cast or accept but the careful reader rejects: the fast reader must give way
DAMAGES = {
    "status as a string": _set("resp.status", "200"),
    "status as a float": _set("resp.status", 200.0),
    "status in exponent form": lambda rec: json.dumps(rec).replace('"status": 200', '"status": 2e2').encode(),
    "status out of range": _set("resp.status", 99),
    "time as a string": _set("t.req", "1700000000.5"),
    "negative time": _set("t.req", -1),
    "no request time": lambda rec: (rec["t"].pop("req"), json.dumps(rec).encode())[1],
    "truncated as 1": _set("req.body.truncated", 1),
    "batch as a string": _set("req.body.batch", "true"),
    "size as a float": _set("resp.body.size", 1.5),
    "size beyond 64 bits": _set("resp.body.size", 2**100),
    "schema version as a string": _set("v", "1"),
    "schema version 2": _set("v", 2),
    "a line that is not JSON": lambda rec: b"{nope",
    "a blank line": lambda rec: b"",
}


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_an_unclean_file_takes_the_careful_path_with_exact_problems(damage, tmp_path, monkeypatch):
    monkeypatch.setattr(model_pkg, "FAST_MIN_BYTES", 0)  # every file tries the fast reader first
    lines = SAMPLES[-2].read_bytes().splitlines()
    rec = json.loads(lines[3])
    assert rec["resp"]["status"] == 200 and "size" in rec["resp"]["body"]
    bad = DAMAGES[damage](rec)
    p = tmp_path / "cap.jsonl"
    p.write_bytes(b"\n".join(lines[:3] + [bad] + lines[4:]) + b"\n")
    doc = document(analyze([str(p)]))
    if damage == "a blank line":
        assert doc["problems"] == [] and doc["inputs"][0]["exchanges"] == len(lines) - 2  # the meta line, the one replaced
    else:
        assert len(doc["problems"]) == 1 and doc["problems"][0].startswith(f"{p}:4: ")
        assert doc["inputs"][0]["exchanges"] == len(lines) - 2


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("gap", [b"", b"   ", b"\r"], ids=["empty", "spaces", "cr"])
def test_a_file_with_a_blank_line_keeps_its_line_numbers(gap, gz, tmp_path, monkeypatch):
    lines = SAMPLES[-2].read_bytes().splitlines()
    data = b"\n".join(lines[:5] + [gap] + lines[5:]) + b"\n"
    p = tmp_path / ("cap.jsonl.gz" if gz else "cap.jsonl")
    p.write_bytes(gzip.compress(data) if gz else data)
    monkeypatch.setattr(model_pkg, "FAST_MIN_BYTES", 1 << 40)
    careful = document(analyze([str(p)]))
    monkeypatch.setattr(model_pkg, "FAST_MIN_BYTES", 0)
    assert document(analyze([str(p)])) == careful
    assert any(int(e["source"].rsplit(":", 1)[1]) > 6 for f in careful["findings"] for e in f["evidence"])


def test_evidence_lines_are_file_lines_on_the_fast_path(tmp_path, monkeypatch):
    monkeypatch.setattr(model_pkg, "FAST_MIN_BYTES", 0)
    seed = SAMPLES[-2]
    fast_doc = document(analyze([str(seed)]))
    monkeypatch.setattr(model_pkg, "FAST_MIN_BYTES", 1 << 40)
    careful_doc = document(analyze([str(seed)]))
    assert fast_doc == careful_doc
    sources = [e["source"] for f in fast_doc["findings"] for e in f["evidence"]]
    assert sources and all(s.startswith(f"{seed}:") for s in sources)


def test_a_null_body_size_reads_as_unknown_in_both_readers(tmp_path):
    """null and -1 both say "size unknown": neither reader rejects the line (the fuzzer once found
    the careful reader and schema.check_record disagreeing on it), and both keep the same rows."""
    from mcpsniff.schema import check_record

    lines = SAMPLES[-2].read_bytes().splitlines()
    rec = json.loads(lines[3])
    rec["req"]["body"]["size"] = None
    rec["resp"]["body"]["size"] = None
    check_record(rec)
    p = tmp_path / "cap.jsonl"
    p.write_bytes(b"\n".join(lines[:3] + [json.dumps(rec).encode()] + lines[4:]) + b"\n")
    careful, fast = table(p, False), table(p, True)
    assert careful == fast
    size = [c.name for c in COLUMNS].index("resp_size")
    assert careful[2][size] == -1 and len(careful) == len(lines) - 1


def test_the_fast_read_runs_on_its_own_thread_count_and_gives_the_rest_back(monkeypatch):
    """read_json keeps the file's order; on few cores one thread reads faster than two within the
    memory limit (store.FAST_READ_THREADS). The setting holds for that statement only."""
    import mcpsniff.model.store as store_mod

    seen = []
    s = Store(threads=2)
    try:
        execute = s.con.execute

        def spy(sql, params=None):
            if sql.startswith("CREATE TABLE f0"):
                seen.append(execute("SELECT current_setting('threads')").fetchall()[0][0])
            return execute(sql, params)

        monkeypatch.setattr(s.con, "execute", spy)
        monkeypatch.setattr(store_mod, "FAST_READ_THREADS", 1)
        assert s.read_fast(str(SAMPLES[0]), 0) is not None
        assert seen == [1] and execute("SELECT current_setting('threads')").fetchall()[0][0] == 2
    finally:
        s.close()


def test_several_files_are_read_at_once_and_kept_in_their_order(tmp_path, monkeypatch):
    """Big files go to the fast reader together (store.FAST_READ_FILES at once, each on its own
    cursor): the reads overlap (a barrier only two reads in flight together pass), the inputs and
    their line numbers stay in the files' order, and a file the fast reader refuses is read by the
    careful one with its problem: the document is the careful reader's."""
    import mcpsniff.model.store as store_mod

    lines = SAMPLES[-2].read_bytes().splitlines()
    paths = []
    for i, sample in enumerate([SAMPLES[-2], SAMPLES[0], SAMPLES[-2]]):
        p = tmp_path / f"cap{i}.jsonl"
        data = sample.read_bytes()
        if i == 2:  # refused: the careful reader reports its line 4
            data = b"\n".join(lines[:3] + [b"{nope"] + lines[4:]) + b"\n"
        p.write_bytes(data)
        paths.append(str(p))
    monkeypatch.setattr(model_pkg, "FAST_MIN_BYTES", 1 << 40)
    careful = document(analyze(paths))
    monkeypatch.setattr(model_pkg, "FAST_MIN_BYTES", 0)
    monkeypatch.setattr(store_mod, "FAST_READ_FILES", 2)
    together = threading.Barrier(2, timeout=30)
    read_one = Store._read_fast

    def spy(self, con, job, on_bytes):
        if job.file.src < 2:
            together.wait()  # BrokenBarrierError unless the first two files are read at the same time
        return read_one(self, con, job, on_bytes)

    monkeypatch.setattr(Store, "_read_fast", spy)
    doc = document(analyze(paths))
    assert doc == careful
    assert [i["path"] for i in doc["inputs"]] == paths and [i["format"] for i in doc["inputs"]] == ["jsonl"] * 3
    assert doc["problems"] == [f"{paths[2]}:4: " + careful["problems"][0].split(":4: ", 1)[1]]


def test_the_memory_limit_grows_with_the_exchanges_up_to_the_ceiling(monkeypatch):
    """store.ROW_MEMORY bytes per exchange, at least the limit and at most the ceiling, set once the
    inputs are read (a statement that would run out at the start limit is not run twice)."""
    import mcpsniff.model.store as store_mod

    def limit_after_finish(row_memory: int) -> tuple[int, bool]:
        monkeypatch.setattr(store_mod, "ROW_MEMORY", row_memory)
        s = Store(memory_limit="100MB", memory_max="1GB")
        setting = "SELECT current_setting('memory_limit')"
        try:
            before = s.con.execute(setting).fetchall()[0][0]
            s.read_careful(str(SAMPLES[0]), 0, lambda p: pytest.fail(str(p)), strict=False)
            s.finish()
            n = s.con.execute("SELECT count(*) FROM u").fetchall()[0][0]
            assert n > 2
            return s.con.limit, s.con.execute(setting).fetchall()[0][0] != before
        finally:
            s.close()

    assert limit_after_finish(40) == (100 * 10**6, False)  # a small capture: the limit as set
    grown, changed = limit_after_finish(150 * 10**6)  # > 2 exchanges x 150 MB: grown, to the ceiling at most
    assert 3 * 150 * 10**6 <= grown <= 10**9 and changed
    assert limit_after_finish(10**12)[0] == 10**9
