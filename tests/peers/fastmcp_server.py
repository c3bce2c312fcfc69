"""An MCP server written with fastmcp (PyPI, pinned in scripts/setup.sh; runs in .venv-fastmcp), for
tests/e2e/test_third_party.py: an implementation no one here wrote, served as its users serve it.

    .venv-fastmcp/bin/python fastmcp_server.py --port N

Streamable HTTP at http://127.0.0.1:N/mcp (fastmcp's default path), fastmcp's defaults otherwise.
Tools: echo(message), add(a, b). Resource: note://hello.
"""

from __future__ import annotations

import argparse

from fastmcp import FastMCP

server = FastMCP("mcpsniff-fastmcp-server")


@server.tool
def echo(message: str) -> str:
    """Echo the message back."""
    return message


@server.tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.resource("note://hello")
def note() -> str:
    return "hello from fastmcp"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    server.run(transport="http", host="127.0.0.1", port=args.port, show_banner=False)


if __name__ == "__main__":
    main()
