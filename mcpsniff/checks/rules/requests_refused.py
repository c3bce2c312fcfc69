"""Most of this client's requests were refused or got no response."""

from __future__ import annotations

from ...mcp import ERAS, VERSION_ERAS
from ...model import Model
from ...model.sql import FAILED, MCP, in_list
from ..rule import HS, M_SEND, Rule, SEND, SH, Selection, T, cite, per_version
from ..shared import TOP_ANSWERS_SQL, mostly_failed, top_answers

#: place in the catalogue (reports, JSON, SARIF list rules in this order)
ORDER = 290

RULE = Rule(
    id="requests-refused",
    severity="info",
    title="Most of this client's requests were refused or got no response",
    explanation=(
        "Most (at least 3) of this plane's MCP requests, or every one of them, were "
        "answered with an error status (4xx/5xx) or got no response at all (405 to a GET or a "
        "DELETE is the spec's healthy 'not here', and an exchange the client abandoned is not a "
        "refusal). Whatever else is true, this traffic did not "
        "work, so its verdict is never a plain 'ok'. The answers are quoted as the server "
        "(or the proxy in between) gave them: status, JSON-RPC error code and message, or "
        "the connection error, most frequent first. Common causes: a version or session "
        "mismatch the server rejects, missing authentication, or the capture proxy failing "
        "to reach the server (e.g. 'Certificate verify failed' in front of a self-signed "
        "server: pass --upstream-insecure or --upstream-ca)."
    ),
    eras=ERAS,
    versions=tuple(VERSION_ERAS),
    citations=(
        cite("2026-07-28", SH, M_SEND, "sending-messages",
             "If the body is a JSON-RPC request, the server MUST return either Content-Type: "
             "application/json (a single JSON object) or Content-Type: text/event-stream "
             "(an SSE response stream)."),
    ) + per_version(
        HS, T, SEND, "sending-messages-to-the-server",
        {v: "If the input is a JSON-RPC request, the server MUST either return Content-Type: "
            "text/event-stream, to initiate an SSE stream, or Content-Type: application/json, "
            "to return one JSON object." for v in HS},
    ),
    party="any",
    detail="{count} of {total} requests failed: {answers:semicolons}",
)


def check(m: Model) -> Selection:
    counts = m.rows(f"SELECT plane, count(*) FILTER ({FAILED}), count(*) FROM m WHERE {MCP} GROUP BY plane")
    refused = [p for p, f, t in counts if mostly_failed(f, t)]
    if not refused:
        return Selection("FALSE")
    return Selection(f"{FAILED} AND {MCP} AND plane IN {in_list(refused)}", {
        "total": f"(SELECT count(*) FROM m m2 WHERE m2.plane = s.plane AND {MCP})",
        "answers": TOP_ANSWERS_SQL.replace("{where}", f"m2.plane = s.plane AND {FAILED} AND {MCP}"),
    }, post=lambda v: {"total": v["total"], "answers": top_answers(v["answers"])})
