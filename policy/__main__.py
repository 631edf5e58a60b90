"""The flash-sale policy pack. Constructing PolicyPack starts the analyzer gRPC server and serves
forever (the engine, or `make policy`, reads its port from stdout), so nothing else lives here."""

import sys
from pathlib import Path

# The engine runs this file with only the pack directory (policy/) on sys.path. The rules share
# allowed_values.py with the program's configuration, so put the repo root first and import the pack
# as the `policy` package, under the same names the tests and tooling use. The pack therefore runs from
# a checkout of this repo (`--policy-pack policy`), as CI does; it is not self-contained for publishing.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi_policy import PolicyPack

from policy.registry import ALL_POLICIES, ENFORCEMENT

PolicyPack(
    name="flashsale-policies",
    enforcement_level=ENFORCEMENT,
    policies=list(ALL_POLICIES),
)
