"""The yikatong pytest plugin (registered through the `pytest11` entry point).

What it gives a suite, or an integrator's own pytest run:
- options `--dut`, `--profile`, `--region`, `--dut-info key=value`, `--yikatong-results PATH`;
- the `dut` fixture, made by the `pytest_yikatong_make_dut` hook (first result wins, so a lab's
  conftest can plug in its own adapter; the default is `conformance.dut.make_dut`);
- the `clause(id)` marker: every conformance test names the clause it checks; an unknown id is a
  usage error at collection, and the clause becomes the test's Allure epic/feature/story;
- verdicts: *pass*, *fail* (an assertion about the device failed: a product defect) and *broken*
  (anything else: a link, a timeout, the harness itself; never reported as pass), plus
  *not applicable* (skipped, with the reason).

Importing this module imports no simulator code (it loads for every pytest run of an
integrator), only what the hooks need when they run.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conformance import hookspecs

DUT_KEY = pytest.StashKey[object]()
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
}


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


def _clauses(config) -> dict[str, dict]:
    if CLAUSES_KEY not in config.stash:
        from simulator.profile import clauses  # late: only when a suite is collected

        config.stash[CLAUSES_KEY] = clauses()
    return config.stash[CLAUSES_KEY]


def clause_of(item) -> dict | None:
    marker = item.get_closest_marker("clause")
    return _clauses(item.config)[marker.args[0]] if marker else None


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items) -> None:
    unknown = sorted({(m.args[0] if m.args else "<none>", item.nodeid) for item in items
                      for m in item.iter_markers("clause") if not m.args or m.args[0] not in _clauses(config)})
    if unknown:
        lines = "\n".join(f"  {cid} in {nodeid}" for cid, nodeid in unknown)
        raise pytest.UsageError(f"tests name clauses the profile does not have:\n{lines}")
    if config.pluginmanager.hasplugin("allure_listener"):
        for item in items:
            _label_with_clause(item)


def _label_with_clause(item) -> None:
    """Allure labels from the clause, as markers set at collection so that every test carries them,
    one skipped before its first fixture too: epic = part, feature = section, story = clause id and
    statement (the report groups part › section › clause), and the statement and source as the
    description (allure-pytest sets the description from markers or the docstring after setup,
    which would overwrite one set from inside a fixture)."""
    clause = clause_of(item)
    if clause is None:
        return
    import allure

    xref = f"\n\nOfficial test item: {clause['xref']}" if clause.get("xref") else ""
    for marker in (allure.epic(clause["part"]), allure.feature(clause["section"]),
                   allure.story(f"{clause['id']} {clause['statement']}"), allure.severity(clause["severity"]),
                   allure.label("clause", clause["id"]), allure.label("source", clause["source"]),
                   allure.description(f"**{clause['id']}** {clause['statement']}\n\nSource: {clause['source']}{xref}")):
        item.add_marker(marker)


@pytest.hookimpl(trylast=True)
def pytest_yikatong_make_dut(config, spec, info):
    from conformance.dut import make_dut

    return make_dut(spec, info=info)


def dut_of(config):
    """The device under test of the session, made once (by the hook) when first needed."""
    if DUT_KEY not in config.stash:
        config.stash[DUT_KEY] = config.hook.pytest_yikatong_make_dut(
            config=config, spec=config.getoption("--dut"), info=dut_info(config))
    return config.stash[DUT_KEY]


@pytest.fixture(scope="session")
def dut(request):
    """The device under test, from --dut (see conformance.dut for the adapters); closed when the
    session ends (`pytest_sessionfinish`), whoever made it first."""
    return dut_of(request.config)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item) -> None:
    """Skip, as not applicable, a test whose `requires` capabilities the DUT does not declare.

    A hook, not an autouse fixture, so that the report lists only the fixtures the test uses."""
    marker = item.get_closest_marker("requires")
    if marker is None:
        return
    made = dut_of(item.config)
    declared = set(getattr(made, "capabilities", ()))
    missing = [c for c in marker.args if c not in declared]
    if missing:
        pytest.skip(f"not applicable: {getattr(made, 'name', 'the DUT')} does not declare {', '.join(missing)}")


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_teardown(item):
    """Attach the evidence fixtures collected for the test (`conformance.evidence.at_test_end`)
    before any fixture is torn down, so that it lands on the test, not on a fixture's teardown."""
    for collect in item.stash.get(EVIDENCE_KEY, []):
        collect()
    item.stash[EVIDENCE_KEY] = []
    yield


def verdict_of(report) -> str:
    """pass / fail (an assertion about the device) / broken (anything else) / not_applicable."""
    if report.skipped:
        return "not_applicable"
    if report.passed:
        return "pass"
    excinfo = getattr(report, "_yikatong_exc", None)
    return "fail" if excinfo is not None and issubclass(excinfo, AssertionError) else "broken"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if call.excinfo is not None:
        report._yikatong_exc = call.excinfo.type
    if report.when == "call" or (report.when == "setup" and not report.passed):
        clause = clause_of(item)
        verdict = verdict_of(report)
        item.stash[VERDICT_KEY] = verdict
        item.config.stash[RESULTS_KEY].append({
            "nodeid": item.nodeid,
            "clause": clause["id"] if clause else None,
            "verdict": verdict,
            "seconds": round(report.duration, 4),
            "message": _message(report),
        })


def _message(report) -> str:
    """The finding in one line (pytest's crash message), masked as evidence must be."""
    if report.passed:
        return ""
    if report.skipped and isinstance(report.longrepr, tuple):
        return str(report.longrepr[2])
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
