"""What a cosmic-ray session says about a suite: each mutant's outcome, the score, the report.

Kept apart from the runner (`bench/mutation.py`) so that the counting can be checked on a tiny
synthetic project (`tests/test_mutation.py`) without the reference devices' hours-long session.

Outcomes, as issue 12 point 6 defines them: the suite passing against a mutant means it *survived*;
a failing suite or any other non-zero exit *killed* it; a run cut off at the per-mutant timeout
*timed out* (cosmic-ray records that as killed with the output "timeout", so it is told apart
here); a mutant the tool could not build or launch is *incompetent* and is left out of the score.
A survivor listed in `bench/mutation_equivalents.yaml` (matched by `key`, which does not depend on
line numbers, so it still matches after unrelated edits) is marked *equivalent* with its reason.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml
from cosmic_ray.work_item import MutationSpec, TestOutcome, WorkerOutcome, WorkResult

OUTCOMES = ("killed", "survived", "timed out", "incompetent")


def outcome_of(result: WorkResult) -> str:
    """The outcome named in the module docstring, from cosmic-ray's result of one mutant."""
    if result.worker_outcome is not WorkerOutcome.NORMAL or result.test_outcome is TestOutcome.INCOMPETENT:
        return "incompetent"
    if result.test_outcome is TestOutcome.SURVIVED:
        return "survived"
    return "timed out" if result.output == "timeout" else "killed"


def changed_lines(diff: str) -> list[str]:
    """The removed and added lines of a unified diff, without the file headers."""
    return [
        line for line in diff.splitlines()
        if line[:1] in "-+" and not line.startswith(("---", "+++"))
    ]


def mutant_key(module: str, definition: str | None, operator: str, diff: str) -> str:
    """A stable name for a mutant: module, enclosing definition, operator and a digest of the
    changed text (stripped), but no line number or occurrence, which move when code is added."""
    text = "\n".join(line[0] + line[1:].strip() for line in changed_lines(diff))
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    return f"{module}::{definition or '<module>'}::{operator}::{digest}"


def _summary(output: str | None) -> str:
    """The last non-empty line of the suite's output (pytest's totals), for the report."""
    lines = [line for line in (output or "").splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


@dataclass(frozen=True)
class Mutant:
    """One executed mutant: where, which operator, what the suite made of it."""

    package: str
    module: str
    line: int
    operator: str
    occurrence: int
    definition: str | None
    outcome: str
    diff: str
    summary: str
    key: str
    equivalent: str | None = None

    @property
    def where(self) -> str:
        return f"{self.module}:{self.line}"

    @classmethod
    def from_result(cls, package: str, spec: MutationSpec, result: WorkResult, *,
                    equivalents: dict[str, str]) -> Mutant:
        """The record of one mutant (its module path as cosmic-ray has it: relative to the copy)."""
        module = str(spec.module_path)
        diff = result.diff or ""
        key = mutant_key(module, spec.definition_name, spec.operator_name, diff)
        outcome = outcome_of(result)
        return cls(
            package=package, module=module, line=spec.start_pos[0], operator=spec.operator_name,
            occurrence=spec.occurrence, definition=spec.definition_name, outcome=outcome, diff=diff,
            summary=_summary(result.output), key=key,
            equivalent=equivalents.get(key) if outcome == "survived" else None,
        )


@dataclass(frozen=True)
class Score:
    """Counts per outcome and the share of competent mutants the suite detected."""

    counts: dict[str, int]
    equivalent: int

    @classmethod
    def of(cls, mutants: list[Mutant]) -> Score:
        counts = Counter(m.outcome for m in mutants)
        return cls(counts={name: counts[name] for name in OUTCOMES},
                   equivalent=sum(m.equivalent is not None for m in mutants))

    @property
    def detected(self) -> int:
        return self.counts["killed"] + self.counts["timed out"]

    @property
    def competent(self) -> int:
        return self.detected + self.counts["survived"]

    @property
    def score(self) -> float | None:
        """Detected / competent: the raw mutation score, known equivalents counted as survivors."""
        return self.detected / self.competent if self.competent else None

    @property
    def score_without_equivalents(self) -> float | None:
        """Detected / (competent - reviewed equivalents): what the suite misses that it could catch."""
        denominator = self.competent - self.equivalent
        return self.detected / denominator if denominator else None


def load_equivalents(path: Path) -> dict[str, str]:
    """key -> reason from the reviewed-equivalents file; each entry must give both."""
    if not path.exists():
        return {}
    entries = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    reasons = {}
    for index, entry in enumerate(entries.get("equivalents") or []):
        if not isinstance(entry, dict) or not entry.get("key") or not entry.get("reason"):
            raise ValueError(f"{path}: equivalents[{index}] needs a key and a reason, got {entry!r}")
        reasons[entry["key"]] = entry["reason"]
    return reasons


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def summary_line(package: str, score: Score) -> str:
    """One line per package for the console."""
    counts = ", ".join(f"{name} {score.counts[name]}" for name in OUTCOMES)
    return (f"{package}: {counts}; score {_percent(score.score)} "
            f"({_percent(score.score_without_equivalents)} without {score.equivalent} reviewed equivalent)")


def write_reports(path: Path, *, run: dict, mutants: list[Mutant]) -> tuple[Path, Path]:
    """`path`.json (every executed mutant) and `path`.md (scores and the survivors' diffs)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    packages = dict.fromkeys(m.package for m in mutants)
    scores = {name: Score.of([m for m in mutants if m.package == name]) for name in packages}
    document = {
        "run": run,
        "scores": {name: {**asdict(score), "score": score.score,
                          "score_without_equivalents": score.score_without_equivalents}
                   for name, score in scores.items()},
        "mutants": [asdict(m) for m in mutants],
    }
    json_path, md_path = path.with_suffix(".json"), path.with_suffix(".md")
    json_path.write_text(json.dumps(document, ensure_ascii=False, indent=1), encoding="utf-8")
    lines = [f"# Mutation run {run['started']}", "", f"`{run['command']}`", ""]
    for name, score in scores.items():
        figures = run["packages"][name]
        lines += [f"- {summary_line(name, score)}",
                  f"  (baseline {figures['baseline_s']} s, timeout {figures['timeout_s']} s, {figures['mutations']} "
                  f"mutations, {figures['in_annotations']} in annotations, {figures['executed']} run)"]
    for m in mutants:
        if m.outcome == "survived":
            label = f"equivalent: {m.equivalent}" if m.equivalent else "unreviewed"
            lines += ["", f"## {m.package} {m.where} {m.operator} ({label})", "", f"key `{m.key}`",
                      "", "```diff", *changed_lines(m.diff), "```"]
    md_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return json_path, md_path
