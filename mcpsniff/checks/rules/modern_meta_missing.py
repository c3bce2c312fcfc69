"""Request lacks required _meta protocol fields."""

from __future__ import annotations

from ...model import Model
from ...model.facts import WHOLE_REQUESTS
from ..rule import IX, M_META, Rule, Selection, cite

#: place in the catalogue (reports, JSON, SARIF list rules in this order)
ORDER = 240

RULE = Rule(
    id="modern-meta-missing",
    severity="error",
    title="Request lacks required _meta protocol fields",
    explanation=(
        "A 2026-07-28 request has no params._meta io.modelcontextprotocol/protocolVersion "
        "or io.modelcontextprotocol/clientCapabilities. Without a handshake these keys are "
        "the only place the server learns the version and capabilities, so the request is "
        "malformed and the server must reject it (400, JSON-RPC -32602 Invalid params)."
    ),
    eras=("modern",),
    versions=("2026-07-28",),
    citations=(
        cite("2026-07-28", IX, M_META, "meta",
             "Client requests carry the following io.modelcontextprotocol/* fields in "
             "_meta; fields marked as required MUST be included on every request."),
    ),
    party="client",
    detail="{count} requests without the required _meta keys",
)


def check(m: Model) -> Selection:
    return Selection(f"{WHOLE_REQUESTS} AND (meta_pv IS NULL OR NOT meta_caps)")
