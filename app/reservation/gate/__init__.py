"""The Redis gate: the Lua scripts (lua/) and their loading and batching, the Redis client and pipe, the
rebuild of a sale from PostgreSQL and the reaper that returns expired holds.

Imports store (rebuild and reaper read the truth), domain and shared; never http, relay or runtime."""
