"""IAM documents more than one component needs."""

from __future__ import annotations

import json


def assume_role_policy(service: str) -> str:
    """Trust policy letting one AWS service principal (e.g. ecs-tasks.amazonaws.com) assume a role."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": service}}],
        }
    )
