"""The mutation runner (bench/mutation.py) counts right: a whole run of cosmic-ray on a 15-line
module judged by a 3-test suite, whose every mutant's fate is worked out by hand below."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

pytest.importorskip("cosmic_ray", reason="the mutation extra (cosmic-ray) is not installed")

import cosmic_ray.commands  # noqa: E402
from cosmic_ray.work_db import use_db  # noqa: E402
from cosmic_ray.work_item import TestOutcome as CrOutcome  # noqa: E402
from cosmic_ray.work_item import WorkerOutcome, WorkResult  # noqa: E402

from bench.mutation import Package, run_package, select  # noqa: E402
from bench.mutation_results import Score, mutant_key, outcome_of  # noqa: E402

FARES = '''\
"""Fares of a tiny line: the mutation runner's test subject."""

from __future__ import annotations


def fare(stops: int | None) -> int:
    if stops is None:
        return 0
    return 200 if stops > 3 else 100


def countdown(n: int) -> int:
    while n:
        n -= 1
    return n
'''

# three tests; nothing checks fare(None), nor a ride of exactly 3 stops
SUITE = '''\
import sys

from fares import countdown, fare


def test_short():
    assert fare(1) == 100


def test_long():
    assert fare(5) == 200


def test_countdown():
    assert countdown(2) == 0


for test in (test_short, test_long, test_countdown):
    try:
        test()
    except AssertionError:
        sys.exit(f"{test.__name__} failed")
'''

# (line, operator, occurrence) -> outcome, reasoned from the two files above
EXPECTED = {
    (7, "core/AddNot", 0): "killed",  # fare(1) -> 0
    (7, "core/ReplaceComparisonOperator_Is_IsNot", 0): "killed",  # fare(1) -> 0
    (8, "core/NumberReplacer", 0): "survived",  # return 1 for None: untested
    (8, "core/NumberReplacer", 1): "survived",  # return -1 for None: untested
    (9, "core/NumberReplacer", 2): "killed",  # 201
    (9, "core/NumberReplacer", 3): "killed",  # 199
    (9, "core/AddNot", 1): "killed",  # fare(1) -> 200
    (9, "core/ReplaceComparisonOperator_Gt_Eq", 0): "killed",  # fare(5) -> 100
    (9, "core/ReplaceComparisonOperator_Gt_GtE", 0): "survived",  # differs only at 3 stops
    (9, "core/ReplaceComparisonOperator_Gt_Lt", 0): "killed",
    (9, "core/ReplaceComparisonOperator_Gt_LtE", 0): "killed",
    (9, "core/ReplaceComparisonOperator_Gt_NotEq", 0): "killed",  # fare(1) -> 200
    (9, "core/NumberReplacer", 4): "survived",  # > 4: same for 1 and 5
    (9, "core/NumberReplacer", 5): "survived",  # > 2: same for 1 and 5
    (9, "core/NumberReplacer", 6): "killed",  # 101
    (9, "core/NumberReplacer", 7): "killed",  # 99
    (13, "core/AddNot", 2): "killed",  # while not n: countdown(2) -> 2
    (14, "core/NumberReplacer", 8): "survived",  # n -= 2: 2 -> 0 all the same
    (14, "core/NumberReplacer", 9): "timed out",  # n -= 0: never ends
}


@pytest.fixture
def project(tmp_path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "fares.py").write_text(FARES)
    (root / "check_fares.py").write_text(SUITE)
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    return root


TINY = Package("tiny", modules=("fares.py",), suite=("check_fares.py",))


def test_every_mutant_is_counted_as_reasoned(project, tmp_path):
    known = mutant_key("fares.py", "fare", "core/ReplaceComparisonOperator_Gt_GtE",
                       "-    return 200 if stops > 3 else 100\n+    return 200 if stops >= 3 else 100")
    run = run_package(project, TINY, tmp_path / "work", sample=None, seed=0, timeout_factor=3, grace_s=1.5,
                      equivalents={known: "a ride of 3 stops is not a case here"})

    assert {(m.line, m.operator, m.occurrence): m.outcome for m in run.mutants} == EXPECTED
    assert (run.sites, run.in_annotations) == (30, 11)  # `int | None`: 11 BitOr replacements set aside
    score = Score.of(run.mutants)
    assert score.counts == {"killed": 12, "survived": 6, "timed out": 1, "incompetent": 0}
    assert score.score == pytest.approx(13 / 19)
    assert score.equivalent == 1
    assert score.score_without_equivalents == pytest.approx(13 / 18)
    assert [m.where for m in run.mutants if m.equivalent] == ["fares.py:9"]
    assert (project / "fares.py").read_text() == FARES  # mutated only in the scratch copy


def test_a_sample_is_reproducible_and_avoids_annotations(project, tmp_path):
    def chosen(session: str, seed: int) -> set[tuple[str, int]]:
        with use_db(str(tmp_path / f"{session}.sqlite")) as db:
            cosmic_ray.commands.init([project / "fares.py"], db, {})
            assert select(db, project, sample=5, seed=seed) == (30, 11)
            skipped = {job for job, _ in db.results}
            return {(m.operator_name, m.occurrence) for item in db.work_items if item.job_id not in skipped
                    for m in item.mutations}

    first = chosen("first", seed=3)
    assert len(first) == 5 and not any("BitOr" in operator for operator, _ in first)
    assert chosen("again", seed=3) == first
    assert chosen("other", seed=4) != first


@pytest.mark.parametrize(("result", "outcome"), [
    (WorkResult(worker_outcome=WorkerOutcome.NORMAL, test_outcome=CrOutcome.KILLED, output="1 failed"), "killed"),
    (WorkResult(worker_outcome=WorkerOutcome.NORMAL, test_outcome=CrOutcome.KILLED, output="timeout"), "timed out"),
    (WorkResult(worker_outcome=WorkerOutcome.NORMAL, test_outcome=CrOutcome.SURVIVED, output=""), "survived"),
    (WorkResult(worker_outcome=WorkerOutcome.NORMAL, test_outcome=CrOutcome.INCOMPETENT), "incompetent"),
    (WorkResult(worker_outcome=WorkerOutcome.EXCEPTION, test_outcome=CrOutcome.INCOMPETENT), "incompetent"),
    (WorkResult(worker_outcome=WorkerOutcome.NO_TEST), "incompetent"),
])
def test_outcomes_of_cosmic_ray_results(result, outcome):
    assert outcome_of(result) == outcome
