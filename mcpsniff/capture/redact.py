"""Record-time redaction of secrets (pure; the forwarded bytes are never touched).

A secret is replaced by ``<redacted:XXXXXXXX>``: the first 8 hex digits of
HMAC-SHA256 over the secret with a random key made per capture, so equal
secrets get equal markers inside one capture (you can still see "the same
token was used twice", and an API key in a URL path still names one endpoint)
and nothing can be recovered or matched across captures. The key is never
written anywhere.

What is redacted (docs/capture.md has the user-facing list):

- **headers**: ``Authorization`` / ``Proxy-Authorization`` (the scheme is kept:
  ``Bearer <redacted:...>``), ``Cookie`` / ``Set-Cookie`` (cookie names and
  attributes kept), and every header whose name contains one of the words
  :data:`SECRET_HEADER_WORDS` (split on ``-``, ``_`` and ``.``: ``X-API-Key``,
  ``Ocp-Apim-Subscription-Key``, ``X-Goog-Api-Key``, ``Private-Token``,
  ``X-Vault-Token``, ``X-Amz-Security-Token`` ...). URLs in ``Referer``,
  ``Location``, ``Origin``, ``Content-Location`` and ``Link`` headers are
  redacted like request URLs;
- **URLs**: query parameters named like secrets (:data:`SECRET_PARAMS`, and any
  name containing ``secret``, ``password``, ``token``, ``apikey``), and path
  segments that look like credentials: well-known token shapes (``sk-...``,
  ``ghp_...``, ``xoxb-...``, ``AKIA...``, JWTs, :data:`TOKEN_SHAPES`), keys of
  :data:`KEY_MIN_LEN` or more characters as hosted MCP servers put them in paths
  (``/s/<key>/mcp``: hex, base62 or base64url runs mixing letters and digits, UUIDs;
  :func:`looks_like_key`) and long high-entropy segments (at least 24 characters
  mixing letters and digits). Words, version numbers, dates and short ids are kept;
- **JSON** members at any depth named like secrets (:data:`SECRET_FIELDS`, the
  substrings above, ``...id_token``, ``credentials``), whatever the value: a
  string, a number, an object or a list becomes one marker. ``code`` (an OAuth
  authorization code) only when its value is a string: JSON-RPC error codes
  are numbers and are evidence;
- **text** (bodies that are not JSON, SSE data, and every string inside JSON):
  ``name=value`` pairs and ``"name": value`` members with secret names,
  ``Bearer``/``Basic`` credentials, and the token shapes above.

``Mcp-Session-Id`` (and the legacy ``session_id`` query parameter) are
evidence, not secrets: never redacted. Extra names (any kind) and extra
patterns (regular expressions for path segments and text) can be added; names
are compared case-insensitively with ``-``, ``_`` and ``.`` ignored.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import os
import re
from collections import Counter
from typing import Any, Callable, Iterable, Iterator
from urllib.parse import unquote, unquote_plus

from ..schema import REDACTED_PREFIX

#: header names (normalised) that are always secret
SECRET_HEADERS = frozenset(
    {"authorization", "proxyauthorization", "cookie", "setcookie", "xapikey", "apikey"}
)
#: words (a header name split on - _ .) that make a header secret
SECRET_HEADER_WORDS = frozenset(
    {
        "token", "secret", "password", "passwd", "pwd", "auth", "authorization", "apikey", "key",
        "credential", "credentials", "signature", "sig", "cookie", "sessiontoken", "jwt", "bearer",
        "private", "pat",
    }
)
#: headers whose value is a URL (redacted as one)
URL_HEADERS = frozenset({"referer", "location", "origin", "contentlocation", "link", "refresh"})
#: query parameter / form field names (normalised)
SECRET_PARAMS = frozenset(
    {
        "accesstoken", "token", "apikey", "key", "code", "clientsecret", "idtoken",
        "refreshtoken", "password", "passwd", "pwd", "sig", "signature", "secret",
        "auth", "authtoken", "sessiontoken", "codeverifier", "assertion",
        "clientassertion", "subjecttoken", "actortoken", "xamzsignature",
        "xamzcredential", "xamzsecuritytoken", "xgoogsignature", "jwt", "credentials",
        "credential", "privatekey", "accesskey", "secretkey", "subscriptionkey",
    }
)
#: JSON member names (normalised)
SECRET_FIELDS = frozenset(
    {
        "accesstoken", "refreshtoken", "idtoken", "clientsecret", "password", "passwd",
        "codeverifier", "authorization", "proxyauthorization", "cookie", "setcookie",
        "apikey", "xapikey", "xauthtoken", "token", "secret", "privatekey", "authtoken",
        "bearertoken", "sessiontoken", "clientassertion", "subjecttoken", "actortoken",
        "registrationaccesstoken", "credentials", "credential", "accesskey", "secretkey",
        "accesskeyid", "secretaccesskey", "subscriptionkey", "passphrase", "pwd",
    }
)
#: members that are secret only with a string value (OAuth codes; JSON-RPC error codes are numbers)
STRING_ONLY_FIELDS = frozenset({"code"})
#: substrings of a normalised JSON member / parameter name that make it secret
SECRET_SUBSTRINGS = ("secret", "password", "passwd", "accesstoken", "refreshtoken", "apikey", "privatekey", "credential")
#: never secret, whatever the rules above say (MCP evidence)
NEVER_SECRET = frozenset({"mcpsessionid", "sessionid", "progresstoken", "mcpprotocolversion", "mcpmethod", "lasteventid"})
#: header values kept exactly (evidence the analysis compares); other values get the text rules
VERBATIM_HEADERS = frozenset({"mcpsessionid", "mcpprotocolversion", "mcpmethod", "lasteventid", "host", "contenttype",
                              "contentlength", "accept", "acceptencoding", "contentencoding", "date"})
#: well-known credential shapes, found in URL paths and any text
TOKEN_SHAPES = (
    r"sk-(?:proj-|ant-|live-|test-)?[A-Za-z0-9_\-]{16,}",
    r"sk_(?:live|test)_[A-Za-z0-9]{16,}",
    r"(?:rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}",
    r"gh[pousr]_[A-Za-z0-9]{30,}",
    r"github_pat_[A-Za-z0-9_]{30,}",
    r"glpat-[A-Za-z0-9_\-]{20,}",
    r"xox[abposr]-[A-Za-z0-9\-]{10,}",
    r"AKIA[0-9A-Z]{16}",
    r"AIza[0-9A-Za-z_\-]{35}",
    r"eyJ[A-Za-z0-9_\-]{5,}\.eyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]*",
    r"hf_[A-Za-z0-9]{30,}",
    r"npm_[A-Za-z0-9]{30,}",
)
HIGH_ENTROPY_MIN_LEN = 24
HIGH_ENTROPY_BITS = 3.0
#: path segments this long or longer are looked at as keys (:func:`looks_like_key`)
KEY_MIN_LEN = 16
#: a long mixed run with two digit runs and all three character classes is a key at this entropy
KEY_MIXED_BITS = 3.5

#: names whose secret-or-not answer a Redactor remembers
MEMO_NAMES = 4096
#: strings up to TEXT_MEMO_LEN characters that the text rules (or the URL rules: a memory of its own)
#: leave unchanged, remembered (the same header values, JSON strings and URLs come in every message);
#: the memory is emptied when it is full
TEXT_MEMO = 4096
TEXT_MEMO_LEN = 512

#: what header_value does with a header's values (Redactor._header_kind)
_H_TEXT, _H_VERBATIM, _H_URL, _H_SECRET = range(4)
#: a JSON member name is secret / secret with a string value (Redactor._member_kind)
_M_SECRET, _M_STRING_ONLY = 1, 2
#: containers nested deeper than this are walked by the iterative walk (no recursion limit)
_RECURSE_DEPTH = 64

_WORD_SPLIT = re.compile(r"[-_.\s]+")
_NAME_OK = re.compile(r"^[A-Za-z0-9_.\-]+$")
_SEGMENT_OK = re.compile(r"^[A-Za-z0-9_\-.~+=%]+$")
_KEY_ALPHABET = re.compile(r"[A-Za-z0-9_\-]+")  # base64url, of which base62 and hex are part
_HEX = re.compile(r"[0-9a-f]+|[0-9A-F]+")
_DATE_TIME = re.compile(r"\d{4}-?\d{2}-?\d{2}(?:[T_-]?\d{2}-?\d{2}(?:-?\d{2})?Z?)?")
_TOKENS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")  # words (camel case split), acronyms, numbers


def norm(name: str) -> str:
    """Normalised name: lower case, ``-``, ``_`` and ``.`` removed."""
    return name.lower().replace("-", "").replace("_", "").replace(".", "")


def min_width(pattern: re.Pattern[str]) -> int:
    """The fewest characters a match of ``pattern`` can have: the bound the regular expression
    engine itself uses to give up on a shorter string at once (0 when it cannot be told)."""
    try:
        from re import _parser as sre_parse  # type: ignore[attr-defined]
    except ImportError:  # pragma: no cover - before Python 3.11
        import sre_parse  # type: ignore[no-redef]
    try:
        return max(0, int(sre_parse.parse(pattern.pattern, pattern.flags).getwidth()[0]))
    except Exception:  # noqa: BLE001 - never guess: every string is then searched
        return 0


def _memo_clean(clean: dict[str, None], s: str, rules: Callable[[str], str]) -> str:
    """``rules(s)``, remembering short strings the rules leave unchanged (the rules are pure, and a
    string in which anything was redacted is never remembered); the memory is emptied when full."""
    if s in clean:
        return s
    out = rules(s)
    if len(s) <= TEXT_MEMO_LEN and out == s:
        if len(clean) >= TEXT_MEMO:
            clean.clear()
        clean[s] = None
    return out


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


def parse_patterns(spec: str | Iterable[str] | None) -> list[str]:
    """Extra secret patterns (regular expressions); ValueError naming the one that does not compile."""
    if spec is None:
        return []
    items = [p for p in (spec.split("\n") if isinstance(spec, str) else list(spec)) if p.strip()]
    for p in items:
        try:
            re.compile(p)
        except re.error as e:
            raise ValueError(f"invalid pattern {p!r}: {e}") from None
    return items


def entropy_bits(s: str) -> float:
    """Shannon entropy per character."""
    n = len(s)
    return -sum(c / n * math.log2(c / n) for c in Counter(s).values()) if n else 0.0


def looks_like_key(segment: str) -> bool:
    """A URL path segment that is a key of :data:`KEY_MIN_LEN` characters or more: a run of the
    base64url alphabet (base62 and hex are part of it) mixing letters and digits in a way words,
    numbers, dates and versions do not.

    Kept: parts that are all letters or all digits (``release-notes-2024-01-15``), words with one
    number (``MyProject2024Report``, ``ubuntu2204-amd64``), dates and times. A key: hex with
    letters and digits (``9f86d081884c7d65``, UUIDs), three or more digit runs among the mixed
    parts (``k3j4h5g6f7d8s9a0``), a single letter between digits in a mixed part of 8 or more
    (``dGhpc2lzYXNlY3J``), or a mixed part of 16 or more with two digit runs, both cases and
    high entropy (``Hkqwe7Tyrmn2Pqwzx``)."""
    s = segment.strip().rstrip("=")
    if len(s) < KEY_MIN_LEN or not _KEY_ALPHABET.fullmatch(s) or _DATE_TIME.fullmatch(s):
        return False
    if not (re.search(r"[A-Za-z]", s) and re.search(r"[0-9]", s)):
        return False
    parts = [p for p in re.split(r"[-_]", s) if p]
    if all(_HEX.fullmatch(p) for p in parts) and len(re.sub(r"[-_]", "", s)) >= KEY_MIN_LEN \
            and any(not p.isdigit() and not p.isalpha() for p in parts):
        return True
    mixed = [p for p in parts if not p.isdigit() and not p.isalpha()]
    if not mixed:
        return False
    if sum(len(re.findall(r"\d+", p)) for p in mixed) >= 3:
        return True
    for p in mixed:
        tokens = _TOKENS.findall(p)
        if len(p) >= 8 and any(t.isalpha() and len(t) == 1 for t in tokens[1:-1]):
            return True
        digit_runs = sum(1 for t in tokens if t.isdigit())
        if (len(p) >= KEY_MIN_LEN and digit_runs >= 2 and re.search(r"[a-z]", p) and re.search(r"[A-Z]", p)
                and entropy_bits(p) >= KEY_MIXED_BITS):
            return True
    return False


def looks_like_credential(segment: str) -> bool:
    """A URL path segment that is a key (:func:`looks_like_key`, which decides for the base64url
    alphabet), or outside that alphabet long, mixing letters and digits and random-looking."""
    s = segment.strip()
    if _KEY_ALPHABET.fullmatch(s.rstrip("=")):
        return looks_like_key(s)
    if len(s) < HIGH_ENTROPY_MIN_LEN or not _SEGMENT_OK.match(s):
        return False
    if not (re.search(r"[A-Za-z]", s) and re.search(r"[0-9]", s)):
        return False
    return entropy_bits(s) >= HIGH_ENTROPY_BITS


class Redactor:
    """Redacts one capture's records.  ``enabled=False`` makes every method an identity."""

    def __init__(self, *, enabled: bool = True, extra: Iterable[str] = (), key: bytes | None = None,
                 patterns: Iterable[str] = ()) -> None:
        self.enabled = enabled
        self.extra = list(extra)
        self.patterns = list(patterns)
        self._extra = frozenset(norm(x) for x in self.extra)
        self._key = key if key is not None else os.urandom(32)
        self._shapes = re.compile("|".join(f"(?:{p})" for p in (*TOKEN_SHAPES, *self.patterns)))
        self._shapes_min = min_width(self._shapes)  # a shorter string holds no token shape
        self._header_memo: dict[str, bool] = {}
        self._header_kind_memo: dict[str, int] = {}
        self._field_memo: dict[str, bool] = {}
        self._string_only_memo: dict[str, bool] = {}
        self._member_memo: dict[str, int] = {}
        self._clean_text: dict[str, None] = {}  # strings text() returns unchanged (no secret in them)
        self._clean_url: dict[str, None] = {}  # the same for url()
        self.count = 0  # values redacted so far

    def __repr__(self) -> str:  # never show the key
        return f"Redactor(enabled={self.enabled}, extra={self.extra!r}, patterns={self.patterns!r})"

    def settings(self) -> dict[str, Any]:
        """What a capture's meta line says about redaction (never the key)."""
        return {
            "enabled": self.enabled,
            "extra": self.extra,
            "patterns": self.patterns,
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
        return n in SECRET_PARAMS or n in self._extra or any(s in n for s in SECRET_SUBSTRINGS) or n.endswith("token")

    def _secret_field_rule(self, name: str) -> bool:
        n = norm(name)
        if n in NEVER_SECRET:
            return False
        if n in SECRET_FIELDS or n in self._extra or any(s in n for s in SECRET_SUBSTRINGS):
            return True
        return n.endswith(("idtoken", "authtoken", "bearertoken", "sessiontoken", "accesstoken", "apitoken"))

    # -- headers -------------------------------------------------------------------
    def header_value(self, name: str, value: str) -> str:
        if not self.enabled or not value:
            return value
        kind = self._header_kind_memo.get(name)
        if kind is None:
            kind = self._memo(self._header_kind_memo, name, self._header_kind)
        if kind == _H_TEXT:
            return self.text(value)
        if kind == _H_VERBATIM:
            return value
        if kind == _H_URL:
            return self.url(value)
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

    def _header_kind(self, name: str) -> int:
        """What :meth:`header_value` does with a value of header ``name`` (remembered per name)."""
        n = norm(name)
        if not self.is_secret_header(name):
            if n in URL_HEADERS:
                return _H_URL
            return _H_VERBATIM if n in VERBATIM_HEADERS else _H_TEXT
        return _H_SECRET

    def _cookie_pair(self, pair: str) -> str:
        name, eq, val = pair.strip().partition("=")
        if not eq:
            return self.marker(name)
        return f"{name}={self.marker(val)}" if val else f"{name}="

    def headers(self, pairs: Iterable[tuple[str, str]]) -> list[list[str]]:
        if not self.enabled:
            return [[n, v] for n, v in pairs]
        kinds, clean = self._header_kind_memo, self._clean_text
        out = []
        for n, v in pairs:
            kind = kinds.get(n)
            # what header_value answers at once for a known header name: kept as it is
            if kind == _H_VERBATIM or (kind == _H_TEXT and v in clean) or not v:
                out.append([n, v])
            else:
                out.append([n, self.header_value(n, v)])
        return out

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
            elif eq and val:
                part = f"{name}={self._shapes_in(val)}"
            parts.append(part)
        return "&".join(parts)

    def path(self, path: str) -> str:
        """Redact credential-looking segments of a URL path (token shapes, long random segments)."""
        if not self.enabled or not path:
            return path
        segs = path.split("/")
        for i, seg in enumerate(segs):
            if not seg:
                continue
            plain = unquote(seg)
            if self._shapes.fullmatch(plain) or looks_like_credential(plain):
                segs[i] = self.marker(plain)
            else:
                segs[i] = self._shapes_in(seg)
        return "/".join(segs)

    def url(self, url: str) -> str:
        if not self.enabled or not url:
            return url
        return _memo_clean(self._clean_url, url, self._url)

    def _url(self, url: str) -> str:
        base, q, rest = url.partition("?")
        query, hsh, frag = rest.partition("#")
        scheme, sep, after = base.partition("://")
        if sep:
            host, slash, path = after.partition("/")
            if "@" in host:  # user:password@host
                host = self.marker(host.rsplit("@", 1)[0]) + "@" + host.rsplit("@", 1)[1]
            base = f"{scheme}://{host}{slash}{self.path(path)}"
        else:
            base = self.path(base)
        return base + (f"?{self.query(query)}{hsh}{frag}" if q else "")

    # -- JSON ---------------------------------------------------------------------------
    def json(self, obj: Any) -> Any:
        """A decoded JSON value with its secrets redacted, at any depth: a copy where something
        was redacted, the value itself where nothing was (copy on write: most messages hold no
        secret, and recording must stay cheap).  The input is never modified."""
        if not self.enabled:
            return obj
        if isinstance(obj, (dict, list)):
            return self._walk_rec(obj, 0)
        return self._walk(obj)

    def _member_kind(self, name: str) -> int:
        """:data:`_M_SECRET` / :data:`_M_STRING_ONLY` bits of a member name (as :meth:`_value` decides)."""
        return (_M_SECRET if self.is_secret_field(name) else 0) | (_M_STRING_ONLY if _string_only_rule(name) else 0)

    def _walk_rec(self, obj: dict[Any, Any] | list[Any], depth: int) -> Any:
        """:meth:`_walk` of a container, recursively while shallow (the common case, and faster):
        the same result, copy on write alike.  Deeper containers go to the iterative walk."""
        copy: Any = None
        clean = self._clean_text
        if isinstance(obj, dict):
            kinds = self._member_memo
            for k, v in obj.items():
                if isinstance(k, str):
                    kind = kinds.get(k)
                    if kind is None:
                        kind = self._memo(kinds, k, self._member_kind)  # type: ignore[arg-type]
                    if kind:
                        nv = self._value(k, v)
                        if nv is not v:
                            if copy is None:
                                copy = dict(obj)
                            copy[k] = nv
                            continue
                if (isinstance(v, str) and (not v or v in clean)) or not isinstance(v, (str, dict, list)):
                    continue  # nothing to redact (what text() answers at once for a string)
                nv = self._walk_value(v, depth)
                if nv is v:
                    continue
                if copy is None:
                    copy = dict(obj)
                copy[k] = nv
        else:
            for i, v in enumerate(obj):
                if (isinstance(v, str) and (not v or v in clean)) or not isinstance(v, (str, dict, list)):
                    continue
                nv = self._walk_value(v, depth)
                if nv is v:
                    continue
                if copy is None:
                    copy = list(obj)
                copy[i] = nv
        return obj if copy is None else copy

    def _walk_value(self, v: str | dict[Any, Any] | list[Any], depth: int) -> Any:
        """One string or container met by :meth:`_walk_rec` at ``depth``: ``v`` itself when nothing
        in it is redacted."""
        if isinstance(v, str):
            nv = self.text(v)
            return v if nv == v else nv
        return self._walk_rec(v, depth + 1) if depth < _RECURSE_DEPTH else self._walk(v)

    def _value(self, key: str, v: Any) -> Any:
        """A member's value: a marker if the member is secret, else the value walked."""
        if self.is_secret_field(key) and v not in (None, "", [], {}) and not isinstance(v, bool):
            if isinstance(v, str):
                return self._secret_string(key, v)
            return self.marker(_canonical(v))
        if isinstance(v, str) and v and self._memo(self._string_only_memo, key, _string_only_rule):
            return self.marker(v)
        return v

    def _walk(self, obj: Any) -> Any:
        """Iterative walk with redaction (no recursion: any nesting depth), copying only the
        containers on the path to something redacted."""
        if isinstance(obj, str):
            return self.text(obj)
        if not isinstance(obj, (dict, list)):
            return obj
        # one frame per container being walked: [source, its copy (None while nothing in it has
        # changed: copy on write), its key in the parent, its members still to walk]
        frames: list[list[Any]] = [[obj, None, None, _members(obj)]]
        while frames:
            frame = frames[-1]
            is_dict = isinstance(frame[0], dict)
            for k, v in frame[3]:
                if is_dict and isinstance(k, str):
                    nv = self._value(k, v)
                    if nv is not v:
                        _put(frame, k, nv)
                        continue
                if isinstance(v, (dict, list)):
                    frames.append([v, None, k, _members(v)])
                    break  # walk the child first; this frame's iterator resumes after it
                if isinstance(v, str):
                    nv = self.text(v)
                    if nv != v:
                        _put(frame, k, nv)
            else:  # every member walked
                frames.pop()
                new = frame[0] if frame[1] is None else frame[1]
                if not frames:
                    return new
                if frame[1] is not None:
                    _put(frames[-1], frame[2], new)
        raise AssertionError("unreachable")  # pragma: no cover

    def _secret_string(self, key: str, value: str) -> str:
        if norm(key) in ("authorization", "proxyauthorization", "cookie", "setcookie"):
            return self.header_value(key, value)
        return self.marker(value)

    # -- free text (bodies that could not be parsed, SSE data, strings in JSON) ----------
    _TEXT_JSON = re.compile(r'"([A-Za-z0-9_.\-]{1,64})"(\s*:\s*)("(?:[^"\\]|\\.)*"|-?\d[\d.eE+\-]*)')
    _TEXT_FORM = re.compile(r"(?<![A-Za-z0-9_.\-])([A-Za-z0-9_.\-]{1,64})=([^&\s\"'<>]+)")
    _TEXT_BEARER = re.compile(r"\b(Bearer|Basic|Token)\s+([A-Za-z0-9._~+/=\-]{8,})")

    def text(self, text: str) -> str:
        """Best effort for text: secret ``"name": value`` and ``name=value`` pairs, credentials after
        ``Bearer``/``Basic``, and the well-known token shapes."""
        if not self.enabled or not text:
            return text
        return _memo_clean(self._clean_text, text, self._text)

    def _text(self, text: str) -> str:
        if "=" in text:
            text = self._TEXT_FORM.sub(self._form, text)
        if '"' in text:
            text = self._TEXT_JSON.sub(self._js, text)
        if "Bearer" in text or "Basic" in text or "Token" in text:
            text = self._TEXT_BEARER.sub(lambda m: f"{m.group(1)} {self.marker(m.group(2))}", text)
        return self._shapes_in(text)

    def _js(self, m: re.Match) -> str:
        name, value = m.group(1), m.group(3)
        is_str = value.startswith('"')
        if self.is_secret_field(name) or (is_str and norm(name) in STRING_ONLY_FIELDS):
            secret = value[1:-1] if is_str else value
            if not secret or secret.startswith(REDACTED_PREFIX):
                return m.group(0)
            return f'"{name}"{m.group(2)}"{self.marker(secret)}"'
        return m.group(0)

    def _form(self, m: re.Match) -> str:
        if self.is_secret_param(m.group(1)) and not m.group(2).startswith(REDACTED_PREFIX):
            return f"{m.group(1)}={self.marker(unquote_plus(m.group(2)))}"
        return m.group(0)

    def _shapes_in(self, text: str) -> str:
        if len(text) < self._shapes_min:  # too short for any match: the engine would give up at once too
            return text
        return self._shapes.sub(lambda m: self.marker(m.group(0)), text)


def _string_only_rule(name: str) -> bool:
    return norm(name) in STRING_ONLY_FIELDS


def _members(obj: dict[Any, Any] | list[Any]) -> Iterator[tuple[Any, Any]]:
    return iter(obj.items()) if isinstance(obj, dict) else enumerate(obj)


def _put(frame: list[Any], key: Any, value: Any) -> None:
    """Set a member of a container being walked, in its copy (made now if it has none yet)."""
    if frame[1] is None:
        src = frame[0]
        frame[1] = dict(src) if isinstance(src, dict) else list(src)
    frame[1][key] = value


def _canonical(v: Any) -> str:
    """A stable string for a non-string secret value (equal values, equal markers)."""
    try:
        import orjson

        return orjson.dumps(v, option=orjson.OPT_SORT_KEYS).decode()
    except (TypeError, ImportError):
        return repr(v)
