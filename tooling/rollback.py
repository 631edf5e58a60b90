"""Manual rollback of one ECS service: `make rollback STACK=<stack> SERVICE=<name>` (needs AWS credentials).

1. A service deployment in progress (PENDING or IN_PROGRESS, found with ListServiceDeployments) is
   stopped with StopServiceDeployment(stopType=ROLLBACK): ECS moves traffic back to the revision that
   served before and drains the new one (works whether or not the deployment was set up to roll back).
2. With none in progress, the service is updated (UpdateService) to the previous ACTIVE revision of
   its task definition family: the newest ACTIVE revision older than the one it runs. That starts a
   normal blue/green deployment of the old revision.
A rollback already under way (ROLLBACK_REQUESTED, ROLLBACK_IN_PROGRESS, STOP_REQUESTED) is reported and
left alone: running the command twice must not go back two revisions.

The cluster, the service names and the region come from the stack outputs that `make verify` reads
(tooling/verify.py: clusterName, serviceNames, region). Exit 0 when it did (or found) a rollback,
1 when AWS refused or there is nothing to go back to, 2 when the stack or the service name is unusable.
Source for the API and the states: https://docs.aws.amazon.com/AmazonECS/latest/developerguide/stop-service-deployment.html
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from tooling.verify import OutputsError, load_outputs

# States StopServiceDeployment(ROLLBACK) turns into a rollback (the developer guide's list).
STOPPABLE = ("PENDING", "IN_PROGRESS")
# States in which a stop or rollback has already been asked for.
ROLLING_BACK = ("ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS", "STOP_REQUESTED")


class RollbackError(Exception):
    """AWS refused, or there is nothing to roll back to: exit 1 with this message."""


@dataclass(frozen=True)
class TaskDefinition:
    arn: str
    family: str
    revision: int

    @classmethod
    def parse(cls, arn: str) -> TaskDefinition:
        # arn:aws:ecs:<region>:<account>:task-definition/<family>:<revision>
        family, _, revision = arn.rsplit("/", 1)[-1].rpartition(":")
        if not family or not revision.isdigit():
            raise RollbackError(f"cannot read family and revision from task definition {arn!r}")
        return cls(arn, family, int(revision))

    @property
    def short(self) -> str:
        return f"{self.family}:{self.revision}"


def rollback(ecs: Any, cluster: str, service: str) -> str:
    """Roll `service` back; returns what was done. Raises RollbackError (or botocore's errors)."""
    deployments = ecs.list_service_deployments(
        cluster=cluster, service=service, status=[*STOPPABLE, *ROLLING_BACK]
    ).get("serviceDeployments", [])
    already = [d for d in deployments if d.get("status") in ROLLING_BACK]
    if already:
        d = already[0]
        return f"a rollback is already under way ({d['status']}): {d['serviceDeploymentArn']}; nothing more done"
    if deployments:
        return _stop_with_rollback(ecs, deployments[0])
    return _previous_revision(ecs, cluster, service)


def _stop_with_rollback(ecs: Any, deployment: dict[str, Any]) -> str:
    arn = deployment["serviceDeploymentArn"]
    ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")
    return (
        f"stopped the {deployment.get('status')} deployment {arn} with ROLLBACK: ECS returns traffic to the "
        f"previous revision. Follow it: aws ecs describe-service-deployments --service-deployment-arns {arn}"
    )


def _previous_revision(ecs: Any, cluster: str, service: str) -> str:
    described = ecs.describe_services(cluster=cluster, services=[service])
    running = [s for s in described.get("services", []) if s.get("status") == "ACTIVE"]
    if not running:
        reasons = ", ".join(f.get("reason", "?") for f in described.get("failures", [])) or "not ACTIVE"
        raise RollbackError(f"service {service} not found in cluster {cluster} ({reasons})")
    current = TaskDefinition.parse(running[0]["taskDefinition"])
    older = [td for td in _active_revisions(ecs, current.family) if td.revision < current.revision]
    if not older:
        raise RollbackError(
            f"no previous ACTIVE revision of {current.family} before {current.short}: nothing to roll back to"
        )
    target = max(older, key=lambda td: td.revision)
    ecs.update_service(cluster=cluster, service=service, taskDefinition=target.arn)
    return (
        f"no deployment in progress; updated the service from {current.short} to {target.short}, which ECS now "
        f"deploys blue/green. `make verify` reports the stack's declared revision until the release is reverted "
        f"in git and deployed."
    )


def _active_revisions(ecs: Any, family: str) -> list[TaskDefinition]:
    pages = ecs.get_paginator("list_task_definitions").paginate(familyPrefix=family, status="ACTIVE", sort="DESC")
    revisions = [TaskDefinition.parse(arn) for page in pages for arn in page.get("taskDefinitionArns", [])]
    return [td for td in revisions if td.family == family]  # familyPrefix is a prefix: api also lists api-admin


def run(stack: str, service: str, outputs_file: Path | None, client: Callable[[str], Any]) -> int:
    """Print what happened; return the exit code. `client(region)` makes the ECS client."""
    try:
        outputs = load_outputs(stack, outputs_file)
    except (OutputsError, ValueError) as e:
        print(f"rollback {stack}: {e}", file=sys.stderr)
        return 2
    if service not in outputs.service_names:
        shown = service or "(none given)"
        names = ", ".join(outputs.service_names)
        print(f"rollback {stack}: SERVICE={shown} is not a service of this stack; one of: {names}", file=sys.stderr)
        return 2
    where = f"rollback {stack}/{service} (cluster {outputs.cluster_name}, {outputs.region})"
    try:
        done = rollback(client(outputs.region), outputs.cluster_name, service)
    except NoCredentialsError:
        print(f"{where}: no AWS credentials (log in for the stack's account, e.g. `aws sso login`)", file=sys.stderr)
        return 1
    except ClientError as e:
        error = e.response.get("Error", {})
        print(f"{where}: {e.operation_name} failed: {error.get('Code')}: {error.get('Message')}", file=sys.stderr)
        return 1
    except (RollbackError, BotoCoreError) as e:
        print(f"{where}: {e}", file=sys.stderr)
        return 1
    print(f"{where}: {done}")
    return 0


def _ecs_client(region: str) -> Any:
    return boto3.session.Session(region_name=region).client("ecs")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Roll one ECS service of a stack back to its previous revision.")
    parser.add_argument("--stack", required=True)
    parser.add_argument("--service", default="", help="the service's name, one of the stack's serviceNames output")
    parser.add_argument("--outputs", type=Path, help="stack outputs as JSON (default: pulumi stack output)")
    args = parser.parse_args(argv)
    return run(args.stack, args.service, args.outputs, _ecs_client)


if __name__ == "__main__":
    sys.exit(main())
