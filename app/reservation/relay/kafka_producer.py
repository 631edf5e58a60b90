"""The idempotent Kafka producer the outbox relay publishes with, configured from Settings."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from confluent_kafka import Producer

from ..shared.settings import Settings
from .msk_iam import MskIamTokenProvider


class KafkaAuth(StrEnum):
    PLAINTEXT = "plaintext"
    IAM = "iam"


@dataclass(frozen=True, slots=True)
class KafkaSettings:
    bootstrap_servers: tuple[str, ...]
    auth: KafkaAuth = KafkaAuth.PLAINTEXT
    region: str | None = None
    topic_prefix: str = "flashsale."
    # How long librdkafka retries one message before reporting it failed (the relay then leaves the
    # row unpublished for the next batch). Below ECS's default 30 s stop timeout, so a relay told to
    # stop during a Kafka outage still finishes its batch and exits cleanly.
    delivery_timeout_ms: int = 20_000

    def __post_init__(self) -> None:
        if not self.bootstrap_servers:
            raise ValueError("KAFKA_BOOTSTRAP_SERVERS: required for the relay")
        if self.auth is KafkaAuth.IAM and not self.region:
            raise ValueError("AWS_REGION: required to sign the MSK IAM token when KAFKA_AUTH=iam")

    @classmethod
    def from_settings(cls, settings: Settings, delivery_timeout_ms: int = 20_000) -> KafkaSettings:
        return cls(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            auth=KafkaAuth(settings.kafka_auth or KafkaAuth.PLAINTEXT),
            region=settings.aws_region,
            topic_prefix=settings.kafka_topic_prefix,
            delivery_timeout_ms=delivery_timeout_ms,
        )

    def topic(self, logical: str) -> str:
        return f"{self.topic_prefix}{logical}"


def producer_config(settings: KafkaSettings) -> dict[str, Any]:
    config: dict[str, Any] = {
        "bootstrap.servers": ",".join(settings.bootstrap_servers),
        "client.id": "reservation-relay",
        # Idempotence: broker-side dedup of retries and per-partition order kept across retries.
        "enable.idempotence": True,
        "acks": "all",
        "delivery.timeout.ms": settings.delivery_timeout_ms,
        "linger.ms": 5,
        "compression.type": "lz4",
    }
    if settings.auth is KafkaAuth.IAM:
        config |= {
            "security.protocol": "SASL_SSL",
            "sasl.mechanism": "OAUTHBEARER",
            "oauth_cb": MskIamTokenProvider(settings.region or ""),
            "enable.ssl.certificate.verification": True,
            "ssl.endpoint.identification.algorithm": "https",
            # The image's Debian CA bundle (ca-certificates) holds the Amazon roots MSK chains to.
            "ssl.ca.location": "probe",
        }
    return config


def make_producer(settings: KafkaSettings, **extra: Any) -> Producer:
    """``extra`` adds callbacks such as ``error_cb`` or ``logger`` to the librdkafka config."""
    return Producer(producer_config(settings) | extra)
