"""mcpsniff's verdicts against an oracle no one here wrote: the official MCP conformance suite.

Every client scenario the pinned suite lists (auth included) runs twice with each of our SDK-based
clients (TypeScript, Python; tests/oracles.py explains the wiring): directly, and with the client's
traffic going through `mcpsniff capture --all`. The suite's active server scenarios run against SDK
servers directly and through a reverse capture. Then:

- capture is transparent: the suite's checks (id and status) are the same with and without it (a
  client pair that differs runs once more, as some checks are timings; the second pair is judged);
- where the suite passes a client, mcpsniff raises no client error or warning, and no finding of
  either party cites traffic that is not the MCP endpoint (OAuth discovery, registration, token);
- the deliberately broken client (POST without text/event-stream in Accept) is caught by
  `accept-header-incomplete`;
- against SDK servers, the server scenarios give no server error or warning.

A failure lists each disagreement: scenario, party and rule, and each cited exchange (method, URL,
status). docs/oracles.md holds the same comparison as a table (`tests/oracles.py -o`).
"""

from __future__ import annotations

import pytest
from oracles import BROKEN_EXPECT, ClientCase, ServerRun, run_all

# the module fixture runs the whole comparison once; it outlasts the default per-test timeout
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> tuple[list[ClientCase], list[ServerRun]]:
    return run_all(tmp_path_factory.mktemp("oracles"))


def _listing(items) -> str:
    return "\n".join(f"  {i}" for i in items)


def test_all_client_scenarios_ran(runs):
    cases, _ = runs
    by_client = {}
    for c in cases:
        by_client.setdefault(c.client, []).append(c)
    assert len(by_client["ts"]) >= 26, [c.scenario for c in by_client["ts"]]
    # the TypeScript client completes every scenario the suite passes directly: the harness is wired
    failing = [f"{c.scenario}: {c.direct.summary()}" for c in by_client["ts"] if not c.direct.passed]
    assert not failing, "the suite fails the TypeScript SDK client directly:\n" + _listing(failing)


def test_capture_is_transparent(runs):
    cases, servers = runs
    changed = [f"[{c.client}] {c.scenario}: direct {c.direct.summary()}, captured {c.captured.summary()}"
               + (f" (and before, run again: direct {c.first[0].summary()}, captured {c.first[1].summary()})"
                  if c.first else "")
               for c in cases if not c.transparent]
    for s in servers:
        changed += [f"[server {s.server}] {name}: direct {s.direct[name].summary()}, captured "
                    f"{s.captured[name].summary() if name in s.captured else 'not run'}" for name in s.opaque()]
    assert not changed, "the suite's verdict changed when the traffic went through capture:\n" + _listing(changed)


def test_no_client_finding_where_the_suite_passes(runs):
    cases, _ = runs
    wrong = [d for c in cases if c.client not in BROKEN_EXPECT for d in c.disagreements()]
    assert not wrong, (f"{len(wrong)} disagreement(s) between the conformance suite and mcpsniff "
                       "(scenario: what -- party rule, then the exchanges the finding cites):\n" + _listing(wrong))


def test_broken_client_accept_violation_is_found(runs):
    cases, _ = runs
    broken = [c for c in cases if c.client in BROKEN_EXPECT]
    assert broken
    for c in broken:
        assert not c.captured.passed, f"the suite passed the broken client in {c.scenario}"
        missed = c.disagreements(expect_rules=BROKEN_EXPECT[c.client])
        assert not missed, _listing(missed)


def test_server_scenarios_give_no_false_server_finding(runs):
    _, servers = runs
    assert servers
    for s in servers:
        assert s.captured, f"no server scenario ran against {s.server}"
    wrong = [d for s in servers for d in s.disagreements() if d.party == "server"]
    assert not wrong, (f"{len(wrong)} server finding(s) against SDK servers in the suite's server scenarios:\n"
                       + _listing(wrong))



def test_auth_scenarios_run_through_capture_command_transparently(tmp_path):
    """The suite's auth scenarios with the TypeScript client run as `mcpsniff capture -- CLIENT`
    (forward proxy, Node's fetch through it, nothing else set): the suite's checks are the same as
    directly, and the capture holds the client's OAuth discovery and its MCP traffic."""
    import json
    import sys

    from oracles import client_command, run_client_scenario, scenarios

    auth = [s for s in scenarios("client") if s.startswith("auth/")]
    assert auth, "the pinned suite lists no auth scenario"
    changed, missing = [], []
    for i, scenario in enumerate(auth):
        out = tmp_path / f"cap{i}.jsonl"
        # the suite splits the command on spaces: no argument has one
        command = f"{sys.executable} -m mcpsniff capture --quiet --all -o {out} -- {client_command('ts', None)}"
        direct = run_client_scenario(scenario, client_command("ts", None), tmp_path / f"direct{i}")
        captured = run_client_scenario(scenario, command, tmp_path / f"captured{i}")
        if captured.signature() != direct.signature():
            direct = run_client_scenario(scenario, client_command("ts", None), tmp_path / f"direct{i}b")
            captured = run_client_scenario(scenario, command, tmp_path / f"captured{i}b")
        if captured.signature() != direct.signature():
            changed.append(f"{scenario}: direct {direct.summary()}, captured {captured.summary()}")
        records = [json.loads(line) for line in out.read_text().splitlines() if '"kind":"exchange"' in line]
        urls = [r["req"]["url"] for r in records]
        if not any("/.well-known/" in u for u in urls) or not any(r["req"]["method"] == "POST" for r in records):
            missing.append(f"{scenario}: {len(records)} exchanges recorded ({sorted(set(urls))[:4]})")
    assert not changed, "capture -- CLIENT changed the suite's verdict:\n" + _listing(changed)
    assert not missing, "capture -- CLIENT missed the client's traffic:\n" + _listing(missing)
