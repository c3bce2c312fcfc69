"""Report: the data behind ``mcpsniff report`` (renderers live in ``render/``).

* :class:`Pseudonyms` -- session ids become ``session-A``, ``session-B`` ...
  ``session-Z``, ``session-AA`` in order of first appearance in the capture.
  Structured fields are mapped exactly; free text is scrubbed of every id of
  at least ``MIN_SCRUB_LEN`` characters (shorter ids would hit ordinary text
  such as version numbers).  ``<redacted:XXXXXXXX>`` markers are never touched.
* :func:`sequence` -- the sequence-diagram model: one participant per plane plus
  the server, one step per run of consecutive identical requests of a plane
  ("POST tools/call x3 (no Mcp-Session-Id)"), marked ``error`` when the request
  is evidence of a client-party error finding.
* :class:`Limits` / :data:`LEVELS` -- how much a report shows; the Markdown view
  walks down the levels until the text fits :data:`DEFAULT_BUDGET`.
* :func:`build` -- the report document (also ``mcpsniff report --format json``),
  a superset of analyze's document; keys are documented in docs/report.md.
"""

from __future__ import annotations

import platform
import re
from dataclasses import asdict, dataclass
from pathlib import PurePath
from typing import Any

import numpy as np
import pandas as pd

from . import __version__, rules
from .analysis import DOC_VERSION, Analysis, document, iso
from .schema import SCHEMA_VERSION

REPORT_VERSION = 1
GITHUB_LIMIT = 65_536  # characters in a GitHub issue or comment body
DEFAULT_BUDGET = 60_000  # leave room for the reporter's own words
MIN_SCRUB_LEN = 8
SERVER = "Server"


# ---------------------------------------------------------------- pseudonyms


def letters(n: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA, 27 -> AB ... (spreadsheet column names)."""
    s = ""
    n += 1
    while n:
        n, r = divmod(n - 1, 26)
        s = chr(65 + r) + s
    return s


class Pseudonyms:
    """Raw session id -> stable pseudonym; ``raw=True`` keeps ids as they are."""

    def __init__(self, ids: list[str], raw: bool = False):
        self.raw = raw
        self.map = {} if raw else {sid: f"session-{letters(i)}" for i, sid in enumerate(ids)}
        long_ids = sorted((s for s in self.map if len(s) >= MIN_SCRUB_LEN), key=len, reverse=True)
        self._rx = re.compile("|".join(map(re.escape, long_ids))) if long_ids else None

    @classmethod
    def of(cls, df: pd.DataFrame, raw: bool = False) -> "Pseudonyms":
        """Ids in order of first appearance (a request's id before its response's)."""
        if raw or df.empty:
            return cls([], raw)
        both = np.empty(2 * len(df), dtype=object)
        both[0::2] = df["req_sid"].to_numpy(dtype=object)
        both[1::2] = df["resp_sid"].to_numpy(dtype=object)
        present = both[pd.notna(both)]
        return cls([str(x) for x in pd.unique(present)], raw)

    def name(self, sid: Any) -> str | None:
        if sid is None or (isinstance(sid, float) and np.isnan(sid)):
            return None
        return self.map.get(str(sid), str(sid))

    def text(self, s: str) -> str:
        if s in self.map:
            return self.map[s]
        if self._rx is None:
            return s
        return self._rx.sub(lambda m: self.map[m.group(0)], s)

    def scrub(self, obj: Any) -> Any:
        """A copy of ``obj`` (dicts, lists, strings) with every session id replaced."""
        if self.raw:
            return obj
        if isinstance(obj, str):
            return self.text(obj)
        if isinstance(obj, dict):
            return {self.scrub(k) if isinstance(k, str) else k: self.scrub(v) for k, v in obj.items()}
        if isinstance(obj, (list, tuple)):
            return [self.scrub(v) for v in obj]
        return obj


# ---------------------------------------------------------------- limits


@dataclass(frozen=True)
class Limits:
    planes: int = 8  # planes in the diagram and with their own table
    steps: int = 80  # request arrows in the diagram (after folding)
    evidence: int = 5  # evidence exchanges per finding
    findings: int = 20  # findings shown in full (the rest are listed)
    methods: int = 30  # method rows per plane table
    overview: int = 40  # rows of the all-planes overview table
    ua_chars: int = 120  # user agents longer than this are cut


LEVELS: tuple[Limits, ...] = (
    Limits(),
    Limits(6, 50, 3, 12, 20, 25, 100),
    Limits(4, 32, 2, 8, 12, 15, 80),
    Limits(3, 20, 1, 5, 8, 10, 60),
    Limits(2, 12, 1, 3, 5, 6, 48),
)


def cut(s: str, n: int) -> str:
    return s if len(s) <= n else s[: n - 1] + "…"


# ---------------------------------------------------------------- sequence diagram


def _client_error_rows(a: Analysis) -> np.ndarray:
    """Positions of the requests that are evidence of a client-party error finding."""
    rows = [f.rows for f in a.findings if f.severity == "error" and rules.get(f.rule).party == "client"]
    return np.unique(np.concatenate(rows)) if rows else np.array([], dtype=np.int64)


def plane_order(doc: dict[str, Any]) -> list[str]:
    """Planes by first appearance."""
    return [p["user_agent"] for p in sorted(doc["planes"], key=lambda p: (p["first_seen"] or "", p["user_agent"]))]


def pick_planes(doc: dict[str, Any], n: int) -> list[str]:
    """The ``n`` planes to show (failing first, then warnings, then busiest), in order of first appearance."""
    rank = {"fail": 0, "warn": 1, "ok": 2}
    chosen = sorted(doc["planes"], key=lambda p: (rank[p["verdict"]], -p["requests"], p["first_seen"] or ""))[:n]
    keep = {p["user_agent"] for p in chosen}
    return [u for u in plane_order(doc) if u in keep]


def _runs(a: Analysis, ids: Pseudonyms, planes: list[str]) -> pd.DataFrame:
    """One row per run of consecutive identical requests of a plane (vectorised)."""
    df = a.cap.df
    sel = df[(df["era"] != "other") & df["plane"].astype("object").isin(planes)]
    if sel.empty:
        return pd.DataFrame()
    bad = np.isin(sel.index.to_numpy(), _client_error_rows(a))
    rpc = sel["rpc_method"].astype("object")
    echo = sel["echo"].astype("object")
    sid = sel["req_sid"].map(ids.name, na_action="ignore")
    header = np.where(sel["req_sid"].notna(), "sent", np.where(echo == "dropped", "missing", ""))
    init_ok = (rpc == "initialize") & sel["status"].between(200, 299) & sel["resp_sid"].notna()
    issued = sel["resp_sid"].where(init_ok).map(ids.name, na_action="ignore")
    t = pd.DataFrame(
        {
            "plane": sel["plane"].astype("object"),
            "t": sel["t_req"],
            "http_method": sel["http_method"].astype("object"),
            "method": rpc,
            "session": sid,
            "header": header,
            "mark": np.where(bad, "error", "ok"),
            "issued": issued,
            "status": sel["status"].astype(int),
        }
    )
    key = pd.Series("", index=t.index, dtype=object)
    for c in ("http_method", "method", "session", "header", "mark", "issued"):
        key = key + "\x1f" + t[c].astype(object).fillna("").astype(str).astype(object)
    # a new run starts where the key differs from the same plane's previous request
    new_run = key != key.groupby(t["plane"], sort=False).shift()
    t["run_id"] = t["plane"] + "\x1e" + new_run.groupby(t["plane"], sort=False).cumsum().astype(str)
    g = t.groupby("run_id", sort=False)
    runs = g.agg(
        plane=("plane", "first"), t=("t", "first"), http_method=("http_method", "first"), method=("method", "first"),
        session=("session", "first"), header=("header", "first"), mark=("mark", "first"), issued=("issued", "first"),
        count=("t", "size"),
    )
    st = t.groupby(["run_id", "status"], sort=True).size()
    statuses: dict[str, dict[str, int]] = {}
    for (rid, s), n in st.items():
        statuses.setdefault(rid, {})["none" if s < 0 else str(s)] = int(n)
    runs["statuses"] = [statuses[r] for r in runs.index]
    return runs.reset_index(drop=True)


def _step(r: Any) -> dict[str, Any]:
    return {
        "kind": "request",
        "plane": r.plane,
        "time": iso(r.t),
        "http_method": r.http_method,
        "method": r.method if isinstance(r.method, str) else None,
        "session": r.session if isinstance(r.session, str) else None,
        "session_header": r.header or None,
        "count": int(r.count),
        "mark": r.mark,
        "statuses": r.statuses,
        "issued": r.issued if isinstance(r.issued, str) else None,
        "_t": float(r.t),
    }


def _select(steps: list[dict[str, Any]], quota: int) -> list[dict[str, Any]]:
    """The first ``quota`` steps of a plane, always including its first error; gaps say what is left out."""
    if len(steps) <= quota:
        return steps
    idx = list(range(quota))
    first_err = next((i for i, s in enumerate(steps) if s["mark"] == "error"), None)
    if first_err is not None and first_err >= quota:
        idx = list(range(max(quota - 1, 1))) + [first_err]
    out: list[dict[str, Any]] = []
    prev = -1
    for i in idx + [len(steps)]:
        if i > prev + 1:
            skipped = steps[prev + 1 : i]
            out.append(
                {
                    "kind": "gap",
                    "plane": skipped[0]["plane"],
                    "time": skipped[0]["time"],
                    "steps": len(skipped),
                    "requests": sum(s["count"] for s in skipped),
                    "errors": sum(s["count"] for s in skipped if s["mark"] == "error"),
                    "_t": skipped[0]["_t"],
                }
            )
        if i < len(steps):
            out.append(steps[i])
        prev = i
    return out


def sequence(a: Analysis, doc: dict[str, Any], ids: Pseudonyms, limits: Limits) -> dict[str, Any]:
    """The diagram model: participants, steps (requests and gaps) in time order, notes, omissions."""
    order = plane_order(doc)
    shown = pick_planes(doc, limits.planes)
    by_ua = {p["user_agent"]: p for p in doc["planes"]}
    participants = [
        {
            "alias": f"P{order.index(u) + 1}",
            "user_agent": u,
            "plane_number": order.index(u) + 1,
            "client_info": by_ua[u]["client_info"],
        }
        for u in shown
    ]
    runs = _runs(a, ids, shown)
    per_plane: dict[str, list[dict[str, Any]]] = {u: [] for u in shown}
    for r in runs.itertuples(index=False) if not runs.empty else ():
        per_plane[r.plane].append(_step(r))
    quota = max(4, limits.steps // max(len(shown), 1))
    steps: list[dict[str, Any]] = []
    for u in shown:
        steps += _select(per_plane[u], quota)
    steps.sort(key=lambda s: s["_t"])
    for s in steps:
        del s["_t"]
    notes = [
        {"plane": f["plane"], "rule": f["rule"], "text": f"{f['rule']}: {f['detail'] or f['title']}"}
        for f in doc["findings"]
        if f["severity"] == "error" and f["party"] == "client" and f["plane"] in per_plane
    ]
    hidden = [p for p in order if p not in per_plane]
    total_steps = sum(len(v) for v in per_plane.values())
    shown_steps = sum(1 for s in steps if s["kind"] == "request")
    return {
        "participants": participants,
        "server": {"alias": SERVER, "endpoints": int(a.cap.df["endpoint"].nunique()) if not a.cap.df.empty else 0},
        "steps": steps,
        "notes": notes,
        "omitted": {
            "planes": len(hidden),
            "plane_requests": int(sum(by_ua[p]["requests"] for p in hidden)),
            "steps": total_steps - shown_steps,
            "requests": int(sum(s["requests"] for s in steps if s["kind"] == "gap")),
        },
    }


# ---------------------------------------------------------------- the document


def _meta_versions(a: Analysis) -> dict[str, list[str]]:
    """Tool versions the capture itself recorded (its meta lines)."""
    out: dict[str, set[str]] = {}
    for s in a.cap.sources:
        for m in s.meta or ():
            for k in ("mcpsniff", "mitmproxy", "python"):
                if isinstance(m.get(k), str):
                    out.setdefault(k, set()).add(m[k])
    return {k: sorted(v) for k, v in out.items()}


def environment(a: Analysis, doc: dict[str, Any]) -> dict[str, Any]:
    try:
        import mitmproxy.version

        mitm = mitmproxy.version.VERSION
    except ImportError:  # pragma: no cover - mitmproxy is a dependency
        mitm = None
    cap = doc["capture"]
    return {
        "analysed_with": {"mcpsniff": __version__, "mitmproxy": mitm, "python": platform.python_version()},
        "recorded_with": _meta_versions(a),
        "capture_window": {"start": cap["start"], "end": cap["end"]},
        "spec_versions": cap["spec_versions"],
        "inputs": [{"name": PurePath(i["path"]).name, "format": i["format"], "exchanges": i["exchanges"]} for i in doc["inputs"]],
    }


def _q(ua: str, n: int = 100) -> str:
    """A User-Agent between backticks (renderers turn those into code spans)."""
    return "`" + cut(ua, n).replace("`", "'") + "`"


def summary(doc: dict[str, Any]) -> str:
    """One paragraph: what is wrong, on which plane, and which planes are fine."""
    cap = doc["capture"]
    n_planes = len(doc["planes"])
    head = (
        f"In this capture ({cap['mcp_exchanges']:,} MCP exchanges from {n_planes} "
        f"plane{'s' if n_planes != 1 else ''}, i.e. distinct User-Agents, {cap['start']} to {cap['end']})"
    )
    by_plane: dict[str, list[dict[str, Any]]] = {}
    for f in doc["findings"]:
        if f["severity"] == "error":
            by_plane.setdefault(f["plane"], []).append(f)
    if not by_plane:
        warns = sum(1 for f in doc["findings"] if f["severity"] == "warning")
        tail = f", with {warns} SHOULD-level warning(s) listed below." if warns else "."
        return head + " no plane breaks a MUST rule of the MCP HTTP transport" + tail
    parts = []
    for plane, fs in list(by_plane.items())[:5]:
        what = "; ".join(
            f"{f['title']} ({f['detail'] or str(f['count']) + ' times'}"
            + (", " + ", ".join(f"{m} ×{n}" for m, n in list(f["by_method"].items())[:4]) if f["by_method"] else "")
            + f"; MCP spec {f['spec']['version']})"
            for f in fs[:3]
        )
        party = {f["party"] for f in fs}
        who = "the server talking to plane" if party == {"server"} else "plane"
        parts.append(f"{who} {_q(plane)}: {what}")
    more = len(by_plane) - 5
    s = head + " MUST-level violations were found for " + "; and for ".join(parts)
    s += f"; and {more} more plane(s)." if more > 0 else "."
    ok = [p for p in doc["planes"] if p["verdict"] == "ok" and p["session_header"]["echoed"]]
    if ok:
        s += " By contrast " + ", ".join(
            f"{_q(p['user_agent'])} echoed its session id on {p['session_header']['echoed']} of "
            f"{p['session_header']['echoed'] + p['session_header']['dropped']} requests" for p in ok[:3]
        ) + "."
    return s


def build(a: Analysis, *, raw_ids: bool = False, limits: Limits = LEVELS[0]) -> dict[str, Any]:
    """The report document (pseudonymised unless ``raw_ids``)."""
    ids = Pseudonyms.of(a.cap.df, raw=raw_ids)
    doc = document(a, evidence_limit=limits.evidence or None)
    for f in doc["findings"]:
        for e in f["evidence"]:
            e["session_id"] = ids.name(e["session_id"])
    diagram = sequence(a, doc, ids, limits)
    out = {
        "mcpsniff": {"version": __version__, "report": REPORT_VERSION, "document": DOC_VERSION, "schema": SCHEMA_VERSION},
        "session_ids": "raw" if raw_ids else "pseudonymised",
        "summary": summary(doc),
        "inputs": doc["inputs"],
        "capture": doc["capture"],
        "environment": environment(a, doc),
        "planes": doc["planes"],
        "findings": doc["findings"],
        "diagram": diagram,
        "limits": asdict(limits),
        "problems": doc["problems"],
    }
    return ids.scrub(out)
