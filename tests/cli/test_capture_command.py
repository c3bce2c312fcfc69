"""`mcpsniff capture -- COMMAND`: the contract of running a client under capture, with the CLI runner
and a real mitmproxy: the command's exit status, exit 127 for a command that does not exist, an
unwritable output refused before the command starts, an empty capture said plainly, the
environment the command gets, and the upstream-failure lines said while capturing."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from typer.testing import CliRunner

import peerlib
from mcpsniff.cli import app

runner = CliRunner()
PY = sys.executable
INIT = '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}'


def capture(tmp_path: Path, *args: str, env: dict | None = None):
    return runner.invoke(app, ["capture", "-q", *args], env=env, catch_exceptions=False)


def test_the_commands_status_is_the_captures(tmp_path):
    out = tmp_path / "c.jsonl"
    r = capture(tmp_path, "-o", str(out), "--", PY, "-c", "raise SystemExit(3)")
    assert r.exit_code == 3
    assert r.stderr.endswith(f"mcpsniff: {PY} exited with status 3\n")


def test_a_command_that_does_not_exist_is_exit_127_with_its_name(tmp_path):
    out = tmp_path / "c.jsonl"
    r = capture(tmp_path, "-o", str(out), "--", "mcpsniff-no-such-client", "--flag")
    assert r.exit_code == 127
    assert r.stderr == "error: mcpsniff-no-such-client: command not found\n"
    assert not out.exists()  # nothing started


def test_an_unwritable_output_is_said_before_the_command_starts(tmp_path):
    marker = tmp_path / "ran"
    blocker = tmp_path / "file"
    blocker.write_text("")
    r = capture(tmp_path, "-o", str(blocker / "c.jsonl"), "--", PY, "-c", f"open({str(marker)!r}, 'w')")
    assert r.exit_code == 2
    assert r.stderr.startswith(f"error: cannot write the capture file {blocker / 'c.jsonl'}: ")
    assert not marker.exists()


def test_a_command_that_makes_no_request_gets_an_empty_capture_said_plainly(tmp_path):
    out = tmp_path / "c.jsonl"
    r = capture(tmp_path, "-o", str(out), "--", PY, "-c", "pass")
    assert r.exit_code == 0
    assert (f"mcpsniff: {PY} made no MCP request through the proxy: {out} holds no exchange "
            "(a client that ignores HTTP(S)_PROXY goes direct; see docs/capture.md)") in r.stderr
    lines = out.read_text().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["kind"] == "meta"


def test_the_command_gets_the_proxy_and_the_ca_bundle(tmp_path):
    dump = tmp_path / "env.json"
    script = ("import json, os, sys\n"
              "env = dict(os.environ)\n"
              "env['bundle'] = open(env['SSL_CERT_FILE']).read()\n"
              f"json.dump(env, open({str(dump)!r}, 'w'))\n")
    parent = {"NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1", "NODE_OPTIONS": "--max-old-space-size=100",
              "HTTPS_PROXY": "http://elsewhere:3128"}
    r = capture(tmp_path, "-o", str(tmp_path / "c.jsonl"), "--", PY, "-c", script, env=parent)
    assert r.exit_code == 0, r.output
    env = json.loads(dump.read_text())
    proxy = env["HTTPS_PROXY"]
    assert proxy.startswith("http://127.0.0.1:") and proxy in r.stderr  # the banner names it
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        assert env[name] == env[name.lower()] == proxy
    assert "NO_PROXY" not in env and "no_proxy" not in env  # loopback servers are captured too
    bundle = env["SSL_CERT_FILE"]
    assert env["REQUESTS_CA_BUNDLE"] == env["CURL_CA_BUNDLE"] == env["NODE_EXTRA_CA_CERTS"] == bundle
    ca = (Path.home() / ".mitmproxy" / "mitmproxy-ca-cert.pem").read_text()
    assert env["bundle"].startswith(ca)
    assert env["bundle"].count("BEGIN CERTIFICATE") > 10  # and the system's roots after it
    assert not os.path.exists(bundle)  # removed with the capture
    assert env["NODE_USE_ENV_PROXY"] == "1"
    assert env["NODE_OPTIONS"].startswith("--max-old-space-size=100 --require ")
    assert env["NODE_OPTIONS"].endswith("node_env_proxy.cjs")


def test_a_refused_upstream_is_said_at_once_with_its_fix(tmp_path):
    port = peerlib.free_port()  # nothing listens there
    client = f"import httpx; print(httpx.post('http://127.0.0.1:{port}/mcp', content={INIT!r}).status_code)"
    r = capture(tmp_path, "-o", str(tmp_path / "c.jsonl"), "--", PY, "-c", client)
    assert r.exit_code == 0, r.output
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("mcpsniff: upstream ")]
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith(f"mcpsniff: upstream 127.0.0.1:{port}: connection refused (")
    assert lines[0].endswith("); check the address and that the server is running")


def test_a_name_that_does_not_resolve_is_said_once(tmp_path):
    client = ("import httpx\n"
              f"for _ in range(2): httpx.post('http://mcp.mcpsniff-test.invalid/mcp', content={INIT!r})\n")
    r = capture(tmp_path, "-o", str(tmp_path / "c.jsonl"), "--", PY, "-c", client)
    assert r.exit_code == 0, r.output
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("mcpsniff: upstream ")]
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("mcpsniff: upstream mcp.mcpsniff-test.invalid:80: host name does not resolve (")
    assert lines[0].endswith("); check the host name the client uses")


def test_upstream_and_a_command_do_not_go_together(tmp_path):
    r = capture(tmp_path, "--upstream", "http://127.0.0.1:1", "--", PY, "-c", "pass")
    assert r.exit_code == 2
    assert r.stderr == "error: --upstream and a COMMAND do not go together: a command is captured through the forward proxy\n"


def test_the_capture_options_apply_to_a_command(tmp_path):
    port = peerlib.free_port()
    out = tmp_path / "c.jsonl"
    client = f"import httpx; httpx.post('http://127.0.0.1:{port}/tenant-4242/mcp', content={INIT!r})"
    r = capture(tmp_path, "-o", str(out), "--redact-pattern", r"tenant-\d+", "--body-limit", "64", "--", PY, "-c", client)
    assert r.exit_code == 0, r.output
    meta, rec = (json.loads(line) for line in out.read_text().splitlines())
    assert meta["body_limit"] == 64
    assert "tenant-4242" not in rec["req"]["url"] and "<redacted:" in rec["req"]["url"]
    assert rec["req"]["body"]["truncated"] is True


def test_a_web_port_in_use_is_one_line_before_anything_starts(tmp_path):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        r = capture(tmp_path, "--web", "--web-port", str(port), "-o", str(tmp_path / "c.jsonl"), "--", PY, "-c", "pass")
    assert r.exit_code == 2
    assert r.stderr == f"error: --web-port: cannot listen on 127.0.0.1:{port}: Address already in use\n"
    assert not (tmp_path / "c.jsonl").exists()
