"""The measured capacity of one service worker on one vCPU: the one place `make capacity` and `make cost` read it.

capacity/measured.yaml is written from `make bench BENCH_ARGS="--redis <mode> --json <file>"` runs by
`python -m tooling.measured <file>...`: per Redis mode, the median of the runs with their spread, and each
run's command, date, machine and load average, so a figure can always be traced to what produced it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tooling.stack_files import ROOT

MEASURED_FILE = ROOT / "capacity" / "measured.yaml"
# bench JSON key -> measured.yaml figure; all requests/s of one worker process pinned to one core
FIGURES = {
    "attempts_per_second_at_target": lambda run: run["gate"]["capacity"],
    "peak_attempts_per_second": lambda run: run["peak"],
    "winners_commits_per_second": lambda run: run["winners_committed"],
    "trivial_ceiling_per_second": lambda run: run["trivial_ceiling"],
    "pg_only_peak_per_second": lambda run: run["pg_only"]["peak"] if run.get("pg_only") else None,
    "pg_only_attempts_per_second_at_target": lambda run: run["pg_only"]["capacity"] if run.get("pg_only") else None,
}


class MeasuredCapacityError(Exception):
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


def _median_and_spread(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """measured.yaml's content from bench JSON records: per Redis mode, median and spread of each figure."""
    if not runs:
        raise MeasuredCapacityError("no bench runs given")
    modes: dict[str, Any] = {}
    for mode in sorted({run["redis"] for run in runs}):
        of_mode = [run for run in runs if run["redis"] == mode]
        figures = {}
        for name, pick in FIGURES.items():
            values = [v for v in (pick(run) for run in of_mode) if v is not None]
            if values:
                figures[name] = _median_and_spread(values)
        modes[mode] = {"runs": len(of_mode), **figures}
    return {
        "unit": "requests/s of one service worker (one uvicorn process) pinned to one core: per task vCPU",
        "by_redis_mode": modes,
        "runs": [
            {
                key: run[key]
                for key in ("date", "command", "machine", "load_average", "redis", "units", "attempts")
                if key in run
            }
            | {name: pick(run) for name, pick in FIGURES.items()}
            for run in runs
        ],
    }


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
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="write capacity/measured.yaml from `make bench --json` files")
    parser.add_argument("runs", nargs="+", type=Path, help="JSON files written by make bench BENCH_ARGS=--json")
    parser.add_argument("--out", type=Path, default=MEASURED_FILE)
    args = parser.parse_args(argv)
    try:
        runs = [json.loads(path.read_text()) for path in args.runs]
        content = summarise(runs)
    except (OSError, json.JSONDecodeError, KeyError, MeasuredCapacityError) as exc:
        print(f"cannot summarise the runs: {exc}", file=sys.stderr)
        return 1
    header = (
        "# Measured capacity per task vCPU, from real `make bench` runs (see README, Benchmark).\n"
        "# Written by `python -m tooling.measured <bench --json files>`; edit by re-running, not by hand.\n"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(header + yaml.safe_dump(content, sort_keys=False, width=120))
    return 0


if __name__ == "__main__":
    sys.exit(main())
