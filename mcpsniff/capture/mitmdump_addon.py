"""mitmproxy script: record MCP exchanges into JSONL with mitmdump / mitmproxy / mitmweb.

    mitmdump -s "$(mcpsniff addon-path)" --set mcpsniff_output=capture.jsonl

``mcpsniff addon-path`` prints where this file is installed.  Options: the recorder's, as
``mcpsniff_<name>`` (``mitmdump --options | grep mcpsniff_`` lists them; docs/capture.md).

mitmproxy loads a script by its path, as a module of its own, so this file imports the
addon by its absolute name.  The mitmdump must be one that can import mcpsniff: the one
installed with it (same virtualenv or pipx environment).
"""

import os
import sys

try:
    from mcpsniff.capture.addon import McpSniff
except ImportError:
    # a mitmdump of another environment: try the mcpsniff this file belongs to (its
    # packages go last on sys.path, so the running mitmproxy keeps its own)
    _root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if _root not in sys.path:
        sys.path.append(_root)
    try:
        from mcpsniff.capture.addon import McpSniff
    except ImportError as e:
        raise ImportError(
            f"this mitmproxy ({sys.executable}) cannot import mcpsniff ({e}); run the mitmdump "
            "installed with mcpsniff, e.g. the one in the same virtualenv"
        ) from e

addons = [McpSniff()]
