"""Checks of Streamable HTTP message framing: Accept, 202 for notifications, batches, GET streams."""

from __future__ import annotations

import pandas as pd

from ..mcp import EVENT_STREAM
from ..model import Model
from .engine import Selection, check, column


def _accept_lists(df: pd.DataFrame, media: str) -> pd.Series:
    cats = df["accept"].cat.categories
    good = [c for c in cats if media in [p.split(";", 1)[0].strip().lower() for p in str(c).split(",")]]
    return df["accept"].isin(good)


@check("accept-header-incomplete")
def accept_header_incomplete(m: Model) -> Selection:
    df = m.df
    has_json, has_sse = _accept_lists(df, "application/json"), _accept_lists(df, EVENT_STREAM)
    post_bad = (df["http_method"] == "POST") & ~(has_json & has_sse)
    get_bad = (df["era"] == "handshake") & (df["http_method"] == "GET") & ~has_sse
    return Selection(
        post_bad | get_bad,
        lambda rows: {"accepts": sorted(set(column(m, "accept", rows).astype("object").fillna("(none)").astype(str)))[:3]},
    )


@check("notification-not-202")
def notification_not_202(m: Model) -> Selection:
    df = m.df
    mask = (df["http_method"] == "POST") & df["notif_only"] & ~df["req_trunc"] & m.ok & (
        (df["status"] != 202) | (df["resp_size"] > 0)
    )

    def values(rows):
        st, size = column(m, "status", rows), column(m, "resp_size", rows)
        return {"answers": sorted({f"{s}" + (" with a body" if b > 0 else "") for s, b in zip(st, size)})}

    return Selection(mask, values)


@check("batch-not-allowed")
def batch_not_allowed(m: Model) -> Selection:
    return Selection(m.df["batch"])


@check("get-stream-response")
def get_stream_response(m: Model) -> Selection:
    df = m.df
    mask = (df["http_method"] == "GET") & df["last_event_id"].isna() & (df["get_responses"] > 0)
    return Selection(mask, lambda rows: {"responses": int(column(m, "get_responses", rows).sum())})


# 4xx/5xx answers to a GET whose reason lies elsewhere: authentication, the Accept header (the
# client's finding), rate limits, and the gateway / availability errors of requests-refused
GET_EXPLAINED = (401, 403, 406, 407, 408, 429, 502, 503, 504)


@check("get-wrong-status")
def get_wrong_status(m: Model) -> Selection:
    df = m.df
    st = df["status"]
    stream = (df["ctype"] == EVENT_STREAM) & m.ok
    # the session rules explain a 400 to a GET without the issued session id, and a 404 to one with a dead id
    session_explains = ((st == 400) & (df["echo"] == "dropped")) | ((st == 404) & df["req_sid"].notna())
    mask = ((df["http_method"] == "GET") & (df["era"] == "handshake") & (st >= 200) & ~st.between(300, 399)
            & ~stream & (st != 405) & ~st.isin(GET_EXPLAINED) & ~session_explains)

    def values(rows):
        answers = [f"{s} {c}" if isinstance(c, str) else str(s)
                   for s, c in zip(column(m, "status", rows), column(m, "ctype", rows).astype(object))]
        return {"answers": sorted(set(answers))[:3]}

    return Selection(mask, values)
