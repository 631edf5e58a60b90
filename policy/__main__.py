"""The flash-sale policy pack. Constructing PolicyPack starts the analyzer gRPC server and serves
forever (the engine, or `make policy`, reads its port from stdout), so nothing else lives here."""

# The engine runs this file with the pack directory on sys.path, so the rules import as `policies`.
from policies import ALL_POLICIES
from pulumi_policy import EnforcementLevel, PolicyPack

PolicyPack(
    name="flashsale-policies",
    # Strict unless a stack's config (policy/config.<stack>.json) relaxes a rule.
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=list(ALL_POLICIES),
)
