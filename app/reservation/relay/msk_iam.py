"""MSK IAM authentication: SASL/OAUTHBEARER tokens from aws-msk-iam-sasl-signer-python.

librdkafka calls the producer's ``oauth_cb`` once while the producer is constructed and then again
when 80 % of the current token's lifetime has passed, so a token is always replaced before it
expires. The signer's tokens live 900 s, so a relay refreshes about every 12 minutes. If a refresh
raises (say the task role's credentials are briefly unavailable), librdkafka reports an
``_AUTHENTICATION`` error to ``error_cb``, keeps the old token while it is still valid and retries
the callback 10 s later.
"""

from collections.abc import Callable
from dataclasses import dataclass

from aws_msk_iam_sasl_signer import MSKAuthTokenProvider

# region -> (base64url presigned URL, expiry in epoch milliseconds)
TokenGenerator = Callable[[str], tuple[str, int]]


@dataclass(frozen=True)
class MskIamTokenProvider:
    """An ``oauth_cb`` for confluent-kafka that signs with the default AWS credential chain."""

    region: str
    # The default chain: env vars, then the ECS task role (container credentials endpoint).
    generate: TokenGenerator = MSKAuthTokenProvider.generate_auth_token

    def __call__(self, _oauthbearer_config: str) -> tuple[str, float]:
        token, expiry_ms = self.generate(self.region)
        # The signer speaks milliseconds; confluent-kafka expects seconds since the epoch.
        return token, expiry_ms / 1000
