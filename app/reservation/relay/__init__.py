"""The outbox relay: publishes committed outbox rows to Kafka (idempotent producer, MSK IAM auth), with its
own metrics and health server. Runs as its own service from the same image.

Imports store, domain and shared; never runtime, http or gate."""
