"""The Redis gate: typed wrappers around the Lua scripts for one sale's keys."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ..domain.keys import attempt_keys, script_keys
from .scripts import LuaScript, ScriptRunner

RESERVE = LuaScript.bundled("reserve")
SETTLE = LuaScript.bundled("settle")
SNAPSHOT = LuaScript.bundled("snapshot")
LOAD = LuaScript.bundled("load")
OVERDUE = LuaScript.bundled("overdue")
RETIRE = LuaScript.bundled("retire")


class Outcome(StrEnum):
    OK = "ok"
    DUPLICATE = "duplicate"
    NOT_LOADED = "not_loaded"
    OVER_LIMIT = "over_limit"
    NOT_STARTED = "not_started"
    ENDED = "ended"
    SOLD_OUT = "sold_out"
    USER_LIMIT = "user_limit"
    TOO_MANY_ATTEMPTS = "too_many_attempts"


class Settle(StrEnum):
    CONFIRM = "confirm"
    RELEASE = "release"
    COMPENSATE = "compensate"


@dataclass(frozen=True, slots=True)
class GateResult:
    outcome: Outcome
    reservation_id: str = ""
    epoch: int = 0
    remaining: int | None = None
    expires_ms: int | None = None
    retry_ms: int | None = None  # too_many_attempts: until the buyer's next attempt is let through


@dataclass(frozen=True, slots=True)
class GateSnapshot:
    epoch: int
    starts_ms: int
    ends_ms: int
    per_user_limit: int
    hold_ms: int
    initial: int
    remaining: int
    held: int
    confirmed: int


@dataclass(frozen=True, slots=True)
class Hold:
    reservation_id: str
    user_id: str
    idempotency_key: str
    quantity: int
    expires_ms: int


@dataclass(frozen=True, slots=True)
class SaleState:
    """Everything the gate needs for one sale, as derived from PostgreSQL."""

    epoch: int
    starts_ms: int
    ends_ms: int
    per_user_limit: int
    hold_ms: int
    initial: int
    confirmed: int
    attempts_per_second: float
    attempt_burst: int
    user_units: dict[str, int]
    holds: list[Hold]
    idempotency: list[tuple[str, str, str]]  # (user, key, reservation id)

    @property
    def held(self) -> int:
        return sum(h.quantity for h in self.holds)


def idem_field(user: str, key: str) -> str:
    # Length-prefixed so no (user, key) pair can collide with another; same format as the Lua scripts.
    return f"{len(user.encode())}:{user}{key}"


def attempt_interval_us(attempts_per_second: float) -> int:
    """The bucket's refill interval as the script counts it: whole microseconds per attempt."""
    return round(1_000_000 / attempts_per_second)


class Gate:
    def __init__(self, runner: ScriptRunner) -> None:
        self._runner = runner

    async def reserve(self, sale_id: int, user: str, key: str, quantity: int, reservation_id: str) -> GateResult:
        raw = await self._runner.run(RESERVE, attempt_keys(sale_id, user), [user, key, quantity, reservation_id])
        outcome = Outcome(raw[0])
        if outcome is Outcome.NOT_LOADED:
            return GateResult(outcome)
        if outcome is Outcome.TOO_MANY_ATTEMPTS:
            return GateResult(outcome, epoch=int(raw[2]), retry_ms=int(raw[3]))
        return GateResult(
            outcome=outcome,
            reservation_id=raw[1],
            epoch=int(raw[2]),
            remaining=int(raw[3]) if len(raw) > 3 else None,
            expires_ms=int(raw[4]) if len(raw) > 4 else None,
        )

    async def settle(self, sale_id: int, reservation_id: str, how: Settle) -> str:
        """Returns 'ok', 'noop' (already settled or unknown) or 'not_loaded'."""
        return await self._runner.run(SETTLE, script_keys(sale_id), [reservation_id, how.value])

    async def snapshot(self, sale_id: int) -> GateSnapshot | None:
        raw = await self._runner.run(SNAPSHOT, script_keys(sale_id), [])
        return GateSnapshot(*(int(v) for v in raw)) if raw else None

    async def overdue(self, sale_id: int, grace_ms: int, limit: int) -> list[str]:
        """Reservation ids of holds more than grace_ms past their expiry, still counted as held."""
        return list(await self._runner.run(OVERDUE, script_keys(sale_id), [grace_ms, limit]))

    async def retire(self, sale_id: int) -> None:
        """Delete the sale's keys: it is closed (Sale.gate_closed), so none of them can change again."""
        await self._runner.run(RETIRE, script_keys(sale_id), [])

    async def load(self, sale_id: int, state: SaleState) -> None:
        args: list[str | int] = [
            state.epoch,
            state.starts_ms,
            state.ends_ms,
            state.per_user_limit,
            state.hold_ms,
            state.initial,
            state.initial - state.held - state.confirmed,
            state.held,
            state.confirmed,
            attempt_interval_us(state.attempts_per_second),
            state.attempt_burst,
            len(state.user_units),
        ]
        for user, units in state.user_units.items():
            args += [user, units]
        args.append(len(state.holds))
        for h in state.holds:
            args += [h.reservation_id, h.expires_ms, f"{h.quantity}|{idem_field(h.user_id, h.idempotency_key)}"]
        args.append(len(state.idempotency))
        for user, key, rid in state.idempotency:
            args += [idem_field(user, key), rid]
        await self._runner.run(LOAD, script_keys(sale_id), args)
