"""MSK IAM tokens from the real signer (stubbed credentials) and librdkafka's refresh schedule."""

import base64
import time
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlparse

import pytest
from confluent_kafka import Producer
from reservation.relay.kafka_producer import KafkaAuth, KafkaSettings, producer_config
from reservation.relay.msk_iam import MskIamTokenProvider
from reservation.shared.settings import Command, Settings, SettingsError, load_settings

REGION = "eu-west-1"


@pytest.fixture
def stub_aws_credentials(monkeypatch, tmp_path):
    """Only the environment can supply credentials: no files, no profile, no metadata endpoints."""
    for var in (
        "AWS_PROFILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ROLE_ARN",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLESTUB00001")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "stub-secret-key-not-real")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "stub-session-token")


def _decode(token: str) -> str:
    return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()


def test_token_is_a_presigned_kafka_connect_url_for_the_region(stub_aws_credentials):
    before = time.time()
    token, expiry_s = MskIamTokenProvider(REGION)("")

    assert "=" not in token, "the signer strips base64 padding"
    url = urlparse(_decode(token))
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert url.scheme == "https"
    assert url.netloc == f"kafka.{REGION}.amazonaws.com"
    assert query["Action"] == "kafka-cluster:Connect"
    assert query["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert query["X-Amz-Credential"].startswith("AKIDEXAMPLESTUB00001/")
    assert query["X-Amz-Credential"].endswith(f"/{REGION}/kafka-cluster/aws4_request")
    assert query["X-Amz-Security-Token"] == "stub-session-token"
    assert query["X-Amz-Expires"] == "900"
    assert query["User-Agent"].startswith("aws-msk-iam-sasl-signer-python/")

    signed_at = datetime.strptime(query["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).timestamp()
    # confluent-kafka wants the expiry in epoch seconds; the signer returns milliseconds.
    assert expiry_s == signed_at + 900
    assert before + 890 <= expiry_s <= time.time() + 900


def _iam_settings() -> KafkaSettings:
    return KafkaSettings(bootstrap_servers=("127.0.0.1:9",), auth=KafkaAuth.IAM, region=REGION)


def _settings(**env: str) -> Settings:
    return load_settings({"DATABASE_URL": "postgresql://u@h/db"} | env, command=Command.RELAY)


def test_iam_settings_come_from_the_runtime_contract():
    settings = KafkaSettings.from_settings(
        _settings(KAFKA_BOOTSTRAP_SERVERS="b-1:9098,b-2:9098", KAFKA_AUTH="iam", AWS_REGION=REGION)
    )
    assert settings == KafkaSettings(("b-1:9098", "b-2:9098"), KafkaAuth.IAM, REGION, "flashsale.")
    assert settings.topic("orders") == "flashsale.orders"


def test_iam_config_is_sasl_ssl_oauthbearer_with_tls_verification():
    config = producer_config(_iam_settings())
    assert config["bootstrap.servers"] == "127.0.0.1:9"
    assert config["security.protocol"] == "SASL_SSL"
    assert config["sasl.mechanism"] == "OAUTHBEARER"
    assert config["oauth_cb"] == MskIamTokenProvider(REGION)
    assert config["enable.ssl.certificate.verification"] is True
    assert config["ssl.endpoint.identification.algorithm"] == "https"
    assert config["enable.idempotence"] is True
    assert config["acks"] == "all"


def test_plaintext_when_kafka_auth_unset():
    settings = KafkaSettings.from_settings(_settings(KAFKA_BOOTSTRAP_SERVERS="b1:9092,b2:9092"))
    assert settings.auth is KafkaAuth.PLAINTEXT
    config = producer_config(settings)
    assert config["bootstrap.servers"] == "b1:9092,b2:9092"
    assert "security.protocol" not in config
    assert "oauth_cb" not in config
    assert config["enable.idempotence"] is True


def test_the_relay_refuses_to_start_without_brokers_or_region():
    with pytest.raises(SettingsError, match="KAFKA_BOOTSTRAP_SERVERS"):
        _settings()
    with pytest.raises(ValueError, match="KAFKA_BOOTSTRAP_SERVERS"):
        KafkaSettings(())
    with pytest.raises(ValueError, match="AWS_REGION"):
        KafkaSettings(("b:9098",), KafkaAuth.IAM, None)


def test_librdkafka_refreshes_the_token_before_it_expires():
    """A 6 s token is replaced before it runs out: librdkafka refreshes after 80 % of its lifetime
    (checked on a 1 s timer), so the signer's 900 s tokens are renewed after about 12 minutes."""
    issued: list[tuple[float, float]] = []

    def short_lived(region: str) -> tuple[str, int]:
        now = time.time()
        issued.append((now, now + 6))
        return f"token-{len(issued)}-{region}", int((now + 6) * 1000)

    errors = []
    config = producer_config(_iam_settings()) | {
        "oauth_cb": MskIamTokenProvider(REGION, generate=short_lived),
        "error_cb": errors.append,
        "log_level": 0,
    }
    producer = Producer(config)
    deadline = time.time() + 7
    while len(issued) < 2 and time.time() < deadline:
        producer.poll(0.1)

    assert len(issued) >= 2, f"oauth_cb was not called again: {issued}"
    (issued_at, expiry), (refreshed_at, _) = issued[0], issued[1]
    assert issued_at + 4 <= refreshed_at <= expiry - 0.5, "refreshed too early or not before expiry"
    assert not [e for e in errors if "OAUTHBEARER" in e.str()]


def test_a_failed_refresh_is_reported_not_raised():
    calls = []

    def fails_after_first(region: str) -> tuple[str, int]:
        calls.append(time.time())
        if len(calls) > 1:
            raise RuntimeError("credentials endpoint unavailable")
        return "token", int((time.time() + 2) * 1000)

    errors = []
    producer = Producer(
        producer_config(_iam_settings())
        | {
            "oauth_cb": MskIamTokenProvider(REGION, generate=fails_after_first),
            "error_cb": errors.append,
            "log_level": 0,
        }
    )
    deadline = time.time() + 5
    while not any("OAUTHBEARER" in e.str() for e in errors) and time.time() < deadline:
        producer.poll(0.1)  # must not raise
    assert len(calls) >= 2
    assert any("OAUTHBEARER" in e.str() for e in errors), errors
