"""The verdict page and the printable summary, rendered from certificates written here: the outcome
word and reason first, the 单项判定 per clause, optional certificate fields, secrets never shown,
and the DUT's history across runs."""

from __future__ import annotations

import json
import re

import pytest

from conformance import report, verdict_page
from conformance.history import History

CLAUSES = {"CARD-PIN-001": "pass", "CARD-PIN-002": "fail", "CARD-ATR-001": "not_applicable",
           "CARD-SEL-001": "broken", "CARD-SEL-002": "not_covered", "TERM-BL-001": "out_of_scope"}


def certificate(verdicts: dict[str, str], *, exit_code: int, run_id: str = "run-1", **extra) -> dict:
    clauses = [{"id": cid, "part": cid.split("-")[0].lower(), "section": "s", "severity": "critical",
                "source": f"source of {cid}", "statement": f"statement of {cid} <b>", "verdict": v,
                "tests": [] if v in ("not_covered", "out_of_scope") else
                [{"nodeid": f"t::{cid}", "verdict": v, "seconds": 0.1, "message": f"message of {cid}"}]}
               for cid, v in verdicts.items()]
    counts = {v: sum(c["verdict"] == v for c in clauses) for v in report.CLAUSE_VERDICTS}
    return {"format": report.CERTIFICATE_FORMAT, "run_id": run_id, "created": "2026-11-23T10:41:37+00:00",
            "outcome": {"certified": exit_code == 0, "verdict": "certified" if exit_code == 0 else "not certified",
                        "exit_code": exit_code, "reason": f"reason {exit_code}", "rule": report.RULE},
            "dut": {"spec": "pcsc:Reader 0", "name": "pcsc:Reader 0", "info": {"vendor": "ACME", "pin": "123456"}},
            "profile": {"id": "national", "region": None, "catalogue": "national.clauses", "version": "0.1.0",
                        "sm3": "ab" * 32},
            "tool": {"name": "yikatong", "version": "0.1.0", "python": "3.11", "platform": "Linux x86_64"},
            "suites": {"names": ["card"], "shipped": True}, "scope": ["card"],
            "counts": {"tests": {"total": 4}, "clauses": counts | {"total": len(clauses)}},
            "clauses": clauses, "tests_without_clause": [], **extra}


@pytest.mark.parametrize(("exit_code", "word"), [(0, "CERTIFIED"), (1, "NOT CERTIFIED"), (2, "NOT CERTIFIED"),
                                                 (3, "INCOMPLETE"), (4, "NOT CERTIFIED")])
def test_the_page_opens_on_the_outcome_and_its_reason(exit_code, word):
    html = verdict_page.render_verdict(certificate(CLAUSES, exit_code=exit_code), trend=[])
    body = html[html.index("<body>"):]
    assert re.search(rf'<div class="word">{word} · ', body) and body.index(word) < body.index("<table")
    assert f"reason {exit_code}" in body[: body.index("<table")]


def test_every_judged_clause_has_its_verdict_statement_and_source():
    cert = certificate(CLAUSES, exit_code=1)
    html = verdict_page.render_verdict(cert, trend=[])
    screen = html[html.index("<body>"): html.index("<table")]
    assert all(cid in screen for cid in ("CARD-PIN-002", "CARD-SEL-001", "CARD-SEL-002"))
    assert "CARD-PIN-001" not in screen  # a passing clause does not stand in the way
    rows = dict(re.findall(r'<td class="id">([A-Z-0-9]+)</td>(.*?)</tr>', html[html.index("<table"):], re.S))
    assert "TERM-BL-001" not in rows  # out of scope: not judged here
    expected = {"CARD-PIN-001": "合格", "CARD-PIN-002": "不合格", "CARD-ATR-001": "不适用", "CARD-SEL-001": "未检",
                "CARD-SEL-002": "未检"}
    for cid, word in expected.items():
        assert f'">{word} <span' in rows[cid] and f"source of {cid}" in rows[cid]
        assert f"statement of {cid} &lt;b&gt;" in rows[cid]  # escaped, never markup


def test_optional_certificate_fields_are_shown_when_present_and_secrets_never():
    extra = {"number": "YKT-2026-0042", "lab": {"name": "Lab A", "key_sm3": "cd" * 32},
             "test_basis": ["统一接口标准 v0.1", "GB 11643-1999"], "sample": {"serial": "S-7"},
             "valid_until": "2027-11-23"}
    cert = certificate(CLAUSES, exit_code=0, **extra)
    cert["dut"] |= {"applicant": "ACME Ltd", "manufacturer": "ACME Fab"}
    page, summary = verdict_page.render_verdict(cert, trend=[]), verdict_page.render_summary(cert)
    for text in ("YKT-2026-0042", "Lab A", "ACME Ltd", "ACME Fab", "统一接口标准 v0.1, GB 11643-1999",
                 "serial: S-7", "2027-11-23"):
        assert text in page and text in summary, text
    assert "cd" * 32 in summary  # the key the electronic record is signed with
    bare = certificate(CLAUSES, exit_code=0)
    assert "run-1" in verdict_page.render_summary(bare)  # the run id stands in for the report number
    for html in (page, summary, verdict_page.render_verdict(bare, trend=[]), verdict_page.render_summary(bare)):
        assert "123456" not in html and report.external_references(html) == [] and "<script" not in html


def test_publish_keeps_the_dut_history_and_shows_its_trend(tmp_path):
    history = History.of(tmp_path / "history", spec="pcsc:Reader 0", info={"vendor": "ACME"})
    for n, code in enumerate((1, 0), 1):
        out = tmp_path / f"run-{n}"
        cert = certificate(CLAUSES, exit_code=code, run_id=f"run-{n}")
        out.mkdir()
        pages = verdict_page.publish(cert, out=out, history=history, allure=None)
        history.record(cert, certificate_sm3="00" * 32)  # as ykt certify does, once the certificate is written
    assert pages.error is None and pages.summary.is_file()
    trend = pages.index.read_text(encoding="utf-8").split("Earlier runs")[1]
    assert trend.index("run-1") < trend.index("run-2 (this run)") and "NOT CERTIFIED" in trend
    assert [json.loads(line)["run_id"] for line in history.runs.read_text().splitlines()] == ["run-1", "run-2"]
    other = History.of(tmp_path / "history", spec="pcsc:Reader 0", info={"vendor": "Other"})
    assert other.slug != history.slug and other.recent() == []


def test_a_corrupt_history_is_a_report_error_not_a_silent_gap(tmp_path):
    history = History.of(tmp_path / "history", spec="sim", info={})
    history.root.mkdir()
    history.runs.write_text("{not json\n", encoding="utf-8")
    pages = verdict_page.publish(certificate(CLAUSES, exit_code=0), out=tmp_path, history=history, allure=None)
    assert pages.index is None and "line 1 is not JSON" in pages.error
