"""mitmproxy script: record MCP exchanges into JSONL.

    mitmdump -s addons/mcpsniff_addon.py --set mcpsniff_output=capture.jsonl

Options: mcpsniff_output, mcpsniff_redact, mcpsniff_redact_extra, mcpsniff_body_limit,
mcpsniff_record_all, mcpsniff_rotate_mb (see docs/capture.md).
"""

import os
import sys

try:
    from mcpsniff.capture.addon import McpSniff
except ImportError:  # a clean checkout without the package installed: use the repo root
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from mcpsniff.capture.addon import McpSniff

addons = [McpSniff()]
