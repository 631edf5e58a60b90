"""bench/commit_cost.py: each variant takes away the part of commit_holds it names, and only that part."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from bench import commit_cost
from bench.run import DEFAULT_ADMIN_URL, private_database

BATCH, BATCHES = 3, 1
HOLDS = BATCH * (commit_cost.WARMUP_COMMITS + BATCHES)


async def _state(url: str) -> tuple[int, int, int, int]:
    conn = await asyncpg.connect(url)
    try:
        return (
            await conn.fetchval("SELECT count(*) FROM reservations"),
            await conn.fetchval("SELECT count(*) FROM outbox"),
            await conn.fetchval("SELECT count(*) FROM outbox WHERE payload = '{}'::jsonb"),
            await conn.fetchval("SELECT sum(units_out) FROM sales"),
        )
    finally:
        await conn.close()


@pytest.mark.parametrize(
    ("variant", "expected"),
    [
        # reservations, outbox rows, of them with an empty payload, units out on the sale's row
        (commit_cost.SHIPPED, (HOLDS, 2 * HOLDS, 0, HOLDS)),
        ("outbox rows without payloads", (HOLDS, 2 * HOLDS, 2 * HOLDS, HOLDS)),
        ("no outbox rows", (HOLDS, 0, 0, HOLDS)),
        ("no guard trigger", (HOLDS, 2 * HOLDS, 0, 0)),
    ],
)
def test_a_variant_leaves_out_only_its_part(variant: str, expected: tuple[int, int, int, int]) -> None:
    with private_database(DEFAULT_ADMIN_URL) as url:
        us = asyncio.run(commit_cost._time_variant(url, commit_cost.VARIANTS[variant], BATCH, BATCHES))
        assert us > 0
        assert asyncio.run(_state(url)) == expected


def test_the_summary_names_every_variant_and_what_its_part_costs() -> None:
    timings = [
        commit_cost.Timing(name, r, us)
        for r in range(2)
        for name, us in zip(commit_cost.VARIANTS, (40.0, 28.0, 22.0, 35.0), strict=True)
    ]
    lines = commit_cost.summary(timings)
    assert lines[0] == "- as shipped: median 40.0 us per hold (40.0-40.0, 2 rounds)"
    assert lines[2].endswith("the part it leaves out costs 18.0 us (45%)")
    assert len(lines) == len(commit_cost.VARIANTS)


def test_a_batch_below_one_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        commit_cost.main(["--batch", "0"])
    assert "--batch must be at least 1, got 0" in capsys.readouterr().err
