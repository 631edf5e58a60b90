"""A customer-managed KMS key per data store, so each store's data can be audited and revoked alone."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws


def data_key(
    name: str,
    description: str,
    *,
    protect: bool,
    parent: pulumi.Resource,
    provider: pulumi.ProviderResource | None = None,
    policy: pulumi.Input[str] | None = None,
) -> aws.kms.Key:
    """A symmetric key that rotates yearly, with an alias `alias/flashsale/<name>`.

    Deleting a key makes every snapshot encrypted with it unreadable: protected keys wait the full
    30 days before deletion, disposable ones the minimum 7. `provider` places it in another region
    (a key never leaves its region, so copies elsewhere need a key there). `policy`: a key policy for a
    service that must use the key itself (None: KMS's default, the account administers and grants)."""
    key = aws.kms.Key(
        name,
        description=description,
        enable_key_rotation=True,
        deletion_window_in_days=30 if protect else 7,
        policy=policy,
        opts=pulumi.ResourceOptions(parent=parent, protect=protect, provider=provider),
    )
    aws.kms.Alias(
        name,
        name=f"alias/flashsale/{name}",
        target_key_id=key.key_id,
        opts=pulumi.ResourceOptions(parent=parent, provider=provider),
    )
    return key
