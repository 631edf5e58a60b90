"""Values the program's configuration and the policy pack must agree on, defined once.

The configuration refuses what the pack would refuse (a prod stack is checked up front, not at
`pulumi preview`), and the pack's rules use the same values as their defaults. A top-level module with
no imports, so both sides can load it: the program runs from the repo root, and `policy/__main__.py`
puts the repo root on sys.path before it imports the rules.
"""

# ECS deployment strategies that shift traffic to a new revision and can roll it back; ROLLING, the
# fourth strategy ECS accepts, is not among them. Strategy values: ECS API reference,
# DeploymentConfiguration.strategy (ROLLING | BLUE_GREEN | LINEAR | CANARY).
DEPLOY_STRATEGIES = ("BLUE_GREEN", "CANARY", "LINEAR")

# The retention periods CloudWatch Logs accepts (PutRetentionPolicy, retentionInDays; botocore's logs
# model, shape Days). The pack's log-group-retention rule requires only that one is set.
LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)

# Tags every taggable resource carries (the program sets them as the aws provider's defaultTags).
REQUIRED_TAGS = ("project", "environment", "managed-by")

# Days of automated database backups a prod stack keeps, at least.
MIN_BACKUP_RETENTION_DAYS = 7

# Availability zones a prod stack spans (VPC subnets, MSK brokers), at least.
MIN_AVAILABILITY_ZONES = 3
