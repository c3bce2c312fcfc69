"""Views of a diff document (mcpsniff.diff): rich tables and Markdown."""

from __future__ import annotations

from typing import Any

from rich.console import Console, Group
from rich.text import Text

from .layout import ID, NUM, TAG, TEXT, Atom, Col, FitTable, Para
from .text import code, md_text, pct

CHANGE_STYLE = {"worse": "bold red", "appeared": "yellow", "vanished": "yellow", "better": "green", "changed": "cyan", "unchanged": "dim"}
CHANGE_ICON = {"worse": "❌", "appeared": "🆕", "vanished": "➖", "better": "✅", "changed": "🔁", "unchanged": "·"}


def _rate(side: dict[str, Any] | None) -> str:
    if side is None:
        return "-"
    return f"{pct(side['drop_rate'])} ({side['dropped']}/{side['echoed'] + side['dropped']})"


def reason_text(r: dict[str, Any]) -> str:
    """Why a plane got worse, in words."""
    if r["kind"] == "new-error":
        return f"new error finding {r['rule']}"
    return f"{r['method']} drop rate {pct(r['before'], 'n/a')} → {pct(r['after'], 'n/a')}"


def _reasons(p: dict[str, Any]) -> str:
    return "; ".join(reason_text(r) for r in p["reasons"])


def _interesting(m: dict[str, Any]) -> bool:
    return m["change"] != "same" or any(s and s["drop_rate"] for s in (m["before"], m["after"]))


def _sent(h: dict[str, Any] | None, common: list[str]) -> str:
    """Headers a plane sends on a method, leaving out those every request of both planes carries."""
    if h is None:
        return "-"
    parts = []
    for name, e in h["headers"].items():
        if name in common:
            continue
        parts.append(name if e["presence"] == "all" else f"{name} ({e['count']}/{h['requests']})")
    return ", ".join(parts) or "(only common headers)"


def _where(e: dict[str, Any]) -> str:
    parts = []
    if e["sent_on"]:
        parts.append("sent on " + ", ".join(e["sent_on"]))
    if e["partly_on"]:
        parts.append("partly on " + ", ".join(e["partly_on"]))
    if e["omitted_on"]:
        parts.append("omitted on " + ", ".join(e["omitted_on"]))
    return "; ".join(parts)


# ---------------------------------------------------------------- captures


def plane_name(p: dict[str, Any]) -> str:
    """A plane of a capture diff as people name it: its User-Agent, or for a plane paired with its
    upgrade ``python-httpx 0.28.1 -> 0.29.0`` (the User-Agents too when clientInfo paired them)."""
    up = p.get("upgrade")
    if not up:
        return p["user_agent"]
    name = f"{up['name']} " if up["name"] else ""
    label = f"{name}{up['before']} -> {up['after']}"
    if up["by"] == "client_info" and up["before"] != p["user_agent_before"]:
        label += f" ({p['user_agent_before']} -> {p['user_agent']})"
    return label


def _plane_summary(p: dict[str, Any]) -> str:
    f = p["findings"]
    bits = [f"{len(f['new'])} new", f"{len(f['fixed'])} fixed", f"{len(f['unchanged'])} unchanged"]
    return ", ".join(bits)


CAPTURE_COLS = (Col("User-Agent", ID), Col("change", TAG), Col("requests", NUM), Col("verdict", TAG),
                Col("findings", TEXT), Col("why", TEXT))
RATE_COLS = (Col("method", ID), Col("before", TAG), Col("after", TAG), Col("change", TAG))


def captures_table(doc: dict[str, Any], console: Console) -> None:
    t = FitTable(["Planes: before -> after"], CAPTURE_COLS)
    for p in doc["planes"]:
        b, a = p["before"], p["after"]
        t.add_row(
            plane_name(p),
            Text(p["change"], style=CHANGE_STYLE[p["change"]]),
            f"{b['requests'] if b else '-'} -> {a['requests'] if a else '-'}",
            f"{b['verdict'] if b else '-'} -> {a['verdict'] if a else '-'}",
            _plane_summary(p),
            _reasons(p),
        )
    parts: list[Any] = [t]
    for p in doc["planes"]:
        ms = [m for m in p["methods"] if _interesting(m)]
        if ms:
            mt = FitTable([Atom(plane_name(p)), ": Mcp-Session-Id drop rate by method"], RATE_COLS)
            for m in ms:
                mt.add_row(m["method"], _rate(m["before"]), _rate(m["after"]), Text(m["change"], style=CHANGE_STYLE.get(m["change"], "")))
            parts.append(mt)
        f = p["findings"]
        for kind, style in (("new", "red"), ("fixed", "green")):
            for e in f[kind]:
                parts.append(Para([Atom(f"  {kind:6} {e['severity']:8} ", style), Atom(e["rule"], style),
                                   (f" ({e['count_before']} -> {e['count_after']})", style), " ", ("plane", style), " ",
                                   Atom(repr(plane_name(p)), style)], hang=18))
    if doc["worse"]:
        verdict = Para([("worse:", "bold red"), " ", *_atom_list(doc["worse"], "bold red")])
    else:
        verdict = Para(["no change" if not doc["changed"] else "changed, no plane got worse"], style="green")
    parts.append(verdict)
    console.print(Group(*parts))


def _atom_list(names: list[str], style: str) -> list[Any]:
    out: list[Any] = []
    for i, n in enumerate(names):
        out += ([Atom(",", style), " "] if i else []) + [Atom(n, style)]
    return out


def captures_md(doc: dict[str, Any]) -> str:
    lines = ["## mcpsniff diff: before → after", ""]
    if not doc["changed"]:
        lines += ["No change: every plane has the same requests, drop rates and findings.", ""]
    elif doc["worse"]:
        lines += ["**Worse:** " + ", ".join(code(u) for u in doc["worse"]), ""]
    else:
        lines += ["Changed, but no plane got worse.", ""]
    lines += ["| User-Agent | change | requests | verdict | findings | why |", "|---|---|---|---|---|---|"]
    for p in doc["planes"]:
        b, a = p["before"], p["after"]
        lines.append(
            f"| {code(plane_name(p))} | {CHANGE_ICON[p['change']]} {p['change']} | {b['requests'] if b else '-'} → {a['requests'] if a else '-'} "
            f"| {b['verdict'] if b else '-'} → {a['verdict'] if a else '-'} | {_plane_summary(p)} | {md_text(_reasons(p))} |"
        )
    lines.append("")
    for p in doc["planes"]:
        ms = [m for m in p["methods"] if _interesting(m)]
        f = p["findings"]
        if not ms and not f["new"] and not f["fixed"]:
            continue
        lines += [f"### {code(plane_name(p))}", ""]
        if ms:
            lines += ["| method | drop rate before | drop rate after | change |", "|---|---|---|---|"]
            lines += [f"| {code(m['method'])} | {_rate(m['before'])} | {_rate(m['after'])} | {m['change']} |" for m in ms]
            lines.append("")
        for kind in ("new", "fixed"):
            for e in f[kind]:
                lines.append(f"- **{kind}** {e['severity']} `{e['rule']}` — {md_text(e['title'])} ({e['count_before']} → {e['count_after']})")
        lines.append("")
    return "\n".join(lines)


# ---------------------------------------------------------------- planes


def planes_table(doc: dict[str, Any], console: Console) -> None:
    pa, pb = doc["planes"]
    t = FitTable(["Planes compared"], (Col("", TEXT), Col("A", TEXT), Col("B", TEXT)))
    for label, key, fmt in _plane_rows():
        t.add_row(label, fmt(pa[key]), fmt(pb[key]))
    ht = FitTable(["Request headers (share of requests; where)"], (Col("header", ID), Col("A", TEXT), Col("B", TEXT)))
    for h in doc["headers"]:
        st = "bold" if h["differs"] else "dim"
        ht.add_row(Text(h["header"], style=st), f"{h['a']['count']}/{h['a']['requests']}: {_where(h['a'])}",
                   f"{h['b']['count']}/{h['b']['requests']}: {_where(h['b'])}")
    common = doc["common_headers"]
    mt = FitTable(["Per method: headers sent (besides " + (", ".join(common) or "none") + ")"],
                  (Col("method", ID), Col("A requests", NUM), Col("A sends", TEXT), Col("B requests", NUM), Col("B sends", TEXT)))
    for m in doc["methods"]:
        bad = bool(m["differs"])
        mt.add_row(Text(m["method"], style="bold" if bad else ""), str(m["a"]["requests"]) if m["a"] else "-", _sent(m["a"], common),
                   str(m["b"]["requests"]) if m["b"] else "-", _sent(m["b"], common))
    names = [Para([("A:", "bold"), " ", Atom(pa["user_agent"])]), Para([("B:", "bold"), " ", Atom(pb["user_agent"])])]
    console.print(Group(*names, t, ht, mt))


def _plane_rows():
    j = lambda xs: ", ".join(xs) or "-"  # noqa: E731
    st = lambda d: ", ".join(f"{k}×{v}" for k, v in d.items()) or "-"  # noqa: E731
    sh = lambda d: "-" if d is None else f"echoed {d['echoed']}, dropped {d['dropped']}, foreign {d['foreign']}, unknown {d['unknown']}"  # noqa: E731
    return (
        ("requests", "requests", str),
        ("clientInfo", "client_info", j),
        ("era", "era", str),
        ("negotiated versions", "negotiated_versions", j),
        ("MCP-Protocol-Version sent", "protocol_version_headers", j),
        ("statuses received", "statuses", st),
        ("sessions issued", "sessions_issued", str),
        ("Mcp-Session-Id", "session_header", sh),
        ("verdict", "verdict", str),
        ("findings", "findings", j),
    )


def planes_md(doc: dict[str, Any]) -> str:
    pa, pb = doc["planes"]
    lines = [
        "## mcpsniff diff: plane vs plane",
        "",
        f"**A:** {code(pa['user_agent'])} · **B:** {code(pb['user_agent'])}",
        "",
        "| | A | B |",
        "|---|---|---|",
    ]
    for label, key, fmt in _plane_rows():
        lines.append(f"| {label} | {md_text(fmt(pa[key]))} | {md_text(fmt(pb[key]))} |")
    lines += ["", "### Request headers", "", "| header | A | B |", "|---|---|---|"]
    for h in doc["headers"]:
        name = f"**{h['header']}**" if h["differs"] else h["header"]
        lines.append(f"| {name} | {h['a']['count']}/{h['a']['requests']}: {md_text(_where(h['a']))} "
                     f"| {h['b']['count']}/{h['b']['requests']}: {md_text(_where(h['b']))} |")
    common = doc["common_headers"]
    lines += ["", "### Per method", "", "Headers sent besides those on every request of both planes (" + md_text(", ".join(common) or "none") + "):", "",
              "| method | A requests | A sends | B requests | B sends |", "|---|---:|---|---:|---|"]
    for m in doc["methods"]:
        lines.append(f"| {code(m['method'])} | {m['a']['requests'] if m['a'] else '-'} | {md_text(_sent(m['a'], common))} "
                     f"| {m['b']['requests'] if m['b'] else '-'} | {md_text(_sent(m['b'], common))} |")
    lines.append("")
    return "\n".join(lines)


# ---------------------------------------------------------------- dispatch


def table(doc: dict[str, Any], console: Console) -> None:
    (planes_table if doc["mode"] == "planes" else captures_table)(doc, console)


def markdown(doc: dict[str, Any]) -> str:
    return planes_md(doc) if doc["mode"] == "planes" else captures_md(doc)
