"""The yikatong pytest plugin (registered through the `pytest11` entry point).

What it gives a suite, or an integrator's own pytest run:
- options `--dut`, `--profile`, `--region`, `--dut-info key=value`, `--yikatong-results PATH`;
- the `profile` fixture: the run's `simulator.profile.Profile`, built once from `--profile` and
  `--region` (an unknown or malformed one is a usage error before anything runs), which the DUT
  hook, the adapters and the suites are handed;
- the `dut` fixture, made by the `pytest_yikatong_make_dut` hook (first result wins, so a lab's
  conftest can plug in its own adapter; the default is `conformance.dut.make_dut`);
- the `clause(id)` marker: every conformance test names the clause it checks; an unknown id is a
  usage error at collection, and the clause becomes the test's Allure epic/feature/story;
- verdicts: *pass*, *fail* (an assertion of the suite about the device failed: a product defect)
  and *broken* (anything else: a link, a timeout, the harness itself, and an AssertionError raised
  inside an adapter, a transport, the relay or an in-process DUT; never reported as pass), plus
  *not applicable* (skipped, with the reason). A suite's finding may name the clause it judges
  (`yikatong_clause` on the AssertionError) when that is not the test's own.

Importing this module imports no simulator code (it loads for every pytest run of an
integrator), only what the hooks need when they run.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conformance import hookspecs

PROFILE_KEY = pytest.StashKey[object]()
DUT_KEY = pytest.StashKey[object]()
ICS_KEY = pytest.StashKey[object]()
RESULTS_KEY = pytest.StashKey[list]()
CLAUSES_KEY = pytest.StashKey[dict]()
VERDICT_KEY = pytest.StashKey[str]()
#: evidence to attach when the test ends: callables registered by fixtures (conformance.evidence)
EVIDENCE_KEY = pytest.StashKey[list]()

#: option -> (help, default)
OPTIONS = {
    "--dut": ("device under test: sim[:<options>], pcsc:<reader>, vpcd:<host>:<port>, http:<url>, lib:<path>",
              "sim"),
    "--profile": ("profile to certify against (profiles/<name>)", "national"),
    "--region": ("regional profile layered over the national one (kaifeng, zhengzhou, hubei, sichuan, guangdong)",
                 None),
    "--yikatong-results": ("write the verdict per test and clause as JSON to this path", None),
    "--ics": ("the product's capability declaration (YAML, profiles/schema/ics_declaration.schema.json): what it "
              "declares decides what is not applicable", None),
    "--yikatong-preflight": ("check the options and make the DUT once, write the outcome and the sample's "
                             "identity as JSON to this path, and stop before any test runs", None),
}
#: what a preflight reports when it refuses: the kind of refusal, mapped to exit codes by `ykt certify`
USAGE, UNAVAILABLE = "usage", "unavailable"


def pytest_addhooks(pluginmanager) -> None:
    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser) -> None:
    group = parser.getgroup("yikatong", "yikatong conformance")
    for flag, (text, default) in OPTIONS.items():
        group.addoption(flag, default=default, help=text)
    group.addoption("--dut-info", action="append", default=[], metavar="KEY=VALUE",
                    help="facts about the DUT for the report (vendor, model, firmware) and adapter settings")


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "clause(id): the clause of the unified interface standard this test checks")
    config.addinivalue_line("markers", "requires(*capabilities): the test applies only to DUTs declaring these")
    config.stash[RESULTS_KEY] = []


def dut_info(config) -> dict[str, str]:
    """--dut-info pairs, validated at the door."""
    info = {}
    for pair in config.getoption("--dut-info") or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise pytest.UsageError(f"--dut-info takes KEY=VALUE, got {pair!r}")
        info[key] = value
    return info


def run_profile(config):
    """The run's profile: `--profile` with `--region` layered over it, built once (the first time a
    suite is collected or the preflight runs); one that does not exist or does not build is a
    usage error."""
    if PROFILE_KEY not in config.stash:
        from simulator.profile import ProfileError, build  # late: only when a suite is collected

        try:
            config.stash[PROFILE_KEY] = build(config.getoption("--profile"), config.getoption("--region"))
        except ProfileError as exc:
            raise pytest.UsageError(str(exc)) from None
    return config.stash[PROFILE_KEY]


def _clauses(config) -> dict[str, dict]:
    """The clause catalogue of the run's profile, the region's clauses included."""
    if CLAUSES_KEY not in config.stash:
        config.stash[CLAUSES_KEY] = run_profile(config).clauses
    return config.stash[CLAUSES_KEY]


def clause_of(item) -> dict | None:
    marker = item.get_closest_marker("clause")
    return _clauses(item.config)[marker.args[0]] if marker else None


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items) -> None:
    """Refuse a test naming a clause no profile has (a typo); leave out, as deselected, a test of a
    clause another region adds (it judges a rule this run's profile does not make)."""
    from simulator.profile import every_clause_id

    catalogue = _clauses(config)
    named = [(m.args[0] if m.args else "<none>", item) for item in items for m in item.iter_markers("clause")]
    known = every_clause_id(run_profile(config).name)
    unknown = sorted({(cid, item.nodeid) for cid, item in named if cid not in known})
    elsewhere = {item for cid, item in named if cid not in catalogue}
    if unknown:
        lines = "\n".join(f"  {cid} in {nodeid}" for cid, nodeid in unknown)
        raise pytest.UsageError(f"tests name clauses the profile does not have:\n{lines}")
    if elsewhere:
        config.hook.pytest_deselected(items=[item for item in items if item in elsewhere])
        items[:] = [item for item in items if item not in elsewhere]
    if config.pluginmanager.hasplugin("allure_listener"):
        for item in items:
            _label_with_clause(item)


def _label_with_clause(item) -> None:
    """Allure labels from the clause, as markers set at collection so that every test carries them,
    one skipped before its first fixture too: epic = part, feature = section, story = clause id and
    statement (the report groups part › section › clause; a clause the run's region adds is grouped
    under the region, then part and section), and the statement and source as the
    description (allure-pytest sets the description from markers or the docstring after setup,
    which would overwrite one set from inside a fixture)."""
    clause = clause_of(item)
    if clause is None:
        return
    import allure

    from simulator.profile import source_line

    source = source_line(clause)
    items = [f"{ref['document']} {ref['id']}" for ref in clause.get("test_items", ())]
    official = f"\n\nOfficial test items: {', '.join(items)}" if items else ""
    profile = run_profile(item.config)
    epic, feature = clause["part"], clause["section"]
    if clause["id"] in profile.regional_clauses():  # the report groups a region's own clauses under it
        region = profile.region_document
        epic, feature = f"{region['name']['zh']} {region['id']}: regional clauses", f"{clause['part']}: {feature}"
    for marker in (allure.epic(epic), allure.feature(feature),
                   allure.story(f"{clause['id']} {clause['statement']}"), allure.severity(clause["severity"]),
                   allure.label("clause", clause["id"]), allure.label("source", source),
                   *(allure.label("test_item", ref) for ref in items),
                   allure.description(f"**{clause['id']}** {clause['statement']}\n\nSource: {source}{official}")):
        item.add_marker(marker)


@pytest.hookimpl(trylast=True)
def pytest_yikatong_make_dut(config, spec, info, profile):
    from conformance.dut import make_dut

    return make_dut(spec, info=info, profile=profile)


def declaration(config):
    """The `--ics` declaration (conformance.ics.Declaration), or None; a bad one is a usage error."""
    if ICS_KEY not in config.stash:
        path = config.getoption("--ics")
        if path is None:
            config.stash[ICS_KEY] = None
        else:
            from conformance.ics import DeclarationError, load_declaration

            try:
                config.stash[ICS_KEY] = load_declaration(Path(path), run_profile(config))
            except DeclarationError as exc:
                raise pytest.UsageError(str(exc)) from None
    return config.stash[ICS_KEY]


def make_dut(config):
    """The session's DUT, made once through the `pytest_yikatong_make_dut` hook, with the `--ics`
    declaration applied (what it declares replaces what the device says of itself)."""
    if DUT_KEY not in config.stash:
        declared = declaration(config)
        made = config.hook.pytest_yikatong_make_dut(config=config, spec=config.getoption("--dut"),
                                                   info=dut_info(config), profile=run_profile(config))
        if declared is not None and made is not None:
            from conformance.ics import DeclarationError, apply

            try:
                apply(declared, made, run_profile(config))
            except DeclarationError as exc:
                raise pytest.UsageError(str(exc)) from None
        config.stash[DUT_KEY] = made
    return config.stash[DUT_KEY]


def _preflight(config) -> dict:
    """The preflight's outcome: the options and the DUT checked the way the run will use them.

    The DUT is made through the hook (so a lab's own adapter, from an installed plugin, a conftest
    or `-p`, is judged like ours) and asked for its identity, which is where an adapter that
    connects lazily meets its device. A link error is `unavailable`, any other error `usage`.
    """
    from simulator.transport.errors import LinkError

    where = f"--dut {config.getoption('--dut')}"
    try:
        _clauses(config)
        made = make_dut(config)
    except pytest.UsageError as exc:
        return {"ok": False, "kind": USAGE, "message": str(exc)}
    except LinkError as exc:
        return {"ok": False, "kind": UNAVAILABLE, "message": f"{where}: {exc}"}
    except Exception as exc:  # an adapter's refusal of its spec or --dut-info
        return {"ok": False, "kind": USAGE, "message": f"{where}: {exc}"}
    if made is None:
        return {"ok": False, "kind": USAGE,
                "message": f"{where}: no adapter made a DUT of this spec"}
    try:
        identity = made.identity() if hasattr(made, "identity") else {"name": getattr(made, "name", repr(made))}
    except LinkError as exc:
        return {"ok": False, "kind": UNAVAILABLE, "message": f"{where}: {exc}"}
    finally:
        close = getattr(made, "close", None)
        if close is not None:
            close()
    declared = declaration(config)
    return {"ok": True, "name": getattr(made, "name", ""), "identity": identity,
            "simulated": bool(getattr(made, "simulated", False)),
            "declaration": declared.summary() if declared is not None else None}


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session) -> None:
    path = session.config.getoption("--yikatong-preflight")
    if path:
        outcome = _preflight(session.config)
        Path(path).write_text(json.dumps(outcome, ensure_ascii=False, indent=1), encoding="utf-8")
        pytest.exit("yikatong preflight done", returncode=0 if outcome["ok"] else 4)


@pytest.fixture(scope="session")
def profile(request):
    """The run's profile (`simulator.profile.Profile`): `--profile` with `--region` layered over it."""
    return run_profile(request.config)


@pytest.fixture(scope="session")
def dut(request):
    """The device under test, from --dut (see conformance.dut for the adapters); closed when the
    session ends (`pytest_sessionfinish`), whoever made it first."""
    return make_dut(request.config)


def requirements(item) -> list[str]:
    """The capabilities every `requires` marker of the test names (module, class and function)."""
    return list(dict.fromkeys(c for marker in item.iter_markers("requires") for c in marker.args))


def judge_applicability(item, capabilities: frozenset[str], *, who: str) -> None:
    """End the test unless `who` has every capability it requires: *not applicable* when a product
    option is missing (citing the declaration), *not tested* when only a harness facility is."""
    missing = [c for c in requirements(item) if c not in capabilities]
    if not missing:
        return
    from conformance.verdicts import not_applicable, not_tested

    ics = run_profile(item.config)["ics"]
    options = [c for c in missing if c not in ics["harness_facilities"]]
    if options:
        declared = declaration(item.config)
        cite = declared.cite() if declared is not None else \
            f"it declares {', '.join(sorted(set(capabilities) - set(ics['harness_facilities']))) or 'nothing'}"
        not_applicable(f"{who} does not declare {', '.join(options)} ({cite})")
    not_tested(f"{who} does not offer the harness {', '.join(missing)}",
               need="; ".join(ics["harness_needs"][c] for c in missing))


#: clause part -> the DUT role its tests judge (terminal tests: the suite's `terminal` fixture,
#: per terminal of the DUT)
PART_ROLES = {"card": "card", "reader_api": "reader", "integration": "department"}


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item) -> None:
    """Judge the test's `requires` against the capabilities of the role its clause's part judges
    (a card test against the card, not against the DUT's terminals), else the union of the roles.

    A hook, not an autouse fixture, so that the report lists only the fixtures the test uses."""
    if not requirements(item):
        return
    made = make_dut(item.config)
    clause = clause_of(item)
    role = getattr(made, PART_ROLES.get(clause["part"] if clause else "", ""), None)
    holder = role if role is not None else made
    judge_applicability(item, frozenset(getattr(holder, "capabilities", ())), who=getattr(holder, "name", "the DUT"))


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_teardown(item):
    """Attach the evidence fixtures collected for the test (`conformance.evidence.at_test_end`)
    before any fixture is torn down, so that it lands on the test, not on a fixture's teardown."""
    for collect in item.stash.get(EVIDENCE_KEY, []):
        collect()
    item.stash[EVIDENCE_KEY] = []
    yield


#: where the shipped suites judge; with the test's own module and any test_*.py, the only places
#: whose AssertionError is a finding about the device
SUITES = Path(__file__).resolve().parent / "suites"


def judged_by_suite(excinfo, item) -> bool:
    """An AssertionError raised (its innermost frame) in a suite or a test module: the suite's own
    judgement. One raised in an adapter, transport, relay, DUT or any other helper is not."""
    if not excinfo.errisinstance(AssertionError):
        return False
    raised = Path(str(excinfo.traceback[-1].path)).resolve()
    return raised == Path(item.path).resolve() or SUITES in raised.parents or raised.name.startswith("test_")


def verdict_of(report) -> str:
    """pass / fail (the suite's assertion about the device) / broken (anything else) / not_applicable /
    not_tested (conformance.verdicts)."""
    if report.skipped:
        return "not_tested" if getattr(report, "_yikatong_not_tested", False) else "not_applicable"
    if report.passed:
        return "pass"
    return "fail" if getattr(report, "_yikatong_judged", False) else "broken"


def _judged_clause(item, call) -> dict | None:
    """The clause of the verdict: the catalogue's clause a finding names (`yikatong_clause`), else the test's."""
    named = getattr(call.excinfo.value, "yikatong_clause", None) if call.excinfo is not None else None
    return _clauses(item.config).get(named) or clause_of(item)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if call.excinfo is not None:
        from conformance.verdicts import is_not_tested

        # plain values on the report (pytest-xdist sends it between processes)
        report._yikatong_not_tested = is_not_tested(call.excinfo.type)
        report._yikatong_judged = judged_by_suite(call.excinfo, item)
    if report.when == "call" or (report.when == "setup" and not report.passed):
        clause, own = _judged_clause(item, call), clause_of(item)
        verdict = verdict_of(report)
        item.stash[VERDICT_KEY] = verdict
        if clause is not own and own is not None and verdict == "fail":
            # a finding under another clause, raised once the test's own judgement had passed
            _record(item, report, own, "pass", "its own checks passed")
        _record(item, report, clause, verdict, _message(report))


def _record(item, report, clause: dict | None, verdict: str, message: str) -> None:
    params = getattr(getattr(item, "callspec", None), "params", {})
    item.config.stash[RESULTS_KEY].append({
        "nodeid": item.nodeid,
        "clause": clause["id"] if clause else None,
        # the device in scope the test judged: the terminal it was shown to, else the clause's part
        "device": f"terminal {params['terminal_name']}" if "terminal_name" in params
        else (clause["part"] if clause else None),
        "verdict": verdict,
        "seconds": round(report.duration, 4),
        "message": message,
    })


def _message(report) -> str:
    """The finding in one line (pytest's crash message), masked as evidence must be."""
    if report.passed:
        return ""
    if report.skipped and isinstance(report.longrepr, tuple):  # pytest prefixes the skip's class name
        from conformance.verdicts import NotTested

        return str(report.longrepr[2]).removeprefix("Skipped: ").removeprefix(
            f"{NotTested.__module__}.{NotTested.__qualname__}: ")
    from conformance.report import mask_failure_text

    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash is not None else str(report.longreprtext or "")
    return mask_failure_text(text.strip().splitlines()[0] if text.strip() else "")


def pytest_sessionfinish(session) -> None:
    close = getattr(session.config.stash.get(DUT_KEY, None), "close", None)
    if close is not None:
        close()
    path = session.config.getoption("--yikatong-results")
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(session.config.stash[RESULTS_KEY], ensure_ascii=False, indent=1),
                              encoding="utf-8")
