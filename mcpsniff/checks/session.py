"""Checks of the handshake era's session rules (Mcp-Session-Id)."""

from __future__ import annotations

import re

import numpy as np

from ..model import Model
from .engine import Selection, check, column

VISIBLE_ASCII = re.compile(r"^[\x21-\x7e]+$")


@check("session-id-dropped")
def session_id_dropped(m: Model) -> Selection:
    df = m.df
    dropped = (df["echo"] == "dropped").to_numpy()
    had_id = df["echo"].isin(["echoed", "dropped"]).to_numpy()
    planes = df["plane"].to_numpy()

    def values(rows: np.ndarray) -> dict:
        return {"total": int((had_id & (planes == planes[rows[0]])).sum())}

    return Selection(dropped, values)


@check("missing-session-accepted")
def missing_session_accepted(m: Model) -> Selection:
    return Selection(
        (m.df["echo"] == "dropped") & m.ok,
        lambda rows: {"statuses": sorted(map(str, column(m, "status", rows).unique()))},
    )


def _first_time_per_sid(m: Model, which) -> "tuple":
    df = m.df
    hits = df[which]
    return hits["t_resp"].fillna(hits["t_end"]).groupby(hits["req_sid"]).min()


@check("no-reinit-after-404")
def no_reinit_after_404(m: Model) -> Selection:
    df = m.df
    t_dead = _first_time_per_sid(m, (df["status"] == 404) & df["req_sid"].notna())
    if t_dead.empty:
        return Selection(np.zeros(len(df), dtype=bool))
    return Selection(df["req_sid"].isin(t_dead.index) & (df["t_req"] > df["req_sid"].map(t_dead)))


@check("deleted-session-accepted")
def deleted_session_accepted(m: Model) -> Selection:
    df = m.df
    t_del = _first_time_per_sid(m, (df["http_method"] == "DELETE") & df["req_sid"].notna() & m.ok)
    if t_del.empty:
        return Selection(np.zeros(len(df), dtype=bool))
    later = df["req_sid"].isin(t_del.index) & (df["t_req"] > df["req_sid"].map(t_del))
    return Selection(later & m.ok)


@check("session-id-invalid-chars")
def session_id_invalid_chars(m: Model) -> Selection:
    s = m.sessions
    mask = np.zeros(len(m.df), dtype=bool)
    if s is not None and not s.empty:
        bad = s[~s["sid"].astype(str).map(lambda x: bool(VISIBLE_ASCII.match(x)))]
        mask[bad["row"].to_numpy()] = True
    return Selection(mask)


@check("session-id-unknown")
def session_id_unknown(m: Model) -> Selection:
    return Selection(m.df["echo"] == "unknown", lambda rows: {"ids": int(column(m, "req_sid", rows).nunique())})


@check("session-id-foreign")
def session_id_foreign(m: Model) -> Selection:
    return Selection(
        m.df["echo"] == "foreign",
        lambda rows: {"planes": sorted(set(column(m, "sid_issued_to", rows).astype(str)))},
    )


# ---------------------------------------------------------------- what servers do with session ids

CHURN_MIN = 5  # short, never-closed sessions on one server before a plane is said to churn
SHORT_SESSION = 3  # follow-up requests a session may have and still count as short
# 4xx statuses with a reason of their own (authentication, method, media type, size, rate)
EXPLAINED_4XX = (401, 403, 405, 406, 407, 408, 413, 415, 429)
# what servers say when they do not (or no longer) know a session id: "No valid session ID provided"
# (Python SDK before 1.24), "Session not found", "Invalid or expired session ID", "initialize first,
# then send mcp-session-id" (a load-balanced server whose instance never saw the session)
UNKNOWN_SESSION_WORDS = re.compile(
    r"session.{0,40}(unknown|invalid|expired|not found|no valid|terminated|does not exist|not exist|closed)"
    r"|(unknown|invalid|expired|no valid|no such|terminated) session|initiali[sz]e first",
    re.IGNORECASE,
)


def says_session_unknown(m: Model):
    """Responses whose words say the session id is not (or no longer) known."""
    msg = m.df["resp_msg"]
    return msg.isin([c for c in msg.cat.categories if UNKNOWN_SESSION_WORDS.search(str(c))])


def session_refused(m: Model):
    """Requests carrying a session id the server refused as ended or unknown: 404, or a 4xx saying so."""
    df = m.df
    st = df["status"]
    return df["req_sid"].notna() & ((st == 404) | (st.between(400, 499) & says_session_unknown(m)))


def _session_use(m: Model):
    """Per issued session: its scope, initialize row, follow-ups carrying it, whether a DELETE closed it."""
    df = m.df
    s = m.sessions
    carried = df.loc[df["req_sid"].isin(set(s["sid"])), ["req_sid", "http_method"]]
    uses = carried[carried["http_method"] != "DELETE"].groupby("req_sid", observed=True).size()
    closed = set(carried.loc[carried["http_method"] == "DELETE", "req_sid"])
    out = s[["sid", "plane", "endpoint", "row"]].copy()
    out["uses"] = out["sid"].map(uses).fillna(0).astype(int)
    out["closed"] = out["sid"].isin(closed)
    return out


@check("session-churn")
def session_churn(m: Model) -> Selection:
    mask = np.zeros(len(m.df), dtype=bool)
    if m.sessions is None or m.sessions.empty:
        return Selection(mask)
    use = _session_use(m)
    use["orphan"] = (use["uses"] <= SHORT_SESSION) & ~use["closed"]
    per_scope = use.groupby(["plane", "endpoint"], observed=True).agg(sessions=("sid", "size"), orphans=("orphan", "sum"))
    churning = per_scope[(per_scope["orphans"] >= CHURN_MIN) & (per_scope["orphans"] * 2 >= per_scope["sessions"])]
    if churning.empty:
        return Selection(mask)
    keys = set(churning.index)
    hit = use[[(p, e) in keys and o for p, e, o in zip(use["plane"], use["endpoint"], use["orphan"])]]
    mask[hit["row"].to_numpy()] = True
    issued = use.groupby("plane")["sid"].size()

    def values(rows: np.ndarray) -> dict:
        sel = use[use["row"].isin(rows)]
        return {"issued": int(issued.get(sel["plane"].iloc[0], 0)), "median": float(sel["uses"].median())}

    return Selection(mask, values)


@check("session-id-outside-initialize")
def session_id_outside_initialize(m: Model) -> Selection:
    df = m.df
    issuing = (df["rpc_method"] == "initialize") & m.ok
    own = df["resp_sid"].astype(object) == df["req_sid"].astype(object)  # the request's own session, repeated
    mask = df["resp_sid"].notna() & ~issuing & ~own

    def values(rows: np.ndarray) -> dict:
        return {"ids": int(column(m, "resp_sid", rows).nunique()),
                "statuses": sorted(map(str, column(m, "status", rows).unique()))}

    return Selection(mask, values)


@check("missing-session-wrong-status")
def missing_session_wrong_status(m: Model) -> Selection:
    df = m.df
    issuing = set(m.sessions["endpoint"]) if m.sessions is not None else set()
    st = df["status"]
    mask = (df["follow_up"] & df["req_sid"].isna() & df["endpoint"].astype(object).isin(issuing)
            & st.between(400, 499) & (st != 400) & ~st.isin(EXPLAINED_4XX))
    return Selection(mask, lambda rows: {"statuses": sorted(map(str, column(m, "status", rows).unique()))})


def _deleted_at(m: Model):
    """First time each session id's DELETE was accepted (2xx)."""
    df = m.df
    hits = df[(df["http_method"] == "DELETE") & df["req_sid"].notna() & m.ok]
    return hits["t_resp"].fillna(hits["t_end"]).groupby(hits["req_sid"], observed=True).min()


@check("unknown-session-wrong-status")
def unknown_session_wrong_status(m: Model) -> Selection:
    df = m.df
    refused = df["req_sid"].notna() & (df["status"] >= 300) & (df["status"] != 404)
    says_unknown = says_session_unknown(m)
    t_del = _deleted_at(m)
    after_delete = df["req_sid"].isin(t_del.index) & (df["t_req"] > df["req_sid"].map(t_del).astype(float))
    mask = refused & (says_unknown | after_delete)

    def values(rows: np.ndarray) -> dict:
        answers = [f"{s}" + (f" {msg}" if isinstance(msg, str) else "")
                   for s, msg in zip(column(m, "status", rows), column(m, "resp_msg", rows).astype(object))]
        return {"answers": sorted(set(answers))[:3]}

    return Selection(mask, values)


@check("session-flapping")
def session_flapping(m: Model) -> Selection:
    df = m.df
    dead = df[session_refused(m)]
    if dead.empty:
        return Selection(np.zeros(len(df), dtype=bool))
    t_dead = dead["t_resp"].fillna(dead["t_end"]).groupby(dead["req_sid"], observed=True).min()
    later = df["req_sid"].isin(t_dead.index) & (df["t_req"] > df["req_sid"].map(t_dead).astype(float))
    return Selection(later & m.ok, lambda rows: {"ids": int(column(m, "req_sid", rows).nunique())})


@check("session-header-duplicated")
def session_header_duplicated(m: Model) -> Selection:
    return Selection(m.df["resp_sid_n"] > 1, lambda rows: {"copies": int(column(m, "resp_sid_n", rows).max())})
