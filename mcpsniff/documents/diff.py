"""The diff documents: what changed between two captures per plane, or how two planes differ.

Both results are plain documents in the style of analyze's (top-level
``mcpsniff`` block, ``planes`` keyed by ``user_agent``); keys are documented
in docs/report.md.

Captures (:func:`compare_captures`).  A plane of one capture is compared with the plane of
the other that has its User-Agent; a plane left without one is paired with the other side's
*upgraded* plane (:func:`pair_upgrades`): User-Agents that differ only in version numbers
(``python-httpx/0.28.1`` and ``python-httpx/0.29.0``), else the same clientInfo name -- when
exactly one plane on each side fits.  A plane is *worse* when it has a new
error finding (key: rule + plane) or a higher drop rate for some method; the
drop rate of a method is dropped / (echoed + dropped), the requests that had
a session id to repeat (``None`` when there were none).  A method whose drop
rate was ``None`` before and is above 0 after counts as higher.

Planes (:func:`compare_planes`): per method which request headers each plane
sends (on all, some or none of its requests), protocol versions, clientInfo,
status codes received and session-header counts.
"""

from __future__ import annotations

import re
from typing import Any

from .. import __version__
from ..errors import NotFound, UsageError
from ..mcp import header_label
from ..schema import SCHEMA_VERSION
from .analysis import DOC_VERSION, Analysis, document

DIFF_VERSION = 2
RATE_EPS = 1e-9
HEADER_RATE_DIFF = 0.1  # a header "differs" between planes when its share of requests differs this much


def _head(doc: dict[str, Any]) -> dict[str, Any]:
    return {"version": __version__, "diff": DIFF_VERSION, "document": DOC_VERSION, "schema": SCHEMA_VERSION}


def drop_rate(m: dict[str, Any] | None) -> float | None:
    if not m:
        return None
    n = m["echoed"] + m["dropped"]
    return round(m["dropped"] / n, 6) if n else None


def _side(p: dict[str, Any] | None) -> dict[str, Any] | None:
    if p is None:
        return None
    return {
        "requests": p["requests"],
        "era": p["era"],
        "versions": p["versions"],
        "verdict": p["verdict"],
        "session_header": p["session_header"],
        "findings": p["findings"],
    }


def _method_side(m: dict[str, Any] | None) -> dict[str, Any] | None:
    if m is None:
        return None
    return {"requests": m["requests"], "echoed": m["echoed"], "dropped": m["dropped"], "drop_rate": drop_rate(m), "statuses": m["statuses"]}


def _method_change(b: dict[str, Any] | None, a: dict[str, Any] | None) -> str:
    rb, ra = drop_rate(b), drop_rate(a)
    if ra is not None and ra > (rb if rb is not None else 0.0) + RATE_EPS and ra > 0:
        return "worse"
    if rb is not None and rb > 0 and (ra is None or ra < rb - RATE_EPS):
        return "better"
    if b is None:
        return "new"
    if a is None:
        return "gone"
    return "same"


def _finding_key(f: dict[str, Any]) -> tuple[str, str]:
    return (f["rule"], f["plane"])


def _finding_entry(fb: dict[str, Any] | None, fa: dict[str, Any] | None) -> dict[str, Any]:
    f = fa or fb
    assert f is not None
    return {
        "rule": f["rule"],
        "severity": f["severity"],
        "party": f["party"],
        "title": f["title"],
        "count_before": fb["count"] if fb else 0,
        "count_after": fa["count"] if fa else 0,
    }


_VERSION = re.compile(r"(?<![A-Za-z])v?\d+(?:[._]\d+)*(?:[-+.]?[A-Za-z0-9]+)*")


def _version_free(ua: str) -> str:
    """A User-Agent with its version numbers blanked: ``python-httpx/0.28.1`` -> ``python-httpx/#``."""
    return _VERSION.sub("#", ua)


def _client_name(info: str) -> str:
    """``name/version`` (how the model writes clientInfo) -> ``name``."""
    return info.rsplit("/", 1)[0] if "/" in info else info


def _upgrade(ub: str, ua: str, by: str, cb: list[str], ca: list[str]) -> dict[str, Any]:
    """How a paired plane is named: the product and the version before and after."""
    if by == "version":
        tb, ta = ub.split(), ua.split()
        i = next((i for i, (x, y) in enumerate(zip(tb, ta)) if x != y), None)
        if i is None:
            return {"by": by, "name": "", "before": ub, "after": ua}
        name, vb = tb[i].split("/", 1) if "/" in tb[i] else ("", tb[i])
        va = ta[i].split("/", 1)[1] if "/" in ta[i] else ta[i]
        return {"by": by, "name": name or tb[i], "before": vb, "after": va}
    name = _client_name(cb[0]) if cb else ""
    vb = next((c.rsplit("/", 1)[1] for c in cb if "/" in c), "")
    va = next((c.rsplit("/", 1)[1] for c in ca if "/" in c), "")
    if vb and va and vb != va:
        return {"by": by, "name": name, "before": vb, "after": va}
    return {"by": by, "name": name, "before": ub, "after": ua}


def pair_upgrades(before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]]) -> list[tuple[str, str, dict[str, Any]]]:
    """Planes seen on one side only, paired with the other side's upgrade of them: ``(before UA,
    after UA, how)``. First by User-Agents equal but for version numbers, then by a shared clientInfo
    name; a key fits when exactly one unpaired plane on each side has it (ambiguity pairs nothing)."""
    left = [u for u in before if u not in after]
    right = [u for u in after if u not in before]
    out: list[tuple[str, str, dict[str, Any]]] = []
    keys = (("version", lambda side, u: {_version_free(u)} if _version_free(u) != u else set()),
            ("client_info", lambda side, u: {_client_name(c) for c in side[u]["client_info"]}))
    for by, key in keys:
        kb: dict[str, list[str]] = {}
        ka: dict[str, list[str]] = {}
        for u in left:
            for k in key(before, u):
                kb.setdefault(k, []).append(u)
        for u in right:
            for k in key(after, u):
                ka.setdefault(k, []).append(u)
        for k in sorted(set(kb) & set(ka)):
            if len(kb[k]) == 1 and len(ka[k]) == 1 and kb[k][0] in left and ka[k][0] in right:
                ub, ua = kb[k][0], ka[k][0]
                out.append((ub, ua, _upgrade(ub, ua, by, before[ub]["client_info"], after[ua]["client_info"])))
                left.remove(ub)
                right.remove(ua)
    return out


def compare_captures(before: Analysis, after: Analysis) -> dict[str, Any]:
    """Per plane: appeared / vanished / upgraded, drop rates per method, findings new / fixed / unchanged."""
    db, da = document(before, evidence_limit=1), document(after, evidence_limit=1)
    pb = {p["user_agent"]: p for p in db["planes"]}
    pa = {p["user_agent"]: p for p in da["planes"]}
    fb = {_finding_key(f): f for f in db["findings"]}
    fa = {_finding_key(f): f for f in da["findings"]}
    upgrades = {ua: (ub, how) for ub, ua, how in pair_upgrades(pb, pa)}
    paired_before = {ub for ub, _ in upgrades.values()}
    planes = []
    for ua in sorted((set(pb) | set(pa) | {k[1] for k in fb} | {k[1] for k in fa}) - paired_before):
        ub, how = upgrades.get(ua, (ua, None))
        b, a = pb.get(ub), pa.get(ua)
        mb = {m["method"]: m for m in b["methods"]} if b else {}
        ma = {m["method"]: m for m in a["methods"]} if a else {}
        methods = [
            {"method": m, "before": _method_side(mb.get(m)), "after": _method_side(ma.get(m)), "change": _method_change(mb.get(m), ma.get(m))}
            for m in sorted(set(mb) | set(ma))
        ]
        rules_b = {k[0] for k in fb if k[1] == ub}
        rules_a = {k[0] for k in fa if k[1] == ua}
        findings = {
            "new": [_finding_entry(None, fa[(r, ua)]) for r in sorted(rules_a - rules_b)],
            "fixed": [_finding_entry(fb[(r, ub)], None) for r in sorted(rules_b - rules_a)],
            "unchanged": [_finding_entry(fb[(r, ub)], fa[(r, ua)]) for r in sorted(rules_a & rules_b)],
        }
        reasons: list[dict[str, Any]] = [{"kind": "new-error", "rule": f["rule"]} for f in findings["new"] if f["severity"] == "error"]
        reasons += [
            {"kind": "drop-rate", "method": m["method"], "before": drop_rate_of(m["before"]), "after": drop_rate_of(m["after"])}
            for m in methods if m["change"] == "worse"
        ]
        if b is None:
            change = "appeared"
        elif a is None:
            change = "vanished"
        elif reasons:
            change = "worse"
        elif findings["fixed"] or any(m["change"] == "better" for m in methods):
            change = "better"
        elif findings["new"] or any(m["change"] in ("new", "gone") for m in methods) or _side(b) != _side(a) or _counts(mb) != _counts(ma):
            change = "changed"
        else:
            change = "unchanged"
        planes.append(
            {
                "user_agent": ua,
                "user_agent_before": ub if b is not None else None,
                "upgrade": how,
                "change": change,
                "worse": bool(reasons),
                "reasons": reasons,
                "before": _side(b),
                "after": _side(a),
                "methods": methods,
                "findings": findings,
            }
        )
    return {
        "mcpsniff": _head(db),
        "mode": "captures",
        "before": {"inputs": db["inputs"], "capture": db["capture"]},
        "after": {"inputs": da["inputs"], "capture": da["capture"]},
        "changed": any(p["change"] != "unchanged" for p in planes),
        "worse": [p["user_agent"] for p in planes if p["worse"]],
        "planes": planes,
    }


def drop_rate_of(side: dict[str, Any] | None) -> float | None:
    return side["drop_rate"] if side else None


def _counts(methods: dict[str, dict[str, Any]]) -> dict[str, tuple]:
    return {k: (m["requests"], m["echoed"], m["dropped"], tuple(sorted(m["statuses"].items()))) for k, m in methods.items()}


# ---------------------------------------------------------------- plane vs plane


def _presence(n: int, total: int) -> str:
    return "all" if n == total else "none" if n == 0 else "some"


def compare_planes(a: Analysis, ua_a: str, ua_b: str) -> dict[str, Any]:
    """How two planes of one capture differ: headers per method, versions, clientInfo, statuses."""
    known = a.model.planes()
    for p in (ua_a, ua_b):
        if p not in known:
            raise NotFound(f"no plane with User-Agent {p!r}; planes: " + ", ".join(repr(k) for k in known))
    if ua_a == ua_b:
        raise UsageError("--planes needs two different planes")
    doc = document(a, evidence_limit=1)
    by_ua = {p["user_agent"]: p for p in doc["planes"]}
    sides = []
    for ua in (ua_a, ua_b):
        prof = a.model.plane_profile(ua)
        p = by_ua.get(ua)
        sides.append(
            {
                "user_agent": ua,
                "requests": prof["requests"],
                "client_info": p["client_info"] if p else prof["client_info"],
                "era": p["era"] if p else "other",
                "negotiated_versions": prof["negotiated_versions"],
                "protocol_version_headers": prof["protocol_version_headers"],
                "statuses": prof["statuses"],
                "session_header": p["session_header"] if p else None,
                "sessions_issued": p["sessions_issued"] if p else 0,
                "verdict": p["verdict"] if p else "ok",
                "findings": [f["rule"] for f in doc["findings"] if f["plane"] == ua],
            }
        )
    ha, hb = a.model.header_counts(ua_a), a.model.header_counts(ua_b)
    methods = []
    for m in sorted(set(ha) | set(hb)):
        row: dict[str, Any] = {"method": m}
        for key, h in (("a", ha.get(m)), ("b", hb.get(m))):
            row[key] = None if h is None else {
                "requests": h["requests"],
                "headers": {header_label(k): {"count": v, "presence": _presence(v, h["requests"])} for k, v in sorted(h["headers"].items())},
            }
        names = set((row["a"] or {}).get("headers", {})) | set((row["b"] or {}).get("headers", {}))
        row["differs"] = sorted(
            n for n in names
            if row["a"] and row["b"]
            and ((row["a"]["headers"].get(n) or {}).get("presence", "none") != (row["b"]["headers"].get(n) or {}).get("presence", "none"))
        )
        methods.append(row)
    headers = []
    all_names = sorted({n for h in (ha, hb) for e in h.values() for n in e["headers"]})
    for n in all_names:
        entry: dict[str, Any] = {"header": header_label(n)}
        for key, h in (("a", ha), ("b", hb)):
            total = sum(e["requests"] for e in h.values())
            count = sum(e["headers"].get(n, 0) for e in h.values())
            entry[key] = {
                "count": count,
                "requests": total,
                "sent_on": sorted(m for m, e in h.items() if e["headers"].get(n, 0) == e["requests"]),
                "partly_on": sorted(m for m, e in h.items() if 0 < e["headers"].get(n, 0) < e["requests"]),
                "omitted_on": sorted(m for m, e in h.items() if e["headers"].get(n, 0) == 0),
            }
        ra = entry["a"]["count"] / entry["a"]["requests"] if entry["a"]["requests"] else 0.0
        rb = entry["b"]["count"] / entry["b"]["requests"] if entry["b"]["requests"] else 0.0
        entry["differs"] = (
            _presence(entry["a"]["count"], entry["a"]["requests"]) != _presence(entry["b"]["count"], entry["b"]["requests"])
            or abs(ra - rb) >= HEADER_RATE_DIFF
        )
        headers.append(entry)
    common = [h["header"] for h in headers if h["a"]["count"] == h["a"]["requests"] and h["b"]["count"] == h["b"]["requests"]]
    return {
        "mcpsniff": _head(doc),
        "mode": "planes",
        "common_headers": common,
        "inputs": doc["inputs"],
        "capture": doc["capture"],
        "planes": sides,
        "headers": headers,
        "methods": methods,
    }
