"""Deploy freeze: no new task definition reaches a service while a sale window is in progress.

A release in the middle of a sale's burst restarts every task behind the ALB. The freeze is a Pulumi
resource hook bound to each ECS service: on `pulumi up`, just before the engine updates a service,
it compares the service's old and new `taskDefinition`; if they differ while a window (its lead time
included) is in progress, the hook raises and the update stops with a message naming the window.
Scaling, alarms and every other change still deploy. Hooks run on `pulumi up`, not on `preview`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pulumi

OVERRIDE_KEY = "flashsale:deploy.allowDuringSale"


class DeployFrozenError(Exception):
    """A service's task definition would change during a sale window."""


@dataclass(frozen=True)
class FreezeWindow:
    name: str
    starts: datetime  # timezone-aware; when the floor is raised (start minus its lead time)
    ends: datetime  # timezone-aware
    timezone: str  # shown in the message, in the operators' own time

    @classmethod
    def local(cls, name: str, start: datetime, end: datetime, timezone: str, lead_minutes: int) -> FreezeWindow:
        """A window given in local wall-clock time of `timezone`, as sale windows are configured."""
        zone = ZoneInfo(timezone)
        starts = start.replace(tzinfo=zone) - timedelta(minutes=lead_minutes)
        return cls(name=name, starts=starts, ends=end.replace(tzinfo=zone), timezone=timezone)

    def covers(self, moment: datetime) -> bool:
        return self.starts <= moment < self.ends

    def describe(self) -> str:
        local = "%Y-%m-%d %H:%M"
        starts, ends = (t.astimezone(self.starts.tzinfo).strftime(local) for t in (self.starts, self.ends))
        return f"sale window '{self.name}' ({starts} to {ends} {self.timezone}, lead time included)"


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class DeployFreezeArgs:
    windows: Sequence[FreezeWindow]
    """The stack's sale windows; the freeze holds from each one's `starts` to its `ends`. Required."""
    allow_during_sale: bool = False
    """Ship a fix during a window anyway (set for one run: `-c flashsale:deploy.allowDuringSale=true`).
    Default False."""
    clock: Callable[[], datetime] = field(default=_utc_now)
    """Read when the hook runs, during `pulumi up`; tests inject a fixed time. Default: the UTC clock."""


def check_task_definition_change(args: DeployFreezeArgs, hook: pulumi.ResourceHookArgs) -> None:
    """Raise DeployFrozenError when `hook` moves a service to another task definition inside a window."""
    old = (hook.old_inputs or {}).get("taskDefinition")
    new = (hook.new_inputs or {}).get("taskDefinition")
    if args.allow_during_sale or old is None or old == new:
        return
    now = args.clock()
    for window in args.windows:
        if window.covers(now):
            raise DeployFrozenError(
                f"deploy freeze: service {hook.name} would move to a new task definition during "
                f"{window.describe()}. To deploy anyway, run `pulumi up -c {OVERRIDE_KEY}=true`, "
                f"then `pulumi config rm {OVERRIDE_KEY}`."
            )


def deploy_freeze_hook(name: str, args: DeployFreezeArgs) -> pulumi.ResourceHook:
    """A before-update hook for aws.ecs.Service resources (bind it with ResourceHookBinding)."""
    return pulumi.ResourceHook(name, lambda hook: check_task_definition_change(args, hook))
