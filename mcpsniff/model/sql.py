"""The SQL every stage shares: literals and the predicates over the exchange table ``m``.

One spelling each: quoting a value, an ``IN`` list, and the predicates later stages combine
(a 2xx answer, MCP traffic, no response, the method label, the spec version an exchange is
judged by). Other modules import these instead of writing them again, so a change of meaning is
one edit. Pure strings and functions: no connection, no table is touched here.
"""

from __future__ import annotations

from typing import Any

from ..mcp import LEGACY_VERSION, MODERN_VERSION

#: the exchange was answered with a success status
OK = "(status BETWEEN 200 AND 299)"
#: what a request is called: its JSON-RPC method, else its HTTP method
LABEL = "coalesce(rpc_method, http_method)"
#: MCP traffic (any era), as opposed to other requests through the same proxy
MCP = "(era <> 'other')"
#: the exchange got no response: the one definition the rule on exchanges without a response, the
#: refusal counts and the live summary use. Not an exchange the client abandoned (it disconnected
#: before the answer), nor one in flight when the capture stopped; a POST whose event stream ended
#: without the JSON-RPC response (and with no event id to resume from) got none either
NO_RESPONSE = "(why IN ('unanswered', 'stream-without-response'))"
#: failed traffic: 4xx/5xx or no response, except the answers the spec calls healthy (405 to a
#: GET: no standalone stream here; 405 to a DELETE: the server keeps its sessions) and exchanges
#: the client abandoned
FAILED = "((status >= 400 OR status < 0) AND why NOT IN ('no-standalone-stream', 'delete-not-allowed', 'abandoned'))"
#: the session an exchange belongs to: the one an initialize opens, the id a follow-up carries, or
#: for a follow-up without one its scope's latest session (derived here, not stored: an id on every row
#: would widen every sort of the table)
SID = ("(CASE WHEN why IN ('initialize', 'initialize-stateless') THEN resp_sid "
       "WHEN follow_up THEN coalesce(req_sid, scope_sid) END)")
#: the state of an exchange's session when it was sent (docs/json.md)
STATE = ("(CASE WHEN why IN ('initialize') THEN 'issued' WHEN ended IS NOT NULL THEN 'ended (' || ended || ')' "
         "WHEN echo = 'unknown' THEN 'unknown' WHEN echo = 'dropped' THEN 'in use (id not sent)' "
         "WHEN coalesce(req_sid, scope_sid) IS NOT NULL AND follow_up THEN 'in use' ELSE 'no session' END)")
#: the spec version an exchange is judged by: the negotiated one (handshake), 2026-07-28
#: (modern), 2024-11-05 (legacy); NULL where it is unknown
SPEC_VERSION = (f"(CASE WHEN neg_version IS NOT NULL THEN neg_version WHEN era = 'modern' THEN '{MODERN_VERSION}' "
                f"WHEN era = 'legacy' THEN '{LEGACY_VERSION}' END)")


def quote(s: Any) -> str:
    """A SQL string literal."""
    return "'" + str(s).replace("'", "''") + "'"


def literal(v: Any) -> str:
    """A SQL literal: NULL, a number as written, anything else a quoted string."""
    if v is None:
        return "NULL"
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return str(v)
    return quote(v)


def in_list(values: list[Any]) -> str:
    """A SQL ``IN (...)`` list (``IN (NULL)`` matches nothing when empty)."""
    return "(" + (", ".join(literal(v) for v in values) or "NULL") + ")"


def tuples_in(tuples: list[tuple], cols: list[str]) -> str:
    """SQL predicate: the row's ``cols`` equal one of ``tuples`` (NULL matching NULL)."""
    if not tuples:
        return "FALSE"
    items = ", ".join("(" + ", ".join(literal(v) for v in t) + ")" for t in tuples)
    names = [f"c{i}" for i in range(len(cols))]
    cond = " AND ".join(f"v.{n} IS NOT DISTINCT FROM {c}" for n, c in zip(names, cols))  # {c}: the outer row
    return f"EXISTS (SELECT 1 FROM (VALUES {items}) v({', '.join(names)}) WHERE {cond})"
