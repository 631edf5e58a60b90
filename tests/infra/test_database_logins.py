"""Who logs in to PostgreSQL as whom (docs/runtime-contract.md, "Database credentials"), on every stack
as it is and switched to the other database shape: migrate as the master user straight to the database,
serve and relay as the application role (through RDS Proxy with IAM authentication where there is a
proxy, with the app secret where there is none), and no role the service's process holds ever reading
the master secret."""

from __future__ import annotations

import json
from typing import Any

import pytest
from reservation.shared.settings import load_settings

from components.database import APP_PASSWORD_LENGTH, APP_PASSWORD_SPECIALS
from components.service_iam import proxy_db_user
from stackconfig import NAMESPACE, StackConfig, parse_config
from tests.infra.compute import ROLE, arn_of, child, component, containers, policy_documents, services_in
from tests.infra.conftest import stack_config
from tooling.mock_outputs import ACCOUNT, REGION, resource_outputs
from tooling.mock_runtime import ProgramRun, RecordedResource, run_program
from tooling.stack_files import load_stack_files

DATABASE = "flashsale:data:Database"
PROXY = "aws:rds/proxy:Proxy"
PROXY_ENDPOINT = "aws:rds/proxyEndpoint:ProxyEndpoint"
SECRET = "aws:secretsmanager/secret:Secret"
SECRET_VERSION = "aws:secretsmanager/secretVersion:SecretVersion"
KMS_KEY = "aws:kms/key:Key"
# Each stack as it is, and switched to the shape it does not have: Aurora with readers behind a proxy (its
# read-only endpoint), and without a proxy (the app secret; Aurora's own reader endpoint).
SHAPES: dict[str, dict[str, Any]] = {
    "as-is": {},
    "aurora-proxy": {
        "flashsale:database.engine": "aurora-postgresql",
        "flashsale:database.auroraReaders": 2,
        "flashsale:database.proxy": True,
    },
    "aurora-direct": {
        "flashsale:database.engine": "aurora-postgresql",
        "flashsale:database.auroraReaders": 1,
        "flashsale:database.proxy": False,
    },
}
_RUNS: dict[tuple[str, str], ProgramRun] = {}


@pytest.fixture(scope="session", params=list(SHAPES))
def shaped(request: pytest.FixtureRequest, stack: str, run: ProgramRun) -> tuple[ProgramRun, StackConfig]:
    shape = request.param
    if shape == "as-is":
        return run, stack_config(stack)
    if (stack, shape) not in _RUNS:
        _RUNS[stack, shape] = run_program(stack, overrides=SHAPES[shape])
    result = _RUNS[stack, shape]
    assert result.of_type(DATABASE), "the program registered no Database"
    return result, _config(stack, SHAPES[shape])


def _config(stack: str, overrides: dict[str, Any]) -> StackConfig:
    """The stack's configuration with the shape's keys changed, read as the program reads it."""
    files = load_stack_files(stack)
    raw = {k.split(":", 1)[1]: v for k, v in files.config.items() if k.startswith(f"{NAMESPACE}:")}
    raw |= {k.split(":", 1)[1]: json.dumps(v) if isinstance(v, bool) else str(v) for k, v in overrides.items()}
    return parse_config(raw, project=files.project, stack=stack, region=files.config.get("aws:region"))


def _only(run: ProgramRun, type_: str) -> RecordedResource:
    found = [r for r in run.children(run.one(DATABASE)) if r.type == type_]
    assert len(found) == 1, f"expected one {type_} in the Database, found {len(found)}"
    return found[0]


def _env(container: dict) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container["environment"]}


def _secrets(container: dict) -> dict[str, str]:
    return {s["name"]: s["valueFrom"] for s in container.get("secrets", [])}


def _app_secret(run: ProgramRun) -> tuple[str, str]:
    """The application role's secret ARN and the version id the mocked provider gave its value."""
    secret = _only(run, SECRET)
    version = _only(run, SECRET_VERSION)
    return arn_of(secret), resource_outputs(version.type, version.name, version.inputs)[1]["versionId"]


def _writer(run: ProgramRun) -> str:
    return run.outputs["databaseEndpoint"]


def _aurora_reader_endpoint(run: ProgramRun) -> str | None:
    clusters = run.of_type("aws:rds/cluster:Cluster")
    return (
        resource_outputs(clusters[0].type, clusters[0].name, clusters[0].inputs)[1]["readerEndpoint"]
        if clusters
        else None
    )


def test_the_application_roles_password_is_generated_and_kept_in_its_own_encrypted_secret(
    shaped: tuple[ProgramRun, StackConfig],
) -> None:
    run, cfg = shaped
    password = _only(run, "random:index/randomPassword:RandomPassword").inputs
    assert password["length"] == APP_PASSWORD_LENGTH and password["special"] is True
    assert password["overrideSpecial"] == APP_PASSWORD_SPECIALS
    # Printable ASCII (migrate's rule), nothing JSON escapes, nothing RDS or a connection URL mangles.
    assert all("!" <= c <= "~" for c in APP_PASSWORD_SPECIALS) and not set(APP_PASSWORD_SPECIALS) & set("\"\\'/@:% ")
    secret = _only(run, SECRET)
    assert secret.inputs["kmsKeyId"] == arn_of(_only(run, KMS_KEY))
    assert secret.inputs["recoveryWindowInDays"] == (30 if cfg.protect_data else 0)
    assert secret.protect is cfg.protect_data
    value = _only(run, SECRET_VERSION).inputs["secretString"]
    assert isinstance(value, dict) and "value" in value, "the secret's value must be marked secret"
    login = json.loads(value["value"])
    assert set(login) == {"username", "password"} and login["username"] == cfg.database.app_username
    assert run.outputs["databaseAppSecretArn"] == arn_of(secret)
    assert run.outputs["databaseAppUsername"] == cfg.database.app_username


def test_migrate_logs_in_as_the_master_user_straight_to_the_database(shaped: tuple[ProgramRun, StackConfig]) -> None:
    run, cfg = shaped
    master = run.outputs["databaseSecretArn"]
    app, version = _app_secret(run)
    for svc in services_in(cfg):
        migrate = containers(run, svc)["migrate"]
        env = _env(migrate)
        # The writer itself, never the proxy (which holds only the app role's secret).
        assert env == {
            "DB_HOST": _writer(run),
            "DB_PORT": "5432",
            "DB_NAME": cfg.database.name,
            "DB_SSLMODE": "require",
        }
        # Both logins as secrets the execution role reads at task start: the master's unpinned (RDS rotates
        # it), the app role's pinned to its version (a new password rolls the tasks and migrate applies it).
        assert _secrets(migrate) == {
            "DB_USER": f"{master}:username::",
            "DB_PASSWORD": f"{master}:password::",
            "DB_APP_USER": f"{app}:username::{version}",
            "DB_APP_PASSWORD": f"{app}:password::{version}",
        }


def test_serve_and_relay_log_in_as_the_application_role(shaped: tuple[ProgramRun, StackConfig]) -> None:
    run, cfg = shaped
    app, _ = _app_secret(run)
    readers = cfg.database.engine == "aurora-postgresql" and cfg.database.aurora_readers > 0
    for svc in services_in(cfg):
        command = svc.command[0]
        own = containers(run, svc)[svc.name]
        env = {k: v for k, v in _env(own).items() if k.startswith("DB_") or k == "AWS_REGION"}
        common = {"DB_PORT": "5432", "DB_NAME": cfg.database.name, "DB_SSLMODE": "require"}
        if cfg.database.proxy:
            expected = common | {
                "DB_HOST": run.outputs["databaseProxyEndpoint"],
                "DB_IAM_AUTH": "true",
                "DB_USER": cfg.database.app_username,
                "DB_PROXY": "true",
                "AWS_REGION": cfg.region,
            }
            read_host = run.outputs["databaseProxyReadEndpoint"] if readers else None
        else:
            expected = common | {"DB_HOST": _writer(run), "DB_LOGIN_ARN": app}
            expected |= {"AWS_REGION": cfg.region} if command == "relay" else {}  # MSK IAM's
            read_host = _aurora_reader_endpoint(run) if readers else None
        if command == "serve" and read_host:
            expected["DB_READ_HOST"] = read_host
        assert env == expected, svc.name
        assert not any(k.startswith("DB_") for k in _secrets(own)), "no database password reaches the service"


def test_every_container_passes_the_services_own_settings_check(shaped: tuple[ProgramRun, StackConfig]) -> None:
    """The task definition against app/reservation/shared/settings.py: each container's environment, its
    secrets filled in as ECS would, is accepted by its command, and logs in the way the contract says."""
    run, cfg = shaped
    filled = {
        "DB_USER": "flashsale",
        "DB_PASSWORD": "master-password",
        "DB_APP_USER": cfg.database.app_username,
        "DB_APP_PASSWORD": "app-password",
        "REDIS_PASSWORD": "redis-token",
        "JWT_KEYS": json.dumps({"current": "g0", "keys": {"g0": "k" * 64}}),
    }
    for svc in services_in(cfg):
        for container in containers(run, svc).values():
            command = container["command"][0]
            env = _env(container) | {name: filled[name] for name in _secrets(container)}
            settings = load_settings(env, command=command)
            assert settings.db_proxy is (cfg.database.proxy and command != "migrate"), container["name"]


def test_no_role_of_the_service_reads_the_master_secret(shaped: tuple[ProgramRun, StackConfig]) -> None:
    """The task role (the service's process holds it) logs in as the app role only: rds-db:connect as that
    user at that proxy, or the app secret without a proxy. Only the execution role reads the master's."""
    run, cfg = shaped
    master = run.outputs["databaseSecretArn"]
    app, _ = _app_secret(run)
    key = arn_of(_only(run, KMS_KEY))
    for svc in services_in(cfg):
        task_role = child(run, component(run, svc), ROLE, "task")
        documents = policy_documents(run, task_role)
        assert master not in json.dumps(documents)
        kafka = ("Connect", "Produce")  # the relay's MSK statements (test_service.py)
        database = [s for d in documents for s in d["Statement"] if s.get("Sid") not in kafka]
        if cfg.database.proxy:
            proxy = run.one(PROXY)
            resource_id = arn_of(proxy).rsplit(":", 1)[1]
            assert resource_id.startswith("prx-")
            assert database == [
                {
                    "Sid": "ConnectAsAppRole",
                    "Effect": "Allow",
                    "Action": "rds-db:connect",
                    "Resource": f"arn:aws:rds-db:{REGION}:{ACCOUNT}:dbuser:{resource_id}/{cfg.database.app_username}",
                }
            ]
        else:
            via = {"StringEquals": {"kms:ViaService": f"secretsmanager.{cfg.region}.amazonaws.com"}}
            assert database == [
                {"Sid": "ReadAppLogin", "Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": app},
                {
                    "Sid": "DecryptSecrets",
                    "Effect": "Allow",
                    "Action": "kms:Decrypt",
                    "Resource": [key],
                    "Condition": via,
                },
            ]
        # The execution role reads both logins for migrate (and decrypts with the database's key once).
        execution = child(run, component(run, svc), ROLE, "execution")
        statements = [s for d in policy_documents(run, execution) for s in d["Statement"]]
        (reads,) = [s for s in statements if s["Action"] == "secretsmanager:GetSecretValue"]
        assert {master, app} <= set(reads["Resource"])
        (decrypts,) = [s for s in statements if s["Action"] == "kms:Decrypt"]
        assert decrypts["Resource"].count(key) == 1


def test_the_proxy_requires_iam_and_serves_reads_through_a_read_only_endpoint(
    shaped: tuple[ProgramRun, StackConfig],
) -> None:
    run, cfg = shaped
    endpoints = [r for r in run.children(run.one(DATABASE)) if r.type == PROXY_ENDPOINT]
    if not cfg.database.proxy:
        assert not run.of_type(PROXY) and not endpoints
        return
    proxy = _only(run, PROXY)
    assert proxy.inputs["requireTls"] is True
    assert [(a["secretArn"], a["iamAuth"]) for a in proxy.inputs["auths"]] == [(_app_secret(run)[0], "REQUIRED")]
    if cfg.database.engine != "aurora-postgresql" or not cfg.database.aurora_readers:
        # RDS Proxy has read-only endpoints for Aurora clusters with readers only.
        assert not endpoints and run.outputs["databaseProxyReadEndpoint"] is None
        return
    (endpoint,) = endpoints
    assert endpoint.inputs["targetRole"] == "READ_ONLY"
    assert endpoint.inputs["dbProxyName"] == proxy.inputs.get("name", proxy.name)
    assert endpoint.inputs["vpcSubnetIds"] == proxy.inputs["vpcSubnetIds"]
    assert endpoint.inputs["vpcSecurityGroupIds"] == proxy.inputs["vpcSecurityGroupIds"]
    # After the target: a read-only endpoint needs the cluster (with readers) behind the proxy.
    target = _only(run, "aws:rds/proxyTarget:ProxyTarget")
    assert target.urn in endpoint.dependencies
    assert (
        run.outputs["databaseProxyReadEndpoint"]
        == resource_outputs(endpoint.type, endpoint.name, endpoint.inputs)[1]["endpoint"]
    )


@pytest.mark.parametrize(
    ("proxy_arn", "expected"),
    [
        (
            "arn:aws:rds:eu-west-1:123456789012:db-proxy:prx-0123456789abcdef0",
            "arn:aws:rds-db:eu-west-1:123456789012:dbuser:prx-0123456789abcdef0/flashsale_app",
        ),
        (
            "arn:aws-cn:rds:cn-north-1:123456789012:db-proxy:prx-0123456789abcdef0",
            "arn:aws-cn:rds-db:cn-north-1:123456789012:dbuser:prx-0123456789abcdef0/flashsale_app",
        ),
    ],
)
def test_the_connect_resource_is_the_proxys_user(proxy_arn: str, expected: str) -> None:
    assert proxy_db_user(proxy_arn, "flashsale_app") == expected


@pytest.mark.parametrize(
    "not_a_proxy",
    ["arn:aws:rds:eu-west-1:123456789012:db:flashsale-prod", "arn:aws:rds:eu-west-1:123456789012:db-proxy:flashsale"],
)
def test_the_connect_resource_refuses_anything_but_a_proxy_arn(not_a_proxy: str) -> None:
    with pytest.raises(ValueError, match="is not an RDS Proxy ARN"):
        proxy_db_user(not_a_proxy, "flashsale_app")
