"""The HTML report: the verdict page (report/index.html), the printable summary and the single-file
Allure report (report/allure.html) open from file:// in a real browser (headless Chromium), show
the verdict and the numbers of our run, and load nothing from outside the file.

"Loads nothing from outside" is defined by `conformance.report.external_references` and checked
three ways here: that function on the shipped file, independent markup checks, and Chromium's own
network log of the page (no http(s)/ws request initiated by the report). The generator's raw
output (with Google Tag Manager) is the control: every check must catch it. The verdict page and
the summary hold no script at all (they work without JavaScript): what Chromium shows is the markup.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
from html import escape
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conformance import certify, report
from simulator.profile import national, source_line

#: outcome -> how many tests of the synthetic suite have it, and the Allure status it shows as
PLAN = {"pass": 5, "fail": 2, "broken": 1, "na": 2}
SHOWN_AS = {"pass": "passed", "fail": "failed", "broken": "broken", "na": "skipped"}
BODIES = {
    "pass": "    assert True\n",
    "fail": "    assert 0x6A82 == 0x9000, 'the card answered 6A82 where the clause wants 9000'\n",
    "broken": "    raise ConnectionError('link dropped')\n",
    "na": "    pass\n",
}


@pytest.fixture(scope="module")
def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.skip("chromium is not installed (Debian package chromium: scripts/install-system-deps installs it)")
    return path


@pytest.fixture(scope="module")
def allure() -> Path:
    path = report.generator()
    if path is None:
        pytest.skip(f"the Allure 3 generator is not installed: {report.INSTALL_HINT}")
    return path


@pytest.fixture(scope="module")
def synthetic_run(allure, tmp_path_factory) -> Path:
    """A run of a small suite with passes, failures, a broken link and not-applicable tests."""
    root = tmp_path_factory.mktemp("html")
    suite = root / "suites" / "demo"
    suite.mkdir(parents=True)
    (suite / "__init__.py").write_text("")
    ids = iter(cid for cid, c in national().clauses.items() if c["part"] == "card")
    lines = ["import pytest\n"]
    for outcome, count in PLAN.items():
        for n in range(count):
            lines.append(f"@pytest.mark.clause({next(ids)!r})\n")
            if outcome == "na":
                lines.append("@pytest.mark.requires('no_such_capability')\n")
            lines.append(f"def test_{outcome}_{n}(dut):\n{BODIES[outcome]}\n")
    (suite / "test_demo.py").write_text("".join(lines))
    out = root / "out"
    result = invoke("certify", "--suites-dir", str(root / "suites"), "--out", str(out))
    assert result.exit_code == 1, result.output
    assert (out / "report" / report.ALLURE_FILE).is_file(), result.output
    return out


def invoke(*args: str):
    """`certify` in-process; an exception inside it is raised here, not turned into exit status 1."""
    result = CliRunner().invoke(certify.app, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def render(chromium: str, page: Path, work: Path) -> tuple[str, list[str]]:
    """(the DOM after the page ran, the http(s)/ws URLs the page itself asked for)."""
    work.mkdir(parents=True, exist_ok=True)
    netlog = work / "netlog.json"
    done = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={work / 'profile'}", f"--log-net-log={netlog}", "--virtual-time-budget=10000",
         "--dump-dom", page.resolve().as_uri()],
        capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0 and "<html" in done.stdout, done.stderr[-2000:]
    return done.stdout, page_requests(netlog)


def page_requests(netlog: Path) -> list[str]:
    """URLs of the requests the page started (not the browser's own), from Chromium's net log."""
    text = netlog.read_text(encoding="utf-8")
    try:
        log = json.loads(text)
    except ValueError:  # a log cut short at exit lacks its closing brackets
        log = json.loads(text.rstrip().rstrip(",") + "]}")
    start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    urls = []
    for event in log["events"]:
        params = event.get("params") or {}
        if event["type"] != start_job or "url" not in params:
            continue
        from_page = "file://" in params.get("network_isolation_key", "") or params.get("initiator") in ("null",)
        if from_page and re.match(r"(?:https?|wss?)://", params["url"]):
            urls.append(params["url"])
    return urls


def shown_counts(dom: str) -> dict[str, int]:
    """The report's status counters: data-testid="metadata-item-<status>" ... <span>N</span>."""
    found = re.findall(r'data-testid="metadata-item-(total|passed|failed|broken|skipped)".*?<span[^>]*>(\d+)</span>',
                       dom, flags=re.S)
    return {status: int(n) for status, n in found}


def independent_markup_check(html: str) -> list[str]:
    """The same promise as external_references, checked without it."""
    problems = re.findall(r"<script\b[^>]*\bsrc\s*=\s*[\"']?(?!data:)[^\"'\s>]+", html)
    problems += re.findall(r"<link\b[^>]*\bhref\s*=\s*[\"']?(?!data:|#)[^\"'\s>]+", html)
    problems += re.findall(r"<(?:img|iframe|source|embed)\b[^>]*\bsrc\s*=\s*[\"']?(?!data:)[^\"'\s>]+", html)
    problems += [m for m in ("googletagmanager", "gtag(", "dataLayer") if m in html]
    for payload in re.findall(r"data:text/(?:javascript|css);base64,([A-Za-z0-9+/=]+)", html):
        code = base64.b64decode(payload).decode("utf-8", "replace")
        problems += [u for u in re.findall(r"(?:https?|wss?)://[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+", code)
                     if not u.endswith("://www.w3.org")]
    return problems


@pytest.fixture(scope="module")
def raw_report(allure, synthetic_run, tmp_path_factory) -> Path:
    """The generator's own output for the same results, before our cleaning: the control."""
    out = tmp_path_factory.mktemp("raw")
    subprocess.run([str(allure), "awesome", str(synthetic_run / "allure-results"), "--single-file", "-o", str(out)],
                   cwd=out, capture_output=True, check=True, timeout=300)
    return out / "index.html"


def test_the_generator_output_would_call_home_and_every_check_sees_it(raw_report):
    html = raw_report.read_text(encoding="utf-8")
    found = report.external_references(html)
    assert any("googletagmanager" in f for f in found), found
    assert independent_markup_check(html)
    cleaned, removed = report.sanitize_html(html)
    assert any("googletagmanager" in r for r in removed)
    assert report.external_references(cleaned) == [] and independent_markup_check(cleaned) == []


def test_shipped_report_references_nothing_outside_the_file(synthetic_run):
    html = (synthetic_run / "report" / report.ALLURE_FILE).read_text(encoding="utf-8")
    assert report.external_references(html) == []
    assert independent_markup_check(html) == []
    assert sorted(p.name for p in (synthetic_run / "report").iterdir()) == [report.ALLURE_FILE, "index.html",
                                                                           "summary.html"]
    for page in ("index.html", "summary.html"):
        text = (synthetic_run / "report" / page).read_text(encoding="utf-8")
        assert report.external_references(text) == [] and independent_markup_check(text) == []
        assert "<script" not in text
    cert = json.loads((synthetic_run / "certificate.json").read_text(encoding="utf-8"))
    for page in (report.ALLURE_FILE, "index.html", "summary.html"):
        assert cert["evidence"]["files"][f"report/{page}"] == report.file_sm3(synthetic_run / "report" / page)
    assert any("googletagmanager" in r for r in cert["evidence"]["removed_from_html"])
    blobs = dict(re.findall(r'd\("([^"]+)","([A-Za-z0-9+/=]*)"\)', html))
    categories = base64.b64decode(blobs["widgets/categories.json"]).decode("utf-8")
    assert "Product defects" in categories and "Broken links / harness faults" in categories
    environment = base64.b64decode(blobs["widgets/allure_environment.json"]).decode("utf-8")
    assert cert["profile"]["sm3"] in environment and cert["run_id"] in environment


def test_report_opens_from_file_and_shows_our_numbers(chromium, synthetic_run, tmp_path):
    dom, requests = render(chromium, synthetic_run / "report" / report.ALLURE_FILE, tmp_path)
    expected = {SHOWN_AS[o]: n for o, n in PLAN.items()} | {"total": sum(PLAN.values())}
    assert shown_counts(dom) == expected, shown_counts(dom)
    assert requests == []


def test_browser_network_log_catches_a_report_that_calls_home(chromium, raw_report, tmp_path):
    _, requests = render(chromium, raw_report, tmp_path)
    assert any("googletagmanager" in url for url in requests), requests


@pytest.fixture(scope="module")
def mutant_run(allure, tmp_path_factory) -> Path:
    """`ykt certify --suite card` against a card mutant: not certified, a clause fails."""
    from conformance.mutants import all_mutants

    mutants = {m.name for m in all_mutants().values() if m.role == "card"}
    if "card_record_not_found_6a82" not in mutants or "card" not in certify.available_suites():
        pytest.skip("no card suite or no card mutant card_record_not_found_6a82 yet")
    out = tmp_path_factory.mktemp("mutant") / "run"
    result = invoke("certify", "--suite", "card", "--dut", "sim:mutant=card_record_not_found_6a82", "--out", str(out))
    assert result.exit_code == 1, result.output
    return out


@pytest.fixture(scope="module")
def passing_runs(allure, tmp_path_factory) -> list[Path]:
    """Two runs of `--suite reader_api --dut sim` side by side: certified, the second with a history."""
    if "reader_api" not in certify.available_suites():
        pytest.skip("no reader_api suite")
    root = tmp_path_factory.mktemp("passing")
    runs = [root / "first", root / "second"]
    for out in runs:
        result = invoke("certify", "--suite", "reader_api", "--dut", "sim", "--out", str(out))
        assert result.exit_code == 0, result.output
    return runs


@pytest.fixture(scope="module")
def http_run(allure, tmp_path_factory) -> tuple[Path, str]:
    """`ykt certify --suite terminal --dut http://...` against the reference bus validator served
    from a thread of this process (the card relayed back over HTTP): (run folder, the DUT's URL)."""
    from test_terminal_service import BUS_ICS, in_thread

    from conformance.service import reference_app

    out = tmp_path_factory.mktemp("http") / "run"
    with in_thread(reference_app("bus", None)) as client:
        url = str(client.base_url).rstrip("/")
        result = invoke("certify", "--suite", "terminal", "--dut", url, "--ics", str(BUS_ICS), "--out", str(out))
    assert result.exit_code == 0, result.output
    return out, url


def first_screen(dom: str) -> str:
    """The visible text before the per-clause table: what the page opens on."""
    head = dom[dom.index("<body"): dom.index("<table")]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", head))


def test_card_mutant_report_shows_its_failures(chromium, mutant_run, tmp_path):
    results = json.loads((mutant_run / "results.json").read_text(encoding="utf-8"))
    dom, requests = render(chromium, mutant_run / "report" / report.ALLURE_FILE, tmp_path / "browser")
    shown = shown_counts(dom)
    assert shown["failed"] == sum(r["verdict"] == "fail" for r in results) > 0
    assert shown["passed"] == sum(r["verdict"] == "pass" for r in results)
    assert requests == []


def test_verdict_page_of_a_failing_run_opens_on_not_certified_and_the_failing_clause(chromium, mutant_run, tmp_path):
    cert = json.loads((mutant_run / "certificate.json").read_text(encoding="utf-8"))
    failing = [c["id"] for c in cert["clauses"] if c["verdict"] == "fail"]
    dom, requests = render(chromium, mutant_run / "report" / "index.html", tmp_path / "browser")
    screen = first_screen(dom)
    assert "NOT CERTIFIED" in screen and "未通过认证" in screen and cert["outcome"]["reason"] in screen
    assert failing and all(cid in screen for cid in failing), screen
    assert 'href="allure.html"' in dom and 'href="summary.html"' in dom
    assert requests == []
    source = (mutant_run / "report" / "index.html").read_text(encoding="utf-8")
    for cid in failing:  # the per-clause table: the clause's statement, source and 不合格
        row = re.search(rf"<tr>(?:(?!</tr>).)*>{cid}</td>(?:(?!</tr>).)*</tr>", source, flags=re.S).group(0)
        clause = national().clauses[cid]
        assert "不合格" in row and escape(clause["statement"]) in row and escape(source_line(clause)) in row
    assert "<script" not in source


def test_printable_summary_has_the_parts_of_a_test_report(chromium, mutant_run, tmp_path):
    dom, requests = render(chromium, mutant_run / "report" / "summary.html", tmp_path / "browser")
    for part in ("检测报告", "报告编号", "检测依据", "样品描述", "单项判定", "检测结论", "不合格", "合格"):
        assert part in dom, part
    assert "@page" in (mutant_run / "report" / "summary.html").read_text(encoding="utf-8") and requests == []


def test_allure_groups_by_clause_with_the_statement_and_evidence_on_the_test(mutant_run):
    results_dir = mutant_run / "allure-results"
    results = [json.loads(p.read_text(encoding="utf-8")) for p in results_dir.glob("*-result.json")]
    catalogue = national().clauses
    for r in results:
        labels = {label["name"]: label["value"] for label in r["labels"]}
        clause = catalogue[labels["clause"]]
        assert (labels["epic"], labels["feature"]) == (clause["part"], clause["section"])
        assert labels["story"].startswith(clause["id"]) and clause["statement"] in r["description"]
        assert any(a["name"].startswith("APDU trace") for a in r.get("attachments", [])), r["name"]
    containers = [json.loads(p.read_text(encoding="utf-8")) for p in results_dir.glob("*-container.json")]
    fixtures = {f["name"] for c in containers for f in c.get("befores", []) + c.get("afters", [])}
    assert not {"_applicability", "_clause_labels"} & fixtures
    assert not any(f.get("attachments") for c in containers for f in c.get("afters", []))
    html = (mutant_run / "report" / report.ALLURE_FILE).read_text(encoding="utf-8")
    options = json.loads(re.search(r"window\.allureReportOptions = (\{.*?\});?\s*</script>", html, re.S).group(1))
    assert options["groupBy"] == list(report.GROUP_BY) and options["reportLanguage"] == report.LANGUAGE
    blobs = dict(re.findall(r'd\("([^"]+)","([A-Za-z0-9+/=]*)"\)', html))
    shown = [json.loads(base64.b64decode(v)) for k, v in blobs.items() if k.startswith("data/test-results/")]
    assert shown and not any(f["name"].endswith("::<lambda>") for t in shown for f in t.get("teardown", []))


def test_traces_name_commands_and_mark_masked_data(mutant_run):
    traces = [p.read_text(encoding="utf-8") for p in (mutant_run / "allure-results").glob("*-attachment.txt")]
    text = "\n".join(traces)
    assert "READ RECORD" in text and "SELECT" in text and " ms" in text
    assert "bytes masked: 持卡人基本数据»" in text or "bytes masked: 社会保障号码»" in text
    assert "2A2A2A" not in text


def test_skipped_tests_carry_their_clause(synthetic_run):
    found = (synthetic_run / "allure-results").glob("*-result.json")
    results = [json.loads(p.read_text(encoding="utf-8")) for p in found]
    skipped = [r for r in results if r["status"] == "skipped"]
    assert len(skipped) == PLAN["na"]
    for r in skipped:
        names = {label["name"] for label in r["labels"]}
        assert {"epic", "feature", "story", "clause"} <= names and r["description"]


def test_verdict_page_of_a_passing_run_says_certified_with_its_trend(chromium, passing_runs, tmp_path):
    first, second = passing_runs
    dom, requests = render(chromium, second / "report" / "index.html", tmp_path / "browser")
    assert "CERTIFIED" in first_screen(dom) and "NOT CERTIFIED" not in first_screen(dom) and requests == []
    runs = [json.loads((out / "certificate.json").read_text(encoding="utf-8"))["run_id"] for out in passing_runs]
    trend = dom[dom.index("Earlier runs"):]
    assert all(run_id in trend for run_id in runs) and "(this run)" in trend
    histories = sorted(p.name for p in (second.parent / "history").iterdir())
    assert len(histories) == 2 and all(name.startswith("sim-") for name in histories)
    allure_history = next(p for p in (second.parent / "history").iterdir() if p.name.endswith(".jsonl")
                          and not p.name.endswith(".runs.jsonl"))
    assert len(allure_history.read_text(encoding="utf-8").splitlines()) == 2


def test_http_dut_gets_its_report_and_it_loads_nothing_from_outside(chromium, http_run, tmp_path):
    out, url = http_run
    cert = json.loads((out / "certificate.json").read_text(encoding="utf-8"))
    assert cert["evidence"]["html"] == "written" and f"report/{report.ALLURE_FILE}" in cert["evidence"]["files"]
    for page in ("index.html", "summary.html", report.ALLURE_FILE):
        html = (out / "report" / page).read_text(encoding="utf-8")
        assert report.external_references(html) == [] and independent_markup_check(html) == [], page
        _, requests = render(chromium, out / "report" / page, tmp_path / page)
        assert requests == [], page
    index = (out / "report" / "index.html").read_text(encoding="utf-8")
    assert url in index  # the DUT's address is text on the page, not a load


@pytest.mark.parametrize(
    ("html", "found"),
    [
        ('<script>window.o = {"reportName": "run of http://127.0.0.1:8700 (x)", "n": ["see http://a.b/c"]};</script>',
         []),
        ('<script>window.o = {"logo": "https://cdn.example.com/logo.png"};</script>',
         ["https://cdn.example.com/logo.png"]),
        ('<script>fetch("http://127.0.0.1:8700/decision")</script>', ["http://127.0.0.1:8700/decision"]),
        ('<script>new WebSocket("ws://localhost:9000")</script>', ["ws://localhost:9000"]),
        ('<p>DUT http://127.0.0.1:8700</p><a href="allure.html">detail</a>', []),
        ('<img src="http://127.0.0.1:8700/x.png">', ["<img src=http://127.0.0.1:8700/x.png>"]),
        ('<a href="http://127.0.0.1:8700/">the DUT</a>', ["<a href=http://127.0.0.1:8700/>"]),
    ],
)
def test_external_references_tells_a_mention_from_a_load(html, found):
    assert report.external_references(html) == found
