"""Same infrastructure: each stack registers exactly what tests/infra/registrations/<stack>.json records.

On an intentional change, regenerate with `.venv/bin/python -m tests.infra.registration_record --update`
and review the diff of the JSON files like code.
"""

from __future__ import annotations

import pytest

from tests.infra.registration_record import VARIANTS, difference, path_for, record, render, run_record
from tooling.mock_runtime import ProgramRun

UPDATE = "python -m tests.infra.registration_record --update"


def test_the_program_registers_what_the_record_holds(run: ProgramRun) -> None:
    assert path_for(run.stack).exists(), f"no record for {run.stack}: run `{UPDATE}`"
    diff = difference(run.stack, render(record(run)))
    assert not diff, (
        f"stack {run.stack} registers something else than its record; if intended, run "
        f"`{UPDATE}` and review the diff:\n{diff}"
    )


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_each_variant_registers_what_its_record_holds(variant: str) -> None:
    diff = difference(variant, render(record(run_record(variant))))
    assert not diff, f"variant {variant} registers something else than its record:\n{diff}"


def test_a_changed_input_fails_with_a_diff_showing_it(run: ProgramRun) -> None:
    entries = record(run)
    entries[0]["inputs"]["addedByThisTest"] = "yes"
    diff = difference(run.stack, render(entries))
    assert '+   "addedByThisTest": "yes",' in diff.splitlines()
