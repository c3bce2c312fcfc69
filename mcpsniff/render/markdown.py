"""The analyze document as Markdown (``mcpsniff analyze --format markdown``)."""

from __future__ import annotations

from typing import Any

from .text import CORRELATION_LEAD, capture_failed_line, code, correlation_text, md_escape, ms, plural, source_name, statuses_text

SEV_ICON = {"error": "❌", "warning": "⚠️", "info": "ℹ️"}


def planes_md(doc: dict[str, Any]) -> list[str]:
    out = [
        "| User-Agent | client | era | requests | sessions | echoed | dropped | verdict |",
        "|---|---|---|---:|---:|---:|---:|---|",
    ]
    for p in doc["planes"]:
        sh = p["session_header"]
        era = p["era"] + (f" ({', '.join(p['versions'])})" if p["versions"] else "")
        out.append(
            f"| `{md_escape(p['user_agent'])}` | {md_escape(', '.join(p['client_info']) or '-')} | {era} | {p['requests']} "
            f"| {p['sessions_issued']} | {sh['echoed']} | {sh['dropped']} | {p['verdict'].upper()} |"
        )
    return out


def methods_md(p: dict[str, Any]) -> list[str]:
    out = ["| method | requests | echoed | dropped | statuses |", "|---|---:|---:|---:|---|"]
    for m in p["methods"]:
        st = statuses_text(m["statuses"])
        out.append(f"| `{m['method']}` | {m['requests']} | {m['echoed']} | {m['dropped']} | {st} |")
    return out


def latency_md(p: dict[str, Any], limit: int | None = None) -> list[str]:
    """Per method: request -> response complete and request -> first SSE event, p50/p95/p99 in ms."""
    rows = p.get("latency") or []
    out = ["| method | requests | answered | end p50 | end p95 | end p99 | streamed | first event p50 | first event p95 | first event p99 |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for m in rows[:limit]:
        e, f = m["response_end_ms"] or {}, m["first_event_ms"] or {}
        out.append(f"| {code(m['method'])} | {m['requests']:,} | {e.get('count', 0):,} | {ms(e.get('p50'))} | {ms(e.get('p95'))} "
                   f"| {ms(e.get('p99'))} | {f.get('count', 0):,} | {ms(f.get('p50'))} | {ms(f.get('p95'))} | {ms(f.get('p99'))} |")
    if limit is not None and len(rows) > limit:
        out.append(f"\n…and {plural(len(rows) - limit, 'more method')}.")
    return out


def latency_note(subject: str = "Latency") -> str:
    """The sentence above a latency table: what it measures, in which unit."""
    return (f"{subject} in milliseconds: *end* runs from the start of a request to the end of its response "
            "(for the requests that got one), *first event* from the start of a request to its first Server-Sent Event "
            "(for the requests answered with a stream).")


def evidence_md(f: dict[str, Any], limit: int = 5) -> list[str]:
    out = ["| time | method | status | headers present |", "|---|---|---|---|"]
    for e in f["evidence"][:limit]:
        hdrs = ", ".join(e["headers"])
        out.append(f"| {e['time']} | `{e['method'] or e['http_method']}` | {e['status'] if e['status'] is not None else '-'} | {md_escape(hdrs)} |")
    more = f["evidence_total"] - min(limit, len(f["evidence"]))
    if more > 0:
        out.append(f"\n…and {more} more.")
    return out


def finding_md(f: dict[str, Any]) -> list[str]:
    spec = f["spec"]
    methods = ", ".join(f"`{k}` ×{v}" for k, v in f["by_method"].items())
    return [
        f"### {SEV_ICON[f['severity']]} `{f['rule']}` — {f['title']}",
        "",
        f"**Plane:** `{md_escape(f['plane'])}` · **count:** {f['count']} ({methods}) · **severity:** {f['severity']} · **party:** {f['party']}",
        "",
        f["detail"] and f"{f['detail']}." or "",
        "",
        f"> {spec['quote']}",
        ">",
        f"> — {source_name(spec)}, [{spec['section']}]({spec['url']})",
        "",
        *([f"Likely cause: {', '.join(f'`{c}`' for c in f['likely_cause'])} (server finding in this capture).", ""]
          if f.get("likely_cause") else []),
        *evidence_md(f),
        "",
    ]


def summary_sentence(doc: dict[str, Any]) -> str:
    broken = capture_failed_line(doc["summary"])
    if broken:
        return broken
    errs = [f for f in doc["findings"] if f["severity"] == "error"]
    if not errs:
        warns = [f for f in doc["findings"] if f["severity"] == "warning"]
        if warns:
            return f"No MUST-level violation found; {plural(len(warns), 'SHOULD-level warning')}."
        return "No violation of the MCP HTTP transport rules was found in this capture."
    parts = []
    for f in errs:
        parts.append(f"`{f['plane']}` — {f['title']} ({f['count']}×)")
    ok = [p["user_agent"] for p in doc["planes"] if p["verdict"] == "ok"]
    s = "Violations: " + "; ".join(parts) + "."
    if ok:
        s += " Clean planes: " + ", ".join(f"`{u}`" for u in ok) + "."
    return s


def render(doc: dict[str, Any]) -> str:
    lines = ["## MCP session analysis (mcpsniff)", "", summary_sentence(doc), "", *planes_md(doc), ""]
    for p in doc["planes"]:
        if p["session_header"]["dropped"]:
            lines += [f"#### `{md_escape(p['user_agent'])}` by method", "", *methods_md(p), ""]
            if p.get("correlation"):
                lines += [CORRELATION_LEAD + md_escape(correlation_text(p["correlation"])) + ".", ""]
    for f in doc["findings"]:
        lines += finding_md(f)
    if any(p.get("latency") for p in doc["planes"]):
        lines += ["### Latency", "", latency_note(), ""]
        for p in doc["planes"]:
            if p.get("latency"):
                lines += [f"#### `{md_escape(p['user_agent'])}`", "", *latency_md(p), ""]
    cap = doc["capture"]
    lines.append(f"<sub>{plural(cap['exchanges'], 'exchange')}, {cap['start']} – {cap['end']}; mcpsniff {doc['mcpsniff']['version']}</sub>")
    return "\n".join(lines) + "\n"
