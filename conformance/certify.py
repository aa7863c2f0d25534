"""`ykt certify` (the main job) and `ykt clauses`.

    ykt certify [--suite card|terminal|reader_api|...|all] [--dut SPEC] [--region R]
                [--dut-info K=V ...] [--out reports/<run-id>] [--no-html]
    ykt clauses [--coverage] [--part P]

`certify` runs the conformance suites against a DUT in a pytest subprocess (so a crashing DUT or
suite cannot take the judge down with it), with a progress bar fed by pytest's lines, then writes
into OUT: `results.json` (the verdict per test, from the plugin), `allure-results/` (evidence, plus
environment.properties and categories.json), `certificate.json` (the verdict per clause and the
outcome of the certification rule) and `report/`: `index.html` (the verdict page), `summary.html`
(the printable 检测报告) and `allure.html` (the single-file Allure report), none loading anything from
outside. Exit status: 0 certified; 1 a clause failed (product defect); 2 something broke (link,
adapter, harness) and nothing failed; 3 applicable clauses in scope were not tested; 5 judged, but
the report could not be produced. The verdicts come from our own results, never from the report
generator.

Without options it certifies the built-in reference devices: `--suite all --dut sim`. Suites are
the packages under conformance/suites/ (or --suites-dir): a suite added later is picked up.
"""

from __future__ import annotations

import ast
import json
import os
import platform
import re
import secrets
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from conformance import report, signing, verdict_page
from conformance.dut import SECRET_INFO
from conformance.history import History
from simulator.profile import Profile, ProfileError, build, every_clause_id, source_line

SUITES_ROOT = Path(__file__).resolve().parent / "suites"
#: the usual order of the built-in suites; others follow alphabetically
SUITE_ORDER = ("card", "terminal", "reader_api")
ALL = "all"
#: who certifies when no --lab is given: a self-test, not an accredited lab
DEFAULT_LAB = "yikatong self-test (unaccredited)"

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Certify a device; list the clauses.")
console = Console()

VERDICT_STYLE = {"pass": "green", "fail": "bold red", "broken": "bold magenta", "not_applicable": "dim",
                 "not_tested": "yellow", "not_covered": "yellow", "out_of_scope": "dim"}


# -- suites and clauses ------------------------------------------------------------------------
def available_suites(root: Path = SUITES_ROOT) -> list[str]:
    """Suite names: the packages under `root` holding at least one test module."""
    if not root.is_dir():
        return []
    names = [p.name for p in root.iterdir()
             if p.is_dir() and not p.name.startswith(("_", ".")) and any(p.rglob("test_*.py"))]
    return sorted(names, key=lambda n: (SUITE_ORDER.index(n) if n in SUITE_ORDER else len(SUITE_ORDER), n))


def _clause_marker(node: ast.Call, aliases: frozenset[str] = frozenset()) -> bool:
    func = node.func
    if isinstance(func, ast.Name):  # clause = pytest.mark.clause; @clause("...")
        return func.id in aliases
    if not isinstance(func, ast.Attribute) or func.attr != "clause":
        return False
    owner = func.value
    return (isinstance(owner, ast.Attribute) and owner.attr == "mark") or (isinstance(owner, ast.Name)
                                                                           and owner.id == "mark")


class _MarkerScan(ast.NodeVisitor):
    """Clause ids named by `pytest.mark.clause(...)` anywhere in a module (decorators, pytestmark,
    pytest.param marks), with the enclosing test as location; module-level string constants resolve."""

    def __init__(self, where: str, constants: dict[str, str], aliases: frozenset[str] = frozenset()) -> None:
        self.where, self.constants, self.aliases = where, constants, aliases
        self.stack: list[str] = []
        self.found: list[tuple[str, str]] = []
        self.unresolved: list[str] = []

    def _scoped(self, node) -> None:
        self.stack.append(node.name)
        self.generic_visit(node)
        self.stack.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _scoped

    def visit_Call(self, node: ast.Call) -> None:
        if _clause_marker(node, self.aliases) and node.args:
            arg = node.args[0]
            location = f"{self.where}::{'::'.join(self.stack)}" if self.stack else f"{self.where}:{node.lineno}"
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                self.found.append((arg.value, location))
            elif isinstance(arg, ast.Name) and arg.id in self.constants:
                self.found.append((self.constants[arg.id], location))
            else:
                self.unresolved.append(f"{self.where}:{node.lineno}")
        self.generic_visit(node)


def named_clauses(root: Path = SUITES_ROOT) -> tuple[dict[str, list[str]], list[str]]:
    """({clause id: [tests naming it]}, [markers whose id is not a literal]) over the suites' modules."""
    named: dict[str, list[str]] = {}
    unresolved: list[str] = []
    for path in sorted(root.rglob("test_*.py")) if root.is_dir() else []:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        constants = {t.id: n.value.value for n in tree.body if isinstance(n, ast.Assign)
                     and isinstance(n.value, ast.Constant) and isinstance(n.value.value, str)
                     for t in n.targets if isinstance(t, ast.Name)}
        aliases = frozenset(t.id for n in tree.body if isinstance(n, ast.Assign) and isinstance(n.value, ast.Attribute)
                            and n.value.attr == "clause" for t in n.targets if isinstance(t, ast.Name))
        scan = _MarkerScan(path.relative_to(root).as_posix(), constants, aliases)
        scan.visit(tree)
        for cid, location in scan.found:
            named.setdefault(cid, []).append(location)
        unresolved += scan.unresolved
    return named, unresolved


def _region_line(standard: Profile) -> str:
    """The region as the report's environment shows it."""
    region = standard.region_document
    if region is None:
        return "(national only)"
    return f"{region['id']} ({region['name']['zh']}): {'; '.join(d['document'] for d in region['documents'])}"


def _region_documents(standard: Profile, digests: dict[str, str]) -> dict:
    """The region's policy documents and, by SM3, the files of the regional profile built from them:
    what the certificate names the region's documents by."""
    folder = f"regions/{standard.region}/"
    policies = [{k: d[k] for k in ("document", "title", "status")} for d in standard.region_document["documents"]]
    return {"policies": policies,
            "files": {path: digest for path, digest in digests.items() if path.startswith(folder)}}


# -- the run -----------------------------------------------------------------------------------
def tool_version() -> str:
    try:
        return metadata.version("yikatong")
    except metadata.PackageNotFoundError:
        return "unknown"


def new_run_id(dut: str, now: datetime) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", dut).strip("-")[:40] or "dut"
    return f"{now:%Y%m%dT%H%M%SZ}-{slug}-{secrets.token_hex(3)}"


def describe_dut(spec: str) -> str:
    """A one-line name of the DUT for the report, without connecting to it."""
    scheme, _, rest = spec.partition(":")
    if scheme != "sim":
        return spec
    options = dict(part.partition("=")[::2] for part in rest.split(",") if part)
    if "mutant" in options:
        try:
            from conformance.mutants import all_mutants

            mutant = all_mutants().get(options["mutant"])
        except Exception:  # only a label: the run itself reports a bad mutant
            mutant = None
        return f"mutant {options['mutant']}: {mutant.defect}" if mutant else f"mutant {options['mutant']}"
    return "reference devices" + (f" ({options['terminals']} terminals)" if "terminals" in options else "")


_RESULT_LINE = re.compile(r"^(?P<nodeid>\S.*?::.+?) (?P<word>PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS)\b")
_COLLECTED = re.compile(r"collected (\d+) items?")


def run_pytest(command: list[str], log: Path, *, label: str) -> tuple[int, dict[str, int]]:
    """Run pytest, mirror its output to `log`, show a progress bar; (exit status, outcome counts)."""
    env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONIOENCODING="utf-8")
    counts = {"PASSED": 0, "FAILED": 0, "ERROR": 0, "SKIPPED": 0}
    seen: set[str] = set()
    columns = (SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[tally]}"), TimeElapsedColumn())
    with log.open("w", encoding="utf-8") as out, Progress(*columns, console=console) as progress:
        task = progress.add_task(label, total=None, tally="")
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                encoding="utf-8", errors="replace", env=env)
        assert proc.stdout is not None
        for line in proc.stdout:
            out.write(line)
            if (m := _COLLECTED.search(line)) and progress.tasks[0].total is None:
                progress.update(task, total=int(m.group(1)))
            elif m := _RESULT_LINE.match(line):
                word = m.group("word")
                counts[word] = counts.get(word, 0) + 1
                tally = (f"[green]{counts['PASSED']} passed[/] [red]{counts['FAILED']} failed[/] "
                         f"[magenta]{counts['ERROR']} errors[/] [dim]{counts['SKIPPED']} n/a[/]")
                first = m.group("nodeid") not in seen  # a teardown error repeats the test's line
                seen.add(m.group("nodeid"))
                progress.update(task, advance=1 if first else 0, tally=tally)
        status = proc.wait()
    return status, counts


def _harness_error(status: int, results: list[dict] | None, counts: dict[str, int]) -> str | None:
    if results is None:
        return f"the test run wrote no results (pytest exit status {status}; see pytest.log)"
    if status in (2, 3, 4):
        return f"the test run was interrupted or misused (pytest exit status {status}; see pytest.log)"
    judged_bad = sum(r["verdict"] in ("fail", "broken") for r in results)
    if status == 1 and not judged_bad:
        return "pytest reported errors outside any judged test (e.g. in teardown; see pytest.log)"
    if counts.get("ERROR", 0) + counts.get("FAILED", 0) > judged_bad:
        return "some errors happened outside the judged test phases (e.g. teardown; see pytest.log)"
    return None


def _print_summary(cert: dict, *, out: Path, html: verdict_page.Pages | None) -> None:
    clauses, tests = cert["counts"]["clauses"], cert["counts"]["tests"]
    console.print(f"[bold]{cert['dut']['name']}[/] ({cert['dut']['spec']}) against {cert['profile']['catalogue']} "
                  f"{cert['profile']['version']}, suites {', '.join(cert['suites']['names'])}:")
    table = Table()
    table.add_column("verdict")
    table.add_column("clauses", justify="right")
    table.add_column("tests", justify="right")
    for verdict in report.CLAUSE_VERDICTS:
        n_clauses, n_tests = clauses.get(verdict, 0), tests.get(verdict, "")
        if n_clauses or n_tests:
            style = VERDICT_STYLE.get(verdict, "")
            table.add_row(f"[{style}]{verdict}[/]" if style else verdict, str(n_clauses), str(n_tests))
    console.print(table)
    gravity = ("fail", "broken", "not_tested", "not_covered")
    bad = sorted((c for c in cert["clauses"] if c["verdict"] in gravity), key=lambda c: gravity.index(c["verdict"]))
    if bad:
        detail = Table(title="clauses that stand in the way", show_lines=False)
        for column in ("clause", "verdict", "severity", "first message"):
            detail.add_column(column, overflow="fold")
        for c in bad[:15]:
            message = next((t["message"] for t in c["tests"] if t["verdict"] == c["verdict"] and t["message"]), "")
            detail.add_row(c["id"], f"[{VERDICT_STYLE[c['verdict']]}]{c['verdict']}[/]", c["severity"], message[:100])
        if len(bad) > 15:
            detail.add_row(f"... {len(bad) - 15} more", "", "", "see certificate.json")
        console.print(detail)
    outcome = cert["outcome"]
    style = "bold green" if outcome["certified"] else "bold red"
    console.print(f"[{style}]{outcome['verdict'].upper()}[/] ({outcome['reason']}); exit status {outcome['exit_code']}")
    console.print(f"certificate: {out / 'certificate.json'}")
    if html is not None and html.index is not None:
        console.print(f"report:      {html.index} (the verdict; beside it summary.html to print and "
                      f"{report.ALLURE_FILE} per test; they load nothing from outside)")


def refuse(code: int, message: str) -> NoReturn:
    """Refuse before anything runs: one line on stderr, no traceback, no report, its own exit code."""
    typer.echo(f"ykt certify: {message}", err=True)
    raise typer.Exit(code)


def _choose_suites(suite: str, suites_dir: Path) -> list[str]:
    if not suites_dir.is_dir():
        refuse(report.EXIT_USAGE, f"--suites-dir {suites_dir}: no such folder")
    suites = available_suites(suites_dir)
    if not suites:
        refuse(report.EXIT_USAGE, f"--suites-dir {suites_dir}: no suite with tests there")
    if suite == ALL:
        return suites
    if suite not in suites:
        refuse(report.EXIT_USAGE, f"--suite {suite}: no such suite in {suites_dir}; available: "
                                  f"{', '.join(suites + [ALL])}")
    return [suite]


def _parse_info(pairs: list[str]) -> dict[str, str]:
    info: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            refuse(report.EXIT_USAGE, f"--dut-info takes KEY=VALUE, got {pair!r}")
        if key in info:
            refuse(report.EXIT_USAGE, f"--dut-info {key} given twice")
        info[key] = value
    return info


def _prepare_out(out: Path) -> bool:
    """Make sure `out` can be written (creating it); True when it was created here."""
    created = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".ykt-write-probe"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        refuse(report.EXIT_IO, f"--out {out}: cannot write there ({exc.strerror or exc})")
    return created


def _preflight(base: list[str], out: Path) -> dict:
    """Ask the plugin, in a pytest process like the run's, to check the options and meet the DUT."""
    path = out / ".preflight.json"
    try:
        done = subprocess.run([*base, "--yikatong-preflight", str(path), "-q", "--color=no"], capture_output=True,
                              text=True, encoding="utf-8", errors="replace", timeout=PREFLIGHT_SECONDS, check=False)
    except subprocess.TimeoutExpired:
        return {"ok": False, "kind": "unavailable", "message": f"the DUT did not answer within {PREFLIGHT_SECONDS} s"}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        lines = [ln.strip() for ln in (done.stderr + done.stdout).splitlines() if ln.strip()]
        said = next((ln for ln in reversed(lines) if ln.startswith(("ERROR", "E "))), lines[-1] if lines else "")
        return {"ok": False, "kind": "usage" if done.returncode == 4 else "broken",
                "message": f"the suites could not be loaded (pytest exit status {done.returncode}): {said[:300]}"}
    finally:
        path.unlink(missing_ok=True)


PREFLIGHT_SECONDS = 120
_REFUSAL_EXIT = {"usage": report.EXIT_USAGE, "unavailable": report.EXIT_UNAVAILABLE, "broken": report.EXIT_BROKEN}


@app.command("certify")
def certify(
    suite: Annotated[str, typer.Option(help="suite to run: a package of conformance/suites (card, terminal, "
                                            "reader_api, ...) or all")] = ALL,
    dut: Annotated[str, typer.Option(help="device under test: sim[:mutant=NAME|terminals=a,b], pcsc:<reader>, "
                                          "vpcd:<host>:<port>, http:<url>, lib:<path>, or a lab adapter's scheme")
                   ] = "sim",
    region: Annotated[str | None, typer.Option(help="regional profile layered over the national one")] = None,
    profile: Annotated[str, typer.Option(help="profile to certify against (profiles/<name>)")] = "national",
    dut_info: Annotated[list[str] | None, typer.Option("--dut-info", metavar="KEY=VALUE",
                                                       help="facts about the DUT (vendor, model, firmware, "
                                                            "applicant, manufacturer), repeatable")] = None,
    out: Annotated[Path | None, typer.Option(help="output folder (default reports/<run-id>)")] = None,
    html: Annotated[bool, typer.Option("--html/--no-html", help="generate the single-file HTML report")] = True,
    suites_dir: Annotated[Path, typer.Option(help="where the suites live; suites other than the shipped ones "
                                                  "are run and judged but never certified")] = SUITES_ROOT,
    ics: Annotated[Path | None, typer.Option(help="the product's capability declaration (YAML, "
                                                  "profiles/schema/ics_declaration.schema.json); a DUT other "
                                                  "than the built-in simulated devices is certified only with one")
                   ] = None,
    plugin: Annotated[list[str] | None, typer.Option("--plugin", "-p", metavar="MODULE",
                                                     help="a pytest plugin to load (e.g. a lab's DUT adapter), "
                                                          "repeatable")] = None,
    lab: Annotated[str, typer.Option(help="the lab that certifies (signs with the keystore's key)")] = DEFAULT_LAB,
    keystore: Annotated[Path | None, typer.Option(help="where the lab's SM2 key lives (default "
                                                       "$YIKATONG_KEYSTORE or ~/.local/share/yikatong/keystore)")
                        ] = None,
) -> None:
    """Run the conformance suites against a DUT and write the regulator's report and signed certificate."""
    chosen = _choose_suites(suite, suites_dir)
    info = _parse_info(dut_info or [])
    try:
        standard = build(profile, region)
    except ProfileError as exc:
        refuse(report.EXIT_USAGE, str(exc))
    now = datetime.now(UTC).replace(microsecond=0)
    run_id = new_run_id(dut, now)
    out = Path(out) if out else Path("reports") / run_id
    created = _prepare_out(out)

    base = [sys.executable, "-m", "pytest", *[str(suites_dir / s) for s in chosen],
            "--rootdir", str(report.PROJECT_ROOT), "--dut", dut, "--profile", profile,
            *(["--region", region] if region else []),
            *[arg for k, v in info.items() for arg in ("--dut-info", f"{k}={v}")],
            *(["--ics", str(ics)] if ics else []),
            *[arg for module in plugin or [] for arg in ("-p", module)],
            "-p", "no:cacheprovider", "-p", "no:randomly"]
    checked = _preflight(base, out)
    if not checked["ok"]:
        if created:
            shutil.rmtree(out, ignore_errors=True)
        refuse(_REFUSAL_EXIT[checked["kind"]], checked["message"])
    key = signing.load_or_create(keystore or signing.default_keystore())

    results_dir, results_json = out / "allure-results", out / "results.json"
    results_json.unlink(missing_ok=True)
    header = {"catalogue": standard["clauses"]["id"], "version": standard["clauses"]["version"]}
    profile_sm3, documents = report.profile_digest(profile, region)
    dut_name = describe_dut(dut)
    version = tool_version()
    python = platform.python_version()
    shipped = suites_dir.resolve() == SUITES_ROOT

    command = [*base, "--alluredir", str(results_dir), "--clean-alluredir", "--yikatong-results", str(results_json),
               "-v", "--tb=no", "-rN", "--color=no"]
    console.print(f"[bold]ykt certify[/] {run_id}: suites {', '.join(chosen)} against [bold]{dut_name}[/] ({dut}), "
                  f"profile {header['catalogue']} {header['version']}")
    started = time.perf_counter()
    status, counts = run_pytest(command, out / "pytest.log", label=f"{'+'.join(chosen)} on {dut}")
    seconds = time.perf_counter() - started

    masked = report.mask_results(results_dir, results_json)
    results = json.loads(results_json.read_text(encoding="utf-8")) if results_json.is_file() else None
    harness_error = _harness_error(status, results, counts)
    results = results or []
    catalogue = standard.clauses
    scope = set(chosen) | {catalogue[r["clause"]]["part"] for r in results if r.get("clause") in catalogue}
    declared = checked["declaration"]
    unfit = ([] if shipped else [f"suites from {suites_dir}, not the shipped ones, ran"]) + \
        ([] if declared or checked["simulated"] else ["the DUT brought no capability declaration (--ics)"])
    judgement = report.judge(results, catalogue, scope, harness_error=harness_error,
                             certifiable="; ".join(unfit) or None)

    shown_info = {k: ("*" * len(v) if k in SECRET_INFO else v) for k, v in info.items()}
    properties = {
        "run.id": run_id, "date": now.isoformat(), "dut.spec": dut, "dut.name": dut_name,
        **{f"dut.{k}": v for k, v in shown_info.items()},
        "profile.id": profile, "profile.region": _region_line(standard),
        "profile.catalogue": header["catalogue"], "profile.version": header["version"], "profile.sm3": profile_sm3,
        "suites": ",".join(chosen) + ("" if shipped else f" (NOT the shipped suites: {suites_dir})"),
        "tool": f"yikatong {version}", "python": python,
    }
    if results_dir.is_dir():
        report.write_environment(results_dir, properties)
        report.write_categories(results_dir)

    built, history = None, History.of(out.parent / "history", spec=dut, info=info)
    if html:
        built = report.build_html(results_dir, out / "report", name=f"yikatong certification: {dut_name} ({run_id})",
                                  history=history.allure)
        if built.error:
            console.print(f"[red]{built.error}[/]")
    (out / signing.PUBLIC_FILE).write_text(key.public_pem, encoding="ascii")
    profile_facts = {"id": profile, "region": region, **header, "sm3": profile_sm3, "documents": documents,
                     **({"region_documents": _region_documents(standard, documents)} if region else {})}
    cert = report.certificate(
        run_id=run_id, created=now, judgement=judgement, lab={"name": lab, "key_sm3": key.fingerprint},
        dut={"spec": dut, "name": dut_name, "info": shown_info,
             "applicant": (declared or {}).get("applicant") or info.get("applicant") or info.get("vendor"),
             "manufacturer": (declared or {}).get("manufacturer") or info.get("manufacturer") or info.get("vendor"),
             "declaration": declared},
        sample=checked["identity"],
        profile=profile_facts, basis=report.test_basis(profile_facts, catalogue, judgement),
        tool={"name": "yikatong", "version": version, **source_revision(), "python": python,
              "platform": f"{platform.system()} {platform.machine()}"},
        suites={"names": chosen, "dir": str(suites_dir), "shipped": shipped,
                **dict(zip(("sm3", "files"), suite_digest(suites_dir, chosen), strict=True))},
        scope=scope, command=[Path(command[0]).name, *command[1:]],
        evidence={
            "masked_after_run": masked,
            "removed_from_html": built.removed if built else [],
            "html": "written" if built and built.path else (built.error if built else "not requested (--no-html)"),
            "seconds": round(seconds, 2),
            "html_seconds": round(built.seconds, 2) if built and built.path else None,
            "pytest_exit_status": status,
        })
    # the pages are rendered from the certificate before it is signed, so that it vouches for them too
    pages = verdict_page.publish(cert, out=out, history=history, allure=built.path) if built else None
    if pages is not None and pages.error:
        console.print(f"[red]{pages.error}[/]")
    cert["evidence"]["files"] = evidence_files(out)
    cert = signing.sign(cert, key)
    (out / "certificate.json").write_text(json.dumps(cert, ensure_ascii=False, indent=1), encoding="utf-8")
    try:
        history.record(cert, certificate_sm3=report.file_sm3(out / "certificate.json"))
    except OSError as exc:
        console.print(f"[yellow]the run is not recorded in the DUT's history ({history.runs}): {exc}[/]")
    if masked:
        console.print(f"[yellow]personal data masked after the run in {len(masked)} evidence file(s): a suite put "
                      f"card data into its failure text (see certificate.json evidence.masked_after_run)[/]")
    _print_summary(cert, out=out, html=pages)
    report_failed = html and (built.error or pages.error)
    if report_failed and judgement.exit_code not in (report.EXIT_FAILED, report.EXIT_BROKEN):
        console.print(f"[red]exit status {report.EXIT_REPORT}: the report could not be produced[/]")
        raise typer.Exit(report.EXIT_REPORT)
    raise typer.Exit(judgement.exit_code)


def suite_digest(suites_dir: Path, chosen: list[str]) -> tuple[str, dict[str, str]]:
    """SM3 manifest of the suite code that ran: every file of the chosen suites (and conftests above)."""
    files = [p for name in chosen for p in (suites_dir / name).rglob("*")
             if p.is_file() and "__pycache__" not in p.parts]
    files += suites_dir.glob("*.py")
    return report.manifest(sorted(set(files)), suites_dir)


def evidence_files(out: Path) -> dict[str, str]:
    """SM3 of every file of the run folder the certificate vouches for (all but itself and the key)."""
    files = [p for p in out.rglob("*") if p.is_file() and p.name not in CERTIFICATE_SELF]
    return report.manifest(files, out)[1]


CERTIFICATE_SELF = frozenset({"certificate.json", signing.PUBLIC_FILE})


def source_revision() -> dict[str, str | bool]:
    """The commit of the tool's source and whether its tree differs from it (a git checkout), else {}."""
    try:
        head = subprocess.run(["git", "-C", str(report.PROJECT_ROOT), "rev-parse", "HEAD"], capture_output=True,
                              text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(report.PROJECT_ROOT), "status", "--porcelain", "--",
                                "simulator", "conformance", "profiles"], capture_output=True, text=True,
                               timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return {}
    return {"commit": head, "modified": bool(dirty)}


@app.command("clauses")
def clauses(
    coverage: Annotated[bool, typer.Option("--coverage", help="list only the clauses no test names; "
                                                              "exit 1 if there are any")] = False,
    part: Annotated[str | None, typer.Option(help="only this part (card, terminal, reader_api, ...)")] = None,
    region: Annotated[str | None, typer.Option(help="the clauses of this regional profile (national's and its own)")
                      ] = None,
    suites_dir: Annotated[Path, typer.Option(help="where the suites live")] = SUITES_ROOT,
) -> None:
    """List the clauses of the standard (id, part, severity, statement, source)."""
    try:
        standard = build("national", region)
    except ProfileError as exc:
        refuse(report.EXIT_USAGE, str(exc))
    catalogue = {cid: c for cid, c in standard.clauses.items() if part is None or c["part"] == part}
    named, unresolved = named_clauses(suites_dir) if coverage else ({}, [])
    shown = [c for cid, c in catalogue.items() if not coverage or cid not in named]
    title = (f"{len(shown)} of {len(catalogue)} clauses of {standard.label} named by no test in {suites_dir}"
             if coverage else f"{len(catalogue)} clauses of {standard.label}")
    table = Table(title=title, show_lines=False)
    for column in ("id", "part", "severity", "statement", "source"):
        table.add_column(column, overflow="fold")
    for c in shown:
        table.add_row(c["id"], c["part"], c["severity"], c["statement"], source_line(c))
    console.print(table)
    if coverage:
        unknown = sorted(set(named) - every_clause_id())
        if unknown:
            console.print(f"[red]tests name clauses the profile does not have: {', '.join(unknown)}[/]")
        if unresolved:
            console.print(f"[yellow]clause markers whose id is not a literal (not counted): {', '.join(unresolved)}[/]")
        if shown:
            raise typer.Exit(1)


if __name__ == "__main__":
    app()
