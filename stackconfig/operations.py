"""Operations: the stack-wide keys (environment, data protection, log retention), JWT key rotation, alarms."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field

from stackconfig.allowed import ENVIRONMENTS
from stackconfig.base import Bool, Float, Int, LogRetention, Model, between, checked_list, once_each, problem

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class StackSettings(Model):
    """The keys outside any tier: `flashsale:environment`, `flashsale:protectData`, `flashsale:logRetentionDays`."""

    environment: Literal[ENVIRONMENTS] = "dev"
    protect_data: Bool = False
    log_retention_days: LogRetention = 14


class JwtConfig(Model):
    # Raise by one to rotate the API's signing key (components/jwt_key.py).
    key_generation: Annotated[Int, between(0, 1_000_000)] = 0


def _email(email: str) -> str:
    if not _EMAIL.match(email):
        raise problem("each entry must be an email address", email)
    return email


_Percent = Annotated[Float, between(0.01, 100)]


class AlarmsConfig(Model):
    emails: checked_list(_email, once_each) = ()
    p99_latency_ms: Annotated[Int, between(10, 60000)] = 500
    http_5xx_percent: _Percent = Field(1.0, alias="http5xxPercent")
    database_connections: Annotated[Int, between(1, 100000)] = 150
    dependency_failure_percent: _Percent = 1.0  # sale alarm: share of reservation attempts answered 503
    relay_lag_seconds: Annotated[Int, between(10, 86400)] = 300  # sale alarm: age of the oldest unpublished outbox row


def tags(project: str, environment: str, stack: str) -> dict[str, str]:
    """The tags every resource carries (the provider's default tags)."""
    return {"project": project, "environment": environment, "stack": stack, "managed-by": "pulumi"}
