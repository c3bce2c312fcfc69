"""Checks of 2026-07-28 (stateless) requests: metadata headers mirror the body, required _meta keys."""

from __future__ import annotations

import base64
import binascii

from ..mcp import NAMED_METHODS
from ..model import Model
from .cors import tuples_in
from .engine import Selection, check, in_list

#: whole (untruncated, unbatched) JSON-RPC requests
REQUESTS = "(has_id AND rpc_method IS NOT NULL AND NOT batch AND NOT req_trunc)"
BASE = f"(http_method = 'POST' AND {REQUESTS} AND era = 'modern')"
PV_BAD = "(pv_hdr IS NULL OR (meta_pv IS NOT NULL AND pv_hdr <> meta_pv))"
METHOD_BAD = "(mcp_method_hdr IS DISTINCT FROM rpc_method)"


def decode_mcp_name(value: object) -> object:
    """``=?base64?...?=`` encoded Mcp-Name values are compared decoded (2026-07-28)."""
    if isinstance(value, str) and value.startswith("=?base64?") and value.endswith("?="):
        try:
            return base64.b64decode(value[9:-2], validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return value
    return value


def _name_bad(m: Model) -> str:
    """Named requests whose (decoded) Mcp-Name differs from the body's name or uri (tested per distinct pair)."""
    def make() -> str:
        pairs = m.rows(f"""SELECT DISTINCT mcp_name_hdr, name_param FROM m WHERE {BASE}
                           AND rpc_method IN {in_list(list(NAMED_METHODS))} AND name_param IS NOT NULL""")
        bad = [(h, n) for h, n in pairs if decode_mcp_name(h) != n]
        if not bad:
            return "FALSE"
        return (f"(rpc_method IN {in_list(list(NAMED_METHODS))} AND name_param IS NOT NULL AND "
                f"{tuples_in(bad, ['mcp_name_hdr', 'name_param'])})")
    return m.memo("modern-name-bad", make)


def mismatch(m: Model) -> str:
    return f"({BASE} AND ({PV_BAD} OR {METHOD_BAD} OR {_name_bad(m)}))"


@check("modern-header-mismatch")
def modern_header_mismatch(m: Model) -> Selection:
    counts = {"MCP-Protocol-Version": PV_BAD, "Mcp-Method": METHOD_BAD, "Mcp-Name": _name_bad(m)}
    names = list(counts)
    return Selection(mismatch(m), {n: f"count(*) FILTER ({counts[n]})" for n in names},
                     post=lambda v: {"headers": {n: int(v[n]) for n in names if v.get(n)}})


@check("modern-header-mismatch-accepted")
def modern_header_mismatch_accepted(m: Model) -> Selection:
    return Selection(f"{mismatch(m)} AND {Model.OK}")


@check("modern-meta-missing")
def modern_meta_missing(m: Model) -> Selection:
    return Selection(f"{REQUESTS} AND (meta_pv IS NULL OR NOT meta_caps)")


@check("modern-clientinfo-missing")
def modern_clientinfo_missing(m: Model) -> Selection:
    return Selection(f"{REQUESTS} AND NOT meta_client")
