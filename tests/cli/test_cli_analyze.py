"""`mcpsniff analyze` through Typer's CliRunner: exact messages and exit codes."""

from __future__ import annotations

import json

import orjson
import pytest
from typer.testing import CliRunner

from mcpsniff.cli import app
from synth import Scenario, seed_scenario

runner = CliRunner()
TOOL, CTRL = "openai-mcp/1.0.0", "openai-mcp/1.0.0 (ChatGPT)"


@pytest.fixture
def seed(tmp_path):
    p = tmp_path / "seed.jsonl"
    p.write_bytes(seed_scenario(tool_calls=3).jsonl())
    return p


@pytest.fixture
def clean(tmp_path):
    s = Scenario()
    s.initialize("good/1", sid="s1")
    s.notify("good/1", sid="s1")
    s.request("good/1", "tools/list", sid="s1")
    p = tmp_path / "clean.jsonl"
    p.write_bytes(s.jsonl())
    return p


def invoke(*args, input=None):
    return runner.invoke(app, list(args), input=input)


def test_json_document_shape(seed):
    r = invoke("analyze", str(seed), "--format", "json")
    assert r.exit_code == 1, r.output
    doc = json.loads(r.stdout)
    assert doc["mcpsniff"]["document"] == 1 and doc["mcpsniff"]["schema"] == 1
    planes = {p["user_agent"]: p for p in doc["planes"]}
    assert set(planes) == {TOOL, CTRL}
    assert planes[TOOL]["verdict"] == "fail" and planes[CTRL]["verdict"] == "ok"
    assert planes[TOOL]["session_header"]["dropped"] == 3
    assert planes[CTRL]["session_header"] == {"echoed": 3, "dropped": 0, "foreign": 0, "unknown": 0, "none": 0}
    # the error, then the observation that most of the TOOL plane's requests were refused (3 of 5)
    assert [(x["rule"], x["severity"], x["plane"]) for x in doc["findings"]] == [
        ("session-id-dropped", "error", TOOL), ("requests-refused", "info", TOOL)]
    f, refused = doc["findings"]
    assert refused["detail"] == "3 of 5 requests failed: 400 (JSON-RPC -32600) Bad Request x3"
    assert (f["rule"], f["severity"], f["plane"], f["count"]) == ("session-id-dropped", "error", TOOL, 3)
    assert f["by_method"] == {"tools/call": 3}
    assert f["spec"]["version"] == "2025-11-25"
    assert f["spec"]["url"].endswith("/2025-11-25/basic/transports#session-management")
    assert [e["method"] for e in f["evidence"]] == ["tools/call"] * 3
    assert all("mcp-session-id" not in e["headers"] for e in f["evidence"])
    assert all(e["source"].startswith(str(seed) + ":") for e in f["evidence"])
    assert doc["summary"]["failing_planes"] == [TOOL]


def test_table_names_both_planes_and_the_rule(seed):
    r = invoke("analyze", str(seed))
    assert r.exit_code == 1
    assert TOOL in r.stdout and CTRL in r.stdout
    assert "session-id-dropped" in r.stdout and "FAIL" in r.stdout


def test_markdown(seed):
    r = invoke("analyze", str(seed), "-f", "markdown")
    assert r.exit_code == 1
    assert r.stdout.startswith("## MCP session analysis (mcpsniff)")
    assert "`session-id-dropped`" in r.stdout and "MUST include it" in r.stdout


def test_fail_on_levels(seed, clean):
    assert invoke("analyze", str(seed), "--fail-on", "never", "-f", "json").exit_code == 0
    assert invoke("analyze", str(clean), "-f", "json").exit_code == 0
    assert invoke("analyze", str(clean), "--fail-on", "warning", "-f", "json").exit_code == 0


def test_plane_filter(seed):
    r = invoke("analyze", str(seed), "--plane", CTRL, "-f", "json")
    assert r.exit_code == 0
    doc = json.loads(r.stdout)
    assert [p["user_agent"] for p in doc["planes"]] == [CTRL] and doc["findings"] == []


def test_unknown_plane_is_one_line(seed):
    r = invoke("analyze", str(seed), "--plane", "nope")
    assert r.exit_code == 2
    assert r.stderr == f"error: no plane with User-Agent 'nope'; planes: '{TOOL}', '{CTRL}'\n"


def test_stdin(seed):
    r = invoke("analyze", "-", "-f", "json", input=seed.read_bytes())
    assert r.exit_code == 1
    assert json.loads(r.stdout)["inputs"][0]["path"] == "-"


def test_several_files_are_one_capture(tmp_path):
    s = seed_scenario(tool_calls=2)
    half = len(s.records) // 2
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    # split out of order: the later half first, merged back by time
    a.write_bytes(b"".join(orjson.dumps(x) + b"\n" for x in s.records[half:]))
    b.write_bytes(b"".join(orjson.dumps(x) + b"\n" for x in s.records[:half]))
    doc = json.loads(invoke("analyze", str(a), str(b), "-f", "json").stdout)
    assert doc["capture"]["exchanges"] == len(s.records)
    assert [(f["rule"], f["count"]) for f in doc["findings"]] == [("session-id-dropped", 2)]


def test_missing_file(tmp_path):
    r = invoke("analyze", str(tmp_path / "nope.jsonl"))
    assert r.exit_code == 2
    assert r.stderr == f"error: {tmp_path / 'nope.jsonl'}: no such file\n"


def test_directory(tmp_path):
    r = invoke("analyze", str(tmp_path))
    assert r.exit_code == 2
    assert r.stderr == (f"error: {tmp_path}: a directory without capture files (.jsonl, .har, .flow, .flows, .mitm, "
                        "also .gz) or a Parquet export\n")


def test_empty_file(tmp_path):
    p = tmp_path / "empty.jsonl"
    p.write_bytes(b"")
    r = invoke("analyze", str(p))
    assert r.exit_code == 2
    assert r.stderr == f"error: {p}: empty file, no records\n"  # one problem, one line


def test_bad_lines_are_reported_and_skipped(seed, tmp_path):
    lines = seed.read_bytes().splitlines(keepends=True)
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(
        lines[0]
        + b"this is not json\n"
        + b'{"v": 2, "kind": "exchange"}\n'
        + b'{"v": 1, "kind": "exchange", "t": {"req": 1.0}}\n'
        + b"".join(lines[1:])
        + lines[1][: len(lines[1]) // 2]  # torn last line
    )
    r = invoke("analyze", str(bad), "-f", "json")
    assert r.exit_code == 1
    assert r.stderr.splitlines() == [
        f"warning: {bad}:2: not JSON (invalid literal, expected 'true' at column 1) (skipped)",
        f"warning: {bad}:3: unsupported schema version 2 (this mcpsniff reads version 1) (skipped)",
        f"warning: {bad}:4: exchange without a 'req' object (skipped)",
        f"warning: {bad}:{len(lines) + 4}: incomplete last line (the capture was probably interrupted while writing it) (skipped)",
    ]
    doc = json.loads(r.stdout)
    assert doc["capture"]["exchanges"] == len(lines)  # every good line kept
    assert len(doc["problems"]) == 4


def test_strict_makes_the_first_bad_line_fatal(seed, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(seed.read_bytes() + b"[1, 2]\n")
    r = invoke("analyze", str(bad), "--strict")
    assert r.exit_code == 2
    n = len(seed.read_bytes().splitlines()) + 1
    assert r.stderr == f"error: {bad}:{n}: expected a JSON object, got list\n"


def test_binary_file(tmp_path):
    p = tmp_path / "blob.bin"
    p.write_bytes(bytes(range(256)) * 40)
    r = invoke("analyze", str(p))
    assert r.exit_code == 2
    assert r.stderr.splitlines()[-1] == f"error: no exchanges to analyse in {p}"
    assert "Traceback" not in r.output


def test_many_bad_lines_are_summarised(tmp_path):
    p = tmp_path / "junk.jsonl"
    p.write_bytes(b"nope\n" * 50)
    r = invoke("analyze", str(p))
    lines = r.stderr.splitlines()
    assert r.exit_code == 2
    assert len(lines) == 22
    assert lines[20] == "warning: 30 more unusable lines skipped (50 in all)"


def test_huge_body_line(tmp_path):
    s = Scenario()
    s.initialize("big/1", sid="s1")
    s.request("big/1", "tools/call", sid="s1", params={"name": "x", "arguments": {"blob": "A" * 20_000_000}})
    p = tmp_path / "huge.jsonl"
    p.write_bytes(s.jsonl())
    r = invoke("analyze", str(p), "-f", "json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["capture"]["exchanges"] == 2


def test_rules_command_lists_the_catalogue():
    r = invoke("rules", "-f", "json")
    assert r.exit_code == 0
    ids = [x["id"] for x in json.loads(r.stdout)]
    assert "session-id-dropped" in ids and "modern-meta-missing" in ids


def test_version():
    r = invoke("--version")
    assert r.exit_code == 0 and r.stdout.startswith("mcpsniff 0.1.0 (mitmproxy ")


@pytest.fixture
def broken(tmp_path):
    """A capture through a proxy that could not verify the server's certificate: every answer is 502."""
    s = Scenario()
    for i in range(4):
        s.exchange("client/1", headers=s.mcp_headers(None, None), status=502,
                   rpc=[{"jsonrpc": "2.0", "id": i, "method": "initialize", "params": {}}],
                   resp_text="Certificate verify failed: self-signed certificate")
    p = tmp_path / "broken.jsonl"
    p.write_bytes(s.jsonl())
    return p


def test_a_broken_capture_is_no_clean_bill(broken):
    r = invoke("analyze", str(broken))
    assert r.exit_code == 1  # no error finding, but nothing worked either
    assert "The capture itself looks broken: 4 of 4 MCP exchanges failed" in r.stdout
    assert "REFUSED" in r.stdout and "No findings" not in r.stdout
    assert "502 Certificate verify failed" in r.stdout
    assert invoke("analyze", str(broken), "--fail-on", "never").exit_code == 0
    md = invoke("analyze", str(broken), "-f", "markdown").stdout
    assert "The capture itself looks broken" in md and "No violation" not in md
    report = invoke("report", str(broken))
    assert report.exit_code == 0
    first = report.stdout.splitlines()[0]
    assert first == "## MCP session report: the capture itself looks broken (4 of 4 MCP exchanges failed)"
    assert "no MUST violations" not in report.stdout


def test_server_errors_are_named_in_the_report_title(tmp_path):
    s = Scenario()
    s.initialize("c/1", sid="abc", resp_headers=[("mcp-session-id", "abc")])  # the header twice
    s.notify("c/1", sid="abc")
    p = tmp_path / "dup.jsonl"
    p.write_bytes(s.jsonl())
    first = invoke("report", str(p)).stdout.splitlines()[0]
    assert first == "## MCP session report: the server breaks 1 transport rule"
    md = invoke("report", str(p)).stdout
    assert "— RFC 9110, [5.3. Field Order](https://www.rfc-editor.org/rfc/rfc9110#section-5.3)" in md


def _analyze_with(env_extra: dict[str, str]):
    import os
    import subprocess
    import sys
    from pathlib import Path

    sample = Path(__file__).resolve().parents[2] / "samples" / "seed-two-planes.jsonl"
    return subprocess.run([sys.executable, "-m", "mcpsniff", "analyze", "-f", "json", str(sample)],
                          capture_output=True, text=True, env={**os.environ, **env_extra}, timeout=120)


def test_a_memory_limit_too_small_for_a_statement_grows_until_it_fits():
    small, default = _analyze_with({"MCPSNIFF_MEMORY_LIMIT": "1MB"}), _analyze_with({})
    assert (small.returncode, small.stderr) == (default.returncode, default.stderr) == (1, "")

    def stable(doc: str) -> dict:
        d = json.loads(doc)
        d.pop("generated", None)
        return d

    assert stable(small.stdout) == stable(default.stdout)


def test_running_out_of_engine_memory_is_one_line_naming_the_setting_to_change():
    run = _analyze_with({"MCPSNIFF_MEMORY_LIMIT": "1MB", "MCPSNIFF_MEMORY_MAX": "2MB"})
    assert (run.returncode, run.stdout) == (2, "")
    assert run.stderr == ("error: the capture did not fit in DuckDB's memory limit of 2MB, grown from 1MB: "
                          "set MCPSNIFF_MEMORY_MAX higher (e.g. MCPSNIFF_MEMORY_MAX=4GB)\n")


def test_a_memory_setting_that_is_not_a_size_is_one_line():
    run = _analyze_with({"MCPSNIFF_MEMORY_LIMIT": "lots"})
    assert (run.returncode, run.stdout) == (2, "")
    assert run.stderr == "error: MCPSNIFF_MEMORY_LIMIT: 'lots' is not a size like 64k, 200MB or 1GB\n"


@pytest.mark.parametrize("name, value, least", [
    ("MCPSNIFF_FAST_READ_THREADS", "two", 1), ("MCPSNIFF_FAST_READ_THREADS", "0", 1),
    ("MCPSNIFF_FAST_READ_FILES", "-1", 0), ("MCPSNIFF_FAST_MIN_BYTES", "16MB", 0)])
def test_a_reader_setting_that_is_not_a_count_is_one_line(name, value, least):
    run = _analyze_with({"MCPSNIFF_FAST_MIN_BYTES": "0", name: value})
    assert (run.returncode, run.stdout) == (2, "")
    assert run.stderr == f"error: {name}: {value!r} is not a whole number of at least {least}\n"
