"""The report document behind ``mcpsniff report`` (its Markdown view lives in ``render``).

* :class:`Pseudonyms` -- session ids become ``session-A``, ``session-B`` ...
  ``session-Z``, ``session-AA`` in order of first appearance in the capture; only
  the ids the report shows get a name, so the letters have no gaps (an id seen
  only on a refused request the report never lists takes none).
  Structured fields are mapped exactly; free text is scrubbed of every id of
  at least ``MIN_SCRUB_LEN`` characters (shorter ids would hit ordinary text
  such as version numbers).  ``<redacted:XXXXXXXX>`` markers are never touched.
* :func:`sequence` -- the sequence-diagram model: one participant per plane plus
  the server, one step per run of consecutive identical requests of a plane
  ("POST tools/call x3 (no Mcp-Session-Id)"), marked ``error`` when the request
  is evidence of a client-party error finding.
* :func:`build` -- the report document (also ``mcpsniff report --format json``), a
  superset of analyze's document holding the most detail any view shows
  (:data:`DETAIL`); the Markdown view shows less when it must fit GitHub's size
  limit.  Keys are documented in docs/report.md.
"""

from __future__ import annotations

import platform
import re
from pathlib import PurePath
from typing import Any

from .. import __version__
from ..capture.versions import mitmproxy_version
from ..checks import marks
from ..schema import SCHEMA_VERSION
from .analysis import DOC_VERSION, VERDICTS, Analysis, document, is_client_error, iso

REPORT_VERSION = 2
MIN_SCRUB_LEN = 8
SERVER = "Server"
#: the most the document holds: planes in the diagram, request arrows (after folding), evidence per finding
DETAIL = {"planes": 8, "steps": 80, "evidence": 5}


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
        # free text: every run of the characters ids are made of is searched for ids, leftmost and
        # longest first (what one alternation of all ids would do, without compiling one: a capture
        # can hold hundreds of thousands of ids)
        self._long = {s for s in self.map if len(s) >= MIN_SCRUB_LEN}
        self._lengths = sorted({len(s) for s in self._long}, reverse=True)
        chars = "".join(sorted(set().union(*self._long))) if self._long else ""
        self._rx = re.compile(f"[{''.join(map(re.escape, chars))}]{{{MIN_SCRUB_LEN},}}") if chars else None

    def name(self, sid: Any) -> str | None:
        if sid is None or (isinstance(sid, float) and sid != sid):
            return None
        return self.map.get(str(sid), str(sid))

    def text(self, s: str) -> str:
        if s in self.map:
            return self.map[s]
        if self._rx is None:
            return s
        return self._rx.sub(self._ids_in, s)

    def _ids_in(self, m: re.Match[str], hits: set[str] | None = None) -> str:
        run, out, p = m.group(0), [], 0
        while p < len(run):
            for n in self._lengths:
                if run[p:p + n] in self._long:
                    if hits is not None:
                        hits.add(run[p:p + n])
                    out.append(self.map[run[p:p + n]])
                    p += n
                    break
            else:
                out.append(run[p])
                p += 1
        return "".join(out)

    def used(self, obj: Any) -> set[str]:
        """The ids ``obj`` (dicts, lists, strings) holds, as :meth:`scrub` would find them."""
        hits: set[str] = set()

        def walk(o: Any) -> None:
            if isinstance(o, str):
                if o in self.map:
                    hits.add(o)
                elif self._rx is not None:
                    for m in self._rx.finditer(o):
                        self._ids_in(m, hits)
            elif isinstance(o, dict):
                for k, v in o.items():
                    walk(k)
                    walk(v)
            elif isinstance(o, (list, tuple)):
                for v in o:
                    walk(v)

        walk(obj)
        return hits

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


# ---------------------------------------------------------------- sequence diagram


def plane_order(doc: dict[str, Any]) -> list[str]:
    """Planes by first appearance."""
    return [p["user_agent"] for p in sorted(doc["planes"], key=lambda p: (p["first_seen"] or "", p["user_agent"]))]


def plane_ranking(doc: dict[str, Any]) -> list[str]:
    """Planes by importance: failing first, then warnings, then refused traffic, then busiest."""
    return [p["user_agent"] for p in sorted(doc["planes"], key=lambda p: (VERDICTS.index(p["verdict"]), -p["requests"], p["first_seen"] or ""))]


def pick_planes(doc: dict[str, Any], n: int) -> list[str]:
    """The ``n`` most important planes, in order of first appearance."""
    keep = set(plane_ranking(doc)[:n])
    return [u for u in plane_order(doc) if u in keep]


def _step(r: dict[str, Any], ids: Pseudonyms) -> dict[str, Any]:
    return {
        "kind": "request",
        "plane": r["plane"],
        "time": iso(r["t"]),
        "http_method": r["http_method"],
        "method": r["method"],
        "session": ids.name(r["session"]) if isinstance(r["session"], str) else None,
        "session_header": r["header"] or None,
        "count": int(r["count"]),
        "mark": r["mark"],
        "statuses": r["statuses"],
        "issued": ids.name(r["issued"]) if isinstance(r["issued"], str) else None,
        "_t": float(r["t"]),
    }


def _gap(g: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "gap", "plane": g["plane"], "time": iso(g["t"]), "steps": g["steps"], "requests": g["requests"],
            "errors": g["errors"], "_t": float(g["t"])}


def sequence(a: Analysis, doc: dict[str, Any], ids: Pseudonyms) -> dict[str, Any]:
    """The diagram model: participants, steps (requests and gaps) in time order, notes, omissions."""
    order = plane_order(doc)
    ranking = plane_ranking(doc)
    shown = pick_planes(doc, DETAIL["planes"])
    by_ua = {p["user_agent"]: p for p in doc["planes"]}
    participants = [
        {
            "alias": f"P{order.index(u) + 1}",
            "user_agent": u,
            "plane_number": order.index(u) + 1,
            "rank": ranking.index(u),
            "client_info": by_ua[u]["client_info"],
        }
        for u in shown
    ]
    marked = marks(a.model, [f for f in a.findings if is_client_error(f) and f.plane in shown])
    quota = max(4, DETAIL["steps"] // max(len(shown), 1))
    per_plane: dict[str, list[dict[str, Any]]] = {u: [] for u in shown}
    for r in a.model.runs(shown, marked, quota):
        per_plane[r["plane"]].append(_step(r, ids) if r["kind"] == "run" else _gap(r))
    steps = [s for u in shown for s in per_plane[u]]
    steps.sort(key=lambda s: s["_t"])
    for s in steps:
        del s["_t"]
    notes = [
        {"plane": f["plane"], "rule": f["rule"], "detail": f["detail"] or f["title"]}
        for f in doc["findings"]
        if is_client_error(f) and f["plane"] in per_plane
    ]
    hidden = [p for p in order if p not in per_plane]
    return {
        "participants": participants,
        "server": {"alias": SERVER, "endpoints": a.model.endpoint_count()},
        "steps": steps,
        "notes": notes,
        "omitted": {
            "planes": len(hidden),
            "plane_requests": int(sum(by_ua[p]["requests"] for p in hidden)),
            "steps": sum(s["steps"] for s in steps if s["kind"] == "gap"),
            "requests": int(sum(s["requests"] for s in steps if s["kind"] == "gap")),
        },
    }


# ---------------------------------------------------------------- the document


def _meta_versions(a: Analysis) -> dict[str, list[str]]:
    """Tool versions the capture itself recorded (its meta lines)."""
    out: dict[str, set[str]] = {}
    for i in a.model.inputs:
        for m in i.meta:
            for k in ("mcpsniff", "mitmproxy", "python"):
                if isinstance(m.get(k), str):
                    out.setdefault(k, set()).add(m[k])
    return {k: sorted(v) for k, v in out.items()}


def environment(a: Analysis, doc: dict[str, Any]) -> dict[str, Any]:
    cap = doc["capture"]
    return {
        "analysed_with": {"mcpsniff": __version__, "mitmproxy": mitmproxy_version(), "python": platform.python_version()},
        "recorded_with": _meta_versions(a),
        "capture_window": {"start": cap["start"], "end": cap["end"]},
        "spec_versions": cap["spec_versions"],
        "inputs": [{"name": PurePath(i["path"]).name, "format": i["format"], "exchanges": i["exchanges"]} for i in doc["inputs"]],
    }


def build(a: Analysis, *, raw_ids: bool = False) -> dict[str, Any]:
    """The report document (session ids pseudonymised unless ``raw_ids``)."""
    doc = document(a, evidence_limit=DETAIL["evidence"])
    for f in doc["findings"]:
        for e in f["evidence"]:
            for k in ("session_id", "response_session_id"):
                e[k] = None if e.get(k) is None or e[k] != e[k] else str(e[k])
    out = {
        "mcpsniff": {"version": __version__, "report": REPORT_VERSION, "document": DOC_VERSION, "schema": SCHEMA_VERSION},
        "session_ids": "raw" if raw_ids else "pseudonymised",
        "inputs": doc["inputs"],
        "capture": doc["capture"],
        "environment": environment(a, doc),
        "planes": doc["planes"],
        "summary": doc["summary"],
        "findings": doc["findings"],
        "diagram": sequence(a, doc, Pseudonyms([], raw=True)),
        "detail": dict(DETAIL),
        "problems": doc["problems"],
    }
    if raw_ids:
        return out
    # every id of the capture in order of first appearance; a name only for those the report shows
    seen = Pseudonyms(a.model.session_id_order())
    shown = seen.used(out)
    return Pseudonyms([s for s in seen.map if s in shown]).scrub(out)
