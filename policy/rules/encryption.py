"""Encryption rules: data at rest under KMS, TLS in transit, credentials only in Secrets Manager."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from policy.rules.props import UNKNOWN, Subject, elements, get
from policy.rules.resource_types import RDS_CLUSTER, RDS_INSTANCE, RDS_PROXY, TASK_DEFINITION

CREDENTIAL_NAME = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIAL", re.IGNORECASE)
URL_WITH_PASSWORD = re.compile(r"://[^/@:\s]+:[^/@\s]+@")


def database_encryption(s: Subject) -> Iterator[str]:
    if s.type == RDS_PROXY:
        if get(s.props, "requireTls") in (False, None):
            yield "RDS Proxy must set requireTls: true"
        return
    if get(s.props, "engineMode") == "serverless":  # Aurora Serverless v1 is always encrypted
        return
    encrypted = get(s.props, "storageEncrypted")
    if encrypted is not UNKNOWN and encrypted is not True:
        yield "storageEncrypted must be true (KMS encryption at rest)"


def cache_encryption(s: Subject) -> Iterator[str]:
    if get(s.props, "atRestEncryptionEnabled") in (False, None):
        yield "atRestEncryptionEnabled must be true"
    if get(s.props, "transitEncryptionEnabled") in (False, None):
        yield "transitEncryptionEnabled must be true (clients use rediss://)"
    mode = get(s.props, "transitEncryptionMode")
    if mode not in (None, UNKNOWN) and str(mode).lower() != "required":
        yield f"transitEncryptionMode is {mode!r}: plaintext clients are still accepted; use 'required'"


def kafka_encryption(s: Subject) -> Iterator[str]:
    info = get(s.props, "encryptionInfo")
    if info is UNKNOWN:
        return
    if get(info, "encryptionAtRestKmsKeyArn") is None:
        yield "encryptionInfo.encryptionAtRestKmsKeyArn must name a customer-managed KMS key"
    client_broker = get(info, "encryptionInTransit", "clientBroker")  # absent: AWS default TLS
    if client_broker not in (None, UNKNOWN, "TLS"):
        yield f"encryptionInTransit.clientBroker is {client_broker!r}; only TLS is allowed"
    if get(info, "encryptionInTransit", "inCluster") is False:  # absent: AWS default true
        yield "encryptionInTransit.inCluster must be true"


def kms_key_rotation(s: Subject) -> Iterator[str]:
    spec = get(s.props, "customerMasterKeySpec") or get(s.props, "keySpec")
    if spec not in (None, UNKNOWN, "SYMMETRIC_DEFAULT"):  # AWS rotates only symmetric keys
        return
    if get(s.props, "enableKeyRotation") in (False, None):
        yield "enableKeyRotation must be true"


def credentials_in_secrets_manager(s: Subject) -> Iterator[str]:
    if s.type in (RDS_INSTANCE, RDS_CLUSTER):
        password_key = "password" if s.type == RDS_INSTANCE else "masterPassword"
        if get(s.props, password_key) not in (None, UNKNOWN, ""):
            yield f"{password_key} is set in the program; use manageMasterUserPassword (RDS-managed secret)"
        replica = get(s.props, "replicateSourceDb") or get(s.props, "snapshotIdentifier")
        managed = get(s.props, "manageMasterUserPassword")
        if replica is None and managed in (False, None):
            yield "manageMasterUserPassword must be true"
    elif s.type == RDS_PROXY:
        auths = elements(s.props, "auths")
        if auths is not UNKNOWN and any(get(a, "secretArn") is None for a in auths):
            yield "every proxy auth must take its credentials from a Secrets Manager secretArn"
    elif s.type == TASK_DEFINITION:
        yield from _plaintext_task_credentials(get(s.props, "containerDefinitions"))


def _plaintext_task_credentials(definitions: Any) -> Iterator[str]:
    if definitions is UNKNOWN or definitions is None:
        return
    if isinstance(definitions, str):
        try:
            definitions = json.loads(definitions)
        except ValueError:
            return  # the provider rejects malformed JSON itself
    containers = [c for c in (definitions if isinstance(definitions, list) else []) if isinstance(c, Mapping)]
    for container in containers:
        for env in [e for e in container.get("environment") or [] if isinstance(e, Mapping)]:
            name, value = str(env.get("name", "")), str(env.get("value", ""))
            if CREDENTIAL_NAME.search(name) or URL_WITH_PASSWORD.search(value):
                yield (
                    f"container {container.get('name')!r} passes {name} as a plain environment value; "
                    "use the task definition's secrets (valueFrom a Secrets Manager ARN)"
                )
