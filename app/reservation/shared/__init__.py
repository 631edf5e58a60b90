"""What every layer may use: settings read from the environment, logging, Prometheus and CloudWatch (EMF)
metrics, readiness checks and the small health server, the startup heap freeze.

Imports nothing of this package outside shared/."""
