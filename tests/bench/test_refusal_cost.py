"""The refusal-cost phase's bookkeeping: alternating order, and figures from the right phases."""

from __future__ import annotations

import pytest

from bench.refusal_cost import SOLD_OUT, TOO_MANY, Phase, order, summary
from bench.run import main


def test_rounds_alternate_and_swap_which_kind_goes_first():
    assert order(3) == [(0, SOLD_OUT), (0, TOO_MANY), (1, TOO_MANY), (1, SOLD_OUT), (2, SOLD_OUT), (2, TOO_MANY)]


def test_summary_reports_medians_spread_and_ratios_of_the_medians():
    phases = [
        Phase(SOLD_OUT, 0, 1000, 100, 20, 5000, 5000),
        Phase(TOO_MANY, 0, 1500, 80, 10, 5000, 5000),
        Phase(TOO_MANY, 1, 1200, 90, 12, 5000, 4990),
        Phase(SOLD_OUT, 1, 1100, 110, 22, 5000, 5000),
        Phase(SOLD_OUT, 2, 900, 120, 24, 5000, 5000),
        Phase(TOO_MANY, 2, 1800, 70, 8, 5000, 5000),
    ]
    lines = summary(phases)
    assert lines[0] == (
        "- sold_out (409), 3 phases: median 1,000 (900-1,100) refusals/s, server CPU median 110 (100-120) us, "
        "Redis CPU median 22.0 (20.0-24.0) us per refusal"
    )
    assert lines[1].endswith("per refusal; 10 answers were not 429")
    # medians 1,500 / 1,000 refusals/s, 80 / 110 us, 10 / 22 us; per round 1.5, 1.09, 2.0
    assert lines[2] == (
        "- too_many_attempts / sold_out (ratios of the medians): refusals/s 1.50x, server CPU per refusal 0.73x, "
        "Redis CPU per refusal 0.45x; per round, refusals/s median 1.50 (1.09-2.00)"
    )


def test_refusals_only_is_refused_with_options_it_does_not_honour(capsys):
    for extra in (["--matrix"], ["--json", "x.json"]):
        with pytest.raises(SystemExit):
            main(["--refusals-only", *extra])
        assert "--refusals-only measures one server" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--refusal-rounds", "0"])
    assert "--refusal-rounds must be positive" in capsys.readouterr().err
