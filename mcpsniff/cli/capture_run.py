"""What ``mcpsniff capture`` adds for ``-- COMMAND`` (run a client under capture), ``--web``
(mitmweb in place of the headless proxy) and the upstream-failure lines, shared by every mode.

``capture.py`` parses the options and calls in here; the lines and exit codes are decided here,
the work is done by ``capture.child``, ``capture.web`` and ``capture.upstream_errors``.
"""

from __future__ import annotations

import shlex
from typing import Any, TextIO

import typer

from ..capture import Capture, CaptureConfig
from ..capture.child import CommandNotFound, ca_cert, run_command
from ..capture.upstream_errors import UpstreamErrors
from ..capture.web import WebUI, check_port, free_port
from ..render.text import plural
from .common import fail, invoked_as

EXIT_NOT_FOUND = 127  # as a shell reports a command it cannot find


def add_upstream_notices(cap: Capture, err: TextIO) -> None:
    """The first certificate failure, refused connection or unresolved name per server, said at once."""
    cap.extra_addons.append(UpstreamErrors(lambda line: print(f"mcpsniff: {line}", file=err, flush=True)))


WEB_HOST = "127.0.0.1"  # the UI is for the person at this machine, whatever --listen-host says


def add_web_ui(cap: Capture, port: int) -> WebUI:
    """Serve mitmweb's UI on 127.0.0.1:port (0: a free port) instead of running headless."""
    if port:
        check_port(WEB_HOST, port)
    ui = WebUI(WEB_HOST, port or free_port(WEB_HOST))
    cap.make_master = ui
    return ui


def web_line(ui: WebUI) -> str:
    return f"mcpsniff: mitmweb shows the flows live at {ui.url}"


def run(cfg: CaptureConfig, argv: list[str], *, setup: Any, summary: Any, quiet: bool, web: list[WebUI],
        err: TextIO) -> None:
    """Run ``argv`` under capture and exit with its status (127: no such command)."""

    def on_ready(cap: Capture, env: dict[str, str]) -> None:
        host, port = cap.listen_addrs[0]
        print(f"mcpsniff: running {shlex.join(argv)} through the proxy {env['HTTPS_PROXY']}; "
              f"it trusts the mitmproxy CA {ca_cert(cap.confdir)}", file=err)
        for ui in web:  # filled by setup when --web
            print(web_line(ui), file=err)
        if not cfg.recorder.redact:
            print("mcpsniff: redaction is OFF: secrets are written to the file", file=err)
        if cfg.upstream_insecure:
            print("mcpsniff: upstream TLS certificates are NOT verified (--upstream-insecure)", file=err)
        print(f"mcpsniff: recording to {cap.output_paths[-1]}", file=err, flush=True)

    try:
        cap, status = run_command(cfg, argv, setup=setup, on_ready=on_ready)
    except CommandNotFound as e:
        raise fail(str(e), EXIT_NOT_FOUND) from None
    paths = " ".join(shlex.quote(p) for p in cap.output_paths)
    if cap.addon.stats['written'] == 0:
        print(f"mcpsniff: {shlex.quote(argv[0])} made no MCP request through the proxy: {paths} holds no exchange "
              "(a client that ignores HTTP(S)_PROXY goes direct; see docs/capture.md)", file=err)
    else:
        if not quiet:
            print(f"mcpsniff: {summary.line()}", file=err)
        print(f"mcpsniff: recorded {plural(cap.addon.stats['written'], 'exchange')} to {paths}", file=err)
        print(f"analyze with: {invoked_as()} analyze {paths}", file=err)
    if status:
        print(f"mcpsniff: {shlex.quote(argv[0])} exited with status {status}", file=err)
    raise typer.Exit(status)
