"""Markdown for ``mcpsniff report``: ready to paste into a GitHub issue.

:func:`render` renders one report document; :func:`fit` builds and renders at
the first level of :data:`mcpsniff.report.LEVELS` whose text fits the budget
(GitHub rejects bodies over 65,536 characters) and says what it left out.
Capture-derived text only appears in code spans or escaped, so a User-Agent
can neither break the layout nor @-mention anyone.
"""

from __future__ import annotations

import re
from typing import Any

from .. import report as rep
from ..analysis import Analysis
from . import mermaid
from .markdown import SEV_ICON, md_escape

_MD_SPECIAL = re.compile(r"([\\`*_\[\]#|~])")


def code(s: Any) -> str:
    """``s`` as an inline code span, safe inside a table cell."""
    s = md_escape(str(s))
    fence = "``" if "`" in s else "`"
    pad = " " if fence == "``" or s.startswith("`") or s.endswith("`") else ""
    return f"{fence}{pad}{s}{pad}{fence}" if s else "-"


def md_text(s: str) -> str:
    """Plain text with Markdown, HTML and @-mentions neutralised."""
    s = _MD_SPECIAL.sub(r"\\\1", str(s).replace("\n", " "))
    return s.replace("<", "&lt;").replace(">", "&gt;").replace("@", "&#64;")


def _summary_md(s: str) -> str:
    # the summary puts capture text between backticks; escape everything else
    parts = s.split("`")
    return "".join(code(p) if i % 2 else md_text(p) for i, p in enumerate(parts))


def overview_md(doc: dict[str, Any], lim: rep.Limits) -> list[str]:
    planes = sorted(doc["planes"], key=lambda p: (p["first_seen"] or "", p["user_agent"]))
    out = [
        "| # | User-Agent | client | era | requests | sessions | echoed | dropped | verdict |",
        "|---:|---|---|---|---:|---:|---:|---:|---|",
    ]
    for i, p in enumerate(planes[: lim.overview], 1):
        sh = p["session_header"]
        era = p["era"] + (f" ({', '.join(p['versions'])})" if p["versions"] else "")
        out.append(
            f"| {i} | {code(rep.cut(p['user_agent'], lim.ua_chars))} | {code(', '.join(p['client_info'][:3]))} | {era} "
            f"| {p['requests']:,} | {p['sessions_issued']:,} | {sh['echoed']:,} | {sh['dropped']:,} | {p['verdict'].upper()} |"
        )
    if len(planes) > lim.overview:
        rest = planes[lim.overview :]
        out.append(f"\n…and {len(rest):,} more planes ({sum(p['requests'] for p in rest):,} requests) not listed.")
    return out


def plane_md(p: dict[str, Any], number: int, lim: rep.Limits) -> list[str]:
    sh = p["session_header"]
    fs = ", ".join(f"{n} {k}" for k, n in p["findings"].items() if n) or "none"
    out = [
        f"#### Plane {number}: {code(rep.cut(p['user_agent'], lim.ua_chars))}",
        "",
        f"era **{p['era']}**" + (f" ({', '.join(p['versions'])})" if p["versions"] else "")
        + f" · {p['requests']:,} requests · {p['sessions_issued']:,} sessions issued"
        + f" · Mcp-Session-Id echoed {sh['echoed']:,}, dropped {sh['dropped']:,}"
        + (f", foreign {sh['foreign']:,}" if sh["foreign"] else "") + (f", never issued {sh['unknown']:,}" if sh["unknown"] else "")
        + f" · findings: {fs} · **{p['verdict'].upper()}**",
        "",
        "| method | requests | echoed | dropped | statuses |",
        "|---|---:|---:|---:|---|",
    ]
    for m in p["methods"][: lim.methods]:
        st = ", ".join(f"{k}×{v:,}" for k, v in m["statuses"].items())
        out.append(f"| {code(m['method'])} | {m['requests']:,} | {m['echoed']:,} | {m['dropped']:,} | {st} |")
    if len(p["methods"]) > lim.methods:
        out.append(f"\n…and {len(p['methods']) - lim.methods} more methods.")
    return out + [""]


def evidence_md(f: dict[str, Any], numbers: dict[str, int], lim: rep.Limits) -> list[str]:
    out = [
        "| time | plane | method | status | Mcp-Session-Id | headers present |",
        "|---|---|---|---|---|---|",
    ]
    for e in f["evidence"][: lim.evidence]:
        method = f"{e['http_method']} {e['method']}" if e["method"] else e["http_method"]
        plane = f"{numbers.get(e['plane'], '?')}"
        status = e["status"] if e["status"] is not None else (md_text(e["error"]) if e["error"] else "no response")
        out.append(
            f"| {e['time']} | {plane} | {code(method)} | {status} | {code(e['session_id']) if e['session_id'] else '(none)'} "
            f"| {md_escape(', '.join(e['headers']))} |"
        )
    more = f["evidence_total"] - min(lim.evidence, len(f["evidence"]))
    if more > 0:
        out.append(f"\n…and {more:,} more exchanges.")
    return out


def finding_md(f: dict[str, Any], numbers: dict[str, int], lim: rep.Limits) -> list[str]:
    spec = f["spec"]
    methods = ", ".join(f"{code(k)} ×{v:,}" for k, v in list(f["by_method"].items())[:10])
    return [
        f"### {SEV_ICON[f['severity']]} {md_text(f['title'])} (`{f['rule']}`)",
        "",
        f"**Plane {numbers.get(f['plane'], '?')}:** {code(rep.cut(f['plane'], lim.ua_chars))} · **severity:** {f['severity']}"
        f" · **party:** {f['party']} · **count:** {f['count']:,}" + (f" ({methods})" if methods else ""),
        "",
        *([md_text(f["detail"]) + ".", ""] if f["detail"] else []),
        f"> {md_text(spec['quote'])}",
        ">",
        f"> — MCP specification {spec['version']}, [{spec['section']}]({spec['url']})",
        "",
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
        lines.append(f"{'inputs:' if i == 0 else '':17}{inp['name']} ({inp['format'] or '?'}, {inp['exchanges']:,} exchanges)")
    body = "\n".join(lines).replace("```", "'''")
    return ["### Environment", "", "```text", body, "```", ""]


def omitted_md(r: dict[str, Any], shown_findings: int) -> list[str]:
    om = r["diagram"]["omitted"]
    lim = r["limits"]
    parts = []
    if om["planes"]:
        parts.append(f"{om['planes']:,} plane(s) ({om['plane_requests']:,} requests) are not in the diagram or the plane tables")
    if om["requests"]:
        parts.append(f"the diagram leaves out {om['requests']:,} requests ({om['steps']:,} arrows after folding)")
    ev = sum(max(f["evidence_total"] - min(lim["evidence"], len(f["evidence"])), 0) for f in r["findings"][:shown_findings])
    if ev:
        parts.append(f"evidence tables show the first {lim['evidence']} exchange(s) per finding ({ev:,} more exist)")
    if len(r["findings"]) > shown_findings:
        parts.append(f"{len(r['findings']) - shown_findings} finding(s) are listed by title only")
    if not parts:
        return []
    return ["### Left out", "", "To stay within GitHub's size limit: " + "; ".join(parts) + ". "
            "Run `mcpsniff analyze --format json` on the capture for everything.", ""]


def render(r: dict[str, Any]) -> str:
    """One report document -> Markdown."""
    lim = rep.Limits(**r["limits"])
    order = sorted(r["planes"], key=lambda p: (p["first_seen"] or "", p["user_agent"]))
    numbers = {p["user_agent"]: i for i, p in enumerate(order, 1)}
    shown = [p["user_agent"] for p in r["diagram"]["participants"]]
    fail = [p for p in order if p["verdict"] == "fail"]
    title = (
        f"MCP session report: {len(fail)} plane(s) break the transport rules" if fail else "MCP session report: no MUST violations"
    )
    lines = [f"## {title}", "", _summary_md(r["summary"]), ""]
    lines += ["### Sequence", "", "```mermaid", mermaid.render(r["diagram"], ua_chars=min(60, lim.ua_chars)).rstrip("\n"), "```", ""]
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
    lines += omitted_md(r, len(findings))
    if r["problems"]:
        lines.append(f"<sub>{len(r['problems']):,} unusable input line(s) were skipped.</sub>")
        lines.append("")
    return "\n".join(lines)


def fit(a: Analysis, *, raw_ids: bool = False, budget: int = rep.DEFAULT_BUDGET) -> tuple[str, dict[str, Any]]:
    """Markdown at the most detailed level that fits ``budget`` characters, and its document."""
    text, r = "", {}
    for lim in rep.LEVELS:
        r = rep.build(a, raw_ids=raw_ids, limits=lim)
        text = render(r)
        if len(text) <= budget:
            return text, r
    # still too big (pathological input): cut the text and say so
    note = f"\n\n…report cut at {budget:,} characters; run `mcpsniff analyze --format json` for everything.\n"
    return text[: budget - len(note)] + note, r
