"""Test helpers (peerlib, synth) live in tests/; every test directory imports them from here."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
