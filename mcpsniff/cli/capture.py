"""``mcpsniff capture``: record MCP traffic through a local mitmproxy into a JSONL file.

Thin: its recorder flags come from the recorder's option declarations
(:data:`mcpsniff.options.OPTIONS`), which also validate them; it runs :func:`mcpsniff.capture.run_until_stopped` with the live
summary beside it, and turns a CaptureError into ``error: ...`` and exit 2.
"""

from __future__ import annotations

import inspect
import os
import shlex
import sys
from typing import TYPE_CHECKING, Annotated, Any, Callable, Optional

import typer

from ..errors import UsageError
from ..options import _UNSET, COUNT, NAMES, PATTERNS, SIZE, SWITCH, Option, flags
from ..render.text import plural
from ..units import SIZE_HELP, size_text
from .app import app
from .common import invoked_as, reports_errors

if TYPE_CHECKING:
    from ..capture import Capture, CaptureConfig


def _ready_banner(cfg: CaptureConfig, cap: Capture, ui: list | None = None) -> None:
    host, port = cap.listen_addrs[0]
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    out = sys.stderr
    if cfg.upstream:
        print(f"mcpsniff: reverse proxy http://{where} -> {cfg.upstream}; point your MCP client at "
              f"http://{where}/<path>", file=out)
    else:
        print(f"mcpsniff: HTTP(S) proxy on http://{where}. For a local client set\n"
              f"  HTTP_PROXY=http://{where} HTTPS_PROXY=http://{where}\n"
              "  and, for HTTPS, trust the mitmproxy CA ~/.mitmproxy/mitmproxy-ca-cert.pem "
              "(e.g. SSL_CERT_FILE / NODE_EXTRA_CA_CERTS / REQUESTS_CA_BUNDLE).", file=out)
    if not cfg.recorder.redact:
        print("mcpsniff: redaction is OFF: secrets are written to the file", file=out)
    if cfg.upstream_insecure:
        print("mcpsniff: upstream TLS certificates are NOT verified (--upstream-insecure); the capture's meta line says so", file=out)
    elif cfg.upstream_ca:
        print(f"mcpsniff: upstream TLS certificates are verified against {cfg.upstream_ca}", file=out)
    if ui:
        from .capture_run import web_line

        for web_ui in ui:
            print(web_line(web_ui), file=out)
    print(f"mcpsniff: recording to {cap.output_paths[-1]} (Ctrl-C to stop)", file=out, flush=True)


def _recorder_flag(opt: Option) -> inspect.Parameter:
    """The capture command's parameter for a recorder option, from its declaration."""
    if opt.kind is SWITCH:
        help = f"{opt.help.rstrip('.')}: on by default; this flag turns it off." if opt.negated else opt.help
        ann: Any = Annotated[bool, typer.Option(opt.flag, help=help)]
        default: Any = False
    else:
        help = opt.help
        if opt.kind in (NAMES, PATTERNS):
            help += " (repeatable)"
        elif opt.kind is SIZE:
            help += f" Default {size_text(opt.default)}; {SIZE_HELP}."
        elif opt.kind is COUNT:
            help += f" Default {opt.default}."
        ann = Annotated[opt.kind.cli_type, typer.Option(opt.flag, help=help, show_default=False, metavar=opt.kind.metavar)]
        default = None
    return inspect.Parameter(opt.name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=ann)


def with_recorder_flags(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Give the command a flag per recorder option (:func:`mcpsniff.options.flags`), after
    its own parameters; the command gets them in ``**recorder``, None or False when not given."""
    sig = inspect.signature(fn, eval_str=True)
    own = [p for p in sig.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
    fn.__signature__ = sig.replace(parameters=own + [_recorder_flag(o) for o in flags()])  # type: ignore[attr-defined]
    return fn


@app.command("capture", context_settings={"allow_interspersed_args": False})
@reports_errors
@with_recorder_flags
def capture_command(
    ctx: typer.Context,
    upstream: Annotated[
        Optional[str],
        typer.Option("--upstream", "-u", help="Reverse-proxy to this MCP server (http://host:port or https://host:port). "
                     "Without it mcpsniff is a regular HTTP(S) proxy for HTTP(S)_PROXY."),
    ] = None,
    listen_host: Annotated[str, typer.Option("--listen-host", help="Address to listen on.")] = "127.0.0.1",
    listen_port: Annotated[int, typer.Option("--listen-port", help="Port to listen on (0: any free port).")] = 8080,
    output: Annotated[
        Optional[str],
        typer.Option("--output", "-o", help="JSONL file to append to (default: captures/mcpsniff-YYYYmmdd-HHMMSS.jsonl)."),
    ] = None,
    upstream_insecure: Annotated[
        bool, typer.Option("--upstream-insecure", help="Do not verify the upstream server's TLS certificate (e.g. self-signed).")
    ] = False,
    upstream_ca: Annotated[
        Optional[str], typer.Option("--upstream-ca", help="PEM file of the CA to trust for the upstream server's certificate.")
    ] = None,
    set_options: Annotated[
        Optional[list[str]],
        typer.Option("--set", help="Any mitmproxy option, NAME=VALUE, as with mitmdump --set (repeatable)."),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No live summary.")] = False,
    web: Annotated[
        bool, typer.Option("--web", help="Run mitmproxy's web UI (mitmweb) to browse the flows live; records the same.")
    ] = False,
    web_port: Annotated[int, typer.Option("--web-port", help="Port of the --web UI, on 127.0.0.1 (0: any free port).")] = 0,
    command: Annotated[
        Optional[list[str]],
        typer.Argument(metavar="[-- COMMAND [ARGS]...]",
                       help="Run this client under capture: it gets the proxy variables and trusts the mitmproxy CA; "
                            "mcpsniff exits with its status."),
    ] = None,
    **recorder: Any,
) -> None:
    """Record MCP traffic through a local mitmproxy into a JSONL file.

    With -- COMMAND, run that client under capture (forward proxy on a free port) until it exits.
    """
    # the recorder (mitmproxy) and the live summary (DuckDB) are imported by this command alone
    from ..capture import CaptureConfig, default_output, run_until_stopped
    from ..capture.recorder import RecorderOptions
    from . import capture_run, live

    given = {o.name: v for o in flags() if (v := o.from_flag(recorder.get(o.name))) is not _UNSET}
    options = RecorderOptions(lambda o: o.flag or o.name, output=output or default_output(), **given)
    if not 0 <= listen_port <= 65535:
        raise UsageError(f"--listen-port: {listen_port} is not a port (0..65535; 0 picks a free one)")
    for spec in set_options or []:
        if "=" not in spec or not spec.split("=", 1)[0].strip():
            raise UsageError(f"--set: {spec!r} is not NAME=VALUE")
    if upstream_ca is not None and not os.path.isfile(upstream_ca):
        raise UsageError(f"--upstream-ca: {upstream_ca}: no such file")
    if command and ctx.get_parameter_source("listen_port").name == "DEFAULT":
        listen_port = 0  # a command under capture gets a free port
    if command and upstream:
        raise UsageError("--upstream and a COMMAND do not go together: a command is captured through the forward proxy")
    if not 0 <= web_port <= 65535:
        raise UsageError(f"--web-port: {web_port} is not a port (0..65535; 0 picks a free one)")
    cfg = CaptureConfig(
        options,
        upstream=upstream,
        listen_host=listen_host,
        listen_port=listen_port,
        upstream_insecure=upstream_insecure,
        upstream_ca=upstream_ca,
        options=list(set_options or []),
    )
    summary = live.LiveSummary()
    err = sys.stderr

    def setup(c: Capture) -> None:
        if not quiet:  # the summary's model row of every record costs the proxy ~2 % of its CPU
            c.addon.listeners.append(summary.add)
        c.on_error = lambda msg: print(f"error: {msg}", file=err, flush=True)  # at once, not at the end
        capture_run.add_upstream_notices(c, err)
        if web:
            ui.append(capture_run.add_web_ui(c, web_port))

    ui: list = []
    if command:
        capture_run.run(cfg, command, setup=setup, summary=summary, quiet=quiet, web=ui, err=err)

    cap = run_until_stopped(
        cfg,
        setup=setup,
        beside=lambda c: live.show(c, summary, err, live_ui=not quiet and err.isatty(), quiet=quiet, interval=10.0,
                                   on_ready=lambda c2: _ready_banner(cfg, c2, ui)),
    )
    paths = " ".join(shlex.quote(p) for p in cap.output_paths)
    if not quiet:
        print(f"mcpsniff: {summary.line()}", file=err)
    print(f"mcpsniff: recorded {plural(cap.addon.stats['written'], 'exchange')} to {paths}", file=err)
    print(f"analyze with: {invoked_as()} analyze {paths}", file=err)
