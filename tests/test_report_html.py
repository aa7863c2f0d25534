"""The single-file HTML report: it opens from file:// in a real browser (headless Chromium), shows
the numbers of our run, and loads nothing from outside the file.

"Loads nothing from outside" is defined by `conformance.report.external_references` and checked
three ways here: that function on the shipped file, independent markup checks, and Chromium's own
network log of the page (no http(s)/ws request initiated by the report). The generator's raw
output (with Google Tag Manager) is the control: every check must catch it.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conformance import certify, report
from simulator.profile import clauses

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
    ids = iter(cid for cid, c in clauses().items() if c["part"] == "card")
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
    assert (out / "report" / "index.html").is_file(), result.output
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
    html = (synthetic_run / "report" / "index.html").read_text(encoding="utf-8")
    assert report.external_references(html) == []
    assert independent_markup_check(html) == []
    assert sorted(p.name for p in (synthetic_run / "report").iterdir()) == ["index.html"]
    cert = json.loads((synthetic_run / "certificate.json").read_text(encoding="utf-8"))
    assert cert["evidence"]["files"]["report/index.html"] == report.file_sm3(synthetic_run / "report" / "index.html")
    assert any("googletagmanager" in r for r in cert["evidence"]["removed_from_html"])
    blobs = dict(re.findall(r'd\("([^"]+)","([A-Za-z0-9+/=]*)"\)', html))
    categories = base64.b64decode(blobs["widgets/categories.json"]).decode("utf-8")
    assert "Product defects" in categories and "Broken links / harness faults" in categories
    environment = base64.b64decode(blobs["widgets/allure_environment.json"]).decode("utf-8")
    assert cert["profile"]["sm3"] in environment and cert["run_id"] in environment


def test_report_opens_from_file_and_shows_our_numbers(chromium, synthetic_run, tmp_path):
    dom, requests = render(chromium, synthetic_run / "report" / "index.html", tmp_path)
    expected = {SHOWN_AS[o]: n for o, n in PLAN.items()} | {"total": sum(PLAN.values())}
    assert shown_counts(dom) == expected, shown_counts(dom)
    assert requests == []


def test_browser_network_log_catches_a_report_that_calls_home(chromium, raw_report, tmp_path):
    _, requests = render(chromium, raw_report, tmp_path)
    assert any("googletagmanager" in url for url in requests), requests


def test_card_mutant_report_shows_its_failures(chromium, allure, tmp_path):
    from conformance.mutants import all_mutants

    mutants = {m.name for m in all_mutants().values() if m.role == "card"}
    if "card_record_not_found_6a82" not in mutants or "card" not in certify.available_suites():
        pytest.skip("no card suite or no card mutant card_record_not_found_6a82 yet")
    out = tmp_path / "run"
    result = invoke("certify", "--suite", "card", "--dut", "sim:mutant=card_record_not_found_6a82", "--out", str(out))
    assert result.exit_code == 1, result.output
    assert (out / "report" / "index.html").is_file(), result.output
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    dom, requests = render(chromium, out / "report" / "index.html", tmp_path / "browser")
    shown = shown_counts(dom)
    assert shown["failed"] == sum(r["verdict"] == "fail" for r in results) > 0
    assert shown["passed"] == sum(r["verdict"] == "pass" for r in results)
    assert requests == []
