"""The process: the `reservation` CLI (serve, relay, migrate) and the server that runs the HTTP app.

Top layer: may import every other layer; nothing imports it (the import-linter contract in the root
pyproject.toml enforces the order runtime > http | relay > gate > store > domain | shared)."""
