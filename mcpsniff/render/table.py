"""Tables for people: planes, per-method session-header breakdown, findings, latency.

Everything is drawn with :mod:`.layout`, so User-Agents, rule ids and method names are
never cut, whatever the width (see docs/architecture.md).
"""

from __future__ import annotations

from typing import Any

from rich.console import Console, Group
from rich.text import Text

from .layout import ID, NUM, TAG, TEXT, Atom, Col, FitTable, Para
from .text import capture_failed_line, correlation_text, ms, plural, source_name, statuses_text

SEV_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}
VERDICT = {"fail": Text("FAIL", style="bold red"), "warn": Text("WARN", style="yellow"),
           "refused": Text("REFUSED", style="bold magenta"), "ok": Text("ok", style="green")}


def _era(p: dict[str, Any]) -> str:
    v = ", ".join(p["versions"])
    return f"{p['era']} ({v})" if v else p["era"]


PLANE_COLS = (
    Col("User-Agent", ID),
    Col("client", TEXT),
    Col("era", TEXT),
    Col("requests", NUM),
    Col("sessions", NUM, drop=3),
    Col("echoed", NUM, drop=2),
    Col("dropped", NUM),
    Col("other ids", NUM, drop=1),
    Col("verdict", TAG),
)


def planes_table(doc: dict[str, Any]) -> FitTable:
    t = FitTable(["Planes (one per User-Agent)"], PLANE_COLS)
    for p in doc["planes"]:
        sh = p["session_header"]
        t.add_row(
            p["user_agent"],
            ", ".join(p["client_info"]) or "-",
            _era(p),
            str(p["requests"]),
            str(p["sessions_issued"]),
            str(sh["echoed"]),
            Text(str(sh["dropped"]), style="bold red" if sh["dropped"] else ""),
            str(sh["foreign"] + sh["unknown"]),
            VERDICT[p["verdict"]],
        )
    return t


#: the echo classes, as the JSON document names them (docs/json.md); ``none`` = nothing to echo
METHOD_COLS = (
    Col("method", ID),
    Col("requests", NUM),
    Col("echoed", NUM, drop=3),
    Col("dropped", NUM),
    Col("foreign", NUM, drop=1),
    Col("unknown", NUM, drop=1),
    Col("none", NUM, drop=2),
    Col("statuses", TEXT),
)


def methods_table(p: dict[str, Any]) -> FitTable:
    t = FitTable([Atom(p["user_agent"]), ": Mcp-Session-Id by method"], METHOD_COLS)
    for m in p["methods"]:
        t.add_row(
            m["method"],
            str(m["requests"]),
            str(m["echoed"]),
            Text(str(m["dropped"]), style="bold red" if m["dropped"] else ""),
            str(m["foreign"]),
            str(m["unknown"]),
            str(m["none"]),
            statuses_text(m["statuses"], times="x"),
        )
    return t


LATENCY_COLS = (
    Col("method", ID),
    Col("requests", NUM),
    Col("answered", NUM, drop=2),
    Col("end p50", NUM),
    Col("end p95", NUM, drop=4),
    Col("end p99", NUM),
    Col("streamed", NUM, drop=1),
    Col("event p50", NUM, drop=6),
    Col("event p95", NUM, drop=3),
    Col("event p99", NUM, drop=5),
)


def latency_table(p: dict[str, Any]) -> FitTable:
    """Request -> response end, and request -> first SSE event, per method (milliseconds)."""
    t = FitTable([Atom(p["user_agent"]), ": latency by method, ms (end = request to response complete; "
                  "event = request to first SSE event)"], LATENCY_COLS)
    for m in p["latency"]:
        e, f = m["response_end_ms"] or {}, m["first_event_ms"] or {}
        t.add_row(m["method"], str(m["requests"]), str(e.get("count", 0)), ms(e.get("p50")), ms(e.get("p95")), ms(e.get("p99")),
                  str(f.get("count", 0)), ms(f.get("p50")), ms(f.get("p95")), ms(f.get("p99")))
    return t


def findings_block(doc: dict[str, Any]) -> list[Any]:
    """One short block per finding: severity, rule, plane, count, what, where in the spec."""
    items: list[Any] = [Para(["Findings"], style="italic")]
    for f in doc["findings"]:
        spec = f["spec"]
        items.append(Para([Atom(f"{f['severity'].upper():8}", SEV_STYLE[f["severity"]]), Atom(f["rule"], "bold"),
                           " ", f"x{f['count']}", " ", "plane", " ", Atom(repr(f["plane"]))], hang=8))
        methods = ", ".join(f"{k} x{v}" for k, v in f["by_method"].items())
        body = f"{f['title']}. {f['detail']}" + (f" [{methods}]" if methods else "")
        items.append(Para([body], indent=8))
        if f.get("likely_cause"):
            items.append(Para([("likely cause:", "yellow"), " ", *_atoms(f["likely_cause"], "yellow"),
                               " ", ("(server finding in this capture)", "yellow")], indent=8))
        items.append(Para([(f"{source_name(spec)} {spec['section']}:", "dim"), " ", Atom(spec["url"], "dim")], indent=8))
    return items


def _atoms(names: list[str], style: str = "") -> list[Any]:
    out: list[Any] = []
    for i, n in enumerate(names):
        out += ([Atom(", ", style)] if i else []) + [Atom(n, style)]
    return out


def summary_line(doc: dict[str, Any]) -> Para:
    cap = doc["capture"]
    counts = doc["summary"]["findings"]
    found = ", ".join(plural(n, k) if k != "info" else f"{n:,} info" for k, n in counts.items())
    return Para([f"{plural(cap['exchanges'], 'exchange')} ({cap['mcp_exchanges']:,} MCP) from {cap['start']} to {cap['end']}; "
                 f"findings: {found}"], style="dim")


def authorization_text(x: dict[str, Any]) -> str:
    """``discovery x4 (200x3, 404x1), token x1 (200x1); 401 x1, then answered``."""
    kinds = [f"{k} x{v['count']} (" + ", ".join(f"{s}x{n}" for s, n in v["statuses"].items()) + ")"
             for k, v in x["kinds"].items()]
    after = {True: "; endpoint traffic succeeded after the last 401", False: "; nothing succeeded after the last 401"}
    return ", ".join(kinds) + after.get(x["retried_ok"], "")


def render(doc: dict[str, Any], console: Console, *, timing: bool = False) -> None:
    parts: list[Any] = []
    broken = capture_failed_line(doc["summary"])
    if broken:
        parts.append(Para([broken], style="bold magenta"))
    parts.append(planes_table(doc))
    for p in doc["planes"]:
        if p["era"] in ("handshake",) or p["session_header"]["dropped"]:
            parts.append(methods_table(p))
        if p.get("correlation"):
            parts.append(Para([Atom(p["user_agent"]), ": without the session header, only other values can tie its requests "
                               "to a session: " + correlation_text(p["correlation"]) + "."], style="cyan"))
    for x in doc.get("authorization", []):
        parts.append(Para([Atom(x["user_agent"]), ": authorization traffic (not judged by the transport's rules): "
                           + authorization_text(x)], style="cyan"))
    if timing:
        for p in doc["planes"]:
            if p.get("latency"):
                parts.append(latency_table(p))
    if doc["findings"]:
        parts += findings_block(doc)
    else:
        parts.append(Para(["No findings."], style="green"))
    parts.append(summary_line(doc))
    console.print(Group(*parts))
