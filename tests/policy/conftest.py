"""Make the pack's rules (`policy/policies.py`, imported as `policies` like the engine does) and the
repo's `tooling` package importable from these tests."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
for path in (ROOT, ROOT / "policy"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
