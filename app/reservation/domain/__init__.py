"""The domain: request bodies and their bounds, models, validation, Redis key names, outbox events and the
failures the service tells apart. Pure: imports nothing of this package outside domain/."""
