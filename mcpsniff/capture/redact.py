"""Record-time redaction of secrets (pure; the forwarded bytes are never touched).

A secret is replaced by ``<redacted:XXXXXXXX>``: the first 8 hex digits of
HMAC-SHA256 over the secret with a random key made per capture, so equal
secrets get equal markers inside one capture (you can still see "the same
token was used twice") and nothing can be recovered or matched across captures.
The key is never written anywhere.

What is redacted:

- headers: ``Authorization`` / ``Proxy-Authorization`` (the scheme is kept:
  ``Bearer <redacted:...>``), ``Cookie`` / ``Set-Cookie`` (cookie names and
  attributes kept), and any header whose name has a word like ``token``,
  ``secret``, ``password``, ``auth``, ``apikey``, ``credential``, ``signature``
  (``X-API-Key``, ``X-Auth-Token``, ``X-Amz-Security-Token`` ...);
- query parameters and form fields (``application/x-www-form-urlencoded``)
  named ``access_token``, ``token``, ``api_key``, ``key``, ``code``,
  ``client_secret``, ``id_token``, ``refresh_token``, ``password``, ``sig`` ...;
- JSON object members, at any depth, named like ``access_token``,
  ``refreshToken``, ``client_secret``, ``password``, ``code_verifier``,
  ``authorization``, ``cookie``, ``x-api-key`` ... (string values only).

``Mcp-Session-Id`` (and the legacy ``session_id`` query parameter) are
evidence, not secrets: never redacted.  Extra names (any of the three kinds)
can be added; names are compared case-insensitively with ``-`` and ``_``
ignored.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from typing import Any, Callable, Iterable
from urllib.parse import unquote_plus

from ..schema import REDACTED_PREFIX

#: header names (normalised) that are always secret
SECRET_HEADERS = frozenset(
    {"authorization", "proxyauthorization", "cookie", "setcookie", "xapikey", "apikey"}
)
#: words (a header name split on - and _) that make a header secret
SECRET_HEADER_WORDS = frozenset(
    {
        "token", "secret", "password", "passwd", "auth", "authorization", "apikey",
        "credential", "credentials", "signature", "cookie", "sessiontoken", "jwt",
    }
)
#: query parameter / form field names (normalised)
SECRET_PARAMS = frozenset(
    {
        "accesstoken", "token", "apikey", "key", "code", "clientsecret", "idtoken",
        "refreshtoken", "password", "passwd", "pwd", "sig", "signature", "secret",
        "auth", "authtoken", "sessiontoken", "codeverifier", "assertion",
        "clientassertion", "subjecttoken", "actortoken", "xamzsignature",
        "xamzcredential", "xamzsecuritytoken", "xgoogsignature", "jwt",
    }
)
#: JSON member names (normalised)
SECRET_FIELDS = frozenset(
    {
        "accesstoken", "refreshtoken", "idtoken", "clientsecret", "password", "passwd",
        "codeverifier", "authorization", "proxyauthorization", "cookie", "setcookie",
        "apikey", "xapikey", "xauthtoken", "token", "secret", "privatekey", "authtoken",
        "bearertoken", "sessiontoken", "clientassertion", "subjecttoken", "actortoken",
        "registrationaccesstoken",
    }
)
#: substrings of a normalised JSON member / parameter name that make it secret
SECRET_SUBSTRINGS = ("secret", "password", "accesstoken", "refreshtoken", "apikey")
#: never secret, whatever the rules above say (MCP evidence)
NEVER_SECRET = frozenset({"mcpsessionid", "sessionid", "progresstoken", "mcpprotocolversion"})

#: names whose secret-or-not answer a Redactor remembers
MEMO_NAMES = 4096

_WORD_SPLIT = re.compile(r"[-_.\s]+")
_NAME_OK = re.compile(r"^[A-Za-z0-9_.\-]+$")


def norm(name: str) -> str:
    """Normalised name: lower case, ``-``, ``_`` and ``.`` removed."""
    return re.sub(r"[-_.]", "", name.lower())


def parse_extra(spec: str | Iterable[str] | None) -> list[str]:
    """Extra names from a comma-separated string (or an iterable); ValueError when malformed."""
    if spec is None:
        return []
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    out = []
    for item in items:
        item = item.strip()
        if not item:
            continue
        if not _NAME_OK.match(item):
            raise ValueError(f"invalid name to redact: {item!r} (use letters, digits, '-', '_', '.')")
        out.append(item)
    return out


class Redactor:
    """Redacts one capture's records.  ``enabled=False`` makes every method an identity."""

    def __init__(self, *, enabled: bool = True, extra: Iterable[str] = (), key: bytes | None = None) -> None:
        self.enabled = enabled
        self.extra = list(extra)
        self._extra = frozenset(norm(x) for x in self.extra)
        self._key = key if key is not None else os.urandom(32)
        self._header_memo: dict[str, bool] = {}
        self._field_memo: dict[str, bool] = {}
        self.count = 0  # values redacted so far

    def __repr__(self) -> str:  # never show the key
        return f"Redactor(enabled={self.enabled}, extra={self.extra!r})"

    def settings(self) -> dict[str, Any]:
        """What a capture's meta line says about redaction (never the key)."""
        return {
            "enabled": self.enabled,
            "extra": self.extra,
            "marker": "<redacted:first 8 hex of HMAC-SHA256 with a per-capture random key>",
        }

    # -- the marker ------------------------------------------------------------
    def marker(self, secret: str | bytes) -> str:
        raw = secret.encode("utf-8", "surrogatepass") if isinstance(secret, str) else secret
        self.count += 1
        digest = hmac.new(self._key, raw, hashlib.sha256).hexdigest()[:8]
        return f"{REDACTED_PREFIX}{digest}>"

    # -- name rules --------------------------------------------------------------
    # Names repeat (the same headers and JSON members in every message) and the rules are pure:
    # the answers are remembered, for a bounded number of names, to keep recording cheap.
    def is_secret_header(self, name: str) -> bool:
        return self._memo(self._header_memo, name, self._secret_header_rule)

    def is_secret_field(self, name: str) -> bool:
        return self._memo(self._field_memo, name, self._secret_field_rule)

    @staticmethod
    def _memo(memo: dict[str, bool], name: str, rule: Callable[[str], bool]) -> bool:
        hit = memo.get(name)
        if hit is None:
            hit = rule(name)
            if len(memo) < MEMO_NAMES:
                memo[name] = hit
        return hit

    def _secret_header_rule(self, name: str) -> bool:
        n = norm(name)
        if n in NEVER_SECRET:
            return False
        if n in SECRET_HEADERS or n in self._extra:
            return True
        words = {w for w in _WORD_SPLIT.split(name.lower()) if w}
        return bool(words & SECRET_HEADER_WORDS) or "apikey" in n or "apitoken" in n

    def is_secret_param(self, name: str) -> bool:
        n = norm(name)
        if n in NEVER_SECRET:
            return False
        return n in SECRET_PARAMS or n in self._extra or any(s in n for s in SECRET_SUBSTRINGS)

    def _secret_field_rule(self, name: str) -> bool:
        n = norm(name)
        if n in NEVER_SECRET:
            return False
        if n in SECRET_FIELDS or n in self._extra or any(s in n for s in SECRET_SUBSTRINGS):
            return True
        return n.endswith(("idtoken", "authtoken", "bearertoken", "sessiontoken"))

    # -- headers -------------------------------------------------------------------
    def header_value(self, name: str, value: str) -> str:
        if not self.enabled or not value or not self.is_secret_header(name):
            return value
        n = norm(name)
        if n in ("authorization", "proxyauthorization"):
            scheme, sp, cred = value.partition(" ")
            if sp and cred.strip():
                return f"{scheme} {self.marker(cred.strip())}"
            return self.marker(value)
        if n == "cookie":
            return "; ".join(self._cookie_pair(p) for p in value.split(";") if p.strip())
        if n == "setcookie":
            first, sep, attrs = value.partition(";")
            return self._cookie_pair(first) + (sep + attrs if sep else "")
        return self.marker(value)

    def _cookie_pair(self, pair: str) -> str:
        name, eq, val = pair.strip().partition("=")
        if not eq:
            return self.marker(name)
        return f"{name}={self.marker(val)}" if val else f"{name}="

    def headers(self, pairs: Iterable[tuple[str, str]]) -> list[list[str]]:
        return [[n, self.header_value(n, v)] for n, v in pairs]

    # -- URLs and forms ---------------------------------------------------------------
    def query(self, query: str) -> str:
        """Redact a raw query string (or form body), keeping order and encoding of the rest."""
        if not self.enabled or not query:
            return query
        parts = []
        for part in query.split("&"):
            name, eq, val = part.partition("=")
            if eq and val and self.is_secret_param(unquote_plus(name)):
                part = f"{name}={self.marker(unquote_plus(val))}"
            parts.append(part)
        return "&".join(parts)

    def url(self, url: str) -> str:
        if not self.enabled or "?" not in url:
            return url
        base, _, rest = url.partition("?")
        query, hsh, frag = rest.partition("#")
        return f"{base}?{self.query(query)}{hsh}{frag}"

    # -- JSON ---------------------------------------------------------------------------
    def json(self, obj: Any) -> Any:
        """A decoded JSON value with its secrets redacted: a copy where something was redacted,
        the value itself where nothing was (copy on write: most messages hold no secret, and
        recording must stay cheap).  The input is never modified."""
        if not self.enabled:
            return obj
        return self._json(obj, 0)

    def _json(self, obj: Any, depth: int) -> Any:
        if depth > 64:  # pathological nesting: keep as is
            return obj
        if isinstance(obj, dict):
            out: dict[Any, Any] | None = None
            for k, v in obj.items():
                if isinstance(k, str) and isinstance(v, str) and v and self.is_secret_field(k):
                    new = self._secret_string(k, v)
                else:
                    new = self._json(v, depth + 1)
                if out is None and new is not v:
                    out = dict(obj)
                if out is not None:
                    out[k] = new
            return obj if out is None else out
        if isinstance(obj, list):
            items: list[Any] | None = None
            for i, v in enumerate(obj):
                new = self._json(v, depth + 1)
                if items is None and new is not v:
                    items = list(obj)
                if items is not None:
                    items[i] = new
            return obj if items is None else items
        return obj

    def _secret_string(self, key: str, value: str) -> str:
        if norm(key) in ("authorization", "proxyauthorization", "cookie", "setcookie"):
            return self.header_value(key, value)
        return self.marker(value)

    # -- free text (bodies that could not be parsed) -------------------------------------
    _TEXT_JSON = re.compile(r'"([A-Za-z0-9_.\-]{1,64})"(\s*:\s*)"((?:[^"\\]|\\.)*)"')
    _TEXT_FORM = re.compile(r"(?<![A-Za-z0-9_.\-])([A-Za-z0-9_.\-]{1,64})=([^&\s\"'<>]+)")
    _TEXT_BEARER = re.compile(r"\b(Bearer|Basic)\s+([A-Za-z0-9._~+/=\-]{8,})")

    def text(self, text: str) -> str:
        """Best effort for text that is not valid JSON (e.g. cut at the size limit)."""
        if not self.enabled or not text:
            return text

        def js(m: re.Match) -> str:
            if self.is_secret_field(m.group(1)):
                return f'"{m.group(1)}"{m.group(2)}"{self.marker(m.group(3))}"'
            return m.group(0)

        def form(m: re.Match) -> str:
            if self.is_secret_param(m.group(1)):
                return f"{m.group(1)}={self.marker(unquote_plus(m.group(2)))}"
            return m.group(0)

        text = self._TEXT_JSON.sub(js, text)
        text = self._TEXT_FORM.sub(form, text)
        return self._TEXT_BEARER.sub(lambda m: f"{m.group(1)} {self.marker(m.group(2))}", text)
