"""A corpus of broken inputs: every kind gives one clear problem line, never a traceback.

Most kinds put one bad line between valid ones: the valid exchanges around it must all still be
analysed (and ``--strict`` makes the bad line fatal, exit 2). Whole-file kinds (empty, garbage,
cut gzip, broken HAR or flow files) must end in exit 2 with an ``error:`` line, or be read as far
as they go.
"""

from __future__ import annotations

import copy
import gzip
import io
import json
import re

import orjson
import pytest
from typer.testing import CliRunner

from mcpsniff.cli import app
from synth import seed_scenario

runner = CliRunner()
SEED = seed_scenario(tool_calls=3)
GOOD = [orjson.dumps(r) for r in SEED.records]  # 9 valid exchange lines
N_GOOD = len(GOOD)
PROBLEM = re.compile(r"^warning: .+:(\d+|\d+): .+ \(skipped\)$|^warning: .+: .+ \(skipped\)$|^warning: \d+ more unusable")


def mutated(path: str, value) -> bytes:
    """A valid exchange with one field (dotted path, list index as int) set to ``value`` (or removed)."""
    rec = copy.deepcopy(SEED.records[4])
    keys = path.split(".")
    obj = rec
    for k in keys[:-1]:
        obj = obj[int(k)] if isinstance(obj, list) else obj[k]
    last = keys[-1]
    if value is REMOVE:
        del obj[last]
    elif isinstance(obj, list):
        obj[int(last)] = value
    else:
        obj[last] = value
    return json.dumps(rec).encode()


REMOVE = object()

# one bad line between valid ones -------------------------------------------------------------------
BAD_LINES: dict[str, bytes] = {
    "not JSON": b"{this is not json",
    "JSON array": b"[1, 2, 3]",
    "JSON string": b'"hello"',
    "JSON null": b"null",
    "no schema version": b'{"kind": "exchange"}',
    "schema version 2": b'{"v": 2, "kind": "exchange"}',
    "unknown kind": b'{"v": 1, "kind": "banana"}',
    "no t": mutated("t", REMOVE),
    "t.req a string": mutated("t.req", "yesterday"),
    "t.req 1e308": mutated("t.req", 1e308),
    "t.req negative": mutated("t.req", -5),
    "t.req a boolean": mutated("t.req", True),
    "t.resp a string": mutated("t.resp", "x"),
    "t.end a boolean": mutated("t.end", True),
    "t.end year 9999": mutated("t.end", 253402300799.0),
    "status 99999": mutated("resp.status", 99999),
    "status 99": mutated("resp.status", 99),
    "status a string": mutated("resp.status", "200"),
    "status a boolean": mutated("resp.status", True),
    "status a float": mutated("resp.status", 200.5),
    "resp body size a string": mutated("resp.body.size", "big"),
    "resp body size a boolean": mutated("resp.body.size", True),
    "resp body size -5": mutated("resp.body.size", -5),
    "resp body size 2**70": mutated("resp.body.size", 2**70),
    "req body size a float": mutated("req.body.size", 1.5),
    "method a number": mutated("req.method", 7),
    "url null": mutated("req.url", None),
    "headers an object": mutated("req.headers", {"a": "b"}),
    "header pair of three": mutated("req.headers.0", ["a", "b", "c"]),
    "header value a number": mutated("req.headers.0", ["Host", 5]),
    "rpc an object": mutated("req.body.rpc", {"jsonrpc": "2.0"}),
    "batch a string": mutated("req.body.batch", "yes"),
    "truncated a number": mutated("req.body.truncated", 1),
    "text a number": mutated("req.body.text", 5),
    "sse not a list": mutated("resp.sse", "data: x"),
    "sse data a number": mutated("resp.sse", [{"t": 1.0, "data": 5}]),
    "sse t a string": mutated("resp.sse", [{"t": "now", "data": "x"}]),
    "sse id a number": mutated("resp.sse", [{"t": 1760000000.0, "data": "x", "id": 5}]),
    "error a number": mutated("error", 500),
    "content_type a number": mutated("resp.content_type", 5),
    "resp a string": mutated("resp", "200 OK"),
    "req a list": mutated("req", []),
    "deeply nested JSON": b'{"v": 1, "kind": "exchange", "x": ' + b"[" * 5000 + b"]" * 5000 + b"}",
    "invalid UTF-8": b'{"v": 1, "kind": "exchange", "id": "\xff\xfe"}',
    "lone surrogate escape": b'{"v": 1, "kind": "exchange", "id": "\\ud800"}',
    "NaN literal": b'{"v": 1, "kind": "exchange", "t": {"req": NaN}}',
    "NUL bytes": b"\x00\x00\x00",
    "binary garbage": bytes(b for b in range(256) if b not in (10, 13)),
    "a 5 MB line": b'{"v": 1, "kind": "exchange", "junk": "' + b"x" * (5 << 20) + b'"}',
}

# valid records with odd but legal values: analysed, not rejected ------------------------------------
ODD_BUT_VALID: dict[str, bytes] = {
    "url without a host": mutated("req.url", "http://[::1"),
    "client info name a number": mutated("req.body.rpc", [{"jsonrpc": "2.0", "id": 1, "method": "initialize",
                                                           "params": {"clientInfo": {"name": 5, "version": None}}}]),
    "id an object": mutated("id", {"nested": True}),
    "location header on a 3xx": mutated("resp", {"status": 307, "headers": [["Location", "http://[bad"]], "body": None}),
    "endpoint event with odd data": mutated("resp", {"status": 200, "headers": [["Content-Type", "text/event-stream"]],
                                                     "sse": [{"t": 1760000000.0, "event": "endpoint", "data": "http://[x"}]}),
    "rpc of strings": mutated("req.body.rpc", ["a", "b"]),
    "huge JSON-RPC error code": mutated("resp.body.rpc", [{"jsonrpc": "2.0", "id": 1, "error": {"code": 10**30, "message": "m"}}]),
    "many session headers": mutated("resp.headers", [["Mcp-Session-Id", "a"]] * 500),
}


def analyze(tmp_path, data: bytes, name: str = "cap.jsonl", *args: str):
    p = tmp_path / name
    p.write_bytes(data)
    r = runner.invoke(app, ["analyze", str(p), "-f", "json", "--fail-on", "never", *args])
    return r, p


def no_traceback(r) -> None:
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert "Traceback" not in r.output


def test_the_corpus_is_big_enough():
    assert len(BAD_LINES) + len(ODD_BUT_VALID) + len(WHOLE_FILES) >= 50


@pytest.mark.parametrize("kind", list(BAD_LINES))
def test_one_bad_line_among_good_ones(kind, tmp_path):
    data = b"\n".join(GOOD[:4] + [BAD_LINES[kind]] + GOOD[4:]) + b"\n"
    r, p = analyze(tmp_path, data)
    no_traceback(r)
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["inputs"][0]["exchanges"] == N_GOOD  # every valid line around it still counts
    assert len(doc["problems"]) == 1 and doc["problems"][0].startswith(f"{p}:5: ")
    assert [ln for ln in r.stderr.splitlines()] == [f"warning: {doc['problems'][0]} (skipped)"]
    strict = runner.invoke(app, ["analyze", str(p), "--strict"])
    no_traceback(strict)
    assert strict.exit_code == 2 and strict.stderr.startswith(f"error: {p}:5: ") and strict.stderr.count("\n") == 1


@pytest.mark.parametrize("kind", list(ODD_BUT_VALID))
def test_odd_but_valid_values_are_analysed(kind, tmp_path):
    data = b"\n".join(GOOD[:4] + [ODD_BUT_VALID[kind]] + GOOD[4:]) + b"\n"
    r, _ = analyze(tmp_path, data)
    no_traceback(r)
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["inputs"][0]["exchanges"] == N_GOOD + 1


def _har(entries) -> bytes:
    return json.dumps({"log": {"version": "1.2", "creator": {"name": "t", "version": "1"}, "entries": entries}}).encode()


def _har_entry(**over) -> dict:
    e = {"startedDateTime": "2025-10-09T08:53:20.000Z", "time": 5,
         "request": {"method": "POST", "url": "http://h/mcp", "httpVersion": "HTTP/1.1", "headers": [], "queryString": [],
                     "cookies": [], "headersSize": -1, "bodySize": 0,
                     "postData": {"mimeType": "application/json", "text": '{"jsonrpc":"2.0","id":1,"method":"ping"}'}},
         "response": {"status": 200, "statusText": "OK", "httpVersion": "HTTP/1.1", "headers": [], "cookies": [],
                      "content": {"size": 0, "mimeType": "application/json", "text": ""}, "redirectURL": "", "headersSize": -1,
                      "bodySize": 0},
         "cache": {}, "timings": {"send": 0, "wait": 0, "receive": 0}}
    e.update(over)
    return e


def _gz(data: bytes) -> bytes:
    return gzip.compress(data)


GOOD_FILE = b"\n".join(GOOD) + b"\n"

# whole files: (bytes, file name, expected exit code, exchanges read when exit 0) -----------------------
WHOLE_FILES: dict[str, tuple[bytes, str, int, int | None]] = {
    "empty": (b"", "e.jsonl", 2, None),
    "only whitespace": (b"\n \n\t\n", "w.jsonl", 2, None),
    "only a meta line": (b'{"v":1,"kind":"meta","tool":"x"}\n', "m.jsonl", 2, None),
    "BOM then valid lines": (b"\xef\xbb\xbf" + GOOD_FILE, "bom.jsonl", 0, N_GOOD),
    "CRLF line endings": (GOOD_FILE.replace(b"\n", b"\r\n"), "crlf.jsonl", 0, N_GOOD),
    "torn last line": (GOOD_FILE + GOOD[0][:50], "torn.jsonl", 0, N_GOOD),
    "gzip of valid lines": (_gz(GOOD_FILE), "g.jsonl.gz", 0, N_GOOD),
    "gzip without .gz name": (_gz(GOOD_FILE), "g.jsonl", 0, N_GOOD),
    "cut gzip": (_gz(GOOD_FILE * 40)[:4000], "cut.jsonl.gz", 0, None),
    "gzip of garbage": (_gz(bytes(range(256)) * 10), "gg.gz", 2, None),
    "gzip header only": (b"\x1f\x8b\x08\x00", "h.gz", 2, None),
    "HAR not JSON": (b'{"log": {"entries": [', "a.har", 2, None),
    "HAR without log": (b'{"nolog": 1}', "b.har", 2, None),
    "HAR entries not a list": (json.dumps({"log": {"entries": {}}}).encode(), "c.har", 2, None),
    "HAR without entries": (_har([]), "d.har", 2, None),
    "HAR entry without request": (_har([{"response": {}}, _har_entry()]), "e.har", 0, 1),
    "HAR startedDateTime year 9999": (_har([_har_entry(startedDateTime="9999-12-31T23:59:59.000Z"), _har_entry()]), "f.har", 0, 1),
    "HAR status a string": (_har([_har_entry(response={**_har_entry()["response"], "status": "abc"}), _har_entry()]), "g.har", 0, 1),
    "HAR headers malformed": (_har([_har_entry(request={**_har_entry()["request"], "headers": [{"nope": 1}]}), _har_entry()]),
                              "h.har", 0, 1),
    "HAR gzip": (_gz(_har([_har_entry()])), "i.har.gz", 0, 1),
    "flow file of garbage digits": (b"123456:" + b"x" * 20, "j.flow", 2, None),
    "flow file cut": (b"500:" + b"{" * 30, "k.flow", 2, None),
    "a directory name": (b"", "", 2, None),
}


@pytest.mark.parametrize("kind", list(WHOLE_FILES))
def test_whole_file_kinds(kind, tmp_path):
    data, name, code, exchanges = WHOLE_FILES[kind]
    if not name:  # a directory
        r = runner.invoke(app, ["analyze", str(tmp_path), "-f", "json"])
    else:
        r, _ = analyze(tmp_path, data, name)
    no_traceback(r)
    assert r.exit_code == code, r.output
    if code == 2:
        assert r.stderr.splitlines()[-1].startswith("error: ")
    else:
        doc = json.loads(r.stdout)
        if exchanges is not None:
            assert doc["inputs"][0]["exchanges"] == exchanges
    for line in r.stderr.splitlines():
        assert line.startswith(("warning: ", "error: ")), line


def test_pipes_and_fifos_are_inputs(tmp_path):
    import os
    import subprocess
    import sys
    import threading

    p = tmp_path / "seed.jsonl"
    p.write_bytes(GOOD_FILE)
    cmd = [sys.executable, "-m", "mcpsniff", "analyze", "-f", "json", "--fail-on", "never"]
    piped = subprocess.run(cmd + ["/dev/stdin"], input=GOOD_FILE, capture_output=True, timeout=60)
    assert piped.returncode == 0, piped.stderr
    assert json.loads(piped.stdout)["inputs"][0]["exchanges"] == N_GOOD
    dash = subprocess.run(cmd + ["-"], input=_gz(GOOD_FILE), capture_output=True, timeout=60)
    assert dash.returncode == 0 and json.loads(dash.stdout)["inputs"][0]["exchanges"] == N_GOOD
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    writer = threading.Thread(target=lambda: fifo.write_bytes(GOOD_FILE))
    writer.start()
    via_fifo = subprocess.run(cmd + [str(fifo)], capture_output=True, timeout=60)
    writer.join()
    assert via_fifo.returncode == 0 and json.loads(via_fifo.stdout)["inputs"][0]["exchanges"] == N_GOOD
    proc = subprocess.run(["bash", "-c", f"{' '.join(cmd)} <(cat {p})"], capture_output=True, timeout=60)
    assert proc.returncode == 0 and json.loads(proc.stdout)["inputs"][0]["exchanges"] == N_GOOD


def test_a_fifo_nobody_writes_to_ends_cleanly_on_ctrl_c(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    fifo = tmp_path / "silent"
    os.mkfifo(fifo)
    proc = subprocess.Popen([sys.executable, "-m", "mcpsniff", "analyze", str(fifo)], stderr=subprocess.PIPE, text=True)
    time.sleep(2)
    assert proc.poll() is None  # waiting, like cat
    proc.send_signal(signal.SIGINT)
    err = proc.communicate(timeout=30)[1]
    assert proc.returncode == 130 and err == "error: interrupted\n"


def test_problem_lines_say_file_and_line(tmp_path):
    data = b"\n".join([GOOD[0], b"oops", GOOD[1], mutated("resp.status", 99999), GOOD[2]]) + b"\n"
    r, p = analyze(tmp_path, data)
    assert r.stderr.splitlines() == [
        f"warning: {p}:2: not JSON (unexpected character at column 1) (skipped)".replace("unexpected character at column 1",
                                                                                        r.stderr.split(":2: not JSON (", 1)[1].split(")", 1)[0]),
        f"warning: {p}:4: 'resp.status' 99999 is not an HTTP status (100-599) (skipped)",
    ]


def test_flow_file_entries_are_located_by_index(tmp_path):
    from mitmproxy.io import FlowWriter
    from mitmproxy.test import tflow

    buf = io.BytesIO()
    w = FlowWriter(buf)
    for _ in range(3):
        w.add(tflow.tflow(resp=True))
    data = buf.getvalue()
    r, p = analyze(tmp_path, data + b"99:" + b"x" * 10, "f.flow")
    no_traceback(r)
    assert r.exit_code in (0, 2)
    assert f"{p}:4: unreadable mitmproxy flow" in r.stderr
