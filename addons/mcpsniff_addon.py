"""mitmproxy script for a clone of the repository: a shim for the addon the package ships.

    .venv/bin/mitmdump -s addons/mcpsniff_addon.py --set mcpsniff_output=capture.jsonl

Installed mcpsniff (pip, pipx) has the same script inside the package:
``mitmdump -s "$(mcpsniff addon-path)" ...`` (see docs/capture.md).
"""

import os
import sys

try:
    from mcpsniff.capture.mitmdump_addon import addons  # noqa: F401 - what mitmproxy loads
except ImportError:  # a clean checkout without the package installed: use the repo root
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from mcpsniff.capture.mitmdump_addon import addons  # noqa: F401
