"""Observations that are no violation by themselves: no response, a legacy probe, refused traffic."""

from __future__ import annotations

import pandas as pd

from ..model import Model
from .engine import Selection, check, column


@check("no-response")
def no_response(m: Model) -> Selection:
    return Selection(
        m.no_response,
        lambda rows: {"errors": {k: int(v) for k, v in column(m, "error", rows).astype(str).value_counts().head(3).items()}},
    )


@check("era-probe")
def era_probe(m: Model) -> Selection:
    return Selection(m.df["era"] == "probe")


REFUSED_MIN = 3  # requests a plane needs before "most of them failed" says anything


def mostly_failed(failed, total):
    """Most of at least REFUSED_MIN requests failed, or every one did (a client that gave up after
    its first refused initialize has no working traffic either). Works on numbers and Series alike."""
    return ((total >= REFUSED_MIN) & (failed * 2 > total)) | ((total >= 1) & (failed == total))


def refusal_labels(m: Model, rows) -> pd.Series:
    """What each refused exchange's answer said: status, JSON-RPC error code and message, or the
    proxy's / client's error when no response came."""
    df = m.df.iloc[rows]
    out = []
    for s, code, msg, err in zip(df["status"], df["rpc_err"], df["resp_msg"].astype(object), df["error"].astype(object)):
        if s < 0:
            out.append(f"no response: {err}" if isinstance(err, str) else "no response")
            continue
        label = str(s)
        if code == code:  # not NaN
            label += f" (JSON-RPC {int(code)})"
        if isinstance(msg, str):
            label += f" {msg}"
        elif isinstance(err, str):
            label += f" {err}"
        out.append(label)
    return pd.Series(out, dtype=object)


@check("requests-refused")
def requests_refused(m: Model) -> Selection:
    df = m.df
    failed = (df["status"] >= 400) | (df["status"] < 0)
    mcp = m.mcp
    per_plane = pd.DataFrame({"plane": df["plane"].astype(object), "failed": failed & mcp, "mcp": mcp})
    counts = per_plane.groupby("plane").agg(failed=("failed", "sum"), total=("mcp", "sum"))
    refused = counts[mostly_failed(counts["failed"], counts["total"])]
    mask = failed & mcp & df["plane"].astype(object).isin(set(refused.index))

    def values(rows):
        plane = df["plane"].iloc[rows[0]]
        top = refusal_labels(m, rows).value_counts().head(3)
        return {"total": int(counts.loc[plane, "total"]), "answers": {str(k): int(v) for k, v in top.items()}}

    return Selection(mask, values)
