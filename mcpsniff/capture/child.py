"""``mcpsniff capture -- COMMAND``: run a client under capture.

The proxy starts first (so its CA exists), then the command runs with an environment that
sends its HTTP(S) through the proxy and makes it trust the proxy's CA:

- the proxy variables in both spellings (``HTTP_PROXY``/``http_proxy``, ``HTTPS_PROXY``,
  ``ALL_PROXY``), and no ``NO_PROXY``/``no_proxy`` at all, so a server on 127.0.0.1 is captured
  too;
- one CA bundle file, the mitmproxy CA followed by the system's roots, for ``SSL_CERT_FILE``
  (OpenSSL, Python's ssl and httpx, Go, rustls-native-certs), ``REQUESTS_CA_BUNDLE``,
  ``CURL_CA_BUNDLE`` and ``NODE_EXTRA_CA_CERTS``; it lives in a private temporary directory
  removed when the capture ends;
- Node's fetch made to honour the proxy: ``NODE_USE_ENV_PROXY=1`` (Node 22.21+, 24+) and, for
  older Node, ``NODE_OPTIONS=--require node_env_proxy.cjs`` (shipped with mcpsniff), which
  installs a tunnelling dispatcher only where Node does not honour the variable itself.

The command's status is the capture's status. Signals: a Ctrl-C typed in the terminal reaches
the command directly (it shares the terminal's process group), so it is not sent again; a
SIGINT sent to mcpsniff alone, and SIGTERM / SIGHUP, are passed on to the command. The proxy
stops only once the command has exited. Nothing here prints: the CLI is handed the lines.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import shutil
import signal
import ssl
import tempfile
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

from ..errors import CaptureError
from .proxy import Capture, CaptureConfig

PRELOAD = Path(__file__).with_name("node_env_proxy.cjs")
CA_NAME = "mitmproxy-ca-cert.pem"
PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")
NO_PROXY_VARS = ("NO_PROXY", "no_proxy")
CA_VARS = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS")
# further tools' CA bundle variables: pointed at the bundle too when the environment already sets them
# (they would otherwise name a bundle without the mitmproxy CA)
CA_VARS_IF_SET = ("GIT_SSL_CAINFO", "PIP_CERT", "AWS_CA_BUNDLE", "HTTPLIB2_CA_CERTS", "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH",
                  "NIX_SSL_CERT_FILE", "CLOUDSDK_CORE_CUSTOM_CA_CERTS_FILE", "DENO_CERT", "NPM_CONFIG_CAFILE")
# where Linux distributions keep the system's roots, when Python's OpenSSL does not say
_SYSTEM_BUNDLES = (
    "/etc/ssl/certs/ca-certificates.crt",  # Debian, Ubuntu, Alpine, Arch
    "/etc/pki/tls/certs/ca-bundle.crt",  # Fedora, RHEL
    "/etc/ssl/ca-bundle.pem",  # openSUSE
    "/etc/ssl/cert.pem",  # macOS, BSD
)


class CommandNotFound(CaptureError):
    """The command to run under capture is not a file nor on PATH (the CLI exits 127)."""


def find_command(name: str, path: str | None = None) -> str | None:
    """The executable a command name runs, or None (a name with a slash must be an executable file)."""
    if os.sep in name:
        return name if os.path.isfile(name) and os.access(name, os.X_OK) else None
    return shutil.which(name, path=path)


def ca_cert(confdir: str) -> str:
    """The mitmproxy CA certificate (PEM) in a confdir; CaptureError if mitmproxy made none."""
    path = os.path.join(os.path.expanduser(confdir), CA_NAME)
    if not os.path.isfile(path):
        raise CaptureError(f"the mitmproxy CA {path} does not exist; check that {os.path.dirname(path)} is writable")
    return path


def system_roots() -> str | None:
    """A PEM file of the system's trusted roots: OpenSSL's default, a distribution's bundle, or certifi's."""
    paths = ssl.get_default_verify_paths()
    for cand in (os.environ.get("SSL_CERT_FILE"), paths.cafile, paths.openssl_cafile, *_SYSTEM_BUNDLES):
        if cand and os.path.isfile(cand):
            return cand
    try:
        import certifi
    except ImportError:
        return None
    return certifi.where()


def write_bundle(ca: str, directory: str) -> str:
    """``directory/ca-bundle.pem``: the mitmproxy CA, then the system's roots (clients that read one
    bundle keep reaching servers the proxy does not intercept)."""
    parts = [Path(ca).read_text()]
    roots = system_roots()
    if roots:
        parts.append(Path(roots).read_text(errors="replace"))
    out = os.path.join(directory, "ca-bundle.pem")
    with open(out, "w", encoding="utf-8") as f:
        f.write("\n".join(p if p.endswith("\n") else p + "\n" for p in parts))
    return out


def child_environment(base: Mapping[str, str], proxy_url: str, bundle: str) -> dict[str, str]:
    """``base`` with the proxy, trust and Node settings of a command run under capture."""
    env = {k: v for k, v in base.items() if k not in NO_PROXY_VARS}
    for name in PROXY_VARS:
        env[name] = env[name.lower()] = proxy_url
    for name in CA_VARS:
        env[name] = bundle
    for name in CA_VARS_IF_SET:
        if env.get(name):
            env[name] = bundle
    env["NODE_USE_ENV_PROXY"] = "1"
    require = f'--require "{PRELOAD}"' if any(c.isspace() for c in str(PRELOAD)) else f"--require {PRELOAD}"
    env["NODE_OPTIONS"] = f"{env['NODE_OPTIONS']} {require}" if env.get("NODE_OPTIONS") else require
    return env


def exit_status(returncode: int) -> int:
    """A child's status as a shell reports it: its exit code, or 128 + the signal that ended it."""
    return 128 - returncode if returncode < 0 else returncode


def _terminal_sent_it() -> bool:
    """Whether we are in the terminal's foreground process group (a typed Ctrl-C then reached the command too)."""
    for fd in (0, 1, 2):
        try:
            if os.isatty(fd):
                return os.tcgetpgrp(fd) == os.getpgrp()
        except OSError:
            continue
    return False


def run_command(cfg: CaptureConfig, argv: list[str], *,
                setup: Callable[[Capture], None] | None = None,
                on_ready: Callable[[Capture, dict[str, str]], None] | None = None,
                base_env: Mapping[str, str] | None = None) -> tuple[Capture, int]:
    """Run the proxy, then ``argv`` under it until it exits; return the stopped Capture and the
    command's exit status. CaptureError (the proxy did not start; nothing was run) or
    CommandNotFound before anything starts."""
    if not argv:
        raise CaptureError("no command given after --")
    if find_command(argv[0], (base_env or os.environ).get("PATH")) is None:
        raise CommandNotFound(f"{argv[0]}: command not found")
    cap = Capture(cfg)
    if setup is not None:
        setup(cap)
    status = 0

    async def main() -> None:
        nonlocal status
        loop = asyncio.get_running_loop()
        proxy = asyncio.create_task(cap.run())
        while not cap.ready.is_set() and not proxy.done():
            await asyncio.sleep(0.02)
        if cap.error is not None or proxy.done():
            await asyncio.gather(proxy, return_exceptions=True)
            return
        with tempfile.TemporaryDirectory(prefix="mcpsniff-ca-") as tmp:
            try:
                bundle = write_bundle(ca_cert(cap.confdir), tmp)
            except (CaptureError, OSError) as e:
                cap.stop()
                await asyncio.gather(proxy, return_exceptions=True)
                cap.error = e if isinstance(e, CaptureError) else CaptureError(f"cannot write the CA bundle: {e}")
                return
            host, port = cap.listen_addrs[0]
            where = f"[{host}]" if ":" in host else ("127.0.0.1" if host in ("0.0.0.0", "") else host)
            env = child_environment(base_env if base_env is not None else os.environ, f"http://{where}:{port}", bundle)
            if on_ready is not None:
                on_ready(cap, env)
            try:
                proc = await asyncio.create_subprocess_exec(*argv, env=env)
            except OSError as e:  # gone since find_command, or not executable after all
                cap.stop()
                await asyncio.gather(proxy, return_exceptions=True)
                cap.error = (CommandNotFound(f"{argv[0]}: command not found") if isinstance(e, FileNotFoundError)
                             else CaptureError(f"cannot run {shlex.quote(argv[0])}: {e.strerror or e}"))
                return

            def forward(sig: int) -> None:
                if proc.returncode is not None:
                    return
                if sig == signal.SIGINT and _terminal_sent_it():
                    return
                try:
                    proc.send_signal(sig)
                except ProcessLookupError:
                    pass

            handled = []
            if threading.current_thread() is threading.main_thread():
                for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                    try:
                        loop.add_signal_handler(sig, forward, sig)
                        handled.append(sig)
                    except (NotImplementedError, RuntimeError, ValueError):
                        pass
            try:
                status = exit_status(await proc.wait())
            finally:
                for sig in handled:
                    loop.remove_signal_handler(sig)
                cap.stop()
                await asyncio.gather(proxy, return_exceptions=True)

    asyncio.run(main())
    if cap.error is not None:
        raise cap.error
    return cap, status
