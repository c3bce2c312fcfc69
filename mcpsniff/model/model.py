"""The Model: the exchange table plus the facts later stages ask for, each computed once.

Checks read the table (``df``) and the cached columns; documents ask the
methods below and never touch ``df`` themselves.  Everything returned is plain
data (numbers, strings, lists, dicts) with times as epoch floats.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Callable

import numpy as np
import pandas as pd

from ..load import InputInfo, Problem
from ..mcp import ERA_FAMILY, LEGACY_VERSION, MODERN_VERSION, is_2xx

ECHO_CLASSES = ("echoed", "dropped", "foreign", "unknown", "none")
LATENCY_PERCENTILES = (50, 95, 99)


def _counts(s: pd.Series) -> dict[str, int]:
    vc = s.value_counts(sort=False)
    return {str(k): int(v) for k, v in vc.items() if v}


def _status_key(status: int) -> str:
    return "none" if status < 0 else str(status)


def _opt_str(x: Any) -> str | None:
    return x if isinstance(x, str) else None


@dataclass
class Model:
    df: pd.DataFrame  # one row per exchange, in time order (file order breaks ties)
    inputs: list[InputInfo]
    problems: list[Problem] = field(default_factory=list)
    sessions: pd.DataFrame | None = None  # one row per issued session

    _memo: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def empty(self) -> bool:
        return self.df.empty

    def memo(self, key: str, compute: Callable[[], Any]) -> Any:
        """A fact worked out once per model (for facts that live beside a check, not in the model)."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    # -- cached columns (for the checks) ----------------------------------------------------------
    @cached_property
    def ok(self) -> pd.Series:
        """The exchange got a 2xx response."""
        return is_2xx(self.df["status"])

    @cached_property
    def label(self) -> pd.Series:
        """Method label per exchange: the JSON-RPC method, else the HTTP method."""
        rpc = self.df["rpc_method"].astype("object")
        return rpc.where(rpc.notna(), self.df["http_method"].astype("object"))

    @cached_property
    def spec_version(self) -> pd.Series:
        """The spec version an exchange is judged by (categorical): the negotiated one (handshake),
        2026-07-28 (modern), 2024-11-05 (legacy); missing where it is unknown."""
        df = self.df
        v = df["neg_version"].astype("object")
        era = df["era"]
        v = v.where(v.notna() | (era != "modern"), MODERN_VERSION)
        v = v.where(v.notna() | (era != "legacy"), LEGACY_VERSION)
        return v.astype("category")

    def version_at_least(self, version: str) -> np.ndarray:
        """Exchanges whose spec version is known and >= ``version`` (dates compare as strings)."""
        sv = self.spec_version
        good = [c for c in sv.cat.categories if isinstance(c, str) and c >= version]
        return sv.isin(good).to_numpy()

    def in_eras(self, eras: tuple[str, ...]) -> np.ndarray:
        """Exchanges of these eras, a probe counting as the legacy transport it leads to."""
        era = self.df["era"]
        cats = [c for c in era.cat.categories if ERA_FAMILY.get(c, c) in eras]
        return era.isin(cats).to_numpy()

    @cached_property
    def mcp(self) -> pd.Series:
        return self.df["era"] != "other"

    @cached_property
    def no_response(self) -> pd.Series:
        """The exchange ended (or the capture stopped) before any response arrived: the one
        definition the ``no-response`` rule, the refusal counts and the live summary use."""
        df = self.df
        return df["error"].notna() & (df["status"] < 0)

    # -- capture-wide -----------------------------------------------------------------------------
    def planes(self) -> list[str]:
        return sorted(set(self.df["plane"].astype("object"))) if not self.empty else []

    def capture_facts(self) -> dict[str, Any]:
        df = self.df
        if df.empty:
            return {"exchanges": 0, "mcp_exchanges": 0, "start": None, "end": None, "eras": {}}
        return {
            "exchanges": int(len(df)),
            "mcp_exchanges": int(self.mcp.sum()),
            "start": float(df["t_req"].min()),
            "end": float(np.nanmax(df[["t_req", "t_end"]].to_numpy())),
            "eras": _counts(df["era"].astype("object")),
        }

    def endpoint_count(self) -> int:
        return int(self.df["endpoint"].nunique()) if not self.empty else 0

    def session_id_order(self) -> list[str]:
        """Every session id seen, in order of first appearance (a request's id before its response's)."""
        df = self.df
        if df.empty:
            return []
        both = np.empty(2 * len(df), dtype=object)
        both[0::2] = df["req_sid"].to_numpy(dtype=object)
        both[1::2] = df["resp_sid"].to_numpy(dtype=object)
        present = both[pd.notna(both)]
        return [str(x) for x in pd.unique(present)]

    # -- per plane ----------------------------------------------------------------------------------
    def plane_facts(self) -> list[dict[str, Any]]:
        """Per plane with MCP traffic (sorted by User-Agent): eras, versions, session-header
        classes, per-method counts and statuses, first/last request time."""
        df = self.df
        if df.empty:
            return []
        cols = ["plane", "era", "neg_version", "meta_pv", "echo", "status", "client_info", "t_req"]
        mcp = df.loc[self.mcp, cols]
        mcp = mcp.assign(label=self.label[self.mcp])
        issued = self.sessions["plane"].value_counts() if self.sessions is not None else pd.Series(dtype=int)
        out = []
        for plane, g in mcp.groupby(mcp["plane"].astype("object"), sort=True):
            eras = _counts(g["era"].astype("object"))
            versions = sorted(set(g["neg_version"].astype("object").dropna()) | set(g["meta_pv"].astype("object").dropna()))
            echo = {k: int(v) for k, v in g["echo"].value_counts().reindex(ECHO_CLASSES, fill_value=0).items()}
            methods = []
            for m, mg in g.groupby("label", sort=True):
                me = mg["echo"].value_counts().reindex(ECHO_CLASSES, fill_value=0)
                methods.append(
                    {
                        "method": str(m),
                        "requests": int(len(mg)),
                        **{k: int(me[k]) for k in ECHO_CLASSES},
                        "statuses": {_status_key(k): int(v) for k, v in mg["status"].value_counts().sort_index().items()},
                    }
                )
            out.append(
                {
                    "user_agent": str(plane),
                    "client_info": sorted(set(g["client_info"].astype("object").dropna())),
                    "eras": eras,
                    "versions": versions,
                    "requests": int(len(g)),
                    "sessions_issued": int(issued.get(plane, 0)),
                    "session_header": echo,
                    "methods": methods,
                    "first_seen": float(g["t_req"].min()),
                    "last_seen": float(g["t_req"].max()),
                }
            )
        return out

    def latency(self) -> dict[str, list[dict[str, Any]]]:
        """Per plane with MCP traffic, per method: how long its exchanges took, in milliseconds.

        ``response_end_ms``: request start -> response complete, over the exchanges that got a
        response; ``first_event_ms``: request start -> first SSE event, over those answered with
        an event stream.  Each is ``{"count", "p50", "p95", "p99"}`` (linear interpolation
        between the closest ranks), or None when no exchange of the method had one.
        """
        df = self.df
        if df.empty:
            return {}
        sel = self.mcp.to_numpy()
        answered = (df["status"] >= 0) & df["t_end"].notna()
        t = pd.DataFrame(
            {
                "plane": df["plane"].astype("object"),
                "method": self.label.astype("object"),
                "end": ((df["t_end"] - df["t_req"]) * 1000.0).where(answered),
                "first": (df["t_event"] - df["t_req"]) * 1000.0,
            }
        )[sel]
        if t.empty:
            return {}
        g = t.groupby(["plane", "method"], sort=True)
        size = g.size()
        qs = [p / 100 for p in LATENCY_PERCENTILES]
        stats = {}
        for col in ("end", "first"):
            n = g[col].count()
            q = g[col].quantile(qs).unstack()
            stats[col] = (n, q)

        def summary(col: str, key: tuple[str, str]) -> dict[str, Any] | None:
            n, q = stats[col]
            if not n[key]:
                return None
            row = q.loc[key]
            return {"count": int(n[key]), **{f"p{p}": round(float(row[p / 100]), 3) for p in LATENCY_PERCENTILES}}

        out: dict[str, list[dict[str, Any]]] = {}
        for key, requests in size.items():
            out.setdefault(str(key[0]), []).append(
                {"method": str(key[1]), "requests": int(requests),
                 "response_end_ms": summary("end", key), "first_event_ms": summary("first", key)}
            )
        return out

    def plane_profile(self, plane: str) -> dict[str, Any]:
        """All exchanges of one plane (MCP or not): requests, clientInfo, versions, statuses."""
        g = self.df[self.df["plane"] == plane]
        return {
            "requests": int(len(g)),
            "client_info": sorted(set(g["client_info"].astype("object").dropna())),
            "negotiated_versions": sorted(set(g["neg_version"].astype("object").dropna())),
            "protocol_version_headers": sorted(set(g["pv_hdr"].astype("object").dropna())),
            "statuses": {_status_key(k): int(v) for k, v in g["status"].value_counts().sort_index().items()},
        }

    def header_counts(self, plane: str) -> dict[str, dict[str, Any]]:
        """Per method of a plane: requests, and for every request header name how many carried it."""
        df = self.df
        sel = (df["plane"] == plane) & self.mcp
        if not sel.any():
            sel = df["plane"] == plane
        out: dict[str, dict[str, Any]] = {}
        # hnames is categorical: count per (method, header set) once, then expand
        combos = pd.DataFrame({"m": self.label[sel], "h": df.loc[sel, "hnames"].astype("object").fillna("")}).value_counts()
        for (m, h), n in combos.items():
            e = out.setdefault(str(m), {"requests": 0, "headers": {}})
            e["requests"] += int(n)
            for name in dict.fromkeys(x for x in str(h).split(",") if x):
                e["headers"][name] = e["headers"].get(name, 0) + int(n)
        return out

    def correlation(self, plane: str) -> list[dict[str, Any]]:
        """What else ties a plane's MCP requests together when the session header does not:
        ``_meta`` values such as ``openai/session``, W3C trace ids, client connections.
        Per key: how many distinct values, on how many requests (most requests first)."""
        from .rows import CORR_KV, CORR_SEP

        df = self.df
        sel = (df["plane"] == plane) & self.mcp
        out: list[dict[str, Any]] = []
        corr = df.loc[sel, "corr"]
        counts = corr.value_counts(sort=False)
        per_key: dict[str, dict[str, int]] = {}
        for encoded, n in counts.items():
            if not n:
                continue
            for pair in str(encoded).split(CORR_SEP):
                k, _, v = pair.partition(CORR_KV)
                per_key.setdefault(k, {})
                per_key[k][v] = per_key[k].get(v, 0) + int(n)
        for k, vals in per_key.items():
            out.append({"key": k, "distinct": len(vals), "requests": sum(vals.values())})
        conns = df.loc[sel, "conn"].dropna()
        if not conns.empty:
            out.append({"key": "client connection", "distinct": int(conns.nunique()), "requests": int(len(conns))})
        out.sort(key=lambda e: (-e["requests"], e["distinct"], e["key"]))
        return out

    def failures(self) -> dict[str, Any]:
        """MCP exchanges that failed (4xx/5xx or no response) out of all MCP exchanges."""
        df = self.df
        if df.empty:
            return {"failed": 0, "exchanges": 0}
        failed = ((df["status"] >= 400) | (df["status"] < 0)) & self.mcp
        return {"failed": int(failed.sum()), "exchanges": int(self.mcp.sum())}

    # -- rows ------------------------------------------------------------------------------------
    def evidence(self, rows: np.ndarray) -> list[dict[str, Any]]:
        """The exchanges at these table positions, as plain dicts (time order)."""
        sub = self.df.loc[rows]
        out = []
        for r in sub.itertuples(index=False):
            status = int(r.status)
            out.append(
                {
                    "id": r.exid,
                    "source": f"{self.inputs[r.src].name}:{r.line}",
                    "t": float(r.t_req),
                    "plane": str(r.plane),
                    "http_method": str(r.http_method),
                    "method": _opt_str(r.rpc_method),
                    "status": status if status >= 0 else None,
                    "session_id": r.req_sid,
                    "protocol_version": _opt_str(r.pv_hdr),
                    "headers": [h for h in str(r.hnames).split(",") if h] if isinstance(r.hnames, str) else [],
                    "error": _opt_str(r.error),
                }
            )
        return out

    def runs(self, planes: list[str], marked: np.ndarray) -> pd.DataFrame:
        """One row per run of consecutive identical MCP requests of each plane in ``planes``.

        Identical = same HTTP method, JSON-RPC method, session id, session-header state
        (``sent`` / ``missing`` = dropped / ``""``), mark (``error`` when the request is at a
        position in ``marked``, else ``ok``) and issued session id.  Columns: plane, t,
        http_method, method, session, header, mark, issued, count, statuses (dict).
        """
        df = self.df
        sel = df[self.mcp & df["plane"].astype("object").isin(planes)]
        if sel.empty:
            return pd.DataFrame()
        bad = np.isin(sel.index.to_numpy(), marked)
        rpc = sel["rpc_method"].astype("object")
        echo = sel["echo"].astype("object")
        header = np.where(sel["req_sid"].notna(), "sent", np.where(echo == "dropped", "missing", ""))
        init_ok = (rpc == "initialize") & is_2xx(sel["status"]) & sel["resp_sid"].notna()
        t = pd.DataFrame(
            {
                "plane": sel["plane"].astype("object"),
                "t": sel["t_req"],
                "http_method": sel["http_method"].astype("object"),
                "method": rpc,
                "session": sel["req_sid"],
                "header": header,
                "mark": np.where(bad, "error", "ok"),
                "issued": sel["resp_sid"].where(init_ok),
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
            statuses.setdefault(rid, {})[_status_key(s)] = int(n)
        runs["statuses"] = [statuses[r] for r in runs.index]
        return runs.reset_index(drop=True)
