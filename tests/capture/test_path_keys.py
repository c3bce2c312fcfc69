"""Keys in URL paths (issue 23): hosted MCP servers put an account key in the path
(``/s/<key>/mcp``). Such a segment of 16 characters or more is redacted with the capture's keyed
hash -- the same key gives the same marker, so the endpoint still groups -- while words, version
numbers, dates and short ids stay as they are."""

from __future__ import annotations

import re

import pytest

from mcpsniff import model
from mcpsniff.capture.redact import Redactor, looks_like_credential

MARK = re.compile(r"<redacted:[0-9a-f]{8}>")

KEYS = [
    "Q7w9E2r4T6y8U1i3",                              # base62, 16
    "9f86d081884c7d65",                              # hex, 16
    "5d41402abc4b2a76b9719d911017c592",              # hex, 32
    "da39a3ee5e6b4b0d3255bfef95601890afd80709",      # hex, 40
    "aB3dE5fG7hJ9kL1mN2pQ",                          # base62, 20
    "dGhpc2lzYXNlY3JldGtleQ",                        # base64url, 22
    "dGhpc2lzYXNlY3JldGtleQ==",                      # base64 with padding
    "k3j4h5g6f7d8s9a0q1w2",                          # base36, 20
    "x_Ab3-Cd4_Ef5-Gh6Ij",                           # base64url with - and _
    "Hkqwe7Tyrmn2Pqwzx",                             # few digits, mixed case, 17
    "550e8400-e29b-41d4-a716-446655440000",          # a UUID
    "aZ09bY18cX27dW36eV45fU54gT63hS72iR81jQ90kP0l",  # base62, 44
]

KEPT = [
    "mcp", "tools", "v1", "v2024-11-05", "2025-06-18", "2026-12-07T08-00-00Z", "20261207T080000Z",
    "release-notes-2024-01-15", "user_12345_profile_data", "MyProject2024Report", "github-mcp-server",
    "x86_64-unknown-linux-gnu", "1234567890123456789", "Qwertyuiopasdfgh", "ubuntu2204-amd64-image",
    "item42-description-long", "api-v2-tools-2024-extra", "deadbeef", "abc123", "a1b2c3d4e5f6", "mcp-remote-0.1.29",
    "python-httpx-0-28-1", "weather_forecast_v2",
]


@pytest.mark.parametrize("key", KEYS)
def test_a_key_in_the_path_is_redacted_and_still_groups(key):
    red = Redactor(key=b"k" * 32)
    url = f"https://mcp.example.com/s/{key}/mcp"
    out = red.url(url)
    assert key not in out and key.rstrip("=") not in out
    assert re.fullmatch(r"https://mcp\.example\.com/s/<redacted:[0-9a-f]{8}>/mcp", out)
    assert red.url(url + "?x=1").startswith(out)  # the same key, the same marker: one endpoint
    other = Redactor(key=b"j" * 32).url(url)
    assert other != out  # nothing matches across captures


@pytest.mark.parametrize("segment", KEPT)
def test_near_misses_are_kept(segment):
    assert not looks_like_credential(segment)
    url = f"https://h.example/api/{segment}/mcp"
    assert Redactor().url(url) == url


def test_keys_under_sixteen_characters_are_short_ids():
    assert not looks_like_credential("Q7w9E2r4T6y8U1i")  # 15
    assert looks_like_credential("Q7w9E2r4T6y8U1i3")  # 16


def test_the_analysis_groups_a_redacted_endpoint(tmp_path):
    """Two captures' worth of exchanges to /s/<key>/mcp are one endpoint after redaction."""
    from synth import Scenario

    red = Redactor()
    s = Scenario(url=f"http://127.0.0.1:8000/s/{KEYS[4]}/mcp")
    s.initialize("c/1", sid="sess-0001")
    s.request("c/1", "tools/list", sid="sess-0001")
    recs = []
    for r in s.records:
        r = dict(r)
        r["req"] = dict(r["req"], url=red.url(r["req"]["url"]))
        recs.append(r)
    m = model.from_records(recs)
    assert m.endpoint_count() == 1
    [endpoint] = m.hosts()
    assert endpoint == "127.0.0.1:8000"
    assert all(KEYS[4] not in r["req"]["url"] and MARK.search(r["req"]["url"]) for r in recs)
