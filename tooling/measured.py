"""Writes capacity/measured.yaml, the measured capacity of one service worker on one vCPU (sizing/measured.py
reads it for the program and `make capacity`).

capacity/measured.yaml is written from `make bench BENCH_ARGS="--redis <mode> --json <file>"` runs by
`python -m tooling.measured <file>...`: per Redis mode, the median of the runs with their spread, and each
run's command, date, machine and load average, so a figure can always be traced to what produced it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

import yaml

from sizing.measured import MEASURED_FILE, MeasuredCapacityError

# bench JSON key -> measured.yaml figure; all requests/s of one worker process pinned to one core
FIGURES = {
    "attempts_per_second_at_target": lambda run: run["gate"]["capacity"],
    "peak_attempts_per_second": lambda run: run["peak"],
    "winners_commits_per_second": lambda run: run["winners_committed"],
    "trivial_ceiling_per_second": lambda run: run["trivial_ceiling"],
    "pg_only_peak_per_second": lambda run: run["pg_only"]["peak"] if run.get("pg_only") else None,
    "pg_only_attempts_per_second_at_target": lambda run: run["pg_only"]["capacity"] if run.get("pg_only") else None,
}


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
