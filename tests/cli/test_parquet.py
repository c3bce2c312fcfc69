"""mcpsniff export --parquet DIR and analyze DIR: the exchange table as Parquet, read back to the same verdicts."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from mcpsniff.cli import app
from mcpsniff.documents.analysis import analyze, document
from mcpsniff.model import parquet
from mcpsniff.model.columns import COLUMNS
from synth import seed_scenario

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = sorted((ROOT / "samples").glob("*.jsonl"))
runner = CliRunner()


def doc_of(names: list[str]) -> dict:
    d = document(analyze(names))
    for i in d["inputs"]:
        i.pop("format")
    return d


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.stem)
def test_analyze_of_the_export_is_the_analysis_of_the_capture(sample, tmp_path):
    out = tmp_path / "pq"
    r = runner.invoke(app, ["export", str(sample), "--parquet", str(out)])
    assert r.exit_code == 0, r.output
    assert r.stderr.startswith("wrote ") and "as Parquet (partitioned by day) to" in r.stderr
    assert doc_of([str(out)]) == doc_of([str(sample)])


def test_several_captures_keep_their_names_lines_and_order(tmp_path):
    names = [str(SAMPLES[-1]), str(SAMPLES[0])]
    out = tmp_path / "pq"
    assert runner.invoke(app, ["export", *names, "--parquet", str(out)]).exit_code == 0
    back = doc_of([str(out)])
    assert back == doc_of(names)
    assert [i["path"] for i in back["inputs"]] == names
    assert all(e["source"].split(":")[0] in names for f in back["findings"] for e in f["evidence"])


def test_the_layout_is_day_partitions_with_the_documented_columns(tmp_path):
    s = seed_scenario(tool_calls=2)
    day = 86400.0
    for i, rec in enumerate(s.records):  # two UTC days
        if i >= len(s.records) // 2:
            rec["t"] = {k: (v + day if isinstance(v, float) else v) for k, v in rec["t"].items()}
    cap = tmp_path / "cap.jsonl"
    cap.write_bytes(s.jsonl())
    out = tmp_path / "pq"
    assert runner.invoke(app, ["export", str(cap), "--parquet", str(out)]).exit_code == 0
    days = sorted(p.name for p in out.iterdir())
    assert len(days) == 2 and all(d.startswith("day=") for d in days)
    cols = [r[0] for r in duckdb.sql(f"DESCRIBE SELECT * FROM {parquet.relation(str(out))}").fetchall()]
    assert cols[:len(COLUMNS)] == [c.name for c in COLUMNS] and cols[len(COLUMNS):] == ["source", "day"]
    doc_md = (ROOT / "docs" / "schema.md").read_text()
    assert all(f"`{c}`" in doc_md for c in parquet.FILE_COLUMNS + ("day",)), "docs/schema.md documents every Parquet column"


def test_export_refuses_a_non_empty_directory_and_stdout(tmp_path):
    out = tmp_path / "pq"
    out.mkdir()
    (out / "x").write_text("keep me")
    r = runner.invoke(app, ["export", str(SAMPLES[0]), "--parquet", str(out)])
    assert r.exit_code == 2 and r.stderr == f"error: {out}: exists and is not an empty directory; name a new one\n"
    r = runner.invoke(app, ["export", str(SAMPLES[0]), "--parquet", "-"])
    assert r.exit_code == 2 and r.stderr == "error: --parquet writes a directory; '-' (stdout) is not one\n"


def test_a_parquet_directory_that_is_not_an_export_is_one_line(tmp_path):
    d = tmp_path / "other"
    d.mkdir()
    duckdb.sql(f"COPY (SELECT 1 AS a) TO '{d / 'x.parquet'}' (FORMAT parquet)")
    r = runner.invoke(app, ["analyze", str(d)])
    assert r.exit_code == 2 and r.stderr.startswith(f"error: {d}: not an mcpsniff Parquet export (no column ")
    r = runner.invoke(app, ["export", str(d), "--har", str(tmp_path / "x.har")])
    assert r.exit_code == 2 and "a Parquet export holds the analysis columns" in r.stderr


def test_a_parquet_export_mixes_with_jsonl_and_gzip(tmp_path):
    s = seed_scenario(tool_calls=3)
    half = len(s.records) // 2
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl.gz"
    a.write_bytes(b"".join(json.dumps(x).encode() + b"\n" for x in s.records[:half]))
    b.write_bytes(gzip.compress(b"".join(json.dumps(x).encode() + b"\n" for x in s.records[half:])))
    whole = tmp_path / "whole.jsonl"
    whole.write_bytes(s.jsonl())
    out = tmp_path / "pq"
    assert runner.invoke(app, ["export", str(a), "--parquet", str(out)]).exit_code == 0
    mixed = document(analyze([str(b), str(out)]))
    ref = document(analyze([str(whole)]))
    assert mixed["findings"] and [(f["rule"], f["plane"], f["count"]) for f in mixed["findings"]] == \
        [(f["rule"], f["plane"], f["count"]) for f in ref["findings"]]
    assert mixed["planes"] == ref["planes"]


def test_each_row_is_in_its_utc_day_and_each_day_in_time_order(tmp_path):
    """A day's file holds the exchanges whose request time (in whole microseconds, as make_timestamp
    takes it) falls on that UTC day, by time; one just before midnight that rounds to midnight is
    the next day's."""
    s = seed_scenario(tool_calls=6)
    midnight = 86400.0 * 20000
    n = len(s.records)
    for i, rec in enumerate(s.records):  # spread over three days, one request 0.2 us before a midnight
        start = midnight - 0.0000002 if i == n // 2 else midnight + 86400.0 * (i * 3 // n - 1) + 3600 + i
        rec["t"] = {k: (start + (v - rec["t"]["req"]) if isinstance(v, float) else v) for k, v in rec["t"].items()}
    assert s.records[n // 2]["t"]["req"] < midnight
    cap = tmp_path / "cap.jsonl"
    cap.write_bytes(s.jsonl())
    out = tmp_path / "pq"
    assert runner.invoke(app, ["export", str(cap), "--parquet", str(out)]).exit_code == 0
    rows = duckdb.sql(f"SELECT day::VARCHAR, t_req, filename FROM read_parquet('{out}/**/*.parquet', hive_partitioning = true, "
                      "filename = true)").fetchall()
    assert len(rows) == n
    for day, t, filename in rows:
        assert day == duckdb.sql(f"SELECT strftime(make_timestamp(({t!r}::DOUBLE * 1000000)::BIGINT), '%Y-%m-%d')").fetchall()[0][0]
        assert Path(filename).parent.name == f"day={day}"
    by_file: dict[str, list[float]] = {}
    for _, t, filename in rows:
        by_file.setdefault(filename, []).append(t)
    assert len(by_file) == 3 and all(ts == sorted(ts) for ts in by_file.values())
    assert any(t < midnight and day == "2024-10-04" for day, t, _ in rows)  # rounded up to the next day


def test_rows_without_a_time_go_to_hives_null_partition(tmp_path):
    """A Parquet input may lack a request time; exporting it again puts those rows under
    day=__HIVE_DEFAULT_PARTITION__, as DuckDB's own partitioned writer names a NULL day."""
    first, second = tmp_path / "pq", tmp_path / "pq2"
    assert runner.invoke(app, ["export", str(SAMPLES[0]), "--parquet", str(first)]).exit_code == 0
    (f,) = first.glob("day=*/data_0.parquet")
    duckdb.sql(f"COPY (SELECT * REPLACE (CASE WHEN line = 3 THEN NULL ELSE t_req END AS t_req) FROM read_parquet('{f}')) "
               f"TO '{f}.new' (FORMAT parquet)")
    Path(f"{f}.new").replace(f)
    r = runner.invoke(app, ["export", str(first), "--parquet", str(second)])
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in second.iterdir()) == sorted([f.parent.name, "day=__HIVE_DEFAULT_PARTITION__"])
    assert duckdb.sql(f"SELECT count(*) FROM read_parquet('{second}/day=__HIVE_DEFAULT_PARTITION__/*.parquet')").fetchall() == [(1,)]
