"""Throw-away local servers for the test suite and the benchmark (never the shared ones)."""
