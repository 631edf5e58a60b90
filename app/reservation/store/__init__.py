"""PostgreSQL, the source of truth: pools, queries, the batching committer, database credentials and the
migrations (migrations/, applied by migrate.py).

Imports domain and shared; never gate, http, relay or runtime."""
