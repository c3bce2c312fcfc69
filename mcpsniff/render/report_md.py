"""Markdown for ``mcpsniff report``: ready to paste into a GitHub issue.

:func:`render` renders one report document at a level of detail (:class:`Limits`);
:func:`fit` renders at the first level of :data:`LEVELS` whose text fits the
budget (GitHub rejects bodies over 65,536 characters) and says what it left out.
The document holds the most detail (level 0); lower levels show less of it.
Capture-derived text only appears in code spans or escaped, so a User-Agent
can neither break the layout nor @-mention anyone.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from . import mermaid
from .markdown import SEV_ICON, latency_md, latency_note
from .text import (CORRELATION_LEAD, capture_failed_line, code, correlation_text, cut, md_escape, md_text, plural, source_name,
                   statuses_text)

GITHUB_LIMIT = 65_536  # characters in a GitHub issue or comment body
DEFAULT_BUDGET = 60_000  # leave room for the reporter's own words


@dataclass(frozen=True)
class Limits:
    planes: int = 8  # planes in the diagram and with their own table
    evidence: int = 5  # evidence exchanges per finding
    findings: int = 20  # findings shown in full (the rest are listed)
    methods: int = 30  # method rows per plane table
    overview: int = 40  # rows of the all-planes overview table
    ua_chars: int = 120  # user agents longer than this are cut


LEVELS: tuple[Limits, ...] = (
    Limits(),
    Limits(6, 3, 12, 20, 25, 100),
    Limits(4, 2, 8, 12, 15, 80),
    Limits(3, 1, 5, 8, 10, 60),
    Limits(2, 1, 3, 5, 6, 48),
)


def _plane_order(r: dict[str, Any]) -> list[dict[str, Any]]:
    return sorted(r["planes"], key=lambda p: (p["first_seen"] or "", p["user_agent"]))


def summary_md(r: dict[str, Any]) -> str:
    """One paragraph: what is wrong, on which plane, and which planes are fine."""
    cap = r["capture"]
    n_planes = len(r["planes"])
    head = (
        f"In this capture ({plural(cap['mcp_exchanges'], 'MCP exchange')} from {plural(n_planes, 'plane')}, "
        f"i.e. distinct User-Agents, {cap['start']} to {cap['end']})"
    )
    by_plane: dict[str, list[dict[str, Any]]] = {}
    for f in r["findings"]:
        if f["severity"] == "error":
            by_plane.setdefault(f["plane"], []).append(f)
    if not by_plane:
        warns = sum(1 for f in r["findings"] if f["severity"] == "warning")
        tail = f", with {plural(warns, 'SHOULD-level warning')} listed below." if warns else "."
        return md_text(head + " no plane breaks a MUST rule of the MCP HTTP transport" + tail)
    parts = []
    for plane, fs in list(by_plane.items())[:5]:
        what = "; ".join(
            md_text(
                f"{f['title']} ({f['detail'] or str(f['count']) + ' times'}"
                + (", " + ", ".join(f"{m} ×{n}" for m, n in list(f["by_method"].items())[:4]) if f["by_method"] else "")
                + f"; MCP spec {f['spec']['version']})"
            )
            for f in fs[:3]
        )
        who = "the server talking to plane" if {f["party"] for f in fs} == {"server"} else "plane"
        parts.append(f"{who} {code(cut(plane, 100))}: {what}")
    more = len(by_plane) - 5
    s = md_text(head) + " MUST-level violations were found for " + "; and for ".join(parts)
    s += f"; and {plural(more, 'more plane')}." if more > 0 else "."
    ok = [p for p in r["planes"] if p["verdict"] == "ok" and p["session_header"]["echoed"]]
    if ok:
        s += " By contrast " + ", ".join(
            f"{code(cut(p['user_agent'], 100))} echoed its session id on {p['session_header']['echoed']} of "
            f"{p['session_header']['echoed'] + p['session_header']['dropped']} requests" for p in ok[:3]
        ) + "."
    return s


def overview_md(doc: dict[str, Any], lim: Limits) -> list[str]:
    planes = sorted(doc["planes"], key=lambda p: (p["first_seen"] or "", p["user_agent"]))
    out = [
        "| # | User-Agent | client | era | requests | sessions | echoed | dropped | verdict |",
        "|---:|---|---|---|---:|---:|---:|---:|---|",
    ]
    for i, p in enumerate(planes[: lim.overview], 1):
        sh = p["session_header"]
        era = p["era"] + (f" ({', '.join(p['versions'])})" if p["versions"] else "")
        out.append(
            f"| {i} | {code(cut(p['user_agent'], lim.ua_chars))} | {code(', '.join(p['client_info'][:3]))} | {era} "
            f"| {p['requests']:,} | {p['sessions_issued']:,} | {sh['echoed']:,} | {sh['dropped']:,} | {p['verdict'].upper()} |"
        )
    if len(planes) > lim.overview:
        rest = planes[lim.overview :]
        out.append(f"\n…and {len(rest):,} more planes ({sum(p['requests'] for p in rest):,} requests) not listed.")
    return out


def plane_md(p: dict[str, Any], number: int, lim: Limits) -> list[str]:
    sh = p["session_header"]
    fs = ", ".join(f"{n} {k}" for k, n in p["findings"].items() if n) or "none"
    out = [
        f"#### Plane {number}: {code(cut(p['user_agent'], lim.ua_chars))}",
        "",
        f"era **{p['era']}**" + (f" ({', '.join(p['versions'])})" if p["versions"] else "")
        + f" · {plural(p['requests'], 'request')} · {plural(p['sessions_issued'], 'session')} issued"
        + f" · Mcp-Session-Id echoed {sh['echoed']:,}, dropped {sh['dropped']:,}"
        + (f", foreign {sh['foreign']:,}" if sh["foreign"] else "") + (f", never issued {sh['unknown']:,}" if sh["unknown"] else "")
        + f" · findings: {fs} · **{p['verdict'].upper()}**",
        "",
        "| method | requests | echoed | dropped | statuses |",
        "|---|---:|---:|---:|---|",
    ]
    for m in p["methods"][: lim.methods]:
        st = statuses_text(m["statuses"])
        out.append(f"| {code(m['method'])} | {m['requests']:,} | {m['echoed']:,} | {m['dropped']:,} | {st} |")
    if len(p["methods"]) > lim.methods:
        out.append(f"\n…and {plural(len(p['methods']) - lim.methods, 'more method')}.")
    if p.get("correlation"):
        out += ["", CORRELATION_LEAD + md_text(correlation_text(p["correlation"])) + "."]
    if p.get("latency"):
        out += ["", latency_note("Latency of this plane's requests"), "", *latency_md(p, lim.methods)]
    return out + [""]


def evidence_md(f: dict[str, Any], numbers: dict[str, int], lim: Limits) -> list[str]:
    # a server finding is about what the server answered: its evidence shows the response's session id
    server = f["party"] == "server"
    out = [
        f"| time | plane | method | status | Mcp-Session-Id ({'response' if server else 'request'}) | request headers |",
        "|---|---|---|---|---|---|",
    ]
    for e in f["evidence"][: lim.evidence]:
        sid = e.get("response_session_id") if server else e["session_id"]
        method = f"{e['http_method']} {e['method']}" if e["method"] else e["http_method"]
        plane = f"{numbers.get(e['plane'], '?')}"
        status = e["status"] if e["status"] is not None else (md_text(e["error"]) if e["error"] else "no response")
        out.append(
            f"| {e['time']} | {plane} | {code(method)} | {status} | {code(sid) if sid else '(none)'} "
            f"| {md_escape(', '.join(e['headers']))} |"
        )
    more = f["evidence_total"] - min(lim.evidence, len(f["evidence"]))
    if more > 0:
        out.append(f"\n…and {plural(more, 'more exchange')}.")
    return out


def finding_md(f: dict[str, Any], numbers: dict[str, int], lim: Limits) -> list[str]:
    spec = f["spec"]
    methods = ", ".join(f"{code(k)} ×{v:,}" for k, v in list(f["by_method"].items())[:10])
    return [
        f"#### {SEV_ICON[f['severity']]} {md_text(f['title'])} (`{f['rule']}`)",
        "",
        f"**Plane {numbers.get(f['plane'], '?')}:** {code(cut(f['plane'], lim.ua_chars))} · **severity:** {f['severity']}"
        f" · **party:** {f['party']} · **count:** {f['count']:,}" + (f" ({methods})" if methods else ""),
        "",
        *([md_text(f["detail"]) + ".", ""] if f["detail"] else []),
        f"> {md_text(spec['quote'])}",
        ">",
        f"> — {source_name(spec, 'MCP specification')}, [{spec['section']}]({spec['url']})",
        "",
        *([f"**Likely cause:** {', '.join(code(c) for c in f['likely_cause'])} (a server finding in this capture explains it).", ""]
          if f.get("likely_cause") else []),
        *evidence_md(f, numbers, lim),
        "",
    ]


def environment_md(r: dict[str, Any]) -> list[str]:
    env = r["environment"]
    aw = env["analysed_with"]
    rec = env["recorded_with"]
    lines = [
        f"mcpsniff:        {aw['mcpsniff']} (report format {r['mcpsniff']['report']}, record schema {r['mcpsniff']['schema']})",
        f"mitmproxy:       {aw['mitmproxy']} (analysis)"
        + (f"; capture recorded with mitmproxy {', '.join(rec['mitmproxy'])}" if rec.get("mitmproxy") else ""),
        f"python:          {aw['python']}",
        f"capture window:  {env['capture_window']['start']} .. {env['capture_window']['end']}",
        f"spec versions:   {', '.join(env['spec_versions']) or '(none negotiated)'}",
        f"session ids:     {r['session_ids']}",
    ]
    for i, inp in enumerate(env["inputs"]):
        lines.append(f"{'inputs:' if i == 0 else '':17}{inp['name']} ({inp['format'] or '?'}, {plural(inp['exchanges'], 'exchange')})")
    body = "\n".join(lines).replace("```", "'''")
    return ["### Environment", "", "```text", body, "```", ""]


def omitted_md(r: dict[str, Any], lim: Limits, shown: list[str], shown_findings: int) -> list[str]:
    hidden = [p for p in r["planes"] if p["user_agent"] not in shown]
    gaps = [s for s in r["diagram"]["steps"] if s["kind"] == "gap" and s["plane"] in shown]
    parts = []
    if hidden:
        n_req = sum(p["requests"] for p in hidden)
        parts.append(f"{plural(len(hidden), 'plane')} ({plural(n_req, 'request')}) {'is' if len(hidden) == 1 else 'are'} "
                     "not in the diagram or the plane tables")
    om_requests = sum(s["requests"] for s in gaps)
    if om_requests:
        parts.append(f"the diagram leaves out {plural(om_requests, 'request')} ({plural(sum(s['steps'] for s in gaps), 'arrow')} after folding)")
    ev = sum(max(f["evidence_total"] - min(lim.evidence, len(f["evidence"])), 0) for f in r["findings"][:shown_findings])
    if ev:
        parts.append(f"evidence tables show the first {plural(lim.evidence, 'exchange')} per finding ({ev:,} more exist)")
    if len(r["findings"]) > shown_findings:
        rest = len(r["findings"]) - shown_findings
        parts.append(f"{plural(rest, 'finding')} {'is' if rest == 1 else 'are'} listed by title only")
    if not parts:
        return []
    return ["### Left out", "", "To stay within GitHub's size limit: " + "; ".join(parts) + ". "
            "Run `mcpsniff analyze --format json` on the capture for everything.", ""]


def title(r: dict[str, Any]) -> str:
    """What the report says first; never a clean bill over traffic that failed."""
    cf = r["summary"].get("capture_failed")
    if cf:
        return f"MCP session report: the capture itself looks broken ({cf['failed']:,} of {cf['exchanges']:,} MCP exchanges failed)"
    fail = sum(1 for p in r["planes"] if p["verdict"] == "fail")
    server = len({f["rule"] for f in r["findings"] if f["severity"] == "error" and f["party"] == "server"})
    refused = sum(1 for p in r["planes"] if p["verdict"] == "refused")
    parts = []
    if fail:
        parts.append(f"{plural(fail, 'plane')} {'breaks' if fail == 1 else 'break'} the transport rules")
    if server:
        parts.append(f"the server breaks {plural(server, 'transport rule')}")
    if refused:
        parts.append(f"{plural(refused, 'plane')} mostly refused")
    return "MCP session report: " + ("; ".join(parts) if parts else "no MUST violations")


def shown_planes(r: dict[str, Any], n: int) -> list[str]:
    """The ``n`` most important diagram participants (the document ranks them), in diagram order."""
    best = {p["user_agent"] for p in sorted(r["diagram"]["participants"], key=lambda p: p["rank"])[:n]}
    return [p["user_agent"] for p in r["diagram"]["participants"] if p["user_agent"] in best]


def render(r: dict[str, Any], lim: Limits = LEVELS[0]) -> str:
    """One report document -> Markdown, at the detail ``lim`` allows."""
    order = _plane_order(r)
    numbers = {p["user_agent"]: i for i, p in enumerate(order, 1)}
    shown = shown_planes(r, lim.planes)
    lines = [f"## {title(r)}", ""]
    broken = capture_failed_line(r["summary"])
    if broken:
        lines += [f"**{md_text(broken)}**", ""]
    lines += [summary_md(r), ""]
    diagram = mermaid.render(r["diagram"], ua_chars=min(60, lim.ua_chars), planes=shown)
    lines += ["### Sequence", "", "```mermaid", diagram.rstrip("\n"), "```", ""]
    findings = r["findings"][: lim.findings]
    if r["findings"]:
        lines += ["### Findings", ""]
        for f in findings:
            lines += finding_md(f, numbers, lim)
        rest = r["findings"][lim.findings :]
        if rest:
            lines += ["Further findings (not detailed):", ""]
            lines += [f"- {SEV_ICON[f['severity']]} `{f['rule']}` on plane {numbers.get(f['plane'], '?')} ×{f['count']:,}" for f in rest]
            lines.append("")
    lines += ["### Planes", "", *(overview_md(r, lim) if order else ["No MCP traffic in this capture."]), ""]
    for p in order:
        if p["user_agent"] in shown:
            lines += plane_md(p, numbers[p["user_agent"]], lim)
    lines += environment_md(r)
    lines += omitted_md(r, lim, shown, len(findings))
    if r["problems"]:
        n = len(r["problems"])
        lines.append(f"<sub>{plural(n, 'unusable input line')} {'was' if n == 1 else 'were'} skipped.</sub>")
        lines.append("")
    return "\n".join(lines)


def fit(r: dict[str, Any], budget: int = DEFAULT_BUDGET) -> tuple[str, Limits]:
    """Markdown at the most detailed level that fits ``budget`` characters, and that level."""
    text, lim = "", LEVELS[0]
    for lim in LEVELS:
        text = render(r, lim)
        if len(text) <= budget:
            return text, lim
    # still too big (pathological input): cut the text and say so
    note = f"\n\n…report cut at {budget:,} characters; run `mcpsniff analyze --format json` for everything.\n"
    return text[: budget - len(note)] + note, lim


def limits_dict(lim: Limits) -> dict[str, int]:
    return asdict(lim)
