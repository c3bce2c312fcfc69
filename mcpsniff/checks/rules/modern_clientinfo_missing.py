"""Request lacks _meta clientInfo."""

from __future__ import annotations

from ...model import Model
from ...model.facts import WHOLE_REQUESTS
from ..rule import IX, M_META, Rule, Selection, cite

#: place in the catalogue (reports, JSON, SARIF list rules in this order)
ORDER = 250

RULE = Rule(
    id="modern-clientinfo-missing",
    severity="warning",
    title="Request lacks _meta clientInfo",
    explanation=(
        "A 2026-07-28 request has no params._meta io.modelcontextprotocol/clientInfo. It is "
        "optional but SHOULD be sent on every request; without it servers and observers "
        "cannot tell which client (plane) sent the request, beyond the User-Agent."
    ),
    eras=("modern",),
    versions=("2026-07-28",),
    citations=(
        cite("2026-07-28", IX, M_META, "meta",
             "Clients SHOULD include io.modelcontextprotocol/clientInfo on every request "
             "unless specifically configured not to do so."),
    ),
    party="client",
    detail="{count} requests without _meta clientInfo",
)


def check(m: Model) -> Selection:
    return Selection(f"{WHOLE_REQUESTS} AND NOT meta_client")
