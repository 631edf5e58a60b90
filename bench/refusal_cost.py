"""What a refusal by the attempt bucket (429 too_many_attempts) costs against a sold-out refusal (409), in
the same run against the same server: closed-loop phases of each, alternating, the first of each round
swapped so that neither always follows the other. Figures per kind: refusals/s, and the CPU per refusal of
the server worker and of Redis (the script's side), as the median and spread over the rounds, and the
ratios of the medians. On a shared machine the CPU figures are the steadier: refusals/s follows whatever
else runs on the load generator's core.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

SOLD_OUT, TOO_MANY = "sold_out", "too_many_attempts"
STATUS = {SOLD_OUT: 409, TOO_MANY: 429}


@dataclass(frozen=True, slots=True)
class Phase:
    kind: str  # SOLD_OUT or TOO_MANY
    round: int
    rate: float  # refusals per second, closed loop
    cpu_us: float  # the server worker's CPU per answered attempt
    redis_us: float  # Redis' CPU per answered attempt
    completed: int
    of_kind: int  # answers with the kind's status: the rest were something else (reported, not hidden)


def order(rounds: int) -> list[tuple[int, str]]:
    """(round, kind) in running order: A B, B A, A B..."""
    out = []
    for n in range(rounds):
        pair = (SOLD_OUT, TOO_MANY) if n % 2 == 0 else (TOO_MANY, SOLD_OUT)
        out += [(n, kind) for kind in pair]
    return out


def _spread(values: list[float], fmt: str) -> str:
    return f"median {statistics.median(values):{fmt}} ({min(values):{fmt}}-{max(values):{fmt}})"


def summary(phases: list[Phase]) -> list[str]:
    by_kind = {kind: [p for p in phases if p.kind == kind] for kind in (SOLD_OUT, TOO_MANY)}
    lines = []
    for kind, runs in by_kind.items():
        other = sum(p.completed - p.of_kind for p in runs)
        lines.append(
            f"- {kind} ({STATUS[kind]}), {len(runs)} phases: {_spread([p.rate for p in runs], ',.0f')} refusals/s, "
            f"server CPU {_spread([p.cpu_us for p in runs], '.0f')} us, Redis CPU "
            f"{_spread([p.redis_us for p in runs], '.1f')} us per refusal"
            + (f"; {other} answers were not {STATUS[kind]}" if other else "")
        )

    def ratio(figure: str) -> float:
        medians = [statistics.median(getattr(p, figure) for p in by_kind[kind]) for kind in (TOO_MANY, SOLD_OUT)]
        return medians[0] / medians[1]

    paired = [
        t.rate / s.rate
        for s, t in zip(by_kind[SOLD_OUT], by_kind[TOO_MANY], strict=True)  # both in round order
    ]
    lines.append(
        f"- too_many_attempts / sold_out (ratios of the medians): refusals/s {ratio('rate'):.2f}x, server CPU per "
        f"refusal {ratio('cpu_us'):.2f}x, Redis CPU per refusal {ratio('redis_us'):.2f}x; per round, refusals/s "
        f"{_spread(paired, '.2f')}"
    )
    return lines
