"""The pack's rules by domain: pure functions over one resource (a `props.Subject`) or the whole stack,
each yielding its messages. `policy.registry` wraps them for pulumi-policy."""
