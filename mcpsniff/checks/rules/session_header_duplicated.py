"""Server repeated the Mcp-Session-Id header in one response."""

from __future__ import annotations

from ...model import Model
from ..rule import HS, Rule, Selection, rfc9110

#: place in the catalogue (reports, JSON, SARIF list rules in this order)
ORDER = 110

RULE = Rule(
    id="session-header-duplicated",
    severity="error",
    title="Server repeated the Mcp-Session-Id header in one response",
    explanation=(
        "A response carries Mcp-Session-Id more than once. The header's value is a single "
        "token, not a list, so HTTP forbids repeating it; clients and libraries that join "
        "repeated fields send back 'abc, abc' (which is no session id: it contains a space "
        "and a comma) and get 404. Send the header once."
    ),
    eras=("handshake",),
    versions=HS[::-1],
    citations=(
        rfc9110(
            "5.3. Field Order", "section-5.3",
            "A sender MUST NOT generate multiple field lines with the same name in a message "
            "(whether in the headers or trailers) or append a field line when a field line of "
            "the same name already exists in the message, unless that field's definition "
            "allows multiple field line values to be recombined as a comma-separated list "
            "(i.e., at least one alternative of the field's definition allows a "
            "comma-separated list, such as an ABNF rule of #(values) defined in Section "
            "5.6.1).",
        ),
    ),
    party="server",
    detail="{count} responses carried Mcp-Session-Id up to {copies} times",
)


def check(m: Model) -> Selection:
    return Selection("resp_sid_n > 1", {"copies": "max(resp_sid_n)"})
