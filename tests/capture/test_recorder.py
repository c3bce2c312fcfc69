"""One recorder behind the mitmproxy addon, the ASGI middleware and ``mcpsniff capture``.

An option is declared once (capture/recorder.py OPTIONS): each declared option is offered by every
way of recording it belongs to, validated the same way, and its error names the option as each
user spells it. Both recorders write the same meta line fields and count sizes in one unit.
"""

from __future__ import annotations

import inspect
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mitmproxy import exceptions
from mitmproxy.test import taddons

from mcpsniff.asgi import MCPSniffMiddleware
from mcpsniff.capture.addon import McpSniff
from mcpsniff.capture.recorder import OPTIONS, OptionError, RecorderOptions
from mcpsniff.errors import CaptureError

PY = sys.executable


async def _app(scope, receive, send):  # never called: the middleware is only built
    raise AssertionError


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([PY, "-m", "mcpsniff", "capture", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=60, env={**os.environ, "COLUMNS": "200"})


def test_every_declared_option_is_offered_by_each_way_of_recording(tmp_path):
    sniff = McpSniff()
    with taddons.context(sniff) as tctx:
        mitm = {name: tctx.options._options[name] for name in tctx.options.keys() if name.startswith("mcpsniff_")}
    keywords = inspect.signature(MCPSniffMiddleware).parameters
    helptext = _cli("--help", cwd=tmp_path).stdout
    for o in OPTIONS:
        assert o.name in keywords and (o.name == "output" or keywords[o.name].default == o.default), o.name
        if o.only == "asgi":
            assert o.mitmproxy_name not in mitm and not o.flag
            continue
        assert mitm[o.mitmproxy_name].help == f"mcpsniff: {o.help}"
        assert mitm[o.mitmproxy_name].default == o.kind.to_mitmproxy(o.default)
        if o.flag:
            assert re.search(rf"{o.flag}\b", helptext), o.flag
    assert len(mitm) == sum(1 for o in OPTIONS if o.only != "asgi")  # nothing the declarations do not have


def test_body_limit_help_says_its_unit(tmp_path):
    helptext = " ".join(_cli("--help", cwd=tmp_path).stdout.replace("│", " ").split())
    assert "--body-limit SIZE Bytes of each body" in helptext
    assert "Default 1MB; k, M, G count in 1024s: 1k = 1024 bytes, 1M = 1024k" in helptext


@pytest.mark.parametrize("name, value, reason", [
    ("body_limit", -1, "must be 0 or more bytes, not -1"),
    ("body_limit", "lots", "'lots' is not a size like 64k, 200MB or 1GB"),
    ("rotate_mb", -2, "must be 0 or more, not -2"),
    ("queue_size", 0, "must be 1 or more, not 0"),
    ("redact", "no", "must be true or false, not 'no'"),
    ("redact_extra", "ok, not ok", "invalid name to redact: 'not ok' (use letters, digits, '-', '_', '.')"),
    ("redact_patterns", ["ok", "bad("], "invalid pattern 'bad(': missing ), unterminated subpattern at position 3"),
])
def test_one_validation_one_message_spelt_as_each_user_spells_the_option(tmp_path, name, value, reason):
    with pytest.raises(OptionError) as e:
        MCPSniffMiddleware(_app, output=tmp_path / "x.jsonl", **{name: value})
    assert str(e.value) == f"{name}: {reason}" and isinstance(e.value, CaptureError)
    opt = next(o for o in OPTIONS if o.name == name)
    if opt.only == "asgi" or not isinstance(value, opt.kind.mitmproxy_type):
        return  # mitmproxy itself refuses a value of the wrong type
    sniff = McpSniff()
    with taddons.context(sniff) as tctx:
        with pytest.raises(exceptions.OptionsError, match=f"^{re.escape(f'{opt.mitmproxy_name}: {reason}')}$"):
            tctx.configure(sniff, **{opt.mitmproxy_name: value})


@pytest.mark.parametrize("args, message", [
    (["--body-limit", "lots"], "error: --body-limit: 'lots' is not a size like 64k, 200MB or 1GB\n"),
    (["--rotate-mb", "-2"], "error: --rotate-mb: must be 0 or more, not -2\n"),
    (["--redact", "not ok"], "error: --redact: invalid name to redact: 'not ok' (use letters, digits, '-', '_', '.')\n"),
])
def test_the_capture_command_reports_the_recorders_verdict_on_its_flags(tmp_path, args, message):
    run = _cli(*args, "-o", str(tmp_path / "x.jsonl"), "--listen-port", "0", cwd=tmp_path)
    assert (run.returncode, run.stderr) == (2, message)
    assert not (tmp_path / "x.jsonl").exists()


def test_options_validate_once_and_keep_their_defaults():
    opts = RecorderOptions(body_limit="1.5k", redact_extra="X-Tenant, X-Org", redact_patterns="a+\nb+")
    assert (opts.body_limit, opts.redact_extra, opts.redact_patterns) == (1536, ("X-Tenant", "X-Org"), ("a+", "b+"))
    assert opts.mitmproxy()["mcpsniff_redact_extra"] == "X-Tenant,X-Org" and "mcpsniff_queue_size" not in opts.mitmproxy()
    assert RecorderOptions().as_dict() == {o.name: o.default for o in OPTIONS}
    with pytest.raises(TypeError, match="unknown recorder option 'body_limt'"):
        RecorderOptions(body_limt=1)


def _meta_of_capture(tmp_path: Path, *args: str) -> dict:
    out = tmp_path / "cli.jsonl"
    proc = subprocess.Popen([PY, "-m", "mcpsniff", "capture", "--listen-port", "0", "--quiet", "-o", str(out), *args],
                            cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        deadline = time.time() + 30
        while not (out.exists() and out.read_bytes().endswith(b"\n")) and time.time() < deadline:
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    return json.loads(out.read_bytes().splitlines()[0])


def test_both_recorders_write_one_meta_line_and_read_sizes_in_one_unit(tmp_path):
    proxy = _meta_of_capture(tmp_path, "--body-limit", "2k", "--redact", "X-Tenant")
    mw = MCPSniffMiddleware(_app, output=tmp_path / "asgi.jsonl", body_limit="2k", redact_extra=["X-Tenant"])
    try:
        assert mw.recorder.writer is not None and mw.flush()  # started as at the first request
        inproc = json.loads(Path(mw.path).read_bytes().splitlines()[0])
    finally:
        mw.close()
    assert proxy["recorder"] == "mitmproxy" and inproc["recorder"] == "asgi"
    assert proxy["body_limit"] == inproc["body_limit"] == 2048
    shared = {"v", "kind", "tool", "recorder", "mcpsniff", "python", "capture", "part", "started", "redaction",
              "body_limit", "record_all"}
    assert shared <= set(proxy) and shared <= set(inproc)
    assert set(proxy) - shared == {"mitmproxy", "mode", "upstream_tls"}
    assert set(inproc) - shared == {"server", "pid", "queue_size"}
    assert {k: proxy[k] for k in ("tool", "record_all")} == {k: inproc[k] for k in ("tool", "record_all")}
    assert proxy["redaction"]["extra"] == inproc["redaction"]["extra"] == ["X-Tenant"]
