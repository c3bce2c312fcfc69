"""Record-time redaction: headers, query strings, forms, JSON, free text."""

from __future__ import annotations

import json
import re

import pytest

from mcpsniff.capture.redact import Redactor, parse_extra

MARK = re.compile(r"<redacted:[0-9a-f]{8}>")


@pytest.fixture
def red() -> Redactor:
    return Redactor()


def test_marker_is_keyed_stable_within_a_capture_and_differs_across(red):
    m1, m2 = red.marker("s3cr3t"), red.marker("s3cr3t")
    assert m1 == m2 and MARK.fullmatch(m1)
    assert red.marker("other") != m1
    assert Redactor().marker("s3cr3t") != m1  # another capture, another key
    assert Redactor(key=b"k").marker("x") == Redactor(key=b"k").marker("x")


def test_the_key_is_not_in_repr(red):
    assert red._key.hex() not in repr(red) and str(red._key) not in repr(red)


@pytest.mark.parametrize(
    "name",
    ["Authorization", "authorization", "Proxy-Authorization", "Cookie", "Set-Cookie", "X-API-Key", "api-key",
     "X-Auth-Token", "X-Amz-Security-Token", "X-Client-Secret", "X-Password", "X-Goog-Api-Key", "X-Forwarded-Authorization"],
)
def test_secret_headers(red, name):
    assert red.is_secret_header(name)


@pytest.mark.parametrize(
    "name",
    ["Mcp-Session-Id", "mcp-session-id", "MCP-Protocol-Version", "Mcp-Method", "Mcp-Name", "User-Agent",
     "Content-Type", "Accept", "Last-Event-ID", "WWW-Authenticate", "X-RateLimit-Tokens-Remaining", "Host"],
)
def test_evidence_headers_are_kept(red, name):
    assert not red.is_secret_header(name)
    assert red.header_value(name, "value-123") == "value-123"


def test_authorization_keeps_the_scheme(red):
    out = red.header_value("Authorization", "Bearer eyJhbGciOi.abc.def")
    assert out.startswith("Bearer <redacted:") and "eyJ" not in out
    assert red.header_value("authorization", "Bearer eyJhbGciOi.abc.def") == out  # same secret, same marker
    assert red.header_value("Authorization", "Basic dXNlcjpwYXNz").startswith("Basic <redacted:")
    assert MARK.fullmatch(red.header_value("Authorization", "rawtokenwithoutscheme"))


def test_cookies_keep_names_and_attributes(red):
    out = red.header_value("Cookie", "sid=abc123; theme=dark")
    assert out.startswith("sid=<redacted:") and "; theme=<redacted:" in out and "abc123" not in out
    sc = red.header_value("Set-Cookie", "sid=abc123; Path=/; HttpOnly; Secure")
    assert sc.startswith("sid=<redacted:") and sc.endswith("; Path=/; HttpOnly; Secure") and "abc123" not in sc


def test_headers_keep_order_case_and_duplicates(red):
    pairs = [("X-API-Key", "k1"), ("Accept", "a"), ("x-api-key", "k1"), ("Mcp-Session-Id", "sess")]
    out = red.headers(pairs)
    assert [n for n, _ in out] == ["X-API-Key", "Accept", "x-api-key", "Mcp-Session-Id"]
    assert out[0][1] == out[2][1] and MARK.fullmatch(out[0][1])
    assert out[3][1] == "sess"


def test_query_parameters(red):
    url = "https://h/mcp?session_id=S1&access_token=AT%2B1&x=1&code=C0DE&API_KEY=k&sig=zz&refresh_token=r#frag"
    out = red.url(url)
    for secret in ("AT%2B1", "C0DE", "=k&", "zz", "=r#"):
        assert secret not in out
    assert "session_id=S1" in out and "x=1" in out and out.endswith("#frag")
    assert out.startswith("https://h/mcp?session_id=S1&access_token=<redacted:")
    # the marker hashes the decoded value: same as the header form of the same token
    assert red.url("http://h/?access_token=AT%2B1").endswith(red.marker("AT+1"))


def test_url_without_query_or_empty_values(red):
    assert red.url("http://h/mcp") == "http://h/mcp"
    assert red.url("http://h/mcp?token=&flag") == "http://h/mcp?token=&flag"


def test_json_recursive_and_non_string_values(red):
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "error": {"code": -32600, "message": "x"},
        "params": {
            "_meta": {"headers": {"Authorization": "Bearer T0K", "X-Trace": "t"}, "progressToken": "p-1"},
            "arguments": {"password": "hunter2", "nested": [{"client_secret": "cs"}, {"accessToken": "camel"}]},
            "code_verifier": "v" * 43,
            "token": 12345,
        },
    }
    out = red.json(body)
    flat = repr(out)
    for secret in ("T0K", "hunter2", "'cs'", "camel", "v" * 43):
        assert secret not in flat
    assert out["params"]["_meta"]["headers"]["Authorization"].startswith("Bearer <redacted:")
    assert out["params"]["_meta"]["progressToken"] == "p-1"  # MCP evidence, not a secret
    # a secret field's whole value goes, whatever its type; a JSON-RPC error code is evidence
    assert out["error"]["code"] == -32600 and MARK.fullmatch(out["params"]["token"])
    assert body["params"]["arguments"]["password"] == "hunter2"  # input not modified


def test_oauth_token_response(red):
    out = red.json({"access_token": "a", "refresh_token": "r", "id_token": "i", "token_type": "Bearer", "expires_in": 3600})
    assert all(MARK.fullmatch(out[k]) for k in ("access_token", "refresh_token", "id_token"))
    assert out["token_type"] == "Bearer" and out["expires_in"] == 3600


def test_form_body(red):
    out = red.query("grant_type=authorization_code&code=abc&code_verifier=xyz&client_secret=s%3D&redirect_uri=http%3A%2F%2Fx")
    assert "abc" not in out and "xyz" not in out and "s%3D" not in out
    assert out.startswith("grant_type=authorization_code&code=<redacted:") and out.endswith("redirect_uri=http%3A%2F%2Fx")


def test_free_text_fallback(red):
    text = '{"access_token": "abc\\"def", "name": "n", "cut_here' + " Bearer abcdefghijkl token=zzz9 other=1"
    out = red.text(text)
    assert 'abc\\"def' not in out and "abcdefghijkl" not in out and "zzz9" not in out
    assert '"name": "n"' in out and "other=1" in out


def test_extra_names_apply_to_headers_params_and_fields():
    red = Redactor(extra=["X-Tenant", "customer_ref"])
    assert MARK.fullmatch(red.header_value("x-tenant", "acme"))
    assert "ref1" not in red.url("http://h/?customerRef=ref1")
    assert MARK.fullmatch(red.json({"customer-ref": "c"})["customer-ref"])


def test_disabled_redactor_is_identity():
    red = Redactor(enabled=False)
    assert red.header_value("Authorization", "Bearer x") == "Bearer x"
    assert red.url("http://h/?access_token=x") == "http://h/?access_token=x"
    body = {"password": "p"}
    assert red.json(body) == body and red.text("token=x") == "token=x"


def test_parse_extra():
    assert parse_extra("a, b-c ,,d_e") == ["a", "b-c", "d_e"]
    assert parse_extra(None) == [] and parse_extra(["x"]) == ["x"]
    with pytest.raises(ValueError, match="invalid name"):
        parse_extra("ok,bad name")


# -- issue 9: redaction that holds -------------------------------------------------------------------


@pytest.mark.parametrize("url, secret", [
    ("https://mcp.example.com/v1/sk-proj-AbCdEf0123456789xyzXYZ/mcp", "sk-proj-AbCdEf0123456789xyzXYZ"),
    ("https://actions.example.com/mcp/ghp_0123456789abcdefghijABCDEFGHIJ012345/sse", "ghp_0123456789abcdefghijABCDEFGHIJ012345"),
    ("https://h/mcp/eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJl", "eyJhbGciOiJIUzI1NiJ9"),
    ("https://h/k/Zx81Qp0rT7uV2wY5aB3cD6eF9gH1jK4m/mcp", "Zx81Qp0rT7uV2wY5aB3cD6eF9gH1jK4m"),  # long and random
    ("https://user:pa55w0rd@h/mcp", "pa55w0rd"),
])
def test_secrets_in_url_paths(red, url, secret):
    out = red.url(url)
    assert secret not in out and MARK.search(out)
    assert red.url(url) == out  # the same key names the same endpoint


@pytest.mark.parametrize("path", ["/mcp", "/v1/tools/list", "/messages/", "/api/2025-11-25/servers/weather-forecast"])
def test_ordinary_paths_are_kept(red, path):
    assert red.url("https://h" + path) == "https://h" + path


def test_extra_patterns(tmp_path):
    red = Redactor(patterns=[r"tenant-[0-9]{6}"])
    assert "tenant-123456" not in red.url("https://h/tenant-123456/mcp")
    assert "tenant-123456" not in red.text("we are tenant-123456 here")


def test_urls_in_headers(red):
    out = red.headers([("Referer", "https://app/cb?access_token=AT-SECRET&x=1"), ("Location", "https://h/mcp/sk-ant-api03-0123456789abcdefABCDEF"),
                       ("Origin", "http://localhost:6274")])
    flat = repr(out)
    assert "AT-SECRET" not in flat and "sk-ant-api03" not in flat and "x=1" in flat
    assert out[2] == ["Origin", "http://localhost:6274"]


@pytest.mark.parametrize("name", ["Ocp-Apim-Subscription-Key", "X-Functions-Key", "Private-Token", "X-Vault-Token",
                                  "X-Figma-Token", "X-Shopify-Access-Token", "Api-Key", "X-Api-Secret"])
def test_vendor_key_headers(red, name):
    assert red.is_secret_header(name) and MARK.fullmatch(red.header_value(name, "vendor-secret-value"))


def test_oauth_and_credential_fields_whole_values_any_depth(red):
    deep: dict = {"password": 987654}
    for _ in range(200):
        deep = {"level": deep}
    body = {
        "code": "oauth-CODE-1", "id_token": "IDT", "credentials": {"user": "u", "pass": "CREDPASS"},
        "api_keys": ["K1", "K2"], "client_secret": ["CS"], "deep": deep,
        "error": {"code": -32601, "message": "Method not found"},
    }
    out = red.json(body)
    flat = repr(out)
    for secret in ("oauth-CODE-1", "IDT", "CREDPASS", "'K1'", "'CS'", "987654"):
        assert secret not in flat, secret
    assert MARK.fullmatch(out["credentials"]) and out["error"]["code"] == -32601


def test_secrets_inside_strings(red):
    text = "curl -H 'Authorization: Bearer abcdefgh12345678' 'https://h/?api_key=AK1'; password=hunter2 token: sk-live-0123456789abcdefXYZ"
    out = red.json({"content": [{"type": "text", "text": text}]})["content"][0]["text"]
    for secret in ("abcdefgh12345678", "AK1", "hunter2", "sk-live-0123456789abcdefXYZ"):
        assert secret not in out, secret
    assert "curl -H" in out


def test_existing_output_file_is_made_private(tmp_path):
    from mcpsniff.capture.writer import JsonlWriter

    p = tmp_path / "old.jsonl"
    p.write_text("")
    p.chmod(0o644)
    w = JsonlWriter(str(p), lambda part: {"v": 1, "kind": "meta"})
    w.close()
    assert p.stat().st_mode & 0o777 == 0o600


def test_json_copies_only_where_something_is_redacted():
    r = Redactor(key=b"k")
    clean = {"jsonrpc": "2.0", "id": 1, "result": {"content": [{"type": "text", "text": "hi"}]}}
    assert r.json(clean) is clean  # nothing secret: the value itself, no copy
    msg = {"jsonrpc": "2.0", "params": {"a": [1, {"access_token": "tok"}], "b": {"c": 1}}, "id": 2}
    before = json.dumps(msg)
    out = r.json(msg)
    assert json.dumps(msg) == before  # the input is never modified
    assert out["params"]["a"][1]["access_token"].startswith("<redacted:")
    assert list(out) == list(msg) and list(out["params"]) == ["a", "b"]  # order kept
    assert out["params"]["b"] is msg["params"]["b"]  # untouched branches are shared
    # the name rules are remembered per name, with the same answers
    assert [r.is_secret_header(n) for n in ("X-Api-Key", "Accept", "X-Api-Key")] == [True, False, True]
    assert [r.is_secret_field(n) for n in ("refreshToken", "text", "refreshToken")] == [True, False, True]


def test_json_copy_on_write_at_any_depth_and_for_text_rules():
    # main's rules (whole values, any depth, text rules in every string) with issue 12's copy on write
    r = Redactor(key=b"k")
    deep: dict = {"password": 987654}
    for _ in range(5000):  # deeper than any recursion limit
        deep = {"level": deep, "same": {"x": [1, "plain"]}}
    out = r.json(deep)
    assert out is not deep and out["same"] is deep["same"]  # the path to the secret is copied, the rest shared
    src, got = deep, out
    while "level" in src:
        assert got is not src and got["same"] is src["same"]
        src, got = src["level"], got["level"]
    assert src == {"password": 987654} and MARK.fullmatch(got["password"])  # the input is not modified
    msg = {"result": {"content": [{"type": "text", "text": "call with sk-live-0123456789abcdefXYZ"}], "n": [1]}}
    out = r.json(msg)
    assert "sk-live" not in json.dumps(out) and "sk-live" in json.dumps(msg)
    assert out["result"]["n"] is msg["result"]["n"]
    assert r.json(["a", {"b": "c"}, [1, 2]]) == ["a", {"b": "c"}, [1, 2]]
    lst = ["a", {"b": "c"}, [1, 2]]
    assert r.json(lst) is lst


def test_settings_name_the_rules_not_the_key():
    r = Redactor(key=b"secret-key", extra=["x-tenant"], patterns=[r"tenant-[0-9]{6}"])
    s = r.settings()
    assert s["extra"] == ["x-tenant"] and s["patterns"] == [r"tenant-[0-9]{6}"] and s["enabled"] is True
    assert "secret-key" not in repr(s) and "secret-key" not in repr(r)


# -- the speed-ups are exact: memoised answers, the recursive walk, the short-string bound ------------
def _old_header_value(red: Redactor, name: str, value: str) -> str:
    """header_value as it was before its per-name memo (the reference)."""
    from mcpsniff.capture.redact import URL_HEADERS, VERBATIM_HEADERS, norm

    if not value:
        return value
    n = norm(name)
    if not red.is_secret_header(name):
        if n in URL_HEADERS:
            return red.url(value)
        return value if n in VERBATIM_HEADERS else red._text(value)
    return red.header_value(name, value)  # the secret branch is unchanged


@pytest.mark.parametrize(
    ("name", "value"),
    [("Authorization", "Bearer abcdefgh12345678"), ("X-Api-Key", "k"), ("Referer", "https://h/p?token=abc"),
     ("Mcp-Session-Id", "sk-proj-abcdefghijklmnopqrstuv"), ("User-Agent", "tool Bearer abcdefgh12345678"),
     ("X-Note", 'a "password": "hunter22"'), ("X-Note", "plain"), ("Cookie", "a=1; b=2"), ("Set-Cookie", "s=v; Path=/")],
)
def test_header_value_with_memo_equals_the_rule(name, value):
    red = Redactor(key=b"k")
    for _ in range(3):  # first answer computed, later ones remembered
        assert red.header_value(name, value) == _old_header_value(Redactor(key=b"k"), name, value)
        assert red.header_value(name.lower(), value) == _old_header_value(Redactor(key=b"k"), name.lower(), value)


def test_text_memo_keeps_only_clean_strings_and_is_bounded(monkeypatch):
    from mcpsniff.capture import redact

    red = Redactor()
    secret = "see Bearer abcdefgh12345678 and token=s3cr3tvalue and sk-ant-abcdefghijklmnopqrstuvwx"
    for _ in range(3):  # never remembered as clean: redacted every time
        out = red.text(secret)
        assert "abcdefgh12345678" not in out and "s3cr3tvalue" not in out and "sk-ant-" not in out
    assert secret not in red._clean_text
    assert red.text("hello world") == "hello world" and "hello world" in red._clean_text
    assert red.text("hello world") == "hello world"
    long = "x" * (redact.TEXT_MEMO_LEN + 1)
    assert red.text(long) == long and long not in red._clean_text  # too long to remember
    monkeypatch.setattr(redact, "TEXT_MEMO", 8)
    for i in range(20):
        assert red.text(f"clean {i}") == f"clean {i}"
        assert len(red._clean_text) <= 8
    # a clean string and a secret one that differ by a little: the memo answers only for the clean one
    assert red.text("token abc") == "token abc"
    assert red.text("token=abc") != "token=abc" and red.text("token=abc") != "token=abc"


def test_recursive_walk_equals_the_iterative_walk():
    import random

    from mcpsniff.capture import redact

    rnd = random.Random(12)
    leaves = [None, True, False, 0, 7, -1.5, "", "plain", "Bearer abcdefgh12345678", "a=1&token=zzz",
              "ghp_" + "a" * 36, '{"password": "x1"}', "<redacted:0123abcd>", [], {}]
    names = ["a", "text", "password", "code", "api_key", "Authorization", "Cookie", "progressToken", "id", "params"]

    def build(depth: int):
        if depth <= 0 or rnd.random() < 0.3:
            return rnd.choice(leaves)
        if rnd.random() < 0.5:
            return [build(depth - 1) for _ in range(rnd.randint(0, 4))]
        return {rnd.choice(names): build(depth - 1) for _ in range(rnd.randint(0, 4))}

    for i in range(400):
        obj = build(6)
        if i % 50 == 0:  # deeper than the recursion bound: the iterative walk takes over
            for _ in range(redact._RECURSE_DEPTH + 20):
                obj = {"k": [obj, "Bearer abcdefgh12345678"]}
        before = json.dumps(obj)
        a, b = Redactor(key=b"k"), Redactor(key=b"k")
        fast, ref = a.json(obj), b._walk(obj)
        assert fast == ref and json.dumps(fast) == json.dumps(ref)  # same values, same key order
        assert (fast is obj) == (ref is obj)  # copy on write alike
        assert a.count == b.count
        assert json.dumps(obj) == before  # the input is never modified


def test_short_strings_skip_the_token_shapes_only_when_no_shape_can_match():
    from mcpsniff.capture.redact import TOKEN_SHAPES, min_width

    red = Redactor()
    assert red._shapes_min > 0
    for shape in TOKEN_SHAPES:  # every shape's own shortest match is at least the bound
        assert min_width(re.compile(shape)) >= red._shapes_min
    shortest = "xoxb-" + "a" * 10  # a real match of exactly the smallest width
    assert len(shortest) == red._shapes_min and MARK.fullmatch(red.text(shortest))
    assert min_width(re.compile("a*")) == 0
    custom = Redactor(patterns=["X"])  # a one-character pattern: the bound follows it
    assert custom._shapes_min == 1 and MARK.fullmatch(custom.text("X"))


def test_headers_fast_path_equals_header_value_pair_by_pair():
    pairs = [("Host", "h:1"), ("User-Agent", "ua/1"), ("User-Agent", "ua Bearer abcdefgh12345678"), ("X-Empty", ""),
             ("Authorization", "Bearer abcdefgh12345678"), ("Mcp-Session-Id", "ghp_" + "a" * 36), ("X-Note", "plain"),
             ("Location", "https://h/cb?code=xyz"), ("Cookie", "")]
    red, ref = Redactor(key=b"k"), Redactor(key=b"k")
    for _ in range(3):  # cold, then with every kind and clean value remembered
        assert red.headers(pairs) == [[n, ref.header_value(n, v)] for n, v in pairs]
    assert red.count == ref.count
    assert Redactor(enabled=False).headers(pairs) == [[n, v] for n, v in pairs]


def test_url_memo_is_its_own_and_keeps_only_clean_urls():
    red = Redactor()
    u = "https://h.example/mcp/aB3dE5fG7hJ9kL1mN3pQ5rS7tU9"  # a credential-looking path segment: a URL secret only
    assert red.text(u) == u and u in red._clean_text  # clean as text ...
    for _ in range(2):
        assert MARK.search(red.url(u)) and "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9" not in red.url(u)  # ... not as a URL
    assert u not in red._clean_url
    q = "https://h.example/mcp?session_id=abc&token=t0ps3cret"
    for _ in range(2):
        assert "t0ps3cret" not in red.url(q) and "session_id=abc" in red.url(q)
    plain = "http://127.0.0.1:8000/mcp"
    assert red.url(plain) == plain and plain in red._clean_url and red.url(plain) == plain
