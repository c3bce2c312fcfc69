"""Server's tool result does not conform to the tool's outputSchema."""

from __future__ import annotations

from ...model import Model, facts
from ..rule import Rule, Selection, cite
from ..shared import flagged

#: place in the catalogue (reports, JSON, SARIF list rules in this order)
ORDER = 400

RULE = Rule(
    id="tool-result-schema-mismatch",
    severity="error",
    title="Server's tool result does not conform to the tool's outputSchema",
    explanation=(
        "A successful tools/call result for a tool whose tools/list entry declared an outputSchema "
        "has no structuredContent, or structuredContent that does not validate against that schema "
        "(JSON Schema 2020-12 unless the schema's $schema names another dialect). Clients that "
        "validate, as the SDKs do, reject the result and the call fails. Results flagged isError "
        "are exempt. Return structuredContent that matches the declared schema, or change the schema."
    ),
    eras=("handshake",),
    versions=("2025-06-18", "2025-11-25"),
    since="2025-06-18",
    citations=(
        cite("2025-06-18", "server/tools", "Tools / Output Schema", "output-schema",
             "Tools may also provide an output schema for validation of structured results. If an output "
             "schema is provided: Servers MUST provide structured results that conform to this schema."),
    ),
    party="server",
    detail="{what:semicolons}",
)


def check(m: Model) -> Selection:
    return flagged(m, facts.SCHEMA_MISMATCH)
