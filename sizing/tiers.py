"""capacity/tiers.yaml, read: the per-node figures the tiers behind the tasks are sized with.

Each figure's source is beside it in the file; the usable fractions (headroom) are applied here, once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from sizing import CAPACITY_DIR, SizingError

TIERS_FILE = CAPACITY_DIR / "tiers.yaml"
# what one ALB capacity unit covers, per dimension (the ALB is billed for, and scales to, the highest)
LCU_DIMENSIONS = ("new_connections_per_second", "active_connections", "processed_gb_per_hour",
                  "rule_evaluations_per_second")  # fmt: skip


@dataclass(frozen=True)
class Tiers:
    """capacity/tiers.yaml, typed."""

    workers_per_task: int
    cpu_units_per_vcpu: int
    redis_commands_per_attempt: float
    redis_per_shard: float  # usable Lua calls/s of one shard
    rows_per_winner: float
    database_rows_per_second: float  # usable
    records_per_winner: float
    bytes_per_record: float
    broker_mb_per_second: dict[str, float]  # usable write MB/s per broker type
    lcu: dict[str, float]
    alb_bytes_per_attempt: float
    attempts_per_new_connection: float
    connection_seconds: float
    rules_per_request: float

    @classmethod
    def load(cls, path: Path = TIERS_FILE) -> Tiers:
        if not path.exists():
            raise SizingError(f"{path} is missing: it holds the per-node figures the tiers are sized with")
        d: dict[str, Any] = yaml.safe_load(path.read_text()) or {}
        try:
            redis, db, kafka, alb = d["redis"], d["database"], d["kafka"], d["alb"]
            return cls(
                workers_per_task=d["service"]["workers_per_task"],
                cpu_units_per_vcpu=d["service"]["cpu_units_per_vcpu"],
                redis_commands_per_attempt=redis["commands_per_attempt"],
                redis_per_shard=redis["lua_calls_per_second_per_shard"] * redis["usable_fraction"],
                rows_per_winner=db["rows_per_winner"],
                database_rows_per_second=db["rows_per_second"] * db["usable_fraction"],
                records_per_winner=kafka["records_per_winner"],
                bytes_per_record=kafka["bytes_per_record"],
                broker_mb_per_second={
                    broker: mb * kafka["usable_fraction"] for broker, mb in kafka["ebs_baseline_mb_per_second"].items()
                },
                lcu={dimension: alb["lcu"][dimension] for dimension in LCU_DIMENSIONS},
                alb_bytes_per_attempt=alb["bytes_per_attempt"],
                attempts_per_new_connection=alb["attempts_per_new_connection"],
                connection_seconds=alb["connection_seconds"],
                rules_per_request=alb["rules_per_request"],
            )
        except KeyError as exc:
            raise SizingError(f"{path.name} lacks {exc}: see the figures it documents") from None
