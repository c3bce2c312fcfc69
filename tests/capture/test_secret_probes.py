"""Planted secrets through a live capture: none reaches the file or any output.

Over fifty secrets of every kind issue 9 lists travel through a real mitmproxy (mcpsniff's
Capture in reverse mode) to a small upstream that also sends secrets back (headers, JSON, SSE,
form and text bodies). The upstream and the client must see every secret unchanged (the
forwarded bytes are never touched); the capture file, `analyze --format json`, `report` (both
formats) and `diff` must contain none of them.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator
from urllib.parse import quote

import httpx
import pytest

from mcpsniff.capture import Capture, CaptureConfig
from mcpsniff.capture.recorder import RecorderOptions

pytestmark = pytest.mark.slow


def tok(kind: str, n: int) -> str:
    """A unique, findable secret value."""
    return f"PROBE{n:02d}{kind}Zq9"


SK = "sk-proj-Probe0123456789abcdefPROBE"
GHP = "ghp_Probe0123456789abcdefghijKLMNOPQRSTUV"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJwcm9iZS11c2VyIn0.UHJvYmVTaWduYXR1cmU"
RANDOM_SEG = "Q7w9E2r4T6y8U1i3O5p7A9s2D4f6G8h0"
SLACK = "xoxb-1234567890-Probe-abcdefghij"
AWS = "AKIAPROBE1234567890Z"[:20]
GOOGLE = "AIza" + "ProbeProbeProbeProbeProbe0123456789x"[:35]

# request headers: name -> secret value
REQ_HEADERS = {
    "Authorization": ("Bearer ", tok("bearer", 1)),
    "Proxy-Authorization": ("Basic ", base64.b64encode(f"user:{tok('basic', 2)}".encode()).decode()),
    "Cookie": ("sid=", tok("cookie", 3)),
    "X-API-Key": ("", tok("xapikey", 4)),
    "Ocp-Apim-Subscription-Key": ("", tok("apim", 5)),
    "X-Goog-Api-Key": ("", tok("goog", 6)),
    "Private-Token": ("", tok("gitlab", 7)),
    "X-Vault-Token": ("", tok("vault", 8)),
    "X-Functions-Key": ("", tok("azfunc", 9)),
    "X-Auth-Token": ("", tok("xauth", 10)),
    "api-key": ("", tok("apikey", 11)),
    "X-Amz-Security-Token": ("", tok("amz", 12)),
    "X-Figma-Token": ("", tok("figma", 13)),
    "X-Client-Secret": ("", tok("csecret", 14)),
    "Referer": ("https://app.example/cb?access_token=", tok("referer", 15)),
    "X-Trace-Note": ("note with ", SLACK),  # a token shape in an ordinary header
}
QUERY = {"access_token": tok("qat", 16), "api_key": tok("qak", 17), "key": tok("qkey", 18), "code": tok("qcode", 19),
         "client_secret": tok("qcs", 20), "password": tok("qpw", 21), "sig": tok("qsig", 22), "X-Amz-Signature": tok("qamz", 23)}
#: keys hosted MCP servers put in the path (``/s/<key>/mcp``), 16 to 40 characters (issue 23)
PATH_KEYS = [
    "P7r0b3K1e2y3Z4q5",                          # base62, 16
    "9f1e8d2c7b3a6f40",                          # hex, 16
    "PrB0aB3dE5fG7hJ9kL1m",                      # base62, 20
    "cHJvYmUta2V5LWJhc2U2NHVybA",                # base64url, 26
    "3c5e7a9b1d2f4e6a8c0b2d4f6a8c0e1f",          # hex, 32
    "pr_0bE-k3Y_5ecr3t-Ur1_Xy9",                 # base64url with - and _, 25
    "PRoBe40charKey0a1B2c3D4e5F6g7H8i9J0kLmNo",  # base62, 40
]
PATH_SECRETS = [SK, GHP, JWT, RANDOM_SEG, *PATH_KEYS]


def deep(value, levels: int):
    for _ in range(levels):
        value = {"wrap": value}
    return value


REQ_BODY_SECRETS = {
    "password": tok("bpw", 24), "credentials_pass": tok("bcred", 25), "oauth_code": tok("bcode", 26),
    "id_token": tok("bidt", 27), "refresh_token": tok("brt", 28), "client_secret_list": tok("bcsl", 29),
    "api_key_number": "4815162342987",  # a number value
    "deep": tok("bdeep", 31), "bearer_in_text": tok("btxt", 32), "kv_in_text": tok("bkv", 33), "sk_in_args": GOOGLE,
    "password_number": "271828182845",
}


def request_body(i: int) -> dict:
    s = REQ_BODY_SECRETS
    return {
        "jsonrpc": "2.0", "id": i, "method": "tools/call",
        "params": {
            "name": "login",
            "arguments": {
                "password": s["password"], "credentials": {"user": "u", "pass": s["credentials_pass"]},
                "code": s["oauth_code"], "id_token": s["id_token"], "refresh_token": s["refresh_token"],
                "client_secret": [s["client_secret_list"]], "api_key": int(s["api_key_number"]),
                "nested": deep({"access_token": s["deep"]}, 120),
                "note": f"use Authorization: Bearer {s['bearer_in_text']} please",
                "cmd": f"connect --password={s['kv_in_text']} --verbose",
                "google": s["sk_in_args"], "pin": {"password": int(s["password_number"])},
            },
        },
    }


RESP_SECRETS = {
    "set_cookie": tok("rsc", 36), "location": tok("rloc", 37), "access_token": tok("rat", 38), "id_token": tok("ridt", 39),
    "sse_password_in_string": tok("spw", 40), "sse_access_token": tok("sat", 41), "sse_text_token": tok("stt", 42),
    "sse_bearer": tok("sbr", 43), "form_client_secret": tok("fcs", 44), "form_code": tok("fcode", 45),
    "text_auth": tok("tauth", 46), "sse_sk": SK.replace("Probe", "SseSk"), "jwt_in_resp": JWT.replace("cm9iZS", "cmVzcG9u"),
    "sse_numeric_password": "1123581321", "aws": AWS, "link": tok("link", 50),
}


def upstream_response(path: str) -> tuple[int, str, bytes, list[tuple[str, str]]]:
    """What the upstream answers a POST to ``path``: status, content type, body, more headers
    (the same answers from the HTTP upstream behind the proxy and from the ASGI app in-process)."""
    r = RESP_SECRETS
    if path.startswith("/form"):
        return (200, "application/x-www-form-urlencoded",
                f"client_secret={r['form_client_secret']}&code={r['form_code']}&state=ok".encode(), [])
    if path.startswith("/text"):
        return 401, "text/plain", f"invalid Authorization: Bearer {r['text_auth']}\n".encode(), []
    if path.startswith("/sse"):
        events = [
            {"jsonrpc": "2.0", "method": "notifications/message",
             "params": {"data": f"login with password={r['sse_password_in_string']} ok"}},
            {"jsonrpc": "2.0", "id": 1, "result": {"access_token": r["sse_access_token"], "key": r["sse_sk"],
                                                    "pin": {"password": int(r["sse_numeric_password"])}}},
        ]
        data = b"".join(b"event: message\ndata: " + json.dumps(e).encode() + b"\n\n" for e in events)
        data += f"data: token={r['sse_text_token']} Bearer {r['sse_bearer']}\n\n".encode()
        return 200, "text/event-stream", data, []
    result = {"jsonrpc": "2.0", "id": 1, "result": {"content": [{"type": "text", "text": "ok"}],
                                                     "access_token": r["access_token"], "id_token": r["id_token"],
                                                     "jwt": r["jwt_in_resp"], "aws": r["aws"]}}
    return 200, "application/json", json.dumps(result).encode(), [
        ("Set-Cookie", f"session={r['set_cookie']}; HttpOnly"),
        ("Location", f"https://h/next?access_token={r['location']}"),
        ("Link", f"<https://h/x?token={r['link']}>; rel=next"),
        ("Mcp-Session-Id", "visible-session-id-1"),
    ]


class Upstream(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list[str] = []

    def log_message(self, *args) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.seen.append(self.path + "\n" + str(self.headers) + "\n" + body.decode("utf-8", "replace"))
        status, ctype, data, extra = upstream_response(self.path)
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)


@contextmanager
def upstream() -> Iterator[str]:
    Upstream.seen = []
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}"
    finally:
        srv.shutdown()
        srv.server_close()


def all_secrets() -> list[str]:
    out = [v for _, v in REQ_HEADERS.values()] + list(QUERY.values()) + PATH_SECRETS
    out += list(REQ_BODY_SECRETS.values()) + list(RESP_SECRETS.values())
    # the Basic credential is sent base64-encoded: the recorder sees (and must hide) the encoded form
    out.remove(REQ_HEADERS["Proxy-Authorization"][1])
    out.append(REQ_HEADERS["Proxy-Authorization"][1])
    return out


def test_there_are_more_than_fifty_probes():
    secrets = all_secrets()
    assert len(secrets) >= 50 and len(set(secrets)) == len(secrets)


def run(*args: str) -> str:
    r = subprocess.run([sys.executable, "-m", "mcpsniff", *args], capture_output=True, text=True, timeout=120)
    assert "Traceback" not in r.stderr, r.stderr
    return r.stdout + r.stderr


def send_probes(base: str) -> list[httpx.Response]:
    """The probe exchanges (4 + one per path secret), sent to ``base``."""
    got = []
    headers = {k: p + v for k, (p, v) in REQ_HEADERS.items()}
    headers.update({"User-Agent": "probe-client/1", "Accept": "application/json, text/event-stream",
                    "Content-Type": "application/json", "MCP-Protocol-Version": "2025-11-25"})
    query = "&".join(f"{quote(k)}={quote(v)}" for k, v in QUERY.items())
    with httpx.Client(timeout=10, headers=headers) as c:
        init = {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"protocolVersion": "2025-11-25"}}
        got.append(c.post(f"{base}/mcp?{query}", json=init))
        for i, seg in enumerate(PATH_SECRETS, 1):
            path = f"/s/{seg}/mcp" if seg in PATH_KEYS else f"/mcp/{seg}/call"
            got.append(c.post(f"{base}{path}", json=request_body(i)))
        got.append(c.post(f"{base}/sse", json=request_body(9)))
        got.append(c.post(f"{base}/form", json=request_body(10)))
        got.append(c.post(f"{base}/text", json=request_body(11)))
    return got


def assert_traffic_untouched(seen: str, got: list[httpx.Response]) -> None:
    """The upstream saw the request secrets, the client the response ones."""
    for s in list(QUERY.values()) + PATH_SECRETS + [v for _, v in REQ_HEADERS.values()]:
        assert s in seen, s
    client_saw = "".join(r.text + str(r.headers) for r in got)
    assert RESP_SECRETS["sse_bearer"] in client_saw and RESP_SECRETS["set_cookie"] in client_saw


def test_no_planted_secret_reaches_the_file_or_any_output(tmp_path):
    out = tmp_path / "probes.jsonl"
    secrets = all_secrets()
    with upstream() as up:
        cap = Capture(CaptureConfig(RecorderOptions(output=str(out)), upstream=up, listen_port=0)).start()
        try:
            got = send_probes(f"http://127.0.0.1:{cap.port}")
        finally:
            cap.join()
    # the traffic itself is untouched ...
    assert_traffic_untouched("\n".join(Upstream.seen), got)
    # ... and the recording holds none of them
    raw = out.read_text()
    assert raw.count('"kind":"exchange"') == 4 + len(PATH_SECRETS)
    leaked = [s for s in secrets if s in raw]
    assert leaked == [], leaked
    assert "visible-session-id-1" in raw  # evidence stays
    outputs = {
        "analyze -f json": run("analyze", str(out), "-f", "json", "--evidence", "0", "--fail-on", "never"),
        "analyze": run("analyze", str(out), "--fail-on", "never"),
        "analyze -f markdown": run("analyze", str(out), "-f", "markdown", "--fail-on", "never"),
        "report": run("report", str(out)),
        "report -f json": run("report", str(out), "-f", "json"),
        "report --raw-ids": run("report", str(out), "--raw-ids"),
        "diff": run("diff", str(out), str(out), "-f", "json"),
        "diff --planes": run("diff", str(out), "--planes", "probe-client/1", "probe-client/1"),
    }
    for name, text in outputs.items():
        leaked = [s for s in secrets if s in text]
        assert leaked == [], (name, leaked)


# -- the same probes through the in-process recorder (MCPSniffMiddleware in a real uvicorn) ------------
def probe_app(seen: list[str]):
    """The upstream as an ASGI app (the same answers), lifespan included."""

    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                msg = await receive()
                await send({"type": msg["type"] + ".complete"})
                if msg["type"] == "lifespan.shutdown":
                    return
        body = b""
        while True:
            msg = await receive()
            body += msg.get("body", b"")
            if not msg.get("more_body"):
                break
        target = scope["raw_path"].decode() + ("?" + scope["query_string"].decode() if scope["query_string"] else "")
        headers = "\n".join(f"{n.decode()}: {v.decode()}" for n, v in scope["headers"])
        seen.append(target + "\n" + headers + "\n" + body.decode("utf-8", "replace"))
        status, ctype, data, extra = upstream_response(scope["path"])
        await send({"type": "http.response.start", "status": status, "headers": [
            (b"content-type", ctype.encode()), (b"content-length", str(len(data)).encode()),
            *((k.lower().encode(), v.encode()) for k, v in extra)]})
        await send({"type": "http.response.body", "body": data})

    return app


def test_no_planted_secret_reaches_the_file_through_the_middleware(tmp_path):
    """The middleware reuses the capture's conversion and redaction: the same probes, none on disk."""
    import uvicorn

    from mcpsniff.asgi import MCPSniffMiddleware

    out = tmp_path / "asgi-probes.jsonl"
    seen: list[str] = []
    mw = MCPSniffMiddleware(probe_app(seen), output=out, per_process=False)
    server = uvicorn.Server(uvicorn.Config(mw, host="127.0.0.1", port=0, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not (server.started and server.servers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.started, "uvicorn did not start"
        port = server.servers[0].sockets[0].getsockname()[1]
        got = send_probes(f"http://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        thread.join(20)
    assert not thread.is_alive()
    assert_traffic_untouched("\n".join(seen), got)
    raw = out.read_text()  # lifespan shutdown closed the writer: everything is on disk
    assert raw.count('"kind":"exchange"') == 4 + len(PATH_SECRETS) and '"recorder":"asgi"' in raw
    leaked = [s for s in all_secrets() if s in raw]
    assert leaked == [], leaked
    assert "visible-session-id-1" in raw  # evidence stays
    text = run("analyze", str(out), "-f", "json", "--evidence", "0", "--fail-on", "never")
    leaked = [s for s in all_secrets() if s in text]
    assert leaked == [], leaked
