"""What several rules' checks share: SQL helpers over the exchange table and the traffic facts
more than one rule reads (modern metadata mismatches, refusals, CORS header lists).

A rule's own constants stay in its module; what is here is used by two rules or more (or by a
document that describes the same traffic, such as the capture-wide refusal summary).
"""

from __future__ import annotations

from typing import Any, Callable

from ..mcp import NAMED_METHODS
from ..model import Model, facts
from ..model.sql import FAILED, MCP, in_list
from .rule import NOTHING, Selection

#: handshake follow-ups (all but initialize and CORS preflights): the ones that must carry the
#: session and protocol-version headers
FOLLOW_UPS = "follow_up"


def listed(col: str) -> str:
    """SQL aggregate: the distinct values of ``col``, in order."""
    return f"list(DISTINCT {col} ORDER BY {col})"


def distinct(model: Model, column: str, where: str = "TRUE", table: str = "m") -> list[Any]:
    """The distinct non-NULL values of a column of the exchanges (or of ``table``), in order: to test
    in Python once per value, not per row, or to list in a condition instead of a subquery (a
    condition with a subquery costs a scan of its own)."""
    return [v for (v,) in model.rows(f"SELECT DISTINCT {column} FROM {table} WHERE {column} IS NOT NULL AND ({where}) ORDER BY 1")]


def matching(model: Model, column: str, test: Callable[[Any], bool], where: str = "TRUE") -> str:
    """SQL predicate: the column's value is one of those passing ``test`` (tested once per distinct value)."""
    return f"({column} IN {in_list([v for v in distinct(model, column, where) if test(v)])})"


# ---------------------------------------------------------------- 2026-07-28 request metadata

#: the MCP-Protocol-Version header is absent or differs from the body's _meta protocol version
PV_BAD = "(pv_hdr IS NULL OR (meta_pv IS NOT NULL AND pv_hdr <> meta_pv))"
#: the Mcp-Method header differs from the body's method
METHOD_BAD = "(mcp_method_hdr IS DISTINCT FROM rpc_method)"


def name_bad(m: Model) -> str:
    """Named requests whose (decoded) Mcp-Name differs from the body's name or uri."""
    t = facts.table(m, facts.MCP_NAME_MISMATCH)
    if t is None:
        return "FALSE"
    return (f"(rpc_method IN {in_list(list(NAMED_METHODS))} AND name_param IS NOT NULL AND EXISTS (SELECT 1 FROM {t} x "
            "WHERE x.hdr IS NOT DISTINCT FROM mcp_name_hdr AND x.name = name_param))")  # the outer row's columns


def modern_mismatch(m: Model) -> str:
    """Whole 2026-07-28 requests whose metadata headers are absent or do not mirror the body."""
    return f"({facts.MODERN_REQUESTS} AND ({PV_BAD} OR {METHOD_BAD} OR {name_bad(m)}))"


# ---------------------------------------------------------------- refusals

REFUSED_MIN = 3  # requests a plane needs before "most of them failed" says anything
#: what a refused exchange's answer said: status, JSON-RPC error code and message, or the
#: proxy's / client's error when no response came
REFUSAL_LABEL = """(CASE WHEN status < 0 THEN 'no response' || coalesce(': ' || error, '')
    ELSE status::VARCHAR || coalesce(' (JSON-RPC ' || rpc_err::BIGINT::VARCHAR || ')', '')
         || coalesce(' ' || resp_msg, ' ' || error, '') END)"""
#: SQL subquery: the answers of the exchanges matching ``{where}`` (over ``m2``), as
#: (label, count, first pos) entries for :func:`top_answers`
TOP_ANSWERS_SQL = f"""(SELECT list({{'l': l, 'n': n, 'f': f}}) FROM (
    SELECT {REFUSAL_LABEL} AS l, count(*) AS n, min(pos) AS f FROM m m2 WHERE {{where}} GROUP BY l))"""


def mostly_failed(failed: int, total: int) -> bool:
    """Most of at least REFUSED_MIN requests failed, or every one did (a client that gave up after
    its first refused initialize has no working traffic either)."""
    return (total >= REFUSED_MIN and failed * 2 > total) or (total >= 1 and failed == total)


def top_answers(pairs: list[Any], n: int = 3) -> dict[str, int]:
    """The ``n`` most frequent answers (ties: the one seen first) from (label, count, first pos) entries."""
    items = sorted(((p["l"], p["n"], p["f"]) for p in pairs or []), key=lambda x: (-x[1], x[2]))
    return {label: count for label, count, _ in items[:n]}


def failed_answers(model: Model) -> dict[str, int]:
    """The most frequent answers to the failed MCP exchanges of the whole capture."""
    return top_answers(model.value("SELECT " + TOP_ANSWERS_SQL.replace("{where}", f"{FAILED} AND {MCP}")))


# ---------------------------------------------------------------- browsers (CORS)


def header_names(value: object) -> set[str]:
    """``"A, b ,C"`` -> ``{"a", "b", "c"}`` (a header-name list, compared case-insensitively)."""
    return {p.strip().lower() for p in str(value).split(",") if p.strip()} if isinstance(value, str) else set()


# ---------------------------------------------------------------- the conversation (JSON-RPC lint)

INLINE_POSITIONS = 5000  # up to this many flagged exchanges are named in the condition itself (no subquery scan)
SHOWN = 3  # what is wrong: this many distinct descriptions in a finding's detail


def flagged(model: Model, fact: facts.Fact) -> Selection:
    """The exchanges a conversation fact flags (its ``f_pos``), with what is wrong with them (its
    ``f_what``) as the value ``what`` of the rule's detail: the first few distinct descriptions of a
    plane's exchanges, in time order, and how many more there are."""
    t = facts.table(model, fact)
    if t is None:
        return NOTHING
    what = dict(model.rows(f"SELECT f_pos, f_what FROM {t}"))
    where = (f"pos IN {in_list(sorted(what))}" if len(what) <= INLINE_POSITIONS
             else f"pos IN (SELECT f_pos FROM {t})")

    def post(values: dict[str, Any]) -> dict[str, Any]:
        seen: list[str] = []
        for p in values.pop("positions") or []:
            w = what.get(p)
            if w is not None and w not in seen:
                seen.append(w)
        shown = seen[:SHOWN] + ([f"{len(seen) - SHOWN} more"] if len(seen) > SHOWN else [])
        return {**values, "what": shown}

    return Selection(where, {"positions": "list(pos ORDER BY pos)"}, post)
