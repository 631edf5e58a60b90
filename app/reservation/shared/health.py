"""Readiness checks by name; the relay registers its Kafka check here."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

ReadinessCheck = Callable[[], Awaitable[object]]


class Readiness:
    def __init__(self, timeout: float = 2.0) -> None:
        self._checks: dict[str, ReadinessCheck] = {}
        self._timeout = timeout

    def add(self, name: str, check: ReadinessCheck) -> None:
        self._checks[name] = check

    async def _one(self, check: ReadinessCheck) -> str:
        try:
            await asyncio.wait_for(check(), self._timeout)
        except Exception as exc:
            return f"failed: {type(exc).__name__}: {exc}"[:300]
        return "ok"

    async def run(self) -> dict[str, str]:
        names = list(self._checks)
        results = await asyncio.gather(*(self._one(self._checks[n]) for n in names))
        return dict(zip(names, results, strict=True))
