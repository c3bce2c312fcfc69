"""A new user's first minute (issue 23): wrong input is unusable input, paths and option errors
in one plain line, the ``analyse`` spelling.  Exact messages and exit codes through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mcpsniff.cli import app

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "samples" / "seed-two-planes.jsonl"
runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def _entry(url: str, ctype: str, text: str, t: str) -> dict:
    return {
        "startedDateTime": t, "time": 10,
        "request": {"method": "GET", "url": url, "httpVersion": "HTTP/1.1", "headers": [{"name": "User-Agent", "value": "Mozilla/5.0"}],
                    "queryString": [], "cookies": [], "headersSize": -1, "bodySize": 0},
        "response": {"status": 200, "statusText": "OK", "httpVersion": "HTTP/1.1", "headers": [{"name": "Content-Type", "value": ctype}],
                     "cookies": [], "content": {"size": len(text), "mimeType": ctype, "text": text}, "redirectURL": "",
                     "headersSize": -1, "bodySize": len(text)},
        "cache": {}, "timings": {"send": 1, "wait": 5, "receive": 4},
    }


@pytest.fixture
def web(tmp_path, monkeypatch):
    """A HAR of ordinary web browsing: two exchanges, no MCP."""
    monkeypatch.chdir(tmp_path)
    har = {"log": {"version": "1.2", "creator": {"name": "browser", "version": "1"}, "entries": [
        _entry("https://example.test/", "text/html", "<p>hello</p>", "2026-01-01T00:00:00.000Z"),
        _entry("https://example.test/style.css", "text/css", "p{color:red}", "2026-01-01T00:00:01.000Z")]}}
    Path("web.har").write_text(json.dumps(har))
    return "web.har"


NO_MCP = "error: no MCP traffic in web.har (2 HTTP exchanges to example.test)\n"


@pytest.mark.parametrize("fmt", ["table", "json", "markdown", "sarif", "junit"])
def test_a_capture_without_mcp_traffic_is_unusable_in_every_format(web, fmt):
    r = invoke("analyze", web, "-f", fmt)
    assert (r.exit_code, r.stdout, r.stderr) == (2, "", NO_MCP)
    r = invoke("analyze", web, "-f", fmt, "--fail-on", "never")  # no gate makes the wrong file right
    assert (r.exit_code, r.stderr) == (2, NO_MCP)


@pytest.mark.parametrize("fmt", ["markdown", "json"])
def test_a_report_of_a_capture_without_mcp_traffic_is_refused(web, fmt):
    r = invoke("report", web, "-f", fmt, "-o", "out/report.md")
    assert (r.exit_code, r.stdout, r.stderr) == (2, "", NO_MCP)
    assert not Path("out/report.md").exists()


def test_diff_against_a_capture_without_mcp_traffic_is_refused(web):
    r = invoke("diff", SEED, web)
    assert (r.exit_code, r.stderr) == (2, NO_MCP)


def test_hosts_are_listed_in_order_of_appearance_up_to_three(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    entries = [_entry(f"http://{h}/x", "text/plain", "x", f"2026-01-01T00:00:0{i}.000Z")
               for i, h in enumerate(["b.test:8080", "a.test", "b.test:8080", "c.test", "d.test", "e.test"])]
    Path("web.har").write_text(json.dumps({"log": {"version": "1.2", "creator": {"name": "x", "version": "1"}, "entries": entries}}))
    r = invoke("analyze", "web.har")
    assert (r.exit_code, r.stderr) == (
        2, "error: no MCP traffic in web.har (6 HTTP exchanges to b.test:8080, a.test, c.test and 2 more hosts)\n")


def test_an_empty_file_is_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("empty.jsonl").write_bytes(b"")
    for args in (["analyze", "empty.jsonl"], ["report", "empty.jsonl"], ["export", "empty.jsonl", "--har", "x.har"],
                 ["export", "empty.jsonl", "--parquet", "pq"]):
        r = invoke(*args)
        assert (r.exit_code, r.stderr) == (2, "error: empty.jsonl: empty file, no records\n"), args


def test_an_empty_file_beside_a_good_one_is_a_warning(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    r = invoke("analyze", SEED, empty, "-f", "json")
    assert r.exit_code == 1
    assert r.stderr == f"warning: {empty}: empty file, no records (skipped)\n"


# ---------------------------------------------------------------- -o paths

@pytest.mark.parametrize("args, made", [
    (["report", SEED, "-o", "new/dir/report.md"], "new/dir/report.md"),
    (["analyze", SEED, "-f", "json", "-o", "new/a/analysis.json"], "new/a/analysis.json"),
    (["diff", SEED, SEED, "-o", "new/d/diff.txt"], "new/d/diff.txt"),
    (["export", SEED, "--har", "new/h/cap.har"], "new/h/cap.har"),
    (["export", SEED, "--parquet", "new/p/pq"], "new/p/pq/day=2026-11-25"),
])
def test_output_creates_its_folders(tmp_path, monkeypatch, args, made):
    monkeypatch.chdir(tmp_path)
    r = invoke(*args)
    assert r.exit_code in (0, 1), r.stderr
    assert Path(made).exists()


@pytest.mark.parametrize("args", [
    ["report", SEED, "-o", "afile/deeper/report.md"],
    ["analyze", SEED, "-o", "afile/deeper/analysis.txt"],
    ["diff", SEED, SEED, "-o", "afile/deeper/diff.txt"],
    ["export", SEED, "--har", "afile/deeper/cap.har"],
    ["export", SEED, "--parquet", "afile/deeper/pq"],
])
def test_output_under_a_file_says_so(tmp_path, monkeypatch, args):
    monkeypatch.chdir(tmp_path)
    Path("afile").write_text("x")
    r = invoke(*args)
    dest = args[-1]
    assert (r.exit_code, r.stdout, r.stderr) == (2, "", f"error: {dest}: cannot write: afile is a file, not a folder\n")


def test_output_that_is_a_folder_says_so(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("out").mkdir()
    r = invoke("report", SEED, "-o", "out")
    assert (r.exit_code, r.stderr) == (2, "error: out: cannot write: it is a folder; name a file\n")


# ---------------------------------------------------------------- option errors

@pytest.mark.parametrize("args, line", [
    (["analyze", "--fail-on", "errors", SEED], "error: --fail-on: 'errors' is not one of error, warning, never"),
    (["analyze", "--fail-on=errors", SEED], "error: --fail-on: 'errors' is not one of error, warning, never"),
    (["analyze", "-f", "yaml", SEED], "error: --format: 'yaml' is not one of table, json, markdown, sarif, junit"),
    (["report", "-f", "html", SEED], "error: --format: 'html' is not one of markdown, json"),
    (["rules", "-f", "csv"], "error: --format: 'csv' is not one of table, json, markdown"),
    (["analyze", "--evidence", "many", SEED], "error: --evidence: 'many' is not a whole number"),
    (["analyze", "--evidence=-1", SEED], "error: --evidence: '-1' is less than 0"),
    (["analyze"], "error: missing argument FILES"),
    (["capture", "--listen-port", "abc"], "error: --listen-port: 'abc' is not a whole number"),
    (["diff", "--planes", "a", SEED], "error: missing argument FILES"),
    (["analyze", "--nope", SEED], "error: no such option: --nope"),
    (["anlyze", SEED], "error: no command 'anlyze'; did you mean analyze? commands: addon-path, analyze, capture, diff, explain, "
                       "export, report, rules"),
])
def test_option_errors_are_one_plain_line(args, line):
    r = invoke(*args)
    assert (r.exit_code, r.stdout, r.stderr) == (2, "", line + "\n")


def test_option_values_arrive_as_declared(tmp_path, monkeypatch):
    """Lists, pairs, numbers and choices reach the commands as their types say (plain coercion)."""
    monkeypatch.chdir(tmp_path)
    r = invoke("diff", SEED, "--planes", "openai-mcp/1.0.0 (ChatGPT)", "openai-mcp/1.0.0", "-f", "json")
    assert r.exit_code == 0 and [p["user_agent"] for p in json.loads(r.stdout)["planes"]] == [
        "openai-mcp/1.0.0 (ChatGPT)", "openai-mcp/1.0.0"]
    r = invoke("analyze", SEED, SEED, "-f", "json", "--evidence", "1", "--fail-on", "never")
    doc = json.loads(r.stdout)
    assert r.exit_code == 0 and len(doc["inputs"]) == 1 and all(len(f["evidence"]) <= 1 for f in doc["findings"])


def test_analyse_is_a_hidden_alias():
    british = invoke("analyse", SEED, "-f", "json")
    american = invoke("analyze", SEED, "-f", "json")
    assert british.exit_code == american.exit_code == 1
    strip = lambda out: {k: v for k, v in json.loads(out).items() if k != "mcpsniff"}  # noqa: E731
    assert strip(british.stdout) == strip(american.stdout)
    assert "analyse" not in invoke("--help").stdout


def test_the_readme_lists_every_exit_code():
    from mcpsniff.cli import common

    readme = (ROOT / "README.md").read_text()
    bullet = readme[readme.index("- Exit codes"):].split("\n- ", 1)[0].split("\n\n", 1)[0]
    for code in (common.EXIT_OK, common.EXIT_FINDINGS, common.EXIT_USAGE, common.EXIT_INTERRUPTED):
        assert f"**{code}**" in bullet, code
    for case in ("looks broken", "no MCP", "a plane got worse", "--fail-on never"):
        assert case in bullet, case


def test_a_capture_of_mcp_preflights_only_is_mcp_traffic(tmp_path):
    """Near miss: no JSON-RPC yet, but a browser asking to send MCP headers is MCP traffic."""
    from synth import Scenario

    s = Scenario()
    s.preflight("Mozilla/5.0", "http://localhost:6274", "content-type,mcp-session-id,mcp-protocol-version")
    p = tmp_path / "preflight.jsonl"
    p.write_bytes(s.jsonl())
    r = invoke("analyze", p, "-f", "json")
    assert r.exit_code in (0, 1) and "no MCP traffic" not in r.stderr
    assert json.loads(r.stdout)["capture"]["exchanges"] == 1
