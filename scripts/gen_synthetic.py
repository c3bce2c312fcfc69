#!/usr/bin/env python3
"""Write a large synthetic mcpsniff capture (JSONL) for benchmarks.

    python scripts/gen_synthetic.py OUT.jsonl [--exchanges 1000000] [--planes 6] [--start N --seed S]

The traffic mimics real captures: several planes (one of them drops its session
header on tools/call, like the seed bug), sessions of 5-40 requests, JSON and SSE
responses, notifications answered 202. The server offers two tools: echo, and count, which declares an
outputSchema; one count result in a thousand breaks it (a string count), for the conversation lint.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import orjson  # noqa: E402

from mcpsniff.schema import make_event  # noqa: E402
from synth import Scenario  # noqa: E402  (tests/synth.py)

METHODS = ["tools/list", "tools/call", "tools/call", "tools/call", "resources/read", "prompts/list", "ping"]
COUNT_SCHEMA = {"type": "object", "properties": {"count": {"type": "integer", "minimum": 0}}, "required": ["count"]}
TOOLS = [{"name": "echo", "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}}},
         {"name": "count", "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}},
          "outputSchema": COUNT_SCHEMA}]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--exchanges", type=int, default=1_000_000)
    ap.add_argument("--planes", type=int, default=6)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--start", type=int, default=0,
                    help="exchanges before this part (a later time slice of one capture, with its own session ids)")
    args = ap.parse_args()
    rnd = random.Random(args.seed)
    planes = [f"bench-client-{i}/1.{i}" for i in range(args.planes - 2)] + ["openai-mcp/1.0.0 (ChatGPT)", "openai-mcp/1.0.0"]
    dropper = "openai-mcp/1.0.0"
    n = 0
    sess = args.start  # session ids stay unique across parts
    with open(args.out, "wb") as fo:
        while n < args.exchanges:
            s = Scenario(t0=1_760_000_000.0 + (args.start + n) * 0.01, step=0.01)
            for _ in range(200):
                ua = rnd.choice(planes)
                sess += 1
                sid = f"{sess:08x}-{rnd.getrandbits(64):016x}"
                s.initialize(ua, sid=sid, as_sse=rnd.random() < 0.5)
                s.notify(ua, sid=sid)
                for _ in range(rnd.randint(3, 38)):
                    m = rnd.choice(METHODS)
                    drop = ua == dropper and m == "tools/call"
                    tool = "count" if rnd.random() < 0.3 else "echo"
                    params = {"name": tool, "arguments": {"text": "x" * rnd.randint(5, 200)}} if m == "tools/call" else {}
                    rec = s.request(ua, m, sid=None if drop else sid, params=params, status=400 if drop else 200)
                    if drop:
                        continue
                    rid = rec["req"]["body"]["rpc"][0]["id"]
                    result = None
                    if m == "tools/list":
                        result = {"tools": TOOLS}
                    elif m == "tools/call" and tool == "count":
                        c = rnd.randint(0, 99)
                        result = {"content": [{"type": "text", "text": f"{{\"count\": {c}}}"}],
                                  "structuredContent": {"count": str(c) if rnd.random() < 0.001 else c}}
                    elif m == "tools/call":
                        result = {"content": [{"type": "text", "text": "ok"}]}
                    if result is not None:
                        rec["resp"]["body"]["rpc"] = [{"jsonrpc": "2.0", "id": rid, "result": result}]
                    if m == "tools/call" and rnd.random() < 0.5:
                        resp = rec["resp"]
                        body = resp["body"]
                        data = orjson.dumps({"jsonrpc": "2.0", "id": rid, "result": result}).decode()
                        resp["sse"] = [make_event(s.t, '{"jsonrpc":"2.0","method":"notifications/progress","params":{}}'),
                                       make_event(s.t + 0.005, data)]
                        body["rpc"] = None
                        resp["content_type"] = "text/event-stream"
                        resp["headers"] = [["Content-Type", "text/event-stream"]]
                if rnd.random() < 0.3:
                    s.delete(ua, sid=sid)
            recs = s.records[: args.exchanges - n]
            fo.write(b"".join(orjson.dumps(r) + b"\n" for r in recs))
            n += len(recs)
    print(f"wrote {n} exchanges to {args.out} ({Path(args.out).stat().st_size / 1e6:.0f} MB)")


if __name__ == "__main__":
    main()
