"""Make the pack (the `policy` package, imported from the repo root as `policy/__main__.py` does) and
this directory's harness importable from these tests and from rules/ below."""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
for path in (ROOT, HERE):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
