"""The mcpsniff rule catalogue, as data.

Each :class:`Rule` names one behaviour a passive observer of MCP HTTP traffic
can judge, whose side it judges (``party``), how bad it is (``severity``:
``error`` for a MUST / MUST NOT, ``warning`` for a SHOULD, ``info`` for an
observation that is no violation) and, per spec version, the exact text it
rests on (:class:`Citation`).

Quotes are verbatim from ``docs/specification/<version>/...`` in the
``modelcontextprotocol/modelcontextprotocol`` repository with the markdown
stripped (emphasis, code spans, links, list markers) and whitespace folded.
Where a rule rests on two passages that are not adjacent, they are joined by
`` … ``.  Citations are ordered newest version first.

Eras (see ``ERAS``): ``legacy`` is the 2024-11-05 HTTP+SSE transport,
``handshake`` is Streamable HTTP with ``initialize`` (2025-03-26 .. 2025-11-25),
``modern`` is stateless Streamable HTTP (2026-07-28).

Behaviour lives here too, as data the check engine reads: ``eras`` (only
exchanges of these eras are judged), ``since`` (only exchanges whose spec version
is known and at least this), ``party`` (whose fault), ``detail`` (the finding's
one-line detail, a template the check fills with counts and names; see
:func:`mcpsniff.checks.engine.fill`).  The checks themselves live in the
topic modules of this package and only select exchanges.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..mcp import ERAS, SEVERITIES, VERSION_ERAS
PARTIES = ("client", "server", "any")
MCP = "MCP"  # the citation source of the MCP specification

SPEC_SITE = "https://modelcontextprotocol.io/specification"


@dataclass(frozen=True)
class Citation:
    version: str | None  # "2025-11-25" (MCP); None for another standard
    section: str  # heading path, e.g. "Streamable HTTP / Session Management"
    url: str  # https://modelcontextprotocol.io/specification/<version>/<page>#<anchor>
    quote: str  # the sentence(s) the rule enforces, verbatim, markdown stripped
    source: str = MCP  # "MCP", "RFC 9110", "Fetch Standard"


@dataclass(frozen=True)
class Rule:
    id: str
    severity: str  # "error" | "warning" | "info"
    title: str
    explanation: str
    eras: tuple[str, ...]
    versions: tuple[str, ...]
    citations: tuple[Citation, ...]  # one per version, newest first
    party: str  # "client" | "server" | "any"
    detail: str  # template of the finding's detail line: {count} and the check's values
    since: str | None = None  # judge only exchanges whose spec version is known and >= this
    likely_causes: tuple[str, ...] = ()  # server rules whose finding, in the same capture, explains this one


def _cite(version: str, page: str, section: str, anchor: str, quote: str) -> Citation:
    return Citation(version, section, f"{SPEC_SITE}/{version}/{page}#{anchor}", quote)


_T = "basic/transports"  # 2024-11-05 .. 2025-11-25
_SH = "basic/transports/streamable-http"  # 2026-07-28
_IX = "basic/index"

_SM = "Streamable HTTP / Session Management"
_SEND = "Streamable HTTP / Sending Messages to the Server"
_LISTEN = "Streamable HTTP / Listening for Messages from the Server"
_PVH = "Streamable HTTP / Protocol Version Header"
_BC = "Streamable HTTP / Backwards Compatibility"
_M_SEND = "Sending Messages"
_M_PVH = "Request Metadata / Protocol Version Header"
_M_VAL = "Request Metadata / Server Validation"
_M_META = "General fields / _meta"


def _rfc9110(section: str, anchor: str, quote: str) -> Citation:
    return Citation(None, section, f"https://www.rfc-editor.org/rfc/rfc9110#{anchor}", quote, "RFC 9110")


def _fetch(section: str, anchor: str, quote: str) -> Citation:
    return Citation(None, section, f"https://fetch.spec.whatwg.org/#{anchor}", quote, "Fetch Standard")


def _per_version(versions, page, section, anchor, quotes):
    """One citation per version; ``quotes`` maps version -> quote."""
    return tuple(_cite(v, page, section, anchor, quotes[v]) for v in versions)


_HS = ("2025-11-25", "2025-06-18", "2025-03-26")  # handshake versions, newest first
_PV = ("2025-11-25", "2025-06-18")  # versions with the MCP-Protocol-Version header


def _hdr(v: str) -> str:
    # 2025-11-25 spells the header MCP-Session-Id, earlier versions Mcp-Session-Id
    return "MCP-Session-Id" if v == "2025-11-25" else "Mcp-Session-Id"


_RULES: tuple[Rule, ...] = (
    # ---- handshake era: sessions -------------------------------------------------
    Rule(
        id="session-id-dropped",
        severity="error",
        title="Client dropped the Mcp-Session-Id header",
        explanation=(
            "The server issued an Mcp-Session-Id in its response to initialize, but a later "
            "request from the same client carries no Mcp-Session-Id header. The spec requires "
            "the id on every subsequent HTTP request (POST, GET, DELETE, including "
            "notifications/initialized), so the server can no longer tie the request to the "
            "session and either rejects it or serves it statelessly. Fix the client so every "
            "request after initialize repeats the issued id."
        ),
        eras=("handshake",),
        versions=_HS[::-1],
        citations=_per_version(
            _HS, _T, _SM, "session-management",
            {v: f"If an {_hdr(v)} is returned by the server during initialization, clients "
                f"using the Streamable HTTP transport MUST include it in the {_hdr(v)} header "
                f"on all of their subsequent HTTP requests." for v in _HS},
        ),
        party="client",
        detail="{count} of {total} requests after a session was issued lacked Mcp-Session-Id",
        likely_causes=("session-id-not-exposed",),
    ),
    Rule(
        id="missing-session-accepted",
        severity="warning",
        title="Server answered a request without Mcp-Session-Id with 2xx instead of 400",
        explanation=(
            "This server issues session ids at initialize, yet it answered a non-initialize "
            "request that carried no Mcp-Session-Id with a success status instead of "
            "400 Bad Request. The spec's SHOULD applies to servers that require a session id; "
            "serving the request anyway hides client bugs such as a dropped session header "
            "and usually means a second, stateless code path. Reject session-less requests "
            "with 400, or stop issuing session ids."
        ),
        eras=("handshake",),
        versions=_HS[::-1],
        citations=_per_version(
            _HS, _T, _SM, "session-management",
            {v: f"Servers that require a session ID SHOULD respond to requests without an "
                f"{_hdr(v)} header (other than initialization) with HTTP 400 Bad Request."
             for v in _HS},
        ),
        party="server",
        detail="{count} header-less requests answered {statuses} instead of 400",
    ),
    Rule(
        id="no-reinit-after-404",
        severity="error",
        title="Client kept using a session id after the server answered 404",
        explanation=(
            "The server answered 404 Not Found to a request carrying this session id, which "
            "means the session has ended, but the client sent further requests with the same "
            "id. The client must instead start a new session: a fresh initialize request "
            "without any session header. Requests already in flight when the 404 arrived are "
            "not counted."
        ),
        eras=("handshake",),
        versions=_HS[::-1],
        citations=_per_version(
            _HS, _T, _SM, "session-management",
            {v: f"When a client receives HTTP 404 in response to a request containing an "
                f"{_hdr(v)}, it MUST start a new session by sending a new InitializeRequest "
                f"without a session ID attached." for v in _HS},
        ),
        party="client",
        detail="{count} requests reused a session id after it was answered 404",
        likely_causes=("session-flapping", "session-header-duplicated"),
    ),
    Rule(
        id="deleted-session-accepted",
        severity="error",
        title="Server still served a session after accepting its DELETE",
        explanation=(
            "The client terminated the session with an HTTP DELETE that the server accepted "
            "(2xx), yet the server later answered a request carrying the same session id with "
            "a success status instead of 404 Not Found. Once a session is terminated the "
            "server must answer 404 for it; a server that cannot honour DELETE should answer "
            "the DELETE with 405 instead."
        ),
        eras=("handshake",),
        versions=_HS[::-1],
        citations=_per_version(
            _HS, _T, _SM, "session-management",
            {v: "The server MAY terminate the session at any time, after which it MUST respond "
                "to requests containing that session ID with HTTP 404 Not Found." for v in _HS},
        ),
        party="server",
        detail="{count} requests answered 2xx after their session was deleted",
    ),
    Rule(
        id="session-id-invalid-chars",
        severity="error",
        title="Server issued a session id with characters outside visible ASCII",
        explanation=(
            "The Mcp-Session-Id the server issued at initialize contains a character outside "
            "visible ASCII (0x21 to 0x7E), such as a space, a control character or non-ASCII "
            "text. Clients and proxies may mangle or reject such a header value, breaking the "
            "session. Issue ids made of visible ASCII only (for example a UUID or base64url "
            "token)."
        ),
        eras=("handshake",),
        versions=_HS[::-1],
        citations=_per_version(
            _HS, _T, _SM, "session-management",
            {v: "The session ID MUST only contain visible ASCII characters (ranging from 0x21 "
                "to 0x7E)." for v in _HS},
        ),
        party="server",
        detail="session id outside visible ASCII 0x21-0x7E",
    ),
    Rule(
        id="session-churn",
        severity="warning",
        title="Client opens many short sessions and never closes them",
        explanation=(
            "The same client (plane) initialized many sessions with one server, used each for "
            "only a few requests and never terminated any of them with DELETE. Every orphaned "
            "session holds server state until it expires, and state learned at initialize is "
            "lost on every new session (ChatGPT's connector did this for every batch of tool "
            "calls). Reuse a session while it is valid, and send DELETE with its id when it is "
            "no longer needed. A few well-used sessions, or sessions closed with DELETE, are "
            "not churn."
        ),
        eras=("handshake",),
        versions=_HS[::-1],
        citations=_per_version(
            _HS, _T, _SM, "session-management",
            {v: "Clients that no longer need a particular session (e.g., because the user is "
                "leaving the client application) SHOULD send an HTTP DELETE to the MCP endpoint "
                f"with the {_hdr(v)} header, to explicitly terminate the session." for v in _HS},
        ),
        party="client",
        detail="{count} sessions used for at most 3 requests each (median {median}) and never closed with DELETE, of {issued} issued",
    ),
    Rule(
        id="session-id-outside-initialize",
        severity="warning",
        title="Server sent an Mcp-Session-Id outside a successful initialize response",
        explanation=(
            "A response that is not the successful InitializeResult carries an Mcp-Session-Id "
            "other than the one the request already used: a fresh id minted on every response, "
            "or an id attached to an error (a 400 to a request without a session header). The "
            "spec assigns session ids only at initialization, so such an id belongs to no "
            "session; a client that adopts it sends a session id the server never issued and "
            "is refused. mcpsniff never counts these ids as issued sessions. Send "
            "Mcp-Session-Id only on the initialize response (repeating the request's own id is "
            "harmless)."
        ),
        eras=("handshake",),
        versions=_HS[::-1],
        citations=_per_version(
            _HS, _T, _SM, "session-management",
            {v: "A server using the Streamable HTTP transport MAY assign a session ID at "
                f"initialization time, by including it in an {_hdr(v)} header on the HTTP "
                "response containing the InitializeResult." for v in _HS},
        ),
        party="server",
        detail="{count} responses carried {ids} session ids no initialize issued (statuses {statuses})",
    ),
    Rule(
        id="missing-session-wrong-status",
        severity="warning",
        title="Server answered a request without Mcp-Session-Id with a 4xx other than 400",
        explanation=(
            "This server issues session ids, and it answered a non-initialize request that "
            "carried no Mcp-Session-Id with a client error other than 400 Bad Request (for "
            "example 421 Misdirected Request or 404). Clients read 404 as 'session expired, "
            "start again' and other codes as transport failures, so the missing header is "
            "never reported as such. Answer 400. (401, 403, 405, 406, 413, 415 and 429 have "
            "reasons of their own and are not counted.)"
        ),
        eras=("handshake",),
        versions=_HS[::-1],
        citations=_per_version(
            _HS, _T, _SM, "session-management",
            {v: f"Servers that require a session ID SHOULD respond to requests without an "
                f"{_hdr(v)} header (other than initialization) with HTTP 400 Bad Request."
             for v in _HS},
        ),
        party="server",
        detail="{count} header-less requests answered {statuses} instead of 400",
    ),
    Rule(
        id="unknown-session-wrong-status",
        severity="error",
        title="Server answered a request with an ended or unknown session id with something other than 404",
        explanation=(
            "A request carried a session id the server no longer honours (the client had "
            "terminated it with an accepted DELETE, or the server's own answer says the session "
            "is unknown, invalid or expired, e.g. after a restart), and the server answered "
            "with a status other than 404 Not Found, such as 400 'No valid session ID "
            "provided'. Only 404 tells the client to start a new session; other answers leave "
            "it retrying a dead id. Answer 404 for every session id you do not (or no longer) "
            "know."
        ),
        eras=("handshake",),
        versions=_HS[::-1],
        citations=_per_version(
            _HS, _T, _SM, "session-management",
            {v: "The server MAY terminate the session at any time, after which it MUST respond "
                "to requests containing that session ID with HTTP 404 Not Found." for v in _HS},
        ),
        party="server",
        detail="{count} requests with an ended or unknown session id answered {answers:semicolons}",
    ),
    Rule(
        id="session-flapping",
        severity="error",
        title="Server refused a session as ended or unknown and later served it again",
        explanation=(
            "The server answered a request carrying this session id with 404 Not Found (or with "
            "a 4xx whose message says the session is unknown, e.g. 'initialize first'), which "
            "says the session is terminated, and later answered a request with the same id "
            "with success. A terminated session must stay terminated. This is the signature "
            "of sessions held in one server instance's memory behind a load balancer without "
            "session affinity: requests that land on another instance get 404. Share session "
            "state between instances or route by Mcp-Session-Id."
        ),
        eras=("handshake",),
        versions=_HS[::-1],
        citations=_per_version(
            _HS, _T, _SM, "session-management",
            {v: "The server MAY terminate the session at any time, after which it MUST respond "
                "to requests containing that session ID with HTTP 404 Not Found." for v in _HS},
        ),
        party="server",
        detail="{count} requests served with 2xx after their session ({ids} ids) was refused as ended or unknown",
    ),
    Rule(
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
        versions=_HS[::-1],
        citations=(
            _rfc9110(
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
    ),
    # ---- handshake era: protocol version header ---------------------------------
    Rule(
        id="protocol-version-header-missing",
        severity="error",
        title="Client omitted the MCP-Protocol-Version header after initialization",
        explanation=(
            "The session negotiated protocol version 2025-06-18 or later, but a later request "
            "of that client carries no MCP-Protocol-Version header. Without it a server that "
            "cannot otherwise tell the version should assume 2025-03-26, so the client may be "
            "served under older rules than it negotiated. Send the negotiated version in "
            "MCP-Protocol-Version on every request after initialize."
        ),
        eras=("handshake",),
        versions=_PV[::-1],
        citations=_per_version(
            _PV, _T, _PVH, "protocol-version-header",
            {v: "If using HTTP, the client MUST include the MCP-Protocol-Version: "
                "<protocol-version> HTTP header on all subsequent requests to the MCP server, "
                "allowing the MCP server to respond based on the MCP protocol version."
             for v in _PV},
        ),
        party="client",
        detail="{count} requests after initialize without MCP-Protocol-Version",
        since="2025-06-18",
    ),
    Rule(
        id="protocol-version-header-mismatch",
        severity="warning",
        title="Client sent an MCP-Protocol-Version other than the negotiated one",
        explanation=(
            "The MCP-Protocol-Version header of a later request differs from the protocol "
            "version the server returned in its initialize response (also when the server "
            "negotiated an older version, e.g. 2024-11-05 over Streamable HTTP, and the client "
            "keeps sending its own). The spec says the header "
            "SHOULD carry the negotiated version (a SHOULD, not a MUST), so the server may "
            "apply the rules of a version the two sides never agreed on. Send exactly the "
            "protocolVersion from the InitializeResult."
        ),
        eras=("handshake",),
        versions=_PV[::-1],
        citations=_per_version(
            _PV, _T, _PVH, "protocol-version-header",
            {v: "The protocol version sent by the client SHOULD be the one negotiated during "
                "initialization." for v in _PV},
        ),
        party="client",
        detail="sent {sent} where {negotiated} was negotiated",
    ),
    Rule(
        id="protocol-version-invalid-accepted",
        severity="error",
        title="Server accepted a request with an invalid MCP-Protocol-Version",
        explanation=(
            "A request carried an MCP-Protocol-Version header whose value is not any published "
            "protocol version, and the server answered it with a success status. The spec "
            "requires 400 Bad Request for an invalid or unsupported version (2026-07-28: with "
            "an UnsupportedProtocolVersionError listing the supported versions). Validate the "
            "header and reject unknown values."
        ),
        eras=("handshake", "modern"),
        versions=("2025-06-18", "2025-11-25", "2026-07-28"),
        citations=(
            _cite("2026-07-28", _SH, _M_PVH, "protocol-version-header",
                  "If the server does not implement the requested protocol version (whether the "
                  "version is unknown to the server, or is a known version the server has chosen "
                  "not to support), it MUST respond with 400 Bad Request and an "
                  "UnsupportedProtocolVersionError listing its supported versions."),
        ) + _per_version(
            _PV, _T, _PVH, "protocol-version-header",
            {v: "If the server receives a request with an invalid or unsupported "
                "MCP-Protocol-Version, it MUST respond with 400 Bad Request." for v in _PV},
        ),
        party="server",
        detail="accepted MCP-Protocol-Version {values}",
    ),
    # ---- Streamable HTTP: message framing ---------------------------------------
    Rule(
        id="accept-header-incomplete",
        severity="error",
        title="Client's Accept header lacks a required media type",
        explanation=(
            "A POST to the MCP endpoint did not list both application/json and "
            "text/event-stream in its Accept header, or a GET did not list text/event-stream. "
            "The server chooses per request between a JSON body and an SSE stream, so a client "
            "that does not accept both may be refused (often 406) or fail to read the reply. "
            "Send 'Accept: application/json, text/event-stream' on every POST."
        ),
        eras=("handshake", "modern"),
        versions=_HS[::-1] + ("2026-07-28",),
        citations=(
            _cite("2026-07-28", _SH, _M_SEND, "sending-messages",
                  "The client MUST include an Accept header listing both application/json and "
                  "text/event-stream as supported content types."),
        ) + _per_version(
            _HS, _T, _SEND + " (POST); " + _LISTEN + " (GET)",
            "sending-messages-to-the-server",
            {v: "The client MUST include an Accept header, listing both application/json and "
                "text/event-stream as supported content types. … The client MUST include an "
                "Accept header, listing text/event-stream as a supported content type."
             for v in _HS},
        ),
        party="client",
        detail="Accept seen: {accepts:semicolons}",
    ),
    Rule(
        id="notification-not-202",
        severity="error",
        title="Server accepted a notification/response POST without 202 Accepted",
        explanation=(
            "The POST body held only JSON-RPC notifications or responses, and the server "
            "accepted it with a 2xx status other than 202, or with 202 and a body. The spec "
            "requires exactly 202 Accepted with no body when such input is accepted (an error "
            "status when it is not). Clients that wait for or parse a body here can hang or "
            "misreport errors."
        ),
        eras=("handshake", "modern"),
        versions=_HS[::-1] + ("2026-07-28",),
        citations=(
            _cite("2026-07-28", _SH, _M_SEND, "sending-messages",
                  "If the body is a JSON-RPC notification: If the server accepts it, the server "
                  "MUST return HTTP status code 202 Accepted with no body."),
            _cite("2025-11-25", _T, _SEND, "sending-messages-to-the-server",
                  "If the input is a JSON-RPC response or notification: If the server accepts "
                  "the input, the server MUST return HTTP status code 202 Accepted with no body."),
            _cite("2025-06-18", _T, _SEND, "sending-messages-to-the-server",
                  "If the input is a JSON-RPC response or notification: If the server accepts "
                  "the input, the server MUST return HTTP status code 202 Accepted with no body."),
            _cite("2025-03-26", _T, _SEND, "sending-messages-to-the-server",
                  "If the input consists solely of (any number of) JSON-RPC responses or "
                  "notifications: If the server accepts the input, the server MUST return HTTP "
                  "status code 202 Accepted with no body."),
        ),
        party="server",
        detail="answered {answers}",
    ),
    Rule(
        id="batch-not-allowed",
        severity="error",
        title="Client sent a JSON-RPC batch the negotiated version does not allow",
        explanation=(
            "The POST body is a JSON array (a JSON-RPC batch), but batching exists only in "
            "protocol version 2025-03-26; from 2025-06-18 on the body must be a single "
            "JSON-RPC message. A server of the negotiated version may reject or misread the "
            "array. Send each message as its own POST."
        ),
        eras=("handshake", "modern"),
        versions=("2025-06-18", "2025-11-25", "2026-07-28"),
        citations=(
            _cite("2026-07-28", _SH, _M_SEND, "sending-messages",
                  "The body of the HTTP POST MUST be a single JSON-RPC request or notification."),
        ) + _per_version(
            _PV, _T, _SEND, "sending-messages-to-the-server",
            {v: "The body of the POST request MUST be a single JSON-RPC request, notification, "
                "or response." for v in _PV},
        ),
        party="client",
        detail="{count} JSON array (batch) bodies",
        since="2025-06-18",
    ),
    Rule(
        id="get-stream-response",
        severity="error",
        title="Server sent a JSON-RPC response on a GET SSE stream",
        explanation=(
            "On the SSE stream the client opened with GET (not a resumption: no Last-Event-ID), "
            "the server sent a JSON-RPC response. Responses belong on the stream or body of "
            "the POST that carried the request; a client that does not expect them on the GET "
            "stream may drop them and hang waiting for the reply."
        ),
        eras=("handshake",),
        versions=_HS[::-1],
        citations=_per_version(
            _HS, _T, _LISTEN, "listening-for-messages-from-the-server",
            {v: "The server MUST NOT send a JSON-RPC response on the stream unless resuming a "
                "stream associated with a previous client request." for v in _HS},
        ),
        party="server",
        detail="{responses} JSON-RPC responses on GET streams",
    ),
    Rule(
        id="get-wrong-status",
        severity="error",
        title="Server answered a GET on the MCP endpoint with neither an event stream nor 405",
        explanation=(
            "The client opened the optional GET stream and the server answered with something "
            "other than text/event-stream or 405 Method Not Allowed, and no session rule "
            "explains it (a 400 to a GET lacking the issued session id, or a 404 to a GET "
            "with a dead one, are correct and not counted). Clients treat any other answer as "
            "a broken transport and reconnect in a loop (Cursor against a stateless server "
            "answering 400). A server without a GET stream must answer 405."
        ),
        eras=("handshake",),
        versions=_HS[::-1],
        citations=_per_version(
            _HS, _T, _LISTEN, "listening-for-messages-from-the-server",
            {v: "The server MUST either return Content-Type: text/event-stream in response to "
                "this HTTP GET, or else return HTTP 405 Method Not Allowed, indicating that the "
                "server does not offer an SSE stream at this endpoint." for v in _HS},
        ),
        party="server",
        detail="{count} GETs answered {answers:semicolons}",
    ),
    # ---- browsers (CORS, the Fetch standard) ---------------------------------------
    Rule(
        id="session-id-not-exposed",
        severity="error",
        title="Server does not expose Mcp-Session-Id to browser clients",
        explanation=(
            "A browser-originated initialize (it has an Origin from another origin) got an "
            "Mcp-Session-Id, but the response's Access-Control-Expose-Headers does not list it. "
            "Browsers hide every response header outside the CORS-safelisted few unless it is "
            "exposed, so the page cannot read the id and its next request necessarily lacks "
            "it, however correct the client is. Add 'Access-Control-Expose-Headers: "
            "Mcp-Session-Id' (e.g. expose_headers=['Mcp-Session-Id'] in Starlette's "
            "CORSMiddleware)."
        ),
        eras=("handshake",),
        versions=_HS[::-1],
        citations=(
            _fetch(
                "Responses / CORS filtered response", "concept-filtered-response-cors",
                "A CORS filtered response is a filtered response whose type is \"cors\" and header "
                "list excludes any headers in internal response's header list whose name is not a "
                "CORS-safelisted response-header name, given internal response's CORS-exposed "
                "header-name list.",
            ),
        ) + _per_version(
            _HS, _T, _SM, "session-management",
            {v: f"If an {_hdr(v)} is returned by the server during initialization, clients "
                f"using the Streamable HTTP transport MUST include it in the {_hdr(v)} header "
                f"on all of their subsequent HTTP requests." for v in _HS},
        ),
        party="server",
        detail="{count} initialize responses to {origins} exposed only: {exposed}",
    ),
    Rule(
        id="cors-preflight-blocks-mcp-headers",
        severity="error",
        title="CORS preflight does not allow the MCP request headers",
        explanation=(
            "A browser asked in a CORS preflight (OPTIONS with Access-Control-Request-Headers) "
            "to send MCP headers such as mcp-session-id or mcp-protocol-version, and the "
            "server's answer did not allow them (Access-Control-Allow-Headers lacks them, or "
            "the preflight was not answered with an ok status). The browser then never sends "
            "the request at all ('Failed to fetch'), typically right after initialize, leaving "
            "the session half-open. Allow mcp-session-id, mcp-protocol-version and "
            "last-event-id (and mcp-method, mcp-name for 2026-07-28) in "
            "Access-Control-Allow-Headers."
        ),
        eras=("handshake", "modern"),
        versions=_HS[::-1] + ("2026-07-28",),
        citations=(
            _fetch(
                "CORS-preflight fetch", "cors-preflight-fetch",
                "For each unsafeName of the CORS-unsafe request-header names with request's "
                "header list, if unsafeName is not a byte-case-insensitive match for an item in "
                "headerNames and request's credentials mode is \"include\" or headerNames does "
                "not contain `*`, return a network error.".replace("`", ""),
            ),
        ) + _per_version(
            _PV, _T, _PVH, "protocol-version-header",
            {v: "If using HTTP, the client MUST include the MCP-Protocol-Version: "
                "<protocol-version> HTTP header on all subsequent requests to the MCP server, "
                "allowing the MCP server to respond based on the MCP protocol version."
             for v in _PV},
        ),
        party="server",
        detail="{count} preflights did not allow {headers} (statuses {statuses})",
    ),
    # ---- modern era (2026-07-28) -------------------------------------------------
    Rule(
        id="modern-header-mismatch",
        severity="error",
        title="Request metadata headers missing or not matching the body",
        explanation=(
            "A 2026-07-28 request lacks MCP-Protocol-Version, Mcp-Method or (for tools/call, "
            "prompts/get, resources/read) Mcp-Name, or a header differs from the body value it "
            "mirrors: _meta io.modelcontextprotocol/protocolVersion, method, params.name or "
            "params.uri (Mcp-Name may be base64-encoded as =?base64?...?=). Intermediaries "
            "route on these headers, so the server must reject such a request with "
            "400 Bad Request and JSON-RPC error -32020 (HeaderMismatch). Fix the client to "
            "mirror the body exactly."
        ),
        eras=("modern",),
        versions=("2026-07-28",),
        citations=(
            _cite("2026-07-28", _SH, "Sending Messages; Request Metadata / Server Validation",
                  "request-metadata",
                  "The client MUST include the request metadata headers on each POST request. … "
                  "Validation failure conditions include: A required standard header "
                  "(MCP-Protocol-Version, Mcp-Method, Mcp-Name) is missing. A header value does "
                  "not match the corresponding request body value."),
        ),
        party="client",
        detail="headers absent or not equal to the body: {headers}",
    ),
    Rule(
        id="modern-header-mismatch-accepted",
        severity="error",
        title="Server accepted a request whose metadata headers do not match the body",
        explanation=(
            "A 2026-07-28 request had a missing or mismatching MCP-Protocol-Version, Mcp-Method "
            "or Mcp-Name header, and the server answered it with a success status. Servers "
            "that process the body must reject it with 400 Bad Request and JSON-RPC error "
            "-32020 (HeaderMismatch), because components that route on the header and the "
            "server that executes the body would otherwise disagree."
        ),
        eras=("modern",),
        versions=("2026-07-28",),
        citations=(
            _cite("2026-07-28", _SH, _M_VAL, "server-validation",
                  "Servers that process the request body MUST reject requests where the values "
                  "specified in the headers do not match the corresponding values in the "
                  "request body."),
        ),
        party="server",
        detail="{count} mismatched requests answered 2xx instead of 400",
    ),
    Rule(
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
            _cite("2026-07-28", _IX, _M_META, "meta",
                  "Client requests carry the following io.modelcontextprotocol/* fields in "
                  "_meta; fields marked as required MUST be included on every request."),
        ),
        party="client",
        detail="{count} requests without the required _meta keys",
    ),
    Rule(
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
            _cite("2026-07-28", _IX, _M_META, "meta",
                  "Clients SHOULD include io.modelcontextprotocol/clientInfo on every request "
                  "unless specifically configured not to do so."),
        ),
        party="client",
        detail="{count} requests without _meta clientInfo",
    ),
    # ---- observations (no violation) ---------------------------------------------
    Rule(
        id="session-id-unknown",
        severity="info",
        title="Requests carry a session id whose issue was not captured",
        explanation=(
            "Requests carry an Mcp-Session-Id that no captured initialize response issued. "
            "This usually means the capture started mid-session (or the initialize went "
            "through another path), so session rules for this id are judged only from what "
            "was seen. It is not a violation by itself."
        ),
        eras=("handshake",),
        versions=_HS[::-1],
        citations=_per_version(
            _HS, _T, _SM, "session-management",
            {v: 'An MCP "session" consists of logically related interactions between a client '
                "and a server, beginning with the initialization phase." for v in _HS},
        ),
        party="client",
        detail="{ids} session ids never seen issued",
        likely_causes=("session-id-outside-initialize", "session-header-duplicated"),
    ),
    Rule(
        id="session-id-foreign",
        severity="info",
        title="A client uses a session id issued to another client",
        explanation=(
            "Requests from one plane (User-Agent) carry a session id that the server issued in "
            "answer to another plane's initialize. A session is between one client and the "
            "server, so this points to shared state between two client components, or to a "
            "proxy rewriting traffic; it is worth a look but is not by itself a violation."
        ),
        eras=("handshake",),
        versions=_HS[::-1],
        citations=_per_version(
            _HS, _T, _SM, "session-management",
            {v: 'An MCP "session" consists of logically related interactions between a client '
                "and a server, beginning with the initialization phase." for v in _HS},
        ),
        party="client",
        detail="ids issued to: {planes}",
    ),
    Rule(
        id="no-response",
        severity="info",
        title="Exchange never received a response",
        explanation=(
            "The HTTP exchange ended (or the capture stopped) before a response, or before the "
            "JSON-RPC response on its SSE stream, was seen. Disconnections may happen at any "
            "time, so this is not a violation by itself; rules that need the response are not "
            "applied to this exchange."
        ),
        eras=ERAS,
        versions=tuple(VERSION_ERAS),
        citations=(
            _cite("2026-07-28", _SH, _M_SEND, "sending-messages",
                  "If the body is a JSON-RPC request, the server MUST return either Content-Type: "
                  "application/json (a single JSON object) or Content-Type: text/event-stream "
                  "(an SSE response stream)."),
            _cite("2025-11-25", _T, _SEND, "sending-messages-to-the-server",
                  "The SSE stream SHOULD eventually include a JSON-RPC response for the JSON-RPC "
                  "request sent in the POST body."),
            _cite("2025-06-18", _T, _SEND, "sending-messages-to-the-server",
                  "The SSE stream SHOULD eventually include JSON-RPC response for the JSON-RPC "
                  "request sent in the POST body."),
            _cite("2025-03-26", _T, _SEND, "sending-messages-to-the-server",
                  "The SSE stream SHOULD eventually include one JSON-RPC response per each "
                  "JSON-RPC request sent in the POST body."),
            _cite("2024-11-05", _T, "HTTP with SSE", "http-with-sse",
                  "Server messages are sent as SSE message events, with the message content "
                  "encoded as JSON in the event data."),
        ),
        party="server",
        detail="{errors:semicolons}",
    ),
    Rule(
        id="requests-refused",
        severity="info",
        title="Most of this client's requests were refused or got no response",
        explanation=(
            "Most (at least 3) of this plane's MCP requests, or every one of them, were "
            "answered with an error status (4xx/5xx) or got no response at all. Whatever else is true, this traffic did not "
            "work, so its verdict is never a plain 'ok'. The answers are quoted as the server "
            "(or the proxy in between) gave them: status, JSON-RPC error code and message, or "
            "the connection error, most frequent first. Common causes: a version or session "
            "mismatch the server rejects, missing authentication, or the capture proxy failing "
            "to reach the server (e.g. 'Certificate verify failed' in front of a self-signed "
            "server: pass --upstream-insecure or --upstream-ca)."
        ),
        eras=ERAS,
        versions=tuple(VERSION_ERAS),
        citations=(
            _cite("2026-07-28", _SH, _M_SEND, "sending-messages",
                  "If the body is a JSON-RPC request, the server MUST return either Content-Type: "
                  "application/json (a single JSON object) or Content-Type: text/event-stream "
                  "(an SSE response stream)."),
        ) + _per_version(
            _HS, _T, _SEND, "sending-messages-to-the-server",
            {v: "If the input is a JSON-RPC request, the server MUST either return Content-Type: "
                "text/event-stream, to initiate an SSE stream, or Content-Type: application/json, "
                "to return one JSON object." for v in _HS},
        ),
        party="any",
        detail="{count} of {total} requests failed: {answers:semicolons}",
    ),
    Rule(
        id="era-probe",
        severity="info",
        title="Client probed for the legacy HTTP+SSE transport",
        explanation=(
            "The client POSTed to the server URL, got 400, 404 or 405, and then opened a GET "
            "expecting an SSE stream with an endpoint event. This is the documented fallback "
            "of a client that supports both the Streamable HTTP and the 2024-11-05 HTTP+SSE "
            "transports, not an error. (2025-03-26 and 2025-06-18 allow the fallback on any "
            "4xx.)"
        ),
        eras=ERAS,
        versions=("2025-03-26", "2025-06-18", "2025-11-25", "2026-07-28"),
        citations=(
            _cite("2026-07-28", _SH, "Backward Compatibility / HTTP+SSE Transport (2024-11-05)",
                  "backward-compatibility",
                  "If it fails with HTTP status code 400 Bad Request, 404 Not Found, or 405 "
                  "Method Not Allowed and the response body is not a recognized modern JSON-RPC "
                  "error (a modern server returns one for unsupported version, unknown method, "
                  "or header-validation failure): Issue a GET request to the server URL, "
                  "expecting that this will open an SSE stream and return an endpoint event as "
                  "the first event."),
            _cite("2025-11-25", _T, _BC, "backwards-compatibility",
                  'If it fails with the following HTTP status codes "400 Bad Request", "404 Not '
                  'Found" or "405 Method Not Allowed": Issue a GET request to the server URL, '
                  "expecting that this will open an SSE stream and return an endpoint event as "
                  "the first event."),
            _cite("2025-06-18", _T, _BC, "backwards-compatibility",
                  "If it fails with an HTTP 4xx status code (e.g., 405 Method Not Allowed or 404 "
                  "Not Found): Issue a GET request to the server URL, expecting that this will "
                  "open an SSE stream and return an endpoint event as the first event."),
            _cite("2025-03-26", _T, _BC, "backwards-compatibility",
                  "If it fails with an HTTP 4xx status code (e.g., 405 Method Not Allowed or 404 "
                  "Not Found): Issue a GET request to the server URL, expecting that this will "
                  "open an SSE stream and return an endpoint event as the first event."),
        ),
        party="client",
        detail="POST initialize refused, then legacy SSE",
    ),
)

RULES: dict[str, Rule] = {r.id: r for r in _RULES}


def get(rule_id: str) -> Rule:
    """The rule called ``rule_id``; KeyError naming the known ids otherwise."""
    try:
        return RULES[rule_id]
    except KeyError:
        raise KeyError(
            f"unknown rule id {rule_id!r}; known ids: {', '.join(RULES)}"
        ) from None


def citation_for(rule_id: str, version: str | None) -> Citation:
    """The citation a finding quotes: for a rule resting on the MCP spec, the one for ``version``
    (else the newest); for a rule resting on another standard first (RFC 9110, Fetch), that one."""
    rule = get(rule_id)
    if rule.citations[0].source != MCP:
        return rule.citations[0]
    for citation in rule.citations:
        if citation.version == version:
            return citation
    return rule.citations[0]
