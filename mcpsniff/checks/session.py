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
