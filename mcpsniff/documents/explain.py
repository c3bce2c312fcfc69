"""The explain document: why each exchange was judged as it was.

Per plane and session, a timeline of exchanges, each with its role (MCP endpoint call, standalone
stream, session end, CORS preflight, authorization traffic, other HTTP), the state of its session
when it was sent, the one explanation the model gave it (by precedence), and the findings it fed.
Session ids are pseudonymised as in the report unless ``raw_ids``.
"""

from __future__ import annotations

from typing import Any

from ..checks import catalogue
from ..checks.engine import finding_where
from ..model.sql import SID, quote
from .analysis import Analysis, iso
from .report import Pseudonyms

EXPLAIN_VERSION = 1

#: what each explanation means, in a sentence (docs/json.md lists the same)
EXPLANATIONS = {
    "authorization": "authorization traffic (discovery, registration, token, authorize): not judged by the transport's rules",
    "not-endpoint": "HTTP traffic that is not the MCP endpoint: not judged",
    "preflight": "a browser's CORS preflight of the MCP endpoint",
    "abandoned": "the client went away before the answer (or the capture stopped): not the server's missing response",
    "unanswered": "no response arrived",
    "initialize": "initialize answered with a session id: the session is issued",
    "initialize-stateless": "initialize answered without a session id: a stateless conversation",
    "initialize-refused": "initialize refused",
    "after-end": "sent with a session id that had already ended (deleted, or refused as unknown)",
    "session-refused": "the server refused the session id as unknown or ended: the session ends here",
    "session-deleted": "DELETE accepted: the client ended the session",
    "delete-not-allowed": "405 to DELETE: the server does not let clients end sessions (allowed)",
    "no-standalone-stream": "405 to GET: no standalone SSE stream here (allowed)",
    "missing-session": "400 to a request without a session id, where the server issued sessions: the missing-session answer",
    "credential-refused": "401/403: the credential was refused, not the session",
    "rate-limited": "429: rate limited",
    "unavailable": "502/503/504: a gateway or the server was unavailable",
    "stream-without-response": "the SSE stream ended without the JSON-RPC response and without an event id to resume from",
    "ok": "answered",
    "failed": "refused with an error status",
}


def build(a: Analysis, *, plane: str | None = None, session: str | None = None, limit: int | None = 50,
          raw_ids: bool = False) -> dict[str, Any]:
    """The explain document; ``session`` is a raw id or its pseudonym (``session-A``)."""
    m = a.model
    ids = Pseudonyms(m.session_id_order(), raw=raw_ids)
    conds = ["TRUE"]
    if plane is not None:
        conds.append(f"plane = {quote(plane)}")
    if session is not None:
        raw = next((k for k, v in ids.map.items() if v == session), session)
        conds.append(f"{SID} = {quote(raw)}")
    marks = {f"{f.rule}\x1f{f.plane}": finding_where(m, f) for f in a.findings}
    rows = m.timeline(" AND ".join(conds), marks, limit)
    t0 = m.capture_facts()["start"]
    planes: dict[str, dict[str, Any]] = {}
    for r in rows:
        p = planes.setdefault(r["plane"], {"user_agent": r["plane"], "sessions": []})
        key = ids.name(r["sid"])
        if not p["sessions"] or p["sessions"][-1]["session"] != key:
            p["sessions"].append({"session": key, "exchanges": [], "shown": 0, "total": r["n_group"]})
        g = p["sessions"][-1]
        g["shown"] += 1
        g["exchanges"].append({
            "time": iso(r["t"]), "offset_ms": None if t0 is None else round((r["t"] - t0) * 1000.0, 1),
            "http_method": r["http_method"], "method": r["method"],
            "status": r["status"] if r["status"] is not None and r["status"] >= 0 else None,
            "session_id": ids.name(r["req_sid"]), "response_session_id": ids.name(r["resp_sid"]),
            "role": r["role"], "era": r["era"], "session_state": r["state"], "explanation": r["why"],
            "explanation_text": EXPLANATIONS.get(r["why"], r["why"]), "session_header": r["echo"], "error": r["error"],
            "rules": sorted({k.split("\x1f", 1)[0] for k in r["rules"] if k.split("\x1f", 1)[1] == r["plane"]}),
        })
    fed = sorted({rule for p in planes.values() for s in p["sessions"] for e in s["exchanges"] for rule in e["rules"]})
    return {
        "mcpsniff": {"explain": EXPLAIN_VERSION},
        "session_ids": "raw" if raw_ids else "pseudonymised",
        "planes": list(planes.values()),
        "rules": [_rule(r, next((f.version for f in a.findings if f.rule == r and f.version), None)) for r in fed],
    }


def _rule(rule_id: str, version: str | None) -> dict[str, Any]:
    r = catalogue.get(rule_id)
    c = catalogue.citation_for(rule_id, version)
    return {"id": r.id, "severity": r.severity, "party": r.party, "title": r.title,
            "spec": {"version": c.version, "section": c.section, "url": c.url, "quote": c.quote}}


