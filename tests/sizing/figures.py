"""Round figures to compute expected results by hand, shared by the sizing and `make capacity` tests."""

from sizing.arithmetic import DataTier
from sizing.tiers import Tiers

TIERS = Tiers(
    workers_per_task=1,
    cpu_units_per_vcpu=1024,
    redis_commands_per_attempt=1,
    redis_per_shard=20_000,
    rows_per_winner=3,
    database_rows_per_second=30_000,
    records_per_winner=2,
    bytes_per_record=500,
    broker_mb_per_second={"kafka.t3.small": 10.0, "kafka.m7g.large": 40.0},
    lcu={"new_connections_per_second": 25, "active_connections": 3000, "processed_gb_per_hour": 1,
         "rule_evaluations_per_second": 1000},
    alb_bytes_per_attempt=1000,
    attempts_per_new_connection=10,
    connection_seconds=60,
    rules_per_request=1,
)  # fmt: skip
# 3 brokers writing 40 MB/s each, every record three times: 40 MB/s produced
THREE_LARGE = DataTier(brokers=3, broker_type="kafka.m7g.large", replication_factor=3, reserved_lcu=10)
# 2 brokers writing 10 MB/s each, every record twice: 10 MB/s produced
TWO_SMALL = DataTier(brokers=2, broker_type="kafka.t3.small", replication_factor=2, reserved_lcu=0)
