"""``mcpsniff capture --web``: mitmproxy's web UI (mitmweb) in place of the headless proxy.

The recording is the same: the Capture adds the same addons to a ``WebMaster`` as to a
``DumpMaster``; only the master differs, and mitmweb keeps every flow in memory for its view
(a long capture grows with its traffic). The UI listens on 127.0.0.1 only, whatever address the proxy
listens on (mitmproxy 11's UI has no authentication); mitmproxy 12 protects it with a token, which
is part of the URL :func:`web_url` gives.
"""

from __future__ import annotations

import socket
from typing import Any

from ..errors import CaptureError


def check_port(host: str, port: int) -> None:
    """CaptureError unless the UI can listen on host:port (mitmweb would only fail once running)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError as e:
            raise CaptureError(f"--web-port: cannot listen on {host}:{port}: {e.strerror or e}") from None


def free_port(host: str) -> int:
    """A port nothing listens on at ``host`` right now (for the UI, whose server cannot report port 0)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class WebUI:
    """A master factory for :attr:`Capture.make_master`: options -> a mitmweb master serving its UI
    on host:port, opening no browser and logging nothing to the terminal; :attr:`url` once made."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.url: str | None = None

    def __call__(self, opts: Any) -> Any:
        from mitmproxy.tools.web.master import WebMaster

        master = WebMaster(opts, with_termlog=False)
        master.options.update(web_host=self.host, web_port=self.port, web_open_browser=False)
        self.url = web_url(master)
        return master


def web_url(master: Any) -> str:
    """The URL of the UI: mitmproxy 12's includes its access token; 11 has none."""
    url = getattr(master, "web_url", None)
    if isinstance(url, str):
        return url
    host, port = master.options.web_host, master.options.web_port
    return f"http://{f'[{host}]' if ':' in host else host}:{port}/"
