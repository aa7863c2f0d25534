"""`python -m bench.mutation`: how many machine-made defects in the reference devices each
conformance suite catches (issue 12 point 6; DESIGN.md, Judging). `tox -e mutation` runs it.

Why cosmic-ray (8.7) and not mutmut (3.8): the test a mutant faces must be the conformance suite
exactly as a lab runs it (`pytest conformance/suites/card --dut sim`, through our plugin and DUT
adapters). cosmic-ray's test command is any shell command and a mutant's fate is its exit code, so
the suite runs untouched in a subprocess; its session database records each mutant's operator,
position and diff, which is what the report needs. mutmut 3 copies the code into `mutants/`,
rewrites functions so that a mutant is switched on at run time, drives pytest itself with a test
selection from its own coverage stats, and mutates only code inside functions, so module-level
tables (status words, file descriptors, transaction types) would never be mutated.

For each package (a set of reference-device modules and the suite that judges them):
1. the tracked and untracked-but-not-ignored files of this tree are copied to a scratch
   directory, because cosmic-ray edits modules in place; the repository is never mutated;
2. the suite runs once unmutated in the copy: it must pass, and its wall time, times
   `--timeout-factor` plus a grace for interpreter start-up, is each mutant's timeout;
3. `cosmic-ray init` lists every mutation; those inside annotations of a module with
   `from __future__ import annotations` (all of ours) are set aside: such annotations are never
   evaluated, so these mutants cannot change behaviour; they are counted, not run. Of the rest, `--sample N`
   mutants are drawn with `random.Random(--seed)` from the list sorted by module, operator and
   occurrence, so the same tree, N and seed give the same mutants; `--full` runs them all;
4. `cosmic-ray exec` runs the suite against each; the outcomes, score and survivors are written
   to reports/mutation/<time>.json and .md (see `bench/mutation_results.py`).
"""

from __future__ import annotations

import argparse
import ast
import os
import random
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path

from cosmic_ray.config import serialize_config
from cosmic_ray.work_db import WorkDB, use_db
from cosmic_ray.work_item import MutationSpec, WorkerOutcome, WorkResult

from bench.mutation_results import Mutant, Score, load_equivalents, summary_line, write_reports

ROOT = Path(__file__).resolve().parents[1]
EQUIVALENTS = ROOT / "bench" / "mutation_equivalents.yaml"
PROGRESS_EVERY = 60.0


def conformance_suite(path: str) -> tuple[str, ...]:
    """The arguments after `python` that run one conformance suite on the built-in devices,
    stopping at the first failure (one is enough to kill a mutant)."""
    return ("-m", "pytest", path, "--dut", "sim", "-x", "-q", "-p", "no:cacheprovider", "-p", "no:randomly")


@dataclass(frozen=True)
class Package:
    """Modules to mutate (paths relative to the tree, files or folders) and the suite judging them."""

    name: str
    modules: tuple[str, ...]
    suite: tuple[str, ...]


_DEVICES = "simulator/devices/"
PACKAGES = {
    package.name: package for package in (
        Package("card", modules=("simulator/card",), suite=conformance_suite("conformance/suites/card")),
        # the modules of the reference terminals conformance/adapters/sim.py puts under test; not
        # psam.py and issuer.py (the harness's SAM and the issuer's keys, which the suite uses in
        # front of a real terminal too) nor ssse_reader.py (the `ykt read` command's reader)
        Package("terminal", modules=tuple(_DEVICES + name for name in (
            "terminal.py", "transit.py", "scenic.py", "pos.py", "purse_client.py", "decision.py",
        )), suite=conformance_suite("conformance/suites/terminal")),
        Package("reader_api", modules=(_DEVICES + "reader_api.py",),
                suite=conformance_suite("conformance/suites/reader_api")),
    )
}


class MutationError(RuntimeError):
    """The run could not be judged (the unmutated suite fails, cosmic-ray broke)."""


@dataclass
class PackageRun:
    """One package's mutants and the figures needed to reproduce or read its run."""

    package: str
    baseline_s: float
    timeout_s: float
    sites: int
    in_annotations: int
    mutants: list[Mutant] = field(default_factory=list)


def scratch_copy(root: Path, dest: Path) -> Path:
    """Copy the tracked and untracked-but-not-ignored files of `root` (so uncommitted edits are
    measured, .venv and caches are not) into `dest`."""
    listing = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                             cwd=root, check=True, capture_output=True).stdout
    for name in filter(None, listing.decode().split("\0")):
        source = root / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


def _environment(tree: Path) -> dict[str, str]:
    """The suite imports the copy's packages, and writes no bytecode that could outlive a
    mutation made within the same second as the original."""
    return {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1"}


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.splitlines()[-lines:])


def baseline(tree: Path, package: Package) -> float:
    """Wall seconds of the unmutated suite in `tree`; a failing suite would kill every mutant."""
    started = time.monotonic()
    ran = subprocess.run([sys.executable, *package.suite], cwd=tree, env=_environment(tree),
                         capture_output=True, text=True)
    if ran.returncode != 0:
        raise MutationError(f"{package.name}: the unmutated suite exits {ran.returncode}, so no mutant "
                            f"can be judged:\n{_tail(ran.stdout + ran.stderr)}")
    return time.monotonic() - started


@cache
def annotation_spans(path: Path) -> tuple[tuple[tuple[int, int], tuple[int, int]], ...]:
    """(start, end) of every annotation in a module that postpones them (PEP 563), as
    (line, character column) like cosmic-ray's parso positions; none in a module that does not."""
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source)
    postponed = any(isinstance(node, ast.ImportFrom) and node.module == "__future__"
                    and any(alias.name == "annotations" for alias in node.names) for node in tree.body)
    if not postponed:
        return ()
    lines = source.splitlines()

    def position(line: int, byte_col: int) -> tuple[int, int]:
        return line, len(lines[line - 1].encode()[:byte_col].decode())

    annotations = []
    for node in ast.walk(tree):
        if isinstance(node, ast.arg | ast.AnnAssign):
            annotations.append(node.annotation)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            annotations.append(node.returns)
    return tuple((position(a.lineno, a.col_offset), position(a.end_lineno, a.end_col_offset))
                 for a in annotations if a is not None)


def in_annotation(spec: MutationSpec, tree: Path) -> bool:
    spans = annotation_spans(tree / spec.module_path)
    return any(start <= tuple(spec.start_pos) < end for start, end in spans)


def select(db: WorkDB, tree: Path, *, sample: int | None, seed: int) -> tuple[int, int]:
    """Mark every mutation not to run as skipped in the session; returns (all sites, in annotations)."""
    items = sorted(db.work_items, key=lambda item: (str(item.mutations[0].module_path),
                                                    item.mutations[0].operator_name, item.mutations[0].occurrence))
    runnable = [item for item in items if not in_annotation(item.mutations[0], tree)]
    chosen = runnable if sample is None or sample >= len(runnable) else random.Random(seed).sample(runnable, sample)
    chosen_ids = {item.job_id for item in chosen}
    skipped = [item.job_id for item in items if item.job_id not in chosen_ids]
    if skipped:
        db.set_multiple_results(skipped, WorkResult(worker_outcome=WorkerOutcome.SKIPPED))
    return len(items), len(items) - len(runnable)


def _cosmic_ray(*args: str, cwd: Path, log: Path, progress=None) -> None:
    """Run the cosmic-ray command line next to this interpreter, its output going to `log`;
    `progress()` is called every PROGRESS_EVERY seconds while it runs."""
    program = Path(sys.executable).with_name("cosmic-ray")
    if not program.exists():
        raise MutationError(f"{program} not found: install the mutation extra (pip install -e '.[mutation]')")
    with log.open("a", encoding="utf-8") as out:
        proc = subprocess.Popen([str(program), *args], cwd=cwd, env=_environment(cwd), stdout=out, stderr=out)
        while True:
            try:
                proc.wait(timeout=PROGRESS_EVERY)
                break
            except subprocess.TimeoutExpired:
                if progress:
                    progress()
    if proc.returncode != 0:
        raise MutationError(f"cosmic-ray {args[0]} exits {proc.returncode}:\n{_tail(log.read_text(encoding='utf-8'))}")


def run_package(root: Path, package: Package, workdir: Path, *, sample: int | None, seed: int,
                timeout_factor: float, grace_s: float, equivalents: dict[str, str]) -> PackageRun:
    """Mutate `package` in a scratch copy of `root` under `workdir` and run its suite on each mutant."""
    tree = scratch_copy(root, workdir / "tree")
    seconds = baseline(tree, package)
    timeout = timeout_factor * seconds + grace_s
    config, session, log = workdir / "cosmic-ray.toml", workdir / "session.sqlite", workdir / "cosmic-ray.log"
    config.write_text(serialize_config({
        "module-path": list(package.modules), "timeout": timeout, "excluded-modules": [],
        "test-command": shlex.join([sys.executable, *package.suite]), "distributor": {"name": "local"},
    }), encoding="utf-8")
    _cosmic_ray("init", str(config), str(session), cwd=tree, log=log)
    with use_db(str(session)) as db:
        sites, in_annotations = select(db, tree, sample=sample, seed=seed)
        skipped = db.num_results
        planned = db.num_work_items - skipped
    print(f"{package.name}: baseline {seconds:.1f} s, timeout {timeout:.1f} s, {sites} mutations "
          f"({in_annotations} in annotations), running {planned}", flush=True)

    def progress() -> None:
        with use_db(str(session), WorkDB.Mode.open) as db:
            print(f"{package.name}: {db.num_results - skipped}/{planned}", flush=True)

    _cosmic_ray("exec", str(config), str(session), cwd=tree, log=log, progress=progress)
    run = PackageRun(package=package.name, baseline_s=seconds, timeout_s=timeout, sites=sites,
                     in_annotations=in_annotations)
    with use_db(str(session), WorkDB.Mode.open) as db:
        for item, result in db.completed_work_items:
            if result.worker_outcome is not WorkerOutcome.SKIPPED:
                run.mutants.append(Mutant.from_result(package.name, item.mutations[0], result,
                                                      equivalents=equivalents))
    run.mutants.sort(key=lambda m: (m.module, m.line, m.operator, m.occurrence))
    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.mutation", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("packages", nargs="*", metavar="package",
                        help=f"packages to mutate (default all: {list(PACKAGES)})")
    how_many = parser.add_mutually_exclusive_group()
    how_many.add_argument("--sample", type=int, default=40, metavar="N", help="mutants drawn per package (40)")
    how_many.add_argument("--full", action="store_true", help="every mutant (hours on 2 cores)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the sample (1)")
    parser.add_argument("--timeout-factor", type=float, default=3.0, help="timeout = factor x baseline + grace (3)")
    parser.add_argument("--grace", type=float, default=5.0, help="seconds added to each timeout (5)")
    parser.add_argument("--report", type=Path, help="report path without suffix (reports/mutation/<time>)")
    args = parser.parse_args(argv)
    unknown = [name for name in args.packages if name not in PACKAGES]
    if unknown:
        parser.error(f"unknown package(s) {unknown}; available: {list(PACKAGES)}")
    if args.sample < 1:
        parser.error(f"--sample must be at least 1, got {args.sample}")
    started = datetime.now()
    report = args.report or ROOT / "reports" / "mutation" / started.strftime("%Y%m%dT%H%M%S")
    sample = None if args.full else args.sample
    equivalents = load_equivalents(EQUIVALENTS)
    runs = []
    try:
        for name in args.packages or PACKAGES:
            with tempfile.TemporaryDirectory(prefix=f"ykt-mutation-{name}-") as workdir:
                runs.append(run_package(ROOT, PACKAGES[name], Path(workdir), sample=sample, seed=args.seed,
                                        timeout_factor=args.timeout_factor, grace_s=args.grace,
                                        equivalents=equivalents))
            print(summary_line(name, Score.of(runs[-1].mutants)), flush=True)
    except MutationError as exc:
        print(f"mutation: {exc}", file=sys.stderr)
        return 2
    info = {
        "started": started.isoformat(timespec="seconds"),
        "command": " ".join(["python -m bench.mutation", shlex.join(sys.argv[1:] if argv is None else argv)]).strip(),
        "sample": sample, "seed": args.seed, "wall_s": round((datetime.now() - started).total_seconds()),
        "packages": {run.package: {"baseline_s": round(run.baseline_s, 2), "timeout_s": round(run.timeout_s, 2),
                                   "mutations": run.sites, "in_annotations": run.in_annotations,
                                   "executed": len(run.mutants)} for run in runs},
    }
    paths = write_reports(report, run=info, mutants=[m for run in runs for m in run.mutants])
    print("reports:", *map(str, paths))
    return 0


if __name__ == "__main__":
    sys.exit(main())
