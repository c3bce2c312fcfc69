"""Rich tables for people: planes, per-method session-header breakdown, findings."""

from __future__ import annotations

from typing import Any

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from .text import capture_failed_line, correlation_text, source_name

SEV_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}
VERDICT = {"fail": Text("FAIL", style="bold red"), "warn": Text("WARN", style="yellow"),
           "refused": Text("REFUSED", style="bold magenta"), "ok": Text("ok", style="green")}


def _era(p: dict[str, Any]) -> str:
    v = ", ".join(p["versions"])
    return f"{p['era']} ({v})" if v else p["era"]


def planes_table(doc: dict[str, Any]) -> Table:
    t = Table(title="Planes (one per User-Agent)", title_justify="left", expand=False)
    for col, kw in (
        ("User-Agent", {"overflow": "fold"}),
        ("client", {"overflow": "fold"}),
        ("era", {}),
        ("requests", {"justify": "right"}),
        ("sessions", {"justify": "right"}),
        ("echoed", {"justify": "right"}),
        ("dropped", {"justify": "right"}),
        ("other ids", {"justify": "right"}),
        ("verdict", {}),
    ):
        t.add_column(col, **kw)
    for p in doc["planes"]:
        sh = p["session_header"]
        dropped = Text(str(sh["dropped"]), style="bold red" if sh["dropped"] else "")
        t.add_row(
            p["user_agent"],
            ", ".join(p["client_info"]) or "-",
            _era(p),
            str(p["requests"]),
            str(p["sessions_issued"]),
            str(sh["echoed"]),
            dropped,
            str(sh["foreign"] + sh["unknown"]),
            VERDICT[p["verdict"]],
        )
    return t


def methods_table(p: dict[str, Any]) -> Table:
    t = Table(title=f"{p['user_agent']}: Mcp-Session-Id by method", title_justify="left")
    for col in ("method", "requests", "echoed", "dropped", "foreign", "unknown", "n/a", "statuses"):
        t.add_column(col, justify="left" if col in ("method", "statuses") else "right")
    for m in p["methods"]:
        t.add_row(
            m["method"],
            str(m["requests"]),
            str(m["echoed"]),
            Text(str(m["dropped"]), style="bold red" if m["dropped"] else ""),
            str(m["foreign"]),
            str(m["unknown"]),
            str(m["none"]),
            " ".join(f"{k}x{v}" for k, v in m["statuses"].items()),
        )
    return t


def findings_block(doc: dict[str, Any]) -> Group:
    """One short block per finding: severity, rule, plane, count, what, where in the spec."""
    items: list[Any] = [Text("Findings", style="italic")]
    for f in doc["findings"]:
        spec = f["spec"]
        head = Text.assemble(
            (f"{f['severity'].upper():8}", SEV_STYLE[f["severity"]]),
            (f"{f['rule']}", "bold"),
            f"  plane {f['plane']!r}  x{f['count']}",
        )
        methods = ", ".join(f"{k} x{v}" for k, v in f["by_method"].items())
        body = Text(f"        {f['title']}. {f['detail']}" + (f" [{methods}]" if methods else ""))
        items += [head, body]
        if f.get("likely_cause"):
            items.append(Text(f"        likely cause: {', '.join(f['likely_cause'])} (server finding in this capture)", style="yellow"))
        items.append(Text(f"        {source_name(spec)} {spec['section']}: {spec['url']}", style="dim"))
    return Group(*items)


def render(doc: dict[str, Any], console: Console) -> None:
    parts: list[Any] = []
    broken = capture_failed_line(doc["summary"])
    if broken:
        parts.append(Text(broken, style="bold magenta"))
    parts.append(planes_table(doc))
    for p in doc["planes"]:
        if p["era"] in ("handshake",) or p["session_header"]["dropped"]:
            parts.append(methods_table(p))
        if p.get("correlation"):
            parts.append(Text(f"{p['user_agent']}: without the session header, requests are tied by: "
                              + correlation_text(p["correlation"]), style="cyan"))
    if doc["findings"]:
        parts.append(findings_block(doc))
    else:
        parts.append(Text("No findings.", style="green"))
    cap = doc["capture"]
    parts.append(
        Text(
            f"{cap['exchanges']} exchanges ({cap['mcp_exchanges']} MCP) from {cap['start']} to {cap['end']}; "
            f"findings: " + ", ".join(f"{n} {k}" for k, n in doc["summary"]["findings"].items()),
            style="dim",
        )
    )
    console.print(Group(*parts))
