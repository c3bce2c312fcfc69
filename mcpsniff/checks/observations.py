"""Observations that are no violation by themselves: no response, a legacy probe, refused traffic."""

from __future__ import annotations

from typing import Any

from ..model import Model
from .engine import Selection, check

REFUSED_MIN = 3  # requests a plane needs before "most of them failed" says anything
FAILED = Model.FAILED
#: what a refused exchange's answer said: status, JSON-RPC error code and message, or the
#: proxy's / client's error when no response came
REFUSAL_LABEL = """(CASE WHEN status < 0 THEN 'no response' || coalesce(': ' || error, '')
    ELSE status::VARCHAR || coalesce(' (JSON-RPC ' || rpc_err::BIGINT::VARCHAR || ')', '')
         || coalesce(' ' || resp_msg, ' ' || error, '') END)"""


def mostly_failed(failed: int, total: int) -> bool:
    """Most of at least REFUSED_MIN requests failed, or every one did (a client that gave up after
    its first refused initialize has no working traffic either)."""
    return (total >= REFUSED_MIN and failed * 2 > total) or (total >= 1 and failed == total)


def top_answers(pairs: list[Any], n: int = 3) -> dict[str, int]:
    """The ``n`` most frequent answers (ties: the one seen first) from (label, count, first pos) entries."""
    items = sorted(((p["l"], p["n"], p["f"]) for p in pairs or []), key=lambda x: (-x[1], x[2]))
    return {label: count for label, count, _ in items[:n]}


TOP_ANSWERS_SQL = f"""(SELECT list({{'l': l, 'n': n, 'f': f}}) FROM (
    SELECT {REFUSAL_LABEL} AS l, count(*) AS n, min(pos) AS f FROM m m2 WHERE {{where}} GROUP BY l))"""


@check("no-response")
def no_response(m: Model) -> Selection:
    return Selection(Model.NO_RESPONSE, {
        "errors": "(SELECT list({'l': error, 'n': n, 'f': f}) FROM (SELECT error, count(*) AS n, min(pos) AS f FROM m m2 "
                  "WHERE m2.plane = s.plane AND m2.error IS NOT NULL AND m2.status < 0 AND m2.era <> 'other' "
                  f"AND {Model.NO_RESPONSE} GROUP BY error))"},
        post=lambda v: {"errors": top_answers(v["errors"])})


@check("era-probe")
def era_probe(m: Model) -> Selection:
    return Selection("era = 'probe'")


@check("requests-refused")
def requests_refused(m: Model) -> Selection:
    counts = m.rows(f"SELECT plane, count(*) FILTER ({FAILED}), count(*) FROM m WHERE {Model.MCP} GROUP BY plane")
    refused = [p for p, f, t in counts if mostly_failed(f, t)]
    if not refused:
        return Selection("FALSE")
    plist = ", ".join("'" + p.replace("'", "''") + "'" for p in refused)
    return Selection(f"{FAILED} AND {Model.MCP} AND plane IN ({plist})", {
        "total": f"(SELECT count(*) FROM m m2 WHERE m2.plane = s.plane AND {Model.MCP})",
        "answers": TOP_ANSWERS_SQL.replace("{where}", f"m2.plane = s.plane AND {FAILED} AND {Model.MCP}"),
    }, post=lambda v: {"total": v["total"], "answers": top_answers(v["answers"])})
