"""Capacity at the latency target: the highest offered open-loop rate whose p99 stays under the target.

Found by bisection between 0 (passes by definition) and an upper bound that is known to be out of reach
(the same run's closed-loop peak: offered open loop at that rate, a queue only grows). Each probe is a fresh
sale, so a probe costs seconds: the search stops at the first of a resolution, a probe count, or a time
budget, and reports the highest rate that passed with the interval the true capacity lies in.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Probe:
    rate: float  # offered, requests/s
    p99: float  # seconds, over every request of the probe
    complete: bool  # every request answered before the phase timeout

    def passed(self, target: float) -> bool:
        return self.complete and self.p99 <= target


@dataclass(frozen=True, slots=True)
class Search:
    target: float  # seconds
    upper: float  # the bound the search started below
    probes: tuple[Probe, ...] = field(default=())

    @property
    def capacity(self) -> float:
        """The highest offered rate that passed; 0 when none did."""
        return max((p.rate for p in self.probes if p.passed(self.target)), default=0.0)

    @property
    def first_failure(self) -> float:
        """The lowest offered rate that failed above the capacity: the capacity is below it."""
        failed = [p.rate for p in self.probes if not p.passed(self.target) and p.rate > self.capacity]
        return min(failed, default=self.upper)


def find_capacity(
    probe: Callable[[float], Probe],
    upper: float,
    *,
    target: float = 0.050,
    resolution: float = 0.04,
    max_probes: int = 6,
    budget_seconds: float = 180.0,
    probe_seconds: Callable[[float], float] = lambda rate: 0.0,
    clock: Callable[[], float] = time.monotonic,
) -> Search:
    """Bisect (0, upper) until the interval is narrower than `resolution` x upper, `max_probes` probes ran, or
    the next probe (its expected length from `probe_seconds(rate)`) would end after `budget_seconds`."""
    if upper <= 0:
        raise ValueError(f"upper bound must be a positive rate, got {upper}")
    if not 0 < resolution < 1:
        raise ValueError(f"resolution must be a fraction between 0 and 1, got {resolution}")
    low, high = 0.0, upper
    probes: list[Probe] = []
    deadline = clock() + budget_seconds
    while len(probes) < max_probes and high - low > resolution * upper:
        rate = (low + high) / 2
        if clock() + probe_seconds(rate) > deadline:
            break
        result = probe(rate)
        probes.append(result)
        if result.passed(target):
            low = rate
        else:
            high = rate
    return Search(target, upper, tuple(probes))
