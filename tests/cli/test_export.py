"""mcpsniff export --har: HAR 1.2 that mitmproxy's reader opens and analyze reads back to the same verdicts."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from mitmproxy.io import har as mitm_har
from typer.testing import CliRunner

from mcpsniff import schema
from mcpsniff.cli import app
from mcpsniff.documents.analysis import analyze, document
from synth import Scenario, seed_scenario

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = sorted((ROOT / "samples").glob("*.jsonl"))
HAR_SCHEMA = ROOT / "tests" / "tools" / "har" / "node_modules" / "har-schema" / "lib"
runner = CliRunner()


def har_validator():
    """The HAR 1.2 JSON schema of the har-schema package (what har-validator checks with), installed
    by scripts/setup.sh into tests/tools/har."""
    import jsonschema
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT6

    if not (HAR_SCHEMA / "har.json").is_file():
        pytest.skip("tests/tools/har is not installed (scripts/setup.sh runs npm ci there)")
    parts = {p.name: json.loads(p.read_text()) for p in HAR_SCHEMA.glob("*.json")}
    registry = Registry().with_resources((name, Resource.from_contents(s, default_specification=DRAFT6)) for name, s in parts.items())
    return jsonschema.Draft6Validator(parts["har.json"], registry=registry, format_checker=jsonschema.FormatChecker())


def export(src: Path | str, out: Path) -> dict:
    r = runner.invoke(app, ["export", str(src), "--har", str(out)])
    assert r.exit_code == 0, r.output
    assert r.stderr.startswith("wrote ") and "as HAR 1.2 to" in r.stderr
    return json.loads(out.read_text())


def verdicts(path: Path | str) -> dict:
    """What the round trip must keep: planes (but when they were seen and how fast), sessions, findings."""
    a = analyze([str(path)])
    doc = document(a, evidence_limit=0)
    planes = [{k: v for k, v in p.items() if k not in ("latency", "first_seen", "last_seen")} for p in doc["planes"]]
    findings = [{k: v for k, v in f.items() if k != "evidence"} | {"evidence": [e["method"] for e in f["evidence"]]}
                for f in doc["findings"]]
    sessions = [{k: str(s[k]) for k in ("sid", "plane", "endpoint", "version")} for s in a.model.sessions()]
    t_issued = [s["t"] for s in a.model.sessions()]
    return {"planes": planes, "findings": findings, "sessions": sessions, "t_issued": t_issued,
            "exchanges": doc["capture"]["exchanges"], "eras": doc["capture"]["eras"]}


def same(a: dict, b: dict) -> None:
    ta, tb = a.pop("t_issued"), b.pop("t_issued")
    assert a == b
    assert ta == pytest.approx(tb, abs=1e-5)  # microsecond timestamps


@pytest.mark.parametrize("sample", SAMPLES, ids=[s.stem for s in SAMPLES])
def test_round_trip_keeps_planes_sessions_and_findings(sample, tmp_path):
    out = tmp_path / f"{sample.stem}.har"
    doc = export(sample, out)
    same(verdicts(sample), verdicts(out))
    errors = list(har_validator().iter_errors(doc))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]
    # and mitmproxy's own HAR reader takes every entry
    for e in doc["log"]["entries"]:
        flow = mitm_har.request_to_flow(e)
        assert flow.request.method == e["request"]["method"] and flow.request.url == e["request"]["url"]


def test_the_har_schema_catches_a_broken_har(tmp_path):
    doc = export(ROOT / "samples" / "seed-two-planes.jsonl", tmp_path / "s.har")
    del doc["log"]["entries"][0]["timings"]
    assert list(har_validator().iter_errors(doc))


def test_har_structure_is_what_devtools_expect(tmp_path):
    doc = export(ROOT / "samples" / "clean-python-sdk.jsonl", tmp_path / "c.har")
    log = doc["log"]
    assert log["version"] == "1.2" and log["creator"]["name"] == "mcpsniff"
    records = [json.loads(x) for x in (ROOT / "samples" / "clean-python-sdk.jsonl").read_text().splitlines()]
    records = sorted((r for r in records if r["kind"] == "exchange"), key=lambda r: r["t"]["req"])  # one capture, in time order
    assert len(log["entries"]) == len(records)
    for e, rec in zip(log["entries"], records):
        assert set(e) >= {"startedDateTime", "time", "request", "response", "cache", "timings"}
        assert set(e["request"]) >= {"method", "url", "httpVersion", "cookies", "headers", "queryString", "headersSize", "bodySize"}
        assert set(e["response"]) >= {"status", "statusText", "httpVersion", "cookies", "headers", "content", "redirectURL",
                                      "headersSize", "bodySize"}
        assert set(e["timings"]) >= {"send", "wait", "receive"} and e["time"] == pytest.approx(
            e["timings"]["send"] + e["timings"]["wait"] + e["timings"]["receive"])
        started = datetime.fromisoformat(e["startedDateTime"].replace("Z", "+00:00")).timestamp()
        assert started == pytest.approx(rec["t"]["req"], abs=1e-6)
        assert e["time"] == pytest.approx((rec["t"]["end"] - rec["t"]["req"]) * 1000, abs=0.01)
        assert e["timings"]["wait"] == pytest.approx((rec["t"]["resp"] - rec["t"]["req"]) * 1000, abs=0.01)
        assert "mimeType" in e["response"]["content"]
    # an SSE response is its event stream, as text
    streams = [e for e in log["entries"] if e["response"]["content"]["mimeType"].startswith("text/event-stream")]
    assert streams and all("data: " in e["response"]["content"]["text"] for e in streams if e["request"]["method"] == "POST")
    posted = [e for e in log["entries"] if e["request"]["method"] == "POST"]
    assert all(json.loads(e["request"]["postData"]["text"])["jsonrpc"] == "2.0" for e in posted)


def test_no_response_disconnects_truncation_and_secrets(tmp_path):
    s = seed_scenario(tool_calls=2)
    s.exchange("openai-mcp/1.0.0", headers=s.mcp_headers(None, "2025-11-25"), status=None, error="Server disconnected.",
               rpc=[{"jsonrpc": "2.0", "id": 99, "method": "tools/call", "params": {"name": "slow"}}])
    done = s.request("openai-mcp/1.0.0 (ChatGPT)", "tools/list", sid="ctrl-aaa",
                     extra_headers=[("Authorization", "Bearer <redacted:0badc0de>")])
    done["error"] = "Client disconnected."  # after a complete response
    s.exchange("openai-mcp/1.0.0 (ChatGPT)", headers=s.mcp_headers("ctrl-aaa", "2025-11-25"), req_truncated=True,
               rpc=[{"jsonrpc": "2.0", "id": 100, "method": "tools/call", "params": {"name": "big"}}],
               resp_rpc=[{"jsonrpc": "2.0", "id": 100, "result": {}}])
    src = tmp_path / "cap.jsonl"
    src.write_bytes(s.jsonl())
    doc = export(src, tmp_path / "cap.har")
    assert not list(har_validator().iter_errors(doc))
    entries = doc["log"]["entries"]
    lost = next(e for e in entries if e["response"]["status"] == 0)
    assert lost["response"]["_error"] == "Server disconnected."
    assert any(e["response"].get("_error") == "Client disconnected." and e["response"]["status"] == 200 for e in entries)
    assert any("truncated" in e["request"]["postData"].get("comment", "") for e in entries)
    assert "Bearer <redacted:" in json.dumps(entries)  # redacted as recorded, never anything else
    same(verdicts(src), verdicts(tmp_path / "cap.har"))
    back = [r for r in schema_records(tmp_path / "cap.har")]
    assert sum(1 for r in back if r["resp"] is None and r["error"] == "Server disconnected.") == 1
    assert sum(1 for r in back if r["resp"] and r["error"] == "Client disconnected.") == 1


def schema_records(path: Path) -> list[dict]:
    from mcpsniff import load

    return [rec for _, rec in load.read(load.Reading(str(path), print))]


def test_sse_events_survive_the_trip(tmp_path):
    s = Scenario()
    s.initialize("c/1", sid="s1")
    events = [schema.make_event(0, "", id="prime-1"), schema.make_event(0, '{"jsonrpc":"2.0","method":"notifications/message"}', id="2"),
              schema.make_event(0, "line one\nline two", event="custom", id="3", retry=1500)]
    s.get_stream("c/1", sid="s1", events=events)
    src = tmp_path / "sse.jsonl"
    src.write_bytes(s.jsonl())
    export(src, tmp_path / "sse.har")
    [get] = [r for r in schema_records(tmp_path / "sse.har") if r["req"]["method"] == "GET"]
    got = [(e["id"], e["event"], e["data"], e["retry"]) for e in get["resp"]["sse"]]
    assert got == [("prime-1", None, "", None), ("2", None, events[1]["data"], None), ("3", "custom", "line one\nline two", 1500)]


def test_export_needs_an_output_and_writes_stdout_for_dash(tmp_path):
    r = runner.invoke(app, ["export", str(SAMPLES[0])])
    assert r.exit_code == 2 and r.stderr == "error: export: name an output, e.g. --har OUT.har or --parquet DIR\n"
    r = runner.invoke(app, ["export", str(SAMPLES[0]), "--har", "-"])
    assert r.exit_code == 0 and json.loads(r.stdout)["log"]["version"] == "1.2"
    r = runner.invoke(app, ["export", str(tmp_path / "missing.jsonl"), "--har", str(tmp_path / "x.har")])
    assert r.exit_code == 2 and "no such file" in r.stderr and not (tmp_path / "x.har").exists()


def test_several_inputs_are_one_capture_in_time_order(tmp_path):
    s = seed_scenario(tool_calls=2)
    half = len(s.records) // 2
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_bytes(b"".join(json.dumps(x).encode() + b"\n" for x in s.records[half:]))
    b.write_bytes(b"".join(json.dumps(x).encode() + b"\n" for x in s.records[:half]))
    r = runner.invoke(app, ["export", str(a), str(b), "--har", str(tmp_path / "ab.har")])
    assert r.exit_code == 0
    starts = [e["startedDateTime"] for e in json.loads((tmp_path / "ab.har").read_text())["log"]["entries"]]
    assert starts == sorted(starts) and len(starts) == len(s.records)


def test_a_failed_flow_in_mitmproxys_own_har_reads_as_no_response(tmp_path):
    """mitmproxy's HAR export writes a flow without a response as status 0 + response._error, like ours."""
    from mitmproxy.addons.savehar import SaveHar
    from mitmproxy.test import tflow, tutils

    req = tutils.treq(method=b"POST", path=b"/mcp", content=b'{"jsonrpc":"2.0","id":1,"method":"tools/list"}',
                      headers=((b"host", b"127.0.0.1:8000"), (b"user-agent", b"c/1"), (b"content-type", b"application/json")))
    f = tflow.tflow(req=req, resp=False, err=True)
    p = tmp_path / "mitm.har"
    p.write_text(json.dumps(SaveHar().make_har([f])))
    [rec] = schema_records(p)
    assert rec["resp"] is None and rec["error"] == f.error.msg
    doc = document(analyze([str(p)]))
    assert "no-response" in [x["rule"] for x in doc["findings"]]
