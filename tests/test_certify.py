"""`ykt certify` and `ykt clauses`: the verdict per clause, the exit status, the certificate, and
evidence hygiene (no unmasked synthetic personal datum in anything a run writes).

Two kinds of run: a synthetic suite written here (one test per card clause, each with a chosen
outcome) pins the judging rules exactly, whatever the real suites hold; the real suites
(conformance/suites/) are run against the reference devices and a card mutant when they exist.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import json
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conformance import certify, report
from simulator.card import personas
from simulator.card.apps import qpboc
from simulator.clock import AS_OF
from simulator.crypto import sm2
from simulator.profile import national

ROOT = Path(__file__).resolve().parent.parent

BODIES = {
    "pass": "    assert True\n",
    "fail": "    assert 0x6A82 == 0x9000, 'the card answered 6A82 where the clause wants 9000'\n",
    "broken": "    raise ConnectionError('link dropped')\n",
    "na": None,
    # a failure whose text carries a (synthetic) citizen ID: the run must mask it everywhere
    "leak": "    assert False, 'card of 410203198506150130 refused'\n",
}


def card_clauses() -> list[str]:
    return [cid for cid, c in national().clauses.items() if c["part"] == "card"]


def write_suite(root: Path, outcomes: dict[str, str], *, name: str = "demo", extra: str = "") -> Path:
    """A suite `name` under `root` with one test per clause id and the given outcome."""
    suite = root / name
    suite.mkdir(parents=True, exist_ok=True)
    (suite / "__init__.py").write_text("")
    lines = ["import pytest\n", "from conformance.evidence import attach_json\n\n"]
    for n, (cid, outcome) in enumerate(outcomes.items()):
        lines.append(f"@pytest.mark.clause({cid!r})\n")
        if outcome == "na":
            lines.append("@pytest.mark.requires('no_such_capability')\n")
        lines.append(f"def test_{n:03d}_{outcome}(dut):\n")
        lines.append(f"    attach_json('decision', {{'clause': {cid!r}, 'outcome': {outcome!r}}})\n")
        lines.append(BODIES[outcome] or "    pass\n")
        lines.append("\n")
    (suite / "test_demo.py").write_text("".join(lines) + extra)
    return root


def run_cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(certify.app, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def run_synthetic(tmp_path: Path, outcomes: dict[str, str], *extra: str) -> tuple[int, str, dict]:
    write_suite(tmp_path / "suites", outcomes)
    out = tmp_path / "out"
    code, output = run_cli("certify", "--suites-dir", str(tmp_path / "suites"), "--out", str(out), "--no-html", *extra)
    return code, output, json.loads((out / "certificate.json").read_text(encoding="utf-8"))


def verdicts(cert: dict) -> dict[str, str]:
    return {c["id"]: c["verdict"] for c in cert["clauses"]}


# -- judging rules -----------------------------------------------------------------------------
def test_clause_verdict_rule():
    assert report.clause_verdict([]) == "not_covered"
    assert report.clause_verdict(["pass", "pass"]) == "pass"
    assert report.clause_verdict(["pass", "not_applicable"]) == "pass"
    assert report.clause_verdict(["not_applicable", "not_applicable"]) == "not_applicable"
    assert report.clause_verdict(["pass", "broken"]) == "broken"
    assert report.clause_verdict(["broken", "fail", "pass"]) == "fail"
    # a clause passes only when every applicable test of it passed
    assert report.clause_verdict(["pass", "not_tested", "pass"]) == "not_tested"
    assert report.clause_verdict(["not_tested", "broken"]) == "broken"
    assert report.clause_verdict(["not_applicable", "not_tested"]) == "not_tested"


def test_every_clause_passing_in_suites_of_our_own_is_judged_but_never_certified(tmp_path):
    ids = card_clauses()
    code, output, cert = run_synthetic(tmp_path, {ids[0]: "na", **{cid: "pass" for cid in ids[1:]}},
                                       "--dut-info", "vendor=ACME", "--dut-info", "model=Gate 9")
    assert code == report.EXIT_NOT_CERTIFIABLE, output
    assert cert["outcome"]["certified"] is False and cert["outcome"]["exit_code"] == 4
    assert "never certified" in cert["outcome"]["reason"] and "not the shipped ones" in cert["outcome"]["reason"]
    assert cert["suites"]["shipped"] is False and cert["valid_until"] is None
    assert verdicts(cert)[ids[0]] == "not_applicable"
    assert all(verdicts(cert)[cid] == "pass" for cid in ids[1:])
    assert cert["dut"] == {"spec": "sim", "name": "reference devices", "info": {"vendor": "ACME", "model": "Gate 9"},
                           "applicant": "ACME", "manufacturer": "ACME", "declaration": None}
    assert "NOT CERTIFIED" in output


def test_a_failing_clause_exits_1_and_is_listed(tmp_path):
    ids = card_clauses()
    outcomes = {cid: "pass" for cid in ids} | {ids[1]: "fail", ids[2]: "broken"}
    code, output, cert = run_synthetic(tmp_path, outcomes)
    assert code == 1, output
    assert verdicts(cert)[ids[1]] == "fail" and verdicts(cert)[ids[2]] == "broken"
    assert ids[1] in output and "NOT CERTIFIED" in output
    failing = next(c for c in cert["clauses"] if c["id"] == ids[1])
    assert failing["tests"][0]["verdict"] == "fail" and failing["tests"][0]["message"]


def test_a_broken_clause_without_failures_exits_2(tmp_path):
    ids = card_clauses()
    code, output, cert = run_synthetic(tmp_path, {cid: "pass" for cid in ids} | {ids[3]: "broken"})
    assert code == 2, output
    assert verdicts(cert)[ids[3]] == "broken" and cert["outcome"]["certified"] is False


def test_an_untested_clause_in_scope_is_not_covered_and_the_run_incomplete(tmp_path):
    ids = card_clauses()
    code, output, cert = run_synthetic(tmp_path, {cid: "pass" for cid in ids[1:]})
    assert code == report.EXIT_INCOMPLETE == 3, output
    assert verdicts(cert)[ids[0]] == "not_covered" and cert["outcome"]["reason"].startswith("incomplete")
    out_of_scope = [c for c in cert["clauses"] if c["part"] != "card"]
    assert all(c["verdict"] == "out_of_scope" for c in out_of_scope)
    assert cert["scope"] == ["card", "demo"]


def test_nothing_applicable_certifies_nothing(tmp_path):
    code, output, cert = run_synthetic(tmp_path, {cid: "na" for cid in card_clauses()})
    assert code == 3, output
    assert "no clause was tested" in cert["outcome"]["reason"]


@pytest.mark.parametrize(("outcome", "exit_code"), [("fail", 1), ("pass", report.EXIT_REPORT)])
def test_without_the_html_generator_the_certificate_and_verdict_are_written_and_the_exit_says_so(
        tmp_path, monkeypatch, outcome, exit_code):
    """A report that cannot be produced is an error (exit 5) unless the verdict is already worse."""
    monkeypatch.setattr(report, "generator", lambda: None)
    ids = card_clauses()
    write_suite(tmp_path / "suites", {cid: "pass" for cid in ids} | {ids[0]: outcome})
    code, output = run_cli("certify", "--suites-dir", str(tmp_path / "suites"), "--out", str(tmp_path / "out"))
    assert code == exit_code, output
    assert "npm ci" in output and not (tmp_path / "out" / "report" / report.ALLURE_FILE).exists()
    cert = json.loads((tmp_path / "out" / "certificate.json").read_text(encoding="utf-8"))
    assert "npm ci" in cert["evidence"]["html"] and f"report/{report.ALLURE_FILE}" not in cert["evidence"]["files"]
    page = (tmp_path / "out" / "report" / "index.html").read_text(encoding="utf-8")
    assert ("NOT CERTIFIED" if outcome == "fail" else "CERTIFIED") in page and "not generated" in page


def test_a_suite_that_does_not_collect_is_broken_not_passed(tmp_path):
    ids = card_clauses()
    write_suite(tmp_path / "suites", {cid: "pass" for cid in ids}, extra="this is not python\n")
    code, output = run_cli("certify", "--suites-dir", str(tmp_path / "suites"), "--out", str(tmp_path / "out"),
                           "--no-html")
    cert = json.loads((tmp_path / "out" / "certificate.json").read_text(encoding="utf-8"))
    assert code == 2, output
    assert "pytest exit status 2" in cert["outcome"]["reason"]


def test_an_error_in_teardown_is_broken_even_when_every_test_passed(tmp_path):
    ids = card_clauses()
    extra = ("\n@pytest.fixture\ndef crashing_close():\n    yield\n    raise ConnectionResetError('reader gone')\n\n"
             f"@pytest.mark.clause({ids[0]!r})\ndef test_with_teardown(crashing_close):\n    assert True\n")
    write_suite(tmp_path / "suites", {cid: "pass" for cid in ids}, extra=extra)
    code, output = run_cli("certify", "--suites-dir", str(tmp_path / "suites"), "--out", str(tmp_path / "out"),
                           "--no-html")
    cert = json.loads((tmp_path / "out" / "certificate.json").read_text(encoding="utf-8"))
    assert code == 2, output
    assert "teardown" in cert["outcome"]["reason"] and verdicts(cert)[ids[0]] == "pass"


def test_unknown_suite_is_a_usage_error(tmp_path):
    write_suite(tmp_path / "suites", {card_clauses()[0]: "pass"})
    code, output = run_cli("certify", "--suites-dir", str(tmp_path / "suites"), "--suite", "nope")
    assert code == report.EXIT_USAGE and "available: demo, all" in output


def test_failure_text_is_masked_in_every_written_file(tmp_path):
    ids = card_clauses()
    code, _, cert = run_synthetic(tmp_path, {cid: "pass" for cid in ids} | {ids[0]: "leak"})
    assert code == 1
    assert cert["evidence"]["masked_after_run"], "allure-pytest wrote the failure text unmasked; the run masks it"
    found = {str(p.relative_to(tmp_path)) for p in (tmp_path / "out").rglob("*")
             if p.is_file() and b"410203198506150130" in p.read_bytes()}
    assert not found


# -- ykt clauses -------------------------------------------------------------------------------
def test_clauses_lists_the_catalogue():
    code, output = run_cli("clauses", "--part", "card")
    assert code == 0
    assert card_clauses()[0] in output and "source" in output


def test_coverage_finds_every_marker_form_and_exits_1_on_gaps(tmp_path):
    ids = card_clauses()
    suite = tmp_path / "suites" / "demo"
    suite.mkdir(parents=True)
    (suite / "test_forms.py").write_text(
        "import pytest\nfrom pytest import mark\n"
        f"ID = {ids[2]!r}\n"
        f"pytestmark = pytest.mark.clause({ids[0]!r})\n"
        f"@mark.clause({ids[1]!r})\ndef test_a(): pass\n"
        "@pytest.mark.clause(ID)\ndef test_b(): pass\n"
        f"@pytest.mark.parametrize('x', [pytest.param(1, marks=pytest.mark.clause({ids[3]!r}))])\n"
        "def test_c(x): pass\n")
    named, unresolved = certify.named_clauses(tmp_path / "suites")
    assert set(named) == set(ids[:4]) and not unresolved
    assert named[ids[1]] == ["demo/test_forms.py::test_a"]
    code, output = run_cli("clauses", "--coverage", "--part", "card", "--suites-dir", str(tmp_path / "suites"))
    assert code == 1
    assert ids[4] in output and ids[1] not in output
    write_suite(tmp_path / "full", {cid: "pass" for cid in ids})
    code, output = run_cli("clauses", "--coverage", "--part", "card", "--suites-dir", str(tmp_path / "full"))
    assert code == 0, output


# -- the real suites ---------------------------------------------------------------------------
def run_real(out: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "conformance.certify", "certify", "--out", str(out), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory):
    """The main job as it ships: `ykt certify` with no options (every suite, --dut sim)."""
    if not certify.available_suites():
        pytest.skip("no conformance suite exists yet under conformance/suites/")
    out = tmp_path_factory.mktemp("certify") / "run"
    html = [] if report.generator() else ["--no-html"]
    done = run_real(out, *html)
    return "all", out, done


#: card mutants whose failing tests handle personal data (the likeliest place for a leak), first
PREFERRED_MUTANTS = ("card_ef06_free_read", "card_record_not_found_6a82")


def card_mutant() -> str | None:
    from conformance.mutants import all_mutants

    names = sorted(m.name for m in all_mutants().values() if m.role == "card")
    return next((n for n in PREFERRED_MUTANTS if n in names), names[0] if names else None)


@pytest.fixture(scope="module")
def mutant_run(tmp_path_factory):
    mutant = card_mutant()
    if mutant is None or "card" not in certify.available_suites():
        pytest.skip("no card mutant or no card suite yet")
    out = tmp_path_factory.mktemp("certify") / "mutant"
    html = [] if report.generator() else ["--no-html"]
    done = run_real(out, "--suite", "card", "--dut", f"sim:mutant={mutant}", *html)
    return "card", out, done


@functools.cache
def personal_data() -> dict[str, str]:
    """Every synthetic personal datum of every persona, as it could appear in evidence -> what it is."""
    values = {name: personas.resolve(name, as_of=AS_OF) for name in sorted(national().personas)}
    public_dates = {v.values[k] for v in values.values() for k in ("issue_date", "expiry_date")}
    needles: dict[str, str] = {}
    for name, persona in values.items():
        v = persona.values
        needles[v["citizen_id"]] = f"{name}: 社会保障号码"
        for key in ("name", "name_ext"):
            if v[key]:
                needles[v[key]] = f"{name}: {key}"
                gbk = v[key].encode("gbk")
                needles[gbk.hex().upper()] = needles[gbk.hex()] = f"{name}: {key} (GBK hex)"
                needles[bytes_repr(gbk)] = f"{name}: {key} (GBK bytes as pytest prints them)"
        birth = v["birth_date"]
        if birth not in public_dates:  # a birth date equal to some card's issue date says nothing
            needles[f"{birth:%Y%m%d}"] = needles[birth.isoformat()] = f"{name}: 出生日期"
            needles[bytes_repr(bytes.fromhex(f"{birth:%Y%m%d}"))] = f"{name}: 出生日期 (BCD bytes as printed)"
        if "qpboc" in persona.applications:
            pan = persona.sections.get("qpboc", {}).get("pan") or qpboc.synthetic_pan(v["card_identifier"])
            built = qpboc.build_for(persona, national()).application.params["track2"].hex().upper().split("D")[0]
            for p in {pan, built}:
                needles[p] = f"{name}: PAN"
                needles[bytes_repr(bytes.fromhex(p + "F" * (len(p) % 2)))] = f"{name}: PAN (BCD bytes as printed)"
    return needles


def bytes_repr(value: bytes) -> str:
    """How Python (and so pytest's assertion introspection) prints these bytes inside b'...'."""
    return repr(value)[2:-1]


def readable_texts(path: Path) -> list[str]:
    """The texts a reader of `path` could see: the raw text, JSON strings with escapes decoded, and
    for the HTML report the base64 data blobs decoded (the report's data, not the Allure app code)."""
    raw = path.read_bytes()
    text = raw.decode("utf-8", "replace")
    texts = [text]
    if path.suffix == ".html":
        texts = [re.sub(r"data:text/javascript;base64,[A-Za-z0-9+/=]+", "", text)]
        for blob in re.findall(r'd\("[^"]+","([A-Za-z0-9+/=]*)"\)', text):
            texts.append(base64.b64decode(blob).decode("utf-8", "replace"))
    decoded = []
    for t in texts:
        with contextlib.suppress(ValueError):
            decoded.append(json.dumps(json.loads(t), ensure_ascii=False))
    return texts + decoded


@pytest.mark.parametrize("run", ["reference_run", "mutant_run"])
def test_run_writes_no_unmasked_personal_datum(run, request):
    suite, out, done = request.getfixturevalue(run)
    files = [p for root in (out, out.parent / "history") for p in root.rglob("*") if p.is_file()]
    assert any(p.parent.name == "allure-results" for p in files), done.stdout + done.stderr
    needles = personal_data()
    gbk_names = {p.values["name"].encode("gbk"): p.name for p in
                 (personas.resolve(n, as_of=AS_OF) for n in sorted(national().personas))}
    leaks = []
    for path in files:
        raw = path.read_bytes()
        leaks += [f"{path.relative_to(out.parent)}: {what} (raw GBK)" for b, what in gbk_names.items() if b in raw]
        for text in readable_texts(path):
            leaks += [f"{path.relative_to(out.parent)}: {what}" for needle, what in needles.items() if needle in text]
    leaks = sorted(set(leaks))
    assert not leaks, f"unmasked synthetic personal data in the {suite} run's evidence:\n" + "\n".join(leaks)


def test_reference_run_certificate(reference_run):
    _, out, done = reference_run
    cert = json.loads((out / "certificate.json").read_text(encoding="utf-8"))
    assert cert["format"] == "yikatong.certificate/2" and cert["run_id"] and cert["number"].startswith("YKT-")
    assert cert["dut"]["spec"] == "sim" and cert["suites"]["names"] == certify.available_suites()
    assert cert["suites"]["shipped"] is True and cert["suites"]["sm3"] == certify.suite_digest(
        certify.SUITES_ROOT, certify.available_suites())[0]
    assert cert["tool"]["version"] == certify.tool_version()
    assert cert["profile"]["sm3"] == report.profile_digest("national")[0]
    assert cert["profile"]["documents"]["national/clauses.yaml"] == report.file_sm3(
        report.PROJECT_ROOT / "profiles" / "national" / "clauses.yaml")
    assert cert["evidence"]["files"]["results.json"] == report.file_sm3(out / "results.json")
    assert cert["evidence"]["files"]["pytest.log"] == report.file_sm3(out / "pytest.log")
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert cert["counts"]["tests"]["total"] == len(results) > 0
    by_clause = verdicts(cert)
    for r in results:
        assert r["clause"] in by_clause, r
    # the exit status follows the rule from the verdicts (the suites' own tests prove the reference
    # devices pass them; here only the judging is checked)
    seen = {c["verdict"] for c in cert["clauses"]} | {t["verdict"] for t in cert["tests_without_clause"]}
    expected = (1 if "fail" in seen else 2 if "broken" in seen or "pytest" in cert["outcome"]["reason"]
                else 3 if {"not_covered", "not_tested"} & seen or "pass" not in seen else 0)
    assert done.returncode == cert["outcome"]["exit_code"] == expected, done.stdout[-3000:]
    assert cert["outcome"]["certified"] is (expected == 0)
    props = (out / "allure-results" / "environment.properties").read_text(encoding="utf-8")
    assert f"profile.sm3={cert['profile']['sm3']}" in props and "dut.spec=sim" in props
    categories = json.loads((out / "allure-results" / "categories.json").read_text(encoding="utf-8"))
    assert [c["matchedStatuses"] for c in categories[:2]] == [["failed"], ["broken"]]
    for page in ("index.html", "summary.html", report.ALLURE_FILE):
        if (out / "report" / page).exists():
            assert report.external_references((out / "report" / page).read_text(encoding="utf-8")) == [], page


def test_a_card_mutant_fails_certification_with_its_clause(mutant_run):
    _, out, done = mutant_run
    cert = json.loads((out / "certificate.json").read_text(encoding="utf-8"))
    failing = [c["id"] for c in cert["clauses"] if c["verdict"] == "fail"]
    assert done.returncode == 1, done.stdout[-3000:]
    assert failing and cert["outcome"]["certified"] is False and cert["outcome"]["exit_code"] == 1
    assert cert["dut"]["name"].startswith("mutant ")
    assert failing[0] in done.stdout


# -- the signed certificate --------------------------------------------------------------------
def test_the_default_runs_certificate_verifies_and_any_change_is_refused(reference_run, tmp_path):
    from json_edits import changed, leaves

    from conformance import certificate_check

    _, out, _ = reference_run
    copy = tmp_path / "run"
    shutil.copytree(out, copy)
    path = copy / "certificate.json"
    public = copy / "lab-public.pem"
    ok = run_cli_main("certificate", "verify", str(path), "--public-key", str(public))
    assert ok.returncode == 0 and ok.stdout.startswith("VALID"), ok.stdout + ok.stderr
    cert = json.loads(path.read_text(encoding="utf-8"))
    assert cert["signature"]["public_key_sm3"] == cert["lab"]["key_sm3"]
    assert cert["sample"]["name"] == "reference devices" and cert["valid_until"] and cert["test_basis"]
    key = sm2.load_public_key_pem(public.read_text())
    paths = list(leaves({k: v for k, v in cert.items() if k != "signature"}))
    every_top_level = {p[0]: p for p in paths}.values()
    sample = [*every_top_level, *random.Random(7).sample(paths, 25)]
    for where in sample:
        path.write_text(json.dumps(changed(cert, where), ensure_ascii=False), encoding="utf-8")
        try:
            refused = certificate_check.problems_of(path, key)
        except ValueError as exc:  # no longer a certificate at all (its format changed)
            refused = [str(exc)]
        assert refused, f"a change at {where} was not refused"
    path.write_text(json.dumps(cert, ensure_ascii=False), encoding="utf-8")
    assert certificate_check.problems_of(path, key) == []
    evidence = copy / "results.json"
    original = evidence.read_bytes()
    evidence.write_bytes(original.replace(b'"pass"', b'"fail"', 1))
    tampered = run_cli_main("certificate", "verify", str(path))
    assert tampered.returncode == 1 and "evidence file changed: results.json" in tampered.stdout
    evidence.write_bytes(original)
    (copy / "allure-results" / "extra-result.json").write_text("{}")
    assert certificate_check.problems_of(path, key) == [
        "file not vouched for by the certificate: allure-results/extra-result.json"]


def run_cli_main(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(Path(sys.executable).with_name("ykt")), *args], capture_output=True, text=True,
                          timeout=120, check=False)


def test_the_default_run_opens_its_report_on_certified(reference_run, tmp_path):
    """The README's main job: its verdict page, opened in headless Chromium, says CERTIFIED on the
    first screen (the failing runs' pages are checked in test_report_html)."""
    from test_report_html import first_screen, render

    _, out, done = reference_run
    page = out / "report" / "index.html"
    if not report.generator() or shutil.which("chromium") is None:
        pytest.skip("the report generator or Chromium is missing (scripts/install-system-deps installs both)")
    assert done.returncode == 0, done.stdout[-3000:]
    dom, requests = render(shutil.which("chromium"), page, tmp_path / "browser")
    screen = first_screen(dom)
    assert "CERTIFIED" in screen and "NOT CERTIFIED" not in screen and "通过认证" in screen, screen
    assert requests == []


def test_a_finding_under_another_clause_keeps_the_tests_own_verdict(tmp_path):
    """A check every presentation gets may fail a test under its own clause (the terminal suite's
    money and record findings): the finding's clause fails, the test's own clause keeps its pass."""
    ids = card_clauses()
    extra = (f"\n@pytest.mark.clause({ids[0]!r})\ndef test_with_a_finding():\n"
             "    finding = AssertionError('the record contradicts the card')\n"
             f"    finding.yikatong_clause = {ids[1]!r}\n    raise finding\n")
    write_suite(tmp_path / "suites", {cid: "pass" for cid in ids[2:]} | {ids[0]: "pass"}, extra=extra)
    code, output = run_cli("certify", "--suites-dir", str(tmp_path / "suites"), "--out", str(tmp_path / "out"),
                           "--no-html")
    cert = json.loads((tmp_path / "out" / "certificate.json").read_text(encoding="utf-8"))
    assert code == 1, output
    assert verdicts(cert)[ids[0]] == "pass" and verdicts(cert)[ids[1]] == "fail"
    own = next(c for c in cert["clauses"] if c["id"] == ids[0])
    assert {t["verdict"] for t in own["tests"]} == {"pass"} and len(own["tests"]) == 2


def test_a_regional_run_names_the_region_and_groups_its_clauses_under_it(tmp_path):
    _code, _output, cert = run_synthetic(tmp_path, {"KF-CONC-001": "pass", "TERM-CONC-001": "pass"},
                                         "--region", "kaifeng")
    results = tmp_path / "out" / "allure-results"
    environment = (results / "environment.properties").read_text(encoding="utf-8")
    assert "profile.region=kaifeng (开封市): 汴政办〔2020〕71号" in environment
    epics = {}
    for path in results.glob("*-result.json"):
        labels = json.loads(path.read_text(encoding="utf-8"))["labels"]
        clause = next(label["value"] for label in labels if label["name"] == "clause")
        epics[clause] = next(label["value"] for label in labels if label["name"] == "epic")
    assert epics == {"KF-CONC-001": "开封市 kaifeng: regional clauses", "TERM-CONC-001": "terminal"}
    assert cert["profile"]["region"] == "kaifeng"
    region = cert["profile"]["region_documents"]
    assert [p["document"] for p in region["policies"]] == ["汴政办〔2020〕71号"]
    assert "regions/kaifeng/region.yaml" in region["files"] and "regions/kaifeng/clauses.yaml" in region["files"]
    assert verdicts(cert)["KF-CONC-001"] == "pass"
