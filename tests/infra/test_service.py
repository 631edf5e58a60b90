"""Each configured service, for every stack: image, cluster, task definition per the runtime contract,
least-privilege roles, private networking, and ECS-native blue/green wiring from the stack's config."""

from __future__ import annotations

import json

import pytest

from components.deployment import DEPLOY_START_MINUTES
from components.task_containers import METRICS_NAMESPACE
from stackconfig import ConfigError, ServiceConfig, StackConfig
from stackconfig.allowed import MAX_DEPLOY_MINUTES
from tests.infra.compute import (
    ROLE,
    TARGET_GROUP,
    arn_of,
    child,
    children,
    component,
    containers,
    ecs_service,
    policy_documents,
    services_in,
)
from tooling.mock_outputs import ACCOUNT, resource_outputs
from tooling.mock_runtime import ProgramRun, RecordedResource, run_program

# Per command (docs/runtime-contract.md): exactly what it reads besides the database (DB_*, and AWS_REGION
# for IAM database authentication: tests/infra/test_database_logins.py), so no task holds another's credentials.
ENVIRONMENT = {
    "migrate": set(),
    "serve": {"REDIS_URL", "REDIS_CLUSTER", "EMF_ENABLED", "METRICS_NAMESPACE", "PORT"},
    "relay": {
        "KAFKA_BOOTSTRAP_SERVERS",
        "KAFKA_AUTH",
        "KAFKA_TOPIC_PREFIX",
        "AWS_REGION",
        "EMF_ENABLED",
        "METRICS_NAMESPACE",
    },
}
SECRETS = {
    "migrate": {"DB_USER", "DB_PASSWORD", "DB_APP_USER", "DB_APP_PASSWORD"},
    "serve": {"REDIS_PASSWORD", "JWT_KEYS"},
    "relay": set(),
}
KMS_KEY = "aws:kms/key:Key"


def _key_arn(run: ProgramRun, data_component: str) -> str:
    """The customer key of the Database or Cache component (it encrypts that component's secret)."""
    keys = [r for r in run.children(run.one(data_component)) if r.type == KMS_KEY]
    assert len(keys) == 1
    return arn_of(keys[0])


def _secrets(container: dict) -> dict[str, str]:
    return {s["name"]: s["valueFrom"] for s in container.get("secrets", [])}


def secret_of(value_from: str) -> str:
    """The secret ARN of a valueFrom, without the `:json-key:version-stage:version-id` that may follow
    (arn:aws:secretsmanager:<region>:<account>:secret:<name>-<suffix> is seven fields)."""
    return ":".join(value_from.split(":")[:7])


def test_image_repository_is_immutable_scanned_and_trimmed(run: ProgramRun, cfg: StackConfig) -> None:
    repo = run.one("aws:ecr/repository:Repository")
    assert repo.inputs["imageTagMutability"] == "IMMUTABLE"
    assert repo.inputs["imageScanningConfiguration"]["scanOnPush"] is True
    assert repo.inputs["encryptionConfigurations"][0]["encryptionType"] in ("AES256", "KMS")
    assert repo.inputs.get("forceDelete", False) is (not cfg.protect_data)
    rule = json.loads(run.one("aws:ecr/lifecyclePolicy:LifecyclePolicy").inputs["policy"])["rules"][0]
    assert rule["selection"]["countNumber"] == cfg.image.keep_last
    image = run.one("awsx:ecr:Image")
    assert image.inputs["platform"] == cfg.image.platform
    assert image.inputs["context"] == "./app" and image.inputs["dockerfile"] == "./app/Dockerfile"
    # By digest: only a changed image gives a new task definition revision.
    assert "@sha256:" in run.outputs["imageUri"]


def test_cluster_has_container_insights_and_spot_per_stack(run: ProgramRun, cfg: StackConfig) -> None:
    cluster = run.one("aws:ecs/cluster:Cluster")
    assert {"name": "containerInsights", "value": "enhanced"} in cluster.inputs["settings"]
    assert run.outputs["clusterName"] == cluster.inputs["name"]
    providers = run.one("aws:ecs/clusterCapacityProviders:ClusterCapacityProviders")
    assert set(providers.inputs["capacityProviders"]) == {"FARGATE", "FARGATE_SPOT"}
    strategy = {s["capacityProvider"]: s for s in providers.inputs["defaultCapacityProviderStrategies"]}
    assert strategy["FARGATE"].get("base", 0) == cfg.capacity.on_demand_base
    assert strategy["FARGATE"].get("weight", 0) == cfg.capacity.on_demand_weight
    assert strategy["FARGATE_SPOT"].get("weight", 0) == cfg.capacity.spot_weight


def test_one_fargate_service_per_configured_service(run: ProgramRun, cfg: StackConfig) -> None:
    names = [s.name for s in services_in(cfg)]
    assert sorted(r.name for r in run.of_type("flashsale:service:FargateService")) == sorted(
        f"{cfg.stack}-{n}" for n in names
    )
    assert run.outputs["serviceNames"] == names
    assert set(run.outputs["taskDefinitionArns"]) == set(names)


@pytest.mark.parametrize("kind", ["web", "worker"])
def test_task_definition_follows_the_runtime_contract(run: ProgramRun, cfg: StackConfig, kind: str) -> None:
    checked = [s for s in services_in(cfg) if s.kind == kind]
    assert checked, f"{cfg.stack} declares no {kind} service"
    for svc in checked:
        task = child(run, component(run, svc), "aws:ecs/taskDefinition:TaskDefinition", "task")
        assert task.inputs["cpu"] == str(svc.cpu) and task.inputs["memory"] == str(svc.memory)
        assert task.inputs["requiresCompatibilities"] == ["FARGATE"] and task.inputs["networkMode"] == "awsvpc"
        assert task.inputs["runtimePlatform"] == {
            "cpuArchitecture": cfg.image.cpu_architecture,
            "operatingSystemFamily": "LINUX",
        }
        defs = containers(run, svc)
        assert set(defs) == {"migrate", svc.name}
        migrate, app = defs["migrate"], defs[svc.name]
        assert migrate["essential"] is False and migrate["command"] == ["migrate"]
        assert app["essential"] is True and app["command"] == list(svc.command)
        assert app["dependsOn"] == [{"containerName": "migrate", "condition": "SUCCESS"}]
        assert ("portMappings" in app) is svc.is_web
        for c in defs.values():
            command = c["command"][0]
            assert c["image"] == run.outputs["imageUri"]
            assert c["readonlyRootFilesystem"] is True
            assert c["user"].split(":")[0] not in ("", "0", "root")
            env = {e["name"]: e["value"] for e in c["environment"]}
            iam_region = {"AWS_REGION"} if command == "serve" and cfg.database.proxy else set()
            assert {k for k in env if not k.startswith("DB_")} - iam_region == ENVIRONMENT[command], c["name"]
            assert env["DB_SSLMODE"] == "require" and run.outputs["databaseSecretArn"] not in env.values()
            secrets = _secrets(c)
            assert set(secrets) == SECRETS[command] and not set(secrets) & set(env), c["name"]
            # Only migrate's logins come from the master secret.
            masters = {k for k, v in secrets.items() if secret_of(v) == run.outputs["databaseSecretArn"]}
            assert masters == ({"DB_USER", "DB_PASSWORD"} if command == "migrate" else set()), c["name"]
            if command == "serve":
                assert env["REDIS_URL"].startswith("rediss://") and "@" not in env["REDIS_URL"]
                assert env["REDIS_CLUSTER"] == ("true" if cfg.cache.cluster_mode else "false")
                assert env["EMF_ENABLED"] == "true" and env["PORT"] == str(svc.port)
                assert secret_of(secrets["REDIS_PASSWORD"]) == run.outputs["redisAuthSecretArn"]
            if command == "relay":
                assert env["KAFKA_AUTH"] == "iam" and env["AWS_REGION"] == cfg.region
                # The relay's lag and publish errors reach CloudWatch as EMF, in the dashboard's namespace.
                assert env["EMF_ENABLED"] == "true" and env["METRICS_NAMESPACE"] == METRICS_NAMESPACE
                assert all(t.name.startswith(env["KAFKA_TOPIC_PREFIX"]) for t in cfg.kafka.topics)
            assert c["logConfiguration"]["logDriver"] == "awslogs"
        log_group = child(run, component(run, svc), "aws:cloudwatch/logGroup:LogGroup", "logs")
        assert log_group.inputs["retentionInDays"] == cfg.log_retention_days


def _statements(run: ProgramRun, role: RecordedResource) -> list[dict]:
    return [s for doc in policy_documents(run, role) for s in doc["Statement"]]


def test_roles_are_least_privilege(run: ProgramRun, cfg: StackConfig) -> None:
    for svc in services_in(cfg):
        parent = component(run, svc)
        execution = child(run, parent, ROLE, "execution")
        task_role = child(run, parent, ROLE, "task")
        for role in (execution, task_role):
            trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
            # The task role is scoped to this account (confused deputy; see test_trust_policies.py).
            scoped = {"Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}}} if role is task_role else {}
            assert trust == [
                {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}
                | scoped
            ]
            for st in _statements(run, role):
                actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
                resources = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
                assert not any(a == "*" or a.endswith(":*") for a in actions), st
                # ecr:GetAuthorizationToken exists only on "*"; nothing else may take "*".
                assert "*" not in resources or actions == ["ecr:GetAuthorizationToken"], st
        # The execution role reads exactly the secrets the containers reference (the relay: none), and
        # decrypts only with their customer keys.
        referenced = {secret_of(ref) for c in containers(run, svc).values() for ref in _secrets(c).values()}
        reads = [s for s in _statements(run, execution) if s["Action"] == "secretsmanager:GetSecretValue"]
        assert [set(r["Resource"]) for r in reads] == ([referenced] if referenced else [])
        decrypts = [s for s in _statements(run, execution) if s["Action"] == "kms:Decrypt"]
        # migrate's logins (the database's key); the Redis token's (the cache's key) for serve.
        keys = [_key_arn(run, "flashsale:data:Database")]
        keys += [_key_arn(run, "flashsale:data:Cache")] if run.outputs["redisAuthSecretArn"] in referenced else []
        assert [d["Resource"] for d in decrypts] == [keys]
        if svc.command[0] == "relay":
            # Its migrate's database logins only.
            assert run.outputs["redisAuthSecretArn"] not in referenced, "the relay needs no Redis AUTH token"
            assert referenced == {run.outputs["databaseSecretArn"], run.outputs["databaseAppSecretArn"]}
        task = child(run, parent, "aws:ecs/taskDefinition:TaskDefinition", "task")
        assert task.inputs["taskRoleArn"] == arn_of(task_role)
        assert task.inputs["executionRoleArn"] == arn_of(execution)


def test_only_the_relay_may_produce_to_kafka_and_only_to_its_topics(run: ProgramRun, cfg: StackConfig) -> None:
    for svc in services_in(cfg):
        statements = _statements(run, child(run, component(run, svc), ROLE, "task"))
        # The database login (tests/infra/test_database_logins.py) aside.
        statements = [
            st for st in statements if st["Sid"] not in ("ConnectAsAppRole", "ReadAppLogin", "DecryptSecrets")
        ]
        actions = {a for st in statements for a in st["Action"]}
        if svc.command[0] != "relay":
            assert not actions, f"{svc.name} needs no AWS permissions beyond its database login"
            continue
        assert actions == {
            "kafka-cluster:Connect",
            "kafka-cluster:DescribeCluster",
            "kafka-cluster:WriteDataIdempotently",
            "kafka-cluster:DescribeTopic",
            "kafka-cluster:WriteData",
        }
        cluster_arn = arn_of(run.one("aws:msk/cluster:Cluster"))
        topics = next(st for st in statements if "kafka-cluster:WriteData" in st["Action"])["Resource"]
        base = cluster_arn.replace(":cluster/", ":topic/", 1)
        assert sorted(topics) == sorted(f"{base}/{t.name}" for t in cfg.kafka.topics)
        connect = next(st for st in statements if "kafka-cluster:Connect" in st["Action"])
        assert connect["Resource"] == cluster_arn


def test_services_run_private_without_public_ip(run: ProgramRun, cfg: StackConfig) -> None:
    network = run.one("flashsale:network:Network")
    for svc in services_in(cfg):
        net = ecs_service(run, svc).inputs["networkConfiguration"]
        assert net["assignPublicIp"] is False
        assert net["subnets"] == run.outputs["privateSubnetIds"]
        assert net["securityGroups"] == [f"{network.name}-service-id"]
        service = ecs_service(run, svc).inputs
        assert service["enableExecuteCommand"] is False and service["propagateTags"] == "SERVICE"
        strategy = {s["capacityProvider"]: s.get("weight", 0) for s in service["capacityProviderStrategies"]}
        assert strategy == {"FARGATE": cfg.capacity.on_demand_weight, "FARGATE_SPOT": cfg.capacity.spot_weight}


def test_deployments_are_blue_green_with_rollback(run: ProgramRun, cfg: StackConfig) -> None:
    for svc in services_in(cfg):
        service = ecs_service(run, svc)
        deploy = service.inputs["deploymentConfiguration"]
        # Workers have no load balancer: headless BLUE_GREEN (no traffic to shift in steps).
        assert deploy["strategy"] == (cfg.deploy.strategy if svc.is_web else "BLUE_GREEN")
        assert deploy["bakeTimeInMinutes"] == str(cfg.deploy.bake_time_minutes)
        assert service.inputs["deploymentController"] == {"type": "ECS"}
        assert service.inputs["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
        assert service.inputs["waitForSteadyState"] is True
        alarms = service.inputs["alarms"]
        assert alarms["enable"] is True and alarms["rollback"] is True
        own = sorted(
            a.inputs["name"] for a in children(run, component(run, svc), "aws:cloudwatch/metricAlarm:MetricAlarm")
        )
        assert sorted(alarms["alarmNames"]) == own and own
        assert "desiredCount" in service.ignore_changes


def test_every_database_client_knows_when_it_talks_to_rds_proxy(run: ProgramRun, cfg: StackConfig) -> None:
    """Named prepared statements pin RDS Proxy sessions: the app turns them off on DB_PROXY=true."""
    for svc in services_in(cfg):
        for c in containers(run, svc).values():
            env = {e["name"]: e["value"] for e in c["environment"]}
            # migrate goes to the database itself (docs/runtime-contract.md).
            through_proxy = cfg.database.proxy and c["command"][0] != "migrate"
            assert env.get("DB_PROXY") == ("true" if through_proxy else None), c["name"]
            if through_proxy:
                assert env["DB_HOST"] == run.outputs["databaseProxyEndpoint"]


def test_aurora_readers_serve_the_apis_reads(stack: str, cfg: StackConfig) -> None:
    for readers in (1,) if cfg.is_prod else (1, 0):  # prod refuses Aurora without a reader
        run = run_program(
            stack,
            overrides={"flashsale:database.engine": "aurora-postgresql", "flashsale:database.auroraReaders": readers},
        )
        cluster = run.one("aws:rds/cluster:Cluster")
        reader_endpoint = resource_outputs(cluster.type, cluster.name, cluster.inputs)[1]["readerEndpoint"]
        # Behind a proxy the reads log in with IAM too: the proxy's read-only endpoint.
        reader_endpoint = run.outputs["databaseProxyReadEndpoint"] if cfg.database.proxy else reader_endpoint
        for svc in services_in(cfg):
            for c in containers(run, svc).values():
                env = {e["name"]: e["value"] for e in c["environment"]}
                expected = reader_endpoint if readers and c["command"][0] == "serve" else None
                assert env.get("DB_READ_HOST") == expected, (readers, c["name"])


def test_capacity_mix_changes_deploy(run: ProgramRun, cfg: StackConfig) -> None:
    """The provider refuses to update capacity_provider_strategies without force_new_deployment."""
    for svc in services_in(cfg):
        service = ecs_service(run, svc).inputs
        assert service["capacityProviderStrategies"]
        assert service["forceNewDeployment"] is True


def test_pulumi_up_waits_as_long_as_the_rollout_takes(run: ProgramRun, cfg: StackConfig) -> None:
    for svc in services_in(cfg):
        service = ecs_service(run, svc)
        strategy = service.inputs["deploymentConfiguration"]["strategy"]
        minutes = cfg.deploy.timeout_minutes(strategy)
        assert minutes >= DEPLOY_START_MINUTES + cfg.deploy.bake_time_minutes
        assert dict(service.custom_timeouts) == {"create": f"{minutes}m", "update": f"{minutes}m"}


def test_linear_rollout_timeout_covers_every_step(stack: str) -> None:
    """25% steps with a 10-minute bake: 4 steps and a final bake, 50 minutes besides starting tasks."""
    run = run_program(
        stack,
        overrides={
            "flashsale:deploy.strategy": "LINEAR",
            "flashsale:deploy.linearStepPercent": "25",
            "flashsale:deploy.bakeTimeMinutes": 10,
        },
    )
    web = [r for r in run.of_type("aws:ecs/service:Service") if r.inputs.get("loadBalancers")]
    assert web
    for service in web:
        assert service.inputs["deploymentConfiguration"]["strategy"] == "LINEAR"
        assert dict(service.custom_timeouts)["update"] == f"{DEPLOY_START_MINUTES + 50}m"


def test_rollouts_longer_than_pulumi_may_wait_are_refused(stack: str) -> None:
    too_long = {
        "flashsale:deploy.strategy": "LINEAR",
        "flashsale:deploy.linearStepPercent": "5",
        "flashsale:deploy.bakeTimeMinutes": 10,
    }
    with pytest.raises(ConfigError) as err:
        run_program(stack, overrides=too_long)
    (problem,) = err.value.problems
    assert problem.startswith("flashsale:deploy.strategy = 'LINEAR': with deploy.bakeTimeMinutes = 10")
    assert "deploy.linearStepPercent = 5" in problem and f"({MAX_DEPLOY_MINUTES})" in problem


def test_web_services_wire_both_target_groups_rules_and_infrastructure_role(run: ProgramRun, cfg: StackConfig) -> None:
    web = [s for s in services_in(cfg) if s.is_web]
    assert web, "a stack without a web service serves nothing"
    infra_role = run.one(ROLE, f"{cfg.stack}-edge-ecs-infrastructure")
    for svc in web:
        parent = component(run, svc)
        blue, green = (child(run, parent, TARGET_GROUP, c) for c in ("blue", "green"))
        production, test = (
            child(run, parent, "aws:lb/listenerRule:ListenerRule", r) for r in ("production-rule", "test-rule")
        )
        (lb,) = ecs_service(run, svc).inputs["loadBalancers"]
        assert lb["targetGroupArn"] == arn_of(blue)
        assert lb["containerName"] == svc.name and lb["containerPort"] == svc.port
        assert lb["advancedConfiguration"] == {
            "alternateTargetGroupArn": arn_of(green),
            "productionListenerRule": arn_of(production),
            "testListenerRule": arn_of(test),
            "roleArn": arn_of(infra_role),
        }
        assert ecs_service(run, svc).inputs["healthCheckGracePeriodSeconds"] > 0


def test_workers_have_no_load_balancer(run: ProgramRun, cfg: StackConfig) -> None:
    workers = [s for s in services_in(cfg) if not s.is_web]
    assert workers, f"{cfg.stack} declares no worker (the outbox relay)"
    for svc in workers:
        assert not ecs_service(run, svc).inputs.get("loadBalancers")
        assert not children(run, component(run, svc), TARGET_GROUP)


def _declared(cfg: StackConfig) -> list[dict]:
    """The stack's services as `flashsale:services` config, to extend in an override."""
    return [
        {
            "name": s.name,
            "kind": s.kind,
            "command": list(s.command),
            "cpu": s.cpu,
            "memory": s.memory,
            "minTasks": s.min_tasks,
            "maxTasks": s.max_tasks,
            **({"paths": list(s.paths), "listenerPriority": s.listener_priority} if s.is_web else {}),
        }
        for s in cfg.services
    ]


def test_a_second_web_service_needs_only_config(stack: str, cfg: StackConfig) -> None:
    extra = {
        "name": "catalog",
        "kind": "web",
        "command": ["serve"],
        "paths": ["/catalog/*"],
        "listenerPriority": 50,
        "cpu": 256,
        "memory": 512,
        "minTasks": 1,
        "maxTasks": 40,  # sale windows default to every web service: room for their floor
    }
    run = run_program(stack, overrides={"flashsale:services": [*_declared(cfg), extra]})
    catalog = ServiceConfig(
        name="catalog",
        kind="web",
        command=("serve",),
        cpu=256,
        memory=512,
        min_tasks=1,
        max_tasks=40,
        port=8000,
        paths=("/catalog/*",),
        listener_priority=50,
        health_check_path="/health/live",
    )
    parent = component(run, catalog)
    groups = children(run, parent, TARGET_GROUP)
    assert len(groups) == 2
    rule = child(run, parent, "aws:lb/listenerRule:ListenerRule", "production-rule")
    assert rule.inputs["conditions"][0]["pathPattern"]["values"] == ["/catalog/*"]
    assert rule.inputs["priority"] == 50
    (lb,) = ecs_service(run, catalog).inputs["loadBalancers"]
    assert {lb["targetGroupArn"], lb["advancedConfiguration"]["alternateTargetGroupArn"]} == {arn_of(g) for g in groups}
    assert run.one("flashsale:autoscaling:ServiceAutoscaling", f"{stack}-catalog-scaling")
    assert "catalog" in run.outputs["serviceNames"]
    assert set(run.outputs["taskDefinitionArns"]) == {s.name for s in cfg.services} | {"catalog"}


def test_jwt_signing_keys_are_generated_kept_in_secrets_manager_and_passed_by_pinned_reference(
    run: ProgramRun, cfg: StackConfig
) -> None:
    parent = run.one("flashsale:service:JwtSigningKey")
    for slot in ("value", "value-1"):
        value = child(run, parent, "random:index/randomPassword:RandomPassword", slot)
        assert value.inputs["length"] == 64 and value.inputs["special"] is False
        assert value.protect is False, "protecting a key slot would block its rotation"
    secret = child(run, parent, "aws:secretsmanager/secret:Secret", "secret")
    assert secret.protect is cfg.protect_data
    version = child(run, parent, "aws:secretsmanager/secretVersion:SecretVersion", "version")
    assert version.inputs["secretId"] == f"{secret.name}-id"
    pinned = f"{arn_of(secret)}:::{resource_outputs(version.type, version.name, version.inputs)[1]['versionId']}"
    for svc in services_in(cfg):
        for c in containers(run, svc).values():
            assert _secrets(c).get("JWT_KEYS") == (pinned if c["command"] == ["serve"] else None)


@pytest.mark.parametrize(
    ("strategy", "block", "expected"),
    [
        ("CANARY", "canaryConfiguration", {"canaryPercent": 5.0, "canaryBakeTimeInMinutes": "3"}),
        ("LINEAR", "linearConfiguration", {"stepPercent": 20.0, "stepBakeTimeInMinutes": "3"}),
    ],
)
def test_canary_and_linear_shift_web_traffic_in_steps(
    stack: str, cfg: StackConfig, strategy: str, block: str, expected: dict
) -> None:
    run = run_program(
        stack,
        overrides={
            "flashsale:deploy.strategy": strategy,
            "flashsale:deploy.bakeTimeMinutes": 3,
            "flashsale:deploy.canaryPercent": "5",
            "flashsale:deploy.linearStepPercent": "20",
        },
    )
    for svc in services_in(cfg):
        deploy = ecs_service(run, svc).inputs["deploymentConfiguration"]
        if svc.is_web:
            assert deploy["strategy"] == strategy and deploy[block] == expected
        else:
            assert deploy["strategy"] == "BLUE_GREEN" and block not in deploy


def test_a_command_outside_the_runtime_contract_is_refused(stack: str, cfg: StackConfig) -> None:
    """Its environment and secrets would be unknown: refuse at config time instead of guessing."""
    odd = {"name": "odd", "kind": "worker", "command": ["consume"]}
    with pytest.raises(ConfigError) as err:
        run_program(stack, overrides={"flashsale:services": [*_declared(cfg), odd]})
    index = len(cfg.services)
    assert err.value.problems == [
        f'flashsale:services[{index}].command = ["consume"]: a worker service runs [relay, ...] '
        "(the image's commands: docs/runtime-contract.md)"
    ]
