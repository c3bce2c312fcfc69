"""Observations that are no violation by themselves: no response, a legacy probe."""

from __future__ import annotations

from ..model import Model
from .engine import Selection, check, column


@check("no-response")
def no_response(m: Model) -> Selection:
    df = m.df
    return Selection(
        df["error"].notna() & (df["status"] < 0),
        lambda rows: {"errors": {k: int(v) for k, v in column(m, "error", rows).astype(str).value_counts().head(3).items()}},
    )


@check("era-probe")
def era_probe(m: Model) -> Selection:
    return Selection(m.df["era"] == "probe")
