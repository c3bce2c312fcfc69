"""`mcpsniff capture --upstream https://...` in front of a server with a self-signed certificate.

With --upstream-insecure the official Python SDK client records a clean session through it; without
it every request fails at the proxy, and analyze / report say the capture failed instead of 'ok'.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import peerlib

pytestmark = pytest.mark.slow


def analyze(path, *args):
    return subprocess.run([sys.executable, "-m", "mcpsniff", "analyze", str(path), *args],
                          capture_output=True, text=True, timeout=120)


def meta(path):
    return [json.loads(line) for line in path.read_text().splitlines() if '"kind":"meta"' in line]


def test_insecure_upstream_records_a_clean_sdk_session(tmp_path):
    tls = peerlib.self_signed(tmp_path)
    out = tmp_path / "tls.jsonl"
    with peerlib.py_server("stateful", tls=tls) as url:
        assert url.startswith("https://")
        upstream = url.rsplit("/", 1)[0]
        proc, port = peerlib.start_capture(["--upstream", upstream, "--upstream-insecure", "-o", str(out)], tmp_path)
        try:
            run = peerlib.run_py_client(f"http://127.0.0.1:{port}/mcp")
        finally:
            err = peerlib.stop_capture(proc)
    assert run.returncode == 0 and run.summary and run.summary.get("ok"), run.stdout + run.stderr
    assert "NOT verified (--upstream-insecure)" in err
    (m,) = meta(out)
    assert m["upstream_tls"] == {"verify": False, "ca": None}
    r = analyze(out, "-f", "json")
    assert r.returncode == 0, r.stdout + r.stderr
    doc = json.loads(r.stdout)
    assert doc["summary"]["capture_failed"] is None
    assert [p["verdict"] for p in doc["planes"]] == ["ok"]
    assert not [f for f in doc["findings"] if f["severity"] == "error"]
    assert doc["planes"][0]["sessions_issued"] == 1


def test_upstream_ca_verifies_the_self_signed_server(tmp_path):
    tls = peerlib.self_signed(tmp_path)
    out = tmp_path / "ca.jsonl"
    with peerlib.py_server("json", tls=tls) as url:
        proc, port = peerlib.start_capture(["--upstream", url.rsplit("/", 1)[0], "--upstream-ca", str(tls[0]), "-o", str(out)],
                                           tmp_path)
        try:
            run = peerlib.run_py_client(f"http://127.0.0.1:{port}/mcp")
        finally:
            peerlib.stop_capture(proc)
    assert run.returncode == 0, run.stdout + run.stderr
    assert meta(out)[0]["upstream_tls"]["verify"] is True
    assert analyze(out).returncode == 0


def test_unverified_upstream_makes_a_capture_that_says_it_failed(tmp_path):
    tls = peerlib.self_signed(tmp_path)
    out = tmp_path / "fail.jsonl"
    with peerlib.py_server("stateful", tls=tls) as url:
        proc, port = peerlib.start_capture(["--upstream", url.rsplit("/", 1)[0], "-o", str(out)], tmp_path)
        try:
            run = peerlib.run_py_client(f"http://127.0.0.1:{port}/mcp", timeout=30)
        finally:
            peerlib.stop_capture(proc)
    assert run.returncode != 0  # the client got the proxy's 502s
    r = analyze(out, "-f", "json")
    assert r.returncode == 1, r.stdout + r.stderr  # no clean bill
    doc = json.loads(r.stdout)
    cf = doc["summary"]["capture_failed"]
    assert cf and cf["failed"] == cf["exchanges"] >= 1
    assert any("certificate verify failed" in k.lower() for k in cf["answers"]), cf
    assert all(p["verdict"] != "ok" for p in doc["planes"])
    table = analyze(out)
    assert "The capture itself looks broken" in table.stdout and "No findings" not in table.stdout
    rep = subprocess.run([sys.executable, "-m", "mcpsniff", "report", str(out)], capture_output=True, text=True, timeout=120)
    assert rep.stdout.splitlines()[0].startswith("## MCP session report: the capture itself looks broken")
    assert "no MUST violations" not in rep.stdout
