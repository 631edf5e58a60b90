"""capacity/measured.yaml, read: the measured capacity of one service worker on one vCPU, per Redis mode.

The file is written from `make bench BENCH_ARGS="--redis <mode> --json <file>"` runs by
`python -m tooling.measured <file>...` (median and spread of the runs, each run's command, date, machine).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from sizing import CAPACITY_DIR, SizingError

MEASURED_FILE = CAPACITY_DIR / "measured.yaml"


class MeasuredCapacityError(SizingError):
    pass


@dataclass(frozen=True)
class WorkerCapacity:
    """Per worker process on one vCPU, for one Redis mode (medians of the recorded runs)."""

    redis: str  # single | cluster
    runs: int
    # the highest offered rate whose p99 stayed <= 50 ms through a fresh sale; 0 when in most runs no probe did
    attempts_per_second_at_target: float
    peak_attempts_per_second: float  # closed loop
    winners_commits_per_second: float  # the database's winners-only rate over the service's pool
    trivial_ceiling_per_second: float

    @property
    def known(self) -> bool:
        return self.attempts_per_second_at_target > 0

    @property
    def unknown_because(self) -> str:
        """Why there is no figure to size tasks by, for an error or a report (only meaningful when not known)."""
        return (
            f"the measured capacity at the latency target is unknown: in the median of {self.runs} runs with "
            f"Redis {self.redis} (capacity/measured.yaml) no probe kept p99 <= 50 ms; re-run make bench on an "
            "unshared machine"
        )


def load(redis_mode: str, path: Path = MEASURED_FILE) -> WorkerCapacity:
    """The medians for `redis_mode`; a clear error when the file or the mode is missing."""
    if not path.exists():
        raise MeasuredCapacityError(f"{path} is missing: run `make bench BENCH_ARGS=\"--json run.json\"` and "
                                    "`python -m tooling.measured run.json` to write it")  # fmt: skip
    data = yaml.safe_load(path.read_text()) or {}
    modes = data.get("by_redis_mode") or {}
    if redis_mode not in modes:
        raise MeasuredCapacityError(
            f"{path.name} has no runs with Redis mode {redis_mode!r} (it has: {', '.join(sorted(modes)) or 'none'})"
        )
    mode = modes[redis_mode]
    try:
        found = WorkerCapacity(
            redis=redis_mode,
            runs=int(mode["runs"]),
            attempts_per_second_at_target=float(mode["attempts_per_second_at_target"]["median"]),
            peak_attempts_per_second=float(mode["peak_attempts_per_second"]["median"]),
            winners_commits_per_second=float(mode["winners_commits_per_second"]["median"]),
            trivial_ceiling_per_second=float(mode["trivial_ceiling_per_second"]["median"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise MeasuredCapacityError(f"{path.name}: by_redis_mode.{redis_mode} lacks a median for {exc}") from None
    if found.attempts_per_second_at_target < 0:
        raise MeasuredCapacityError(f"{path.name}: by_redis_mode.{redis_mode}.attempts_per_second_at_target "
                                    f"is {found.attempts_per_second_at_target}: a rate is 0 or more")  # fmt: skip
    return found
