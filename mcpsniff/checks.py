"""Checks: the rule catalogue (mcpsniff.rules) applied to a Capture.

Each check is a vectorised mask over the exchange table; the rows it selects
are grouped per plane into one :class:`Finding`.  Checks stay silent where the
data is unknown: truncated bodies, sessions never seen issued, exchanges of
another era.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from . import rules
from .model import MODERN_VERSION, Capture

SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}
VISIBLE_ASCII = re.compile(r"^[\x21-\x7e]+$")
# methods whose name-bearing parameter is mirrored in Mcp-Name (2026-07-28)
NAMED_METHODS = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri"}


@dataclass
class Finding:
    rule: str
    severity: str
    plane: str
    count: int
    rows: np.ndarray  # positions in cap.df, in time order
    by_method: dict[str, int] = field(default_factory=dict)
    version: str | None = None  # spec version the rule is cited for
    detail: str = ""

    @property
    def title(self) -> str:
        return rules.get(self.rule).title


def _method_label(df: pd.DataFrame, idx: np.ndarray) -> pd.Series:
    sub = df.loc[idx]
    rpc = sub["rpc_method"].astype("object")
    return rpc.where(rpc.notna(), sub["http_method"].astype("object"))


def _per_plane(
    cap: Capture,
    rule_id: str,
    mask: pd.Series | np.ndarray,
    detail: Callable[[pd.DataFrame], str] | None = None,
    plane_col: str = "plane",
    extra_cols: tuple[str, ...] = (),
) -> list[Finding]:
    df = cap.df
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return []
    rule = rules.get(rule_id)
    sel = df.loc[mask, [c for c in df.columns if c in _FINDING_COLS or c in extra_cols]]
    out = []
    for plane, g in sel.groupby(sel[plane_col].astype("object"), sort=True, observed=True):
        idx = g.index.to_numpy()
        labels = _method_label(df, idx)
        by_method = labels.value_counts(sort=False).sort_index()
        versions = g["neg_version"].astype("object").dropna() if "neg_version" in g else pd.Series(dtype=object)
        if not versions.empty:
            version = versions.mode().iloc[0]
        elif (g["era"] == "modern").any():
            version = MODERN_VERSION
        elif (g["era"] == "legacy").any():
            version = "2024-11-05"
        else:
            version = None
        out.append(
            Finding(
                rule=rule_id,
                severity=rule.severity,
                plane=str(plane),
                count=len(idx),
                rows=idx,
                by_method={str(k): int(v) for k, v in by_method.items()},
                version=version,
                detail=detail(g) if detail else "",
            )
        )
    return out


# the columns a finding and its detail lines look at (copying all ~45 is slow at 1M rows)
_FINDING_COLS = frozenset(
    {"plane", "neg_version", "era", "status", "resp_size", "pv_hdr", "accept", "req_sid", "sid_issued_to", "error", "get_responses"}
)


def _ok(df: pd.DataFrame) -> pd.Series:
    return (df["status"] >= 200) & (df["status"] < 300)


def _hs_request(df: pd.DataFrame) -> pd.Series:
    """Handshake-era requests other than initialize (the ones that must echo)."""
    return (df["era"] == "handshake") & (df["rpc_method"] != "initialize").fillna(True)


def _version_at_least(df: pd.DataFrame, version: str) -> pd.Series:
    cats = [c for c in df["neg_version"].cat.categories if isinstance(c, str) and c >= version]
    return df["neg_version"].isin(cats)


# ---------------------------------------------------------------- session rules


def check_session_id_dropped(cap: Capture) -> list[Finding]:
    df = cap.df

    def detail(g: pd.DataFrame) -> str:
        plane = g["plane"].iloc[0]
        total = int(((df["plane"] == plane) & df["echo"].isin(["echoed", "dropped"])).sum())
        return f"{len(g)} of {total} requests after a session was issued lacked Mcp-Session-Id"

    return _per_plane(cap, "session-id-dropped", df["echo"] == "dropped", detail)


def check_missing_session_accepted(cap: Capture) -> list[Finding]:
    df = cap.df
    return _per_plane(
        cap,
        "missing-session-accepted",
        (df["echo"] == "dropped") & _ok(df),
        lambda g: f"{len(g)} header-less requests answered {', '.join(sorted(map(str, g['status'].unique())))} instead of 400",
    )


def check_no_reinit_after_404(cap: Capture) -> list[Finding]:
    df = cap.df
    dead = df[(df["status"] == 404) & df["req_sid"].notna()]
    if dead.empty:
        return []
    t_dead = dead["t_resp"].fillna(dead["t_end"]).groupby(dead["req_sid"]).min()
    carries = df["req_sid"].isin(t_dead.index)
    t_of = df["req_sid"].map(t_dead)
    mask = carries & (df["t_req"] > t_of)
    return _per_plane(cap, "no-reinit-after-404", mask, lambda g: f"{len(g)} requests reused a session id after it was answered 404")


def check_session_id_invalid_chars(cap: Capture) -> list[Finding]:
    df, s = cap.df, cap.sessions
    if s is None or s.empty:
        return []
    bad = s[~s["sid"].astype(str).map(lambda x: bool(VISIBLE_ASCII.match(x)))]
    mask = np.zeros(len(df), dtype=bool)
    mask[bad["row"].to_numpy()] = True
    return _per_plane(cap, "session-id-invalid-chars", mask, lambda g: "session id outside visible ASCII 0x21-0x7E")


def check_deleted_session_accepted(cap: Capture) -> list[Finding]:
    df = cap.df
    deleted = df[(df["http_method"] == "DELETE") & df["req_sid"].notna() & _ok(df)]
    if deleted.empty:
        return []
    t_del = deleted["t_resp"].fillna(deleted["t_end"]).groupby(deleted["req_sid"]).min()
    later = df["req_sid"].isin(t_del.index) & (df["t_req"] > df["req_sid"].map(t_del))
    return _per_plane(cap, "deleted-session-accepted", later & _ok(df), lambda g: f"{len(g)} requests answered 2xx after their session was deleted")


# ---------------------------------------------------------------- version header


def check_protocol_version_header(cap: Capture) -> list[Finding]:
    df = cap.df
    base = _hs_request(df) & _version_at_least(df, "2025-06-18")
    missing = base & df["pv_hdr"].isna()
    mismatch = base & df["pv_hdr"].notna() & (df["pv_hdr"].astype("object") != df["neg_version"].astype("object"))
    return _per_plane(
        cap, "protocol-version-header-missing", missing, lambda g: f"{len(g)} requests after initialize without MCP-Protocol-Version"
    ) + _per_plane(
        cap,
        "protocol-version-header-mismatch",
        mismatch,
        lambda g: "sent "
        + ", ".join(sorted(set(g["pv_hdr"].astype(str))))
        + " where "
        + ", ".join(sorted(set(g["neg_version"].astype(str))))
        + " was negotiated",
    )


def check_protocol_version_invalid_accepted(cap: Capture) -> list[Finding]:
    df = cap.df
    cats = df["pv_hdr"].cat.categories
    invalid = [c for c in cats if c not in rules.VERSION_ERAS]
    mask = df["era"].isin(["handshake", "modern"]) & df["pv_hdr"].isin(invalid) & _ok(df)
    return _per_plane(
        cap, "protocol-version-invalid-accepted", mask,
        lambda g: "accepted MCP-Protocol-Version " + ", ".join(sorted(set(g["pv_hdr"].astype(str)))),
    )


# ---------------------------------------------------------------- message shape


def _accept_lists(df: pd.DataFrame, media: str) -> pd.Series:
    cats = df["accept"].cat.categories
    good = [c for c in cats if media in [p.split(";", 1)[0].strip().lower() for p in str(c).split(",")]]
    return df["accept"].isin(good)


def check_accept_header(cap: Capture) -> list[Finding]:
    df = cap.df
    hs = df["era"] == "handshake"
    has_json, has_sse = _accept_lists(df, "application/json"), _accept_lists(df, "text/event-stream")
    post_bad = df["era"].isin(["handshake", "modern"]) & (df["http_method"] == "POST") & ~(has_json & has_sse)
    get_bad = hs & (df["http_method"] == "GET") & ~has_sse
    return _per_plane(
        cap,
        "accept-header-incomplete",
        post_bad | get_bad,
        lambda g: "Accept seen: " + "; ".join(sorted(set(g["accept"].astype("object").fillna("(none)").astype(str)))[:3]),
    )


def check_notification_not_202(cap: Capture) -> list[Finding]:
    df = cap.df
    era_ok = df["era"].isin(["handshake", "modern"])
    mask = era_ok & (df["http_method"] == "POST") & df["notif_only"] & ~df["req_trunc"] & _ok(df) & (
        (df["status"] != 202) | (df["resp_size"] > 0)
    )
    return _per_plane(
        cap,
        "notification-not-202",
        mask,
        lambda g: "answered " + ", ".join(sorted({f"{s}" + (" with a body" if b > 0 else "") for s, b in zip(g["status"], g["resp_size"])})),
    )


def check_batch_not_allowed(cap: Capture) -> list[Finding]:
    df = cap.df
    mask = df["batch"] & (((df["era"] == "handshake") & _version_at_least(df, "2025-06-18")) | (df["era"] == "modern"))
    return _per_plane(cap, "batch-not-allowed", mask, lambda g: f"{len(g)} JSON array (batch) bodies")


def check_get_stream_response(cap: Capture) -> list[Finding]:
    df = cap.df
    mask = (df["era"] == "handshake") & (df["http_method"] == "GET") & df["last_event_id"].isna() & (df["get_responses"] > 0)
    return _per_plane(cap, "get-stream-response", mask, lambda g: f"{int(g['get_responses'].sum())} JSON-RPC responses on GET streams")


# ---------------------------------------------------------------- 2026-07-28


def decode_mcp_name(value: object) -> object:
    """``=?base64?...?=`` encoded Mcp-Name values are compared decoded (2026-07-28)."""
    if isinstance(value, str) and value.startswith("=?base64?") and value.endswith("?="):
        try:
            return base64.b64decode(value[9:-2], validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return value
    return value


def _modern_header_mismatch(df: pd.DataFrame) -> tuple[pd.Series, pd.Series, pd.Series, pd.Series]:
    """2026-07-28 requests whose MCP-Protocol-Version / Mcp-Method / Mcp-Name disagree with the body."""
    is_request = df["has_id"] & df["rpc_method"].notna()
    modern = (df["era"] == "modern") & (df["http_method"] == "POST") & is_request & ~df["batch"] & ~df["req_trunc"]
    obj = lambda c: df[c].astype("object")  # noqa: E731
    pv_bad = obj("pv_hdr") != obj("meta_pv").where(df["meta_pv"].notna(), obj("pv_hdr"))
    pv_bad |= df["pv_hdr"].isna()
    method_bad = obj("mcp_method_hdr") != obj("rpc_method")
    named = df["rpc_method"].isin(list(NAMED_METHODS))
    name_bad = pd.Series(False, index=df.index)
    rows = modern & named & df["name_param"].notna()
    if rows.any():
        sub = df.loc[rows]
        name_bad.loc[rows] = sub["mcp_name_hdr"].map(decode_mcp_name) != sub["name_param"]
    return modern & (pv_bad | method_bad | name_bad), pv_bad, method_bad, name_bad


def check_modern_header_mismatch_accepted(cap: Capture) -> list[Finding]:
    df = cap.df
    mask = _modern_header_mismatch(df)[0] & _ok(df)
    return _per_plane(cap, "modern-header-mismatch-accepted", mask, lambda g: f"{len(g)} mismatched requests answered 2xx instead of 400")


def check_modern_headers(cap: Capture) -> list[Finding]:
    df = cap.df
    mask, pv_bad, method_bad, name_bad = _modern_header_mismatch(df)

    def detail(g: pd.DataFrame) -> str:
        parts = []
        for label, m in (("MCP-Protocol-Version", pv_bad), ("Mcp-Method", method_bad), ("Mcp-Name", name_bad)):
            k = int(m.loc[g.index].sum())
            if k:
                parts.append(f"{label} x{k}")
        return "headers absent or not equal to the body: " + ", ".join(parts)

    return _per_plane(cap, "modern-header-mismatch", mask, detail)


def check_modern_meta(cap: Capture) -> list[Finding]:
    df = cap.df
    is_request = df["has_id"] & df["rpc_method"].notna()
    base = (df["era"] == "modern") & is_request & ~df["req_trunc"] & ~df["batch"]
    missing = base & (df["meta_pv"].isna() | ~df["meta_caps"])
    out = _per_plane(cap, "modern-meta-missing", missing, lambda g: f"{len(g)} requests without the required _meta keys")
    if "modern-clientinfo-missing" in rules.RULES:
        out += _per_plane(cap, "modern-clientinfo-missing", base & ~df["meta_client"], lambda g: f"{len(g)} requests without _meta clientInfo")
    return out


# ---------------------------------------------------------------- observations


def check_observations(cap: Capture) -> list[Finding]:
    df = cap.df
    out = _per_plane(cap, "session-id-unknown", df["echo"] == "unknown", lambda g: f"{g['req_sid'].nunique()} session ids never seen issued")
    out += _per_plane(
        cap, "session-id-foreign", df["echo"] == "foreign", lambda g: "ids issued to: " + ", ".join(sorted(set(g["sid_issued_to"].astype(str))))
    )
    out += _per_plane(
        cap,
        "no-response",
        df["error"].notna() & (df["status"] < 0) & (df["era"] != "other"),
        lambda g: "; ".join(f"{k} x{v}" for k, v in g["error"].astype(str).value_counts().head(3).items()),
    )
    out += _per_plane(cap, "era-probe", df["era"] == "probe", lambda g: "POST initialize refused, then legacy SSE")
    return out


CHECKS: tuple[Callable[[Capture], list[Finding]], ...] = (
    check_session_id_dropped,
    check_missing_session_accepted,
    check_no_reinit_after_404,
    check_session_id_invalid_chars,
    check_deleted_session_accepted,
    check_protocol_version_header,
    check_protocol_version_invalid_accepted,
    check_accept_header,
    check_notification_not_202,
    check_batch_not_allowed,
    check_get_stream_response,
    check_modern_headers,
    check_modern_header_mismatch_accepted,
    check_modern_meta,
    check_observations,
)


def run_checks(cap: Capture) -> list[Finding]:
    if cap.df.empty:
        return []
    findings = [f for check in CHECKS for f in check(cap)]
    order = {rid: i for i, rid in enumerate(rules.RULES)}
    findings.sort(key=lambda f: (SEVERITY_ORDER[f.severity], order.get(f.rule, 999), f.plane))
    return findings
