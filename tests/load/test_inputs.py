"""Many files as one capture: globs, directories, rotated parts, mixed gzip, in any order, merged by time."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mcpsniff.cli import app
from mcpsniff.documents.analysis import analyze, document
from mcpsniff.errors import NotFound
from mcpsniff.load.inputs import PARQUET, Input, expand
from synth import seed_scenario

runner = CliRunner()


def parts(tmp_path: Path) -> tuple[Path, list[Path]]:
    """A seed capture whole, and the same cut in three rotated parts (the last gzip), each a time slice."""
    s = seed_scenario(tool_calls=6)
    whole = tmp_path / "whole" / "cap.jsonl"
    whole.parent.mkdir()
    whole.write_bytes(s.jsonl())
    lines = s.jsonl().splitlines(keepends=True)
    third = len(lines) // 3
    d = tmp_path / "rot"
    d.mkdir()
    out = [d / "cap.jsonl", d / "cap.1.jsonl", d / "cap.2.jsonl.gz"]
    out[0].write_bytes(b"".join(lines[:third]))
    out[1].write_bytes(b"".join(lines[third:2 * third]))
    out[2].write_bytes(gzip.compress(b"".join(lines[2 * third:])))
    return whole, out


def verdicts(names: list[str]) -> dict:
    d = document(analyze(names))
    return {"planes": d["planes"], "findings": [{k: v for k, v in f.items() if k != "evidence"} for f in d["findings"]],
            "exchanges": d["capture"]["exchanges"]}


def test_rotated_parts_in_any_order_are_the_whole_capture(tmp_path):
    whole, rot = parts(tmp_path)
    ref = verdicts([str(whole)])
    assert ref["findings"]
    assert verdicts([str(p) for p in reversed(rot)]) == ref
    assert verdicts([str(rot[0].parent / "cap*.jsonl*")]) == ref  # a glob
    assert verdicts([str(rot[0].parent)]) == ref  # a directory


def test_expand_globs_directories_and_repeats(tmp_path):
    _, rot = parts(tmp_path)
    d = rot[0].parent
    (d / "notes.txt").write_text("not a capture")
    assert expand([str(d / "cap*")]) == [Input(str(p)) for p in sorted(rot)]
    assert expand([str(d)]) == [Input(str(p)) for p in sorted(rot)]
    assert expand([str(rot[0]), str(d / ".." / d.name / rot[0].name)]) == [Input(str(rot[0]))]  # one file named twice
    assert expand(["-"]) == [Input("-")]
    with pytest.raises(NotFound, match="the pattern matches no file"):
        expand([str(d / "nothing*.jsonl")])
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(NotFound, match="a directory without capture files"):
        expand([str(empty)])
    pq = tmp_path / "pq" / "day=2026-01-01"
    pq.mkdir(parents=True)
    (pq / "data_0.parquet").write_bytes(b"")
    assert expand([str(tmp_path / "pq")]) == [Input(str(tmp_path / "pq"), PARQUET)]


def test_the_cli_notes_rotated_parts_left_out_and_says_when_a_pattern_matches_nothing(tmp_path):
    _, rot = parts(tmp_path)
    r = runner.invoke(app, ["analyze", "-f", "json", "--fail-on", "never", str(rot[0])])
    assert r.exit_code == 0
    stem = str(rot[0])[: -len(".jsonl")]
    assert r.stderr == (f"note: {stem}.1.jsonl looks like a rotated part of {rot[0]} and is not read; "
                        f"name them all ('{stem}*.jsonl') to read one capture\n")
    r = runner.invoke(app, ["analyze", "-f", "json", "--fail-on", "never", str(rot[0]), str(rot[1])])
    assert r.exit_code == 0 and r.stderr == ""
    r = runner.invoke(app, ["analyze", str(tmp_path / "x*.jsonl")])
    assert r.exit_code == 2 and r.stderr == f"error: {tmp_path / 'x*.jsonl'}: the pattern matches no file\n"


def test_diff_of_a_file_against_itself_reads_it_once(tmp_path, monkeypatch):
    from mcpsniff.cli import diff as diff_cli

    whole, _ = parts(tmp_path)
    calls = []
    real = diff_cli.run_analysis
    monkeypatch.setattr(diff_cli, "run_analysis", lambda files, **kw: calls.append(files) or real(files, **kw))
    r = runner.invoke(app, ["diff", "-f", "json", str(whole), str(whole)])
    assert r.exit_code == 0 and json.loads(r.stdout)["worse"] == [] and len(calls) == 1
    os.chdir(whole.parent)
    r = runner.invoke(app, ["diff", "-f", "json", str(whole), "cap.jsonl"])
    assert r.exit_code == 0 and len(calls) == 2


def test_the_name_an_in_process_recorder_was_given_reads_its_per_process_files(tmp_path):
    """MCPSniffMiddleware(output="cap.jsonl") writes cap.pid<PID>.jsonl (rotated: cap.pid<PID>.1.jsonl):
    the name it was given stands for those files, each with a note naming them all."""
    whole, _ = parts(tmp_path)
    lines = whole.read_bytes().splitlines(keepends=True)
    d = tmp_path / "inproc"
    d.mkdir()
    written = [d / "cap.pid9.jsonl", d / "cap.pid9.1.jsonl", d / "cap.pid10.jsonl.gz"]
    third = len(lines) // 3
    written[0].write_bytes(b"".join(lines[:third]))
    written[1].write_bytes(b"".join(lines[third:2 * third]))
    written[2].write_bytes(gzip.compress(b"".join(lines[2 * third:])))
    for other in ("cap.pidx.jsonl", "capx.pid1.jsonl", "cap.pid1.jsonl.bak"):
        (d / other).write_bytes(lines[0])
    got = expand([str(d / "cap.jsonl")])
    names = [str(p) for p in written]
    note = f"{d / 'cap.jsonl'} is not a file: read as one capture from the in-process recorder's per-process files {', '.join(names)}"
    assert got == [Input(n, note=note) for n in names]
    assert verdicts([str(d / "cap.jsonl")]) == verdicts([str(whole)])
    r = runner.invoke(app, ["analyze", str(d / "cap.jsonl"), "--format", "json"])
    assert r.exit_code in (0, 1) and r.stderr == f"note: {note}\n"
    (d / "cap.jsonl").write_bytes(lines[0])  # a file of that very name: itself, nothing else
    assert expand([str(d / "cap.jsonl")]) == [Input(str(d / "cap.jsonl"))]
    assert expand([str(d / "nothing.jsonl")]) == [Input(str(d / "nothing.jsonl"))]  # opening it says what is wrong
