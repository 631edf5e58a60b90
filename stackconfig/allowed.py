"""Allowed values the configuration checks; those the policy pack also checks come from allowed_values.py."""

from __future__ import annotations

# Shared with the policy pack, defined once in allowed_values.py.
from allowed_values import DEPLOY_STRATEGIES as DEPLOY_STRATEGIES
from allowed_values import LOG_RETENTION_DAYS as LOG_RETENTION_DAYS

ENVIRONMENTS = ("dev", "staging", "prod")
NAT_STRATEGIES = ("Single", "OnePerAz", "None")
DATABASE_ENGINES = ("postgres", "aurora-postgresql")
CACHE_ENGINES = ("redis", "valkey")
SERVICE_KINDS = ("web", "worker")
# The image's long-running commands (docs/runtime-contract.md), by the kind of service that runs them.
SERVICE_COMMANDS = {"web": "serve", "worker": "relay"}
IMAGE_PLATFORMS = ("linux/arm64", "linux/amd64")
MSK_TOPIC_API_VERSION = (3, 6)
MSK_MONITORING = ("DEFAULT", "PER_BROKER", "PER_TOPIC_PER_BROKER", "PER_TOPIC_PER_PARTITION")
# Fargate task sizes: memory (MiB) allowed for each CPU (units).
FARGATE_MEMORY = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4097, 1024)),
    1024: tuple(range(2048, 8193, 1024)),
    2048: tuple(range(4096, 16385, 1024)),
    4096: tuple(range(8192, 30721, 1024)),
}
# One listener rule's conditions take at most 5 values and 5 wildcards in all; neither adjustable (ELB quotas,
# "Condition values per rule", "Condition wildcards per rule": docs.aws.amazon.com/elasticloadbalancing/latest/
# application/load-balancer-limits.html). botocore's elbv2 model states no bound on the list.
MAX_RULE_PATH_PATTERNS = 5
MAX_RULE_WILDCARDS = 5
# Longer than this, `pulumi up` holds the stack's lock (and the CI job) for hours: use fewer, longer steps.
MAX_DEPLOY_MINUTES = 180
