"""The verdict page and the printable 检测报告, rendered from a certificate (certificate.json).

`report/index.html` opens on the outcome (CERTIFIED / NOT CERTIFIED / INCOMPLETE) and its reason,
the clauses standing in the way, then the 单项判定 per clause (合格 / 不合格 / 不适用 / 未检) with
its statement and source, the facts of the run, and the trend of the DUT's earlier runs; it links
to the Allure report beside it (`allure.html`) for the per-test detail and evidence.
`report/summary.html` is the 检测报告 to print: report number, test basis, sample, the 单项判定
table and the 检测结论.

Both are plain HTML with inline CSS: no script, nothing loaded from outside (they satisfy
`conformance.report.external_references`), bilingual zh/en labels. The certificate is the only
input; fields the certificate may or may not carry (number, lab, applicant, sample, test basis,
validity, signature) are shown when present.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from pathlib import Path

from conformance import report
from conformance.history import History

#: outcome of the run: (English, 中文, css class), by exit code of the certification rule
CERTIFIED = ("CERTIFIED", "通过认证", "certified")
NOT_CERTIFIED = ("NOT CERTIFIED", "未通过认证", "failed")
INCOMPLETE = ("INCOMPLETE", "检测未完成", "incomplete")

#: clause verdict -> (单项判定, English, what it means here)
JUDGEMENTS = {
    "pass": ("合格", "pass", "every applicable test passed"),
    "fail": ("不合格", "fail", "a test found a product defect"),
    "not_applicable": ("不适用", "not applicable", "the product's declaration (ICS) does not list the capability"),
    "broken": ("未检", "not tested", "broken: the link, adapter or harness failed, nothing was judged"),
    "not_tested": ("未检", "not tested", "the harness could not judge it with this device"),
    "not_covered": ("未检", "not tested", "not covered: no test of this run checked it"),
}
#: clause verdicts that stand in the way of a certificate, most serious first
BLOCKING = ("fail", "broken", "not_tested", "not_covered")

#: --dut-info keys whose value is a secret of the sample (the card suite's PIN): never shown
SECRET_INFO = frozenset({"pin"})

CSS = """
body { font-family: "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", sans-serif; margin: 1.5em auto;
       max-width: 76em; padding: 0 1em; color: #1b1b1b; line-height: 1.4; }
h1 { font-size: 1.3em; margin: 0 0 .4em; } h2 { font-size: 1.1em; margin: 1.4em 0 .4em; }
.outcome { border: 3px solid; border-radius: 6px; padding: .6em 1em; margin: .6em 0 1em; }
.outcome .word { font-size: 2.2em; font-weight: bold; letter-spacing: .04em; }
.outcome .reason { font-size: 1.05em; }
.certified { border-color: #1a7f37; color: #1a7f37; } .failed { border-color: #cf222e; color: #cf222e; }
.incomplete { border-color: #9a6700; color: #9a6700; }
.outcome .reason, .outcome ul { color: #1b1b1b; }
table { border-collapse: collapse; width: 100%; font-size: .92em; }
th, td { border: 1px solid #c8c8c8; padding: .25em .45em; text-align: left; vertical-align: top; }
th { background: #f2f2f2; } td.id { white-space: nowrap; font-family: monospace; }
td.v-pass { color: #1a7f37; font-weight: bold; } td.v-fail { color: #cf222e; font-weight: bold; }
td.v-broken, td.v-not_covered { color: #9a6700; font-weight: bold; } td.v-not_applicable { color: #57606a; }
.facts th { width: 14em; } .small { font-size: .85em; color: #57606a; } nav a { margin-right: 1.2em; }
code { font-size: .9em; word-break: break-all; }
@media print { nav { display: none; } body { max-width: none; margin: 0; } }
"""
PRINT_CSS = """
@page { size: A4; margin: 16mm 14mm; }
@media print { thead { display: table-header-group; } tr { break-inside: avoid; } h2 { break-after: avoid; } }
.signatures td { height: 3em; }
"""


def outcome_of(cert: dict) -> tuple[str, str, str]:
    """CERTIFIED; INCOMPLETE (mandatory clauses were not judged: the DUT was not fully judged);
    else NOT CERTIFIED (a defect, a broken run, or a run that can never certify)."""
    if cert["outcome"]["certified"]:
        return CERTIFIED
    return INCOMPLETE if cert["outcome"]["exit_code"] == report.EXIT_INCOMPLETE else NOT_CERTIFIED


def _e(value) -> str:
    return escape("" if value is None else str(value))


def _text(value) -> str:
    """A certificate value as one line: mappings as `key: value; ...`, lists joined."""
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_text(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(_text(v) for v in value)
    return "" if value is None else str(value)


def _table(headers: list[str], rows: list[list[str]], *, cls: str = "") -> str:
    """A table; `headers` and the cells are HTML already (escaped by the caller)."""
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = "".join(f"<tr>{''.join(row)}</tr>" for row in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _td(value, cls: str = "") -> str:
    return f'<td class="{cls}">{_e(value)}</td>' if cls else f"<td>{_e(value)}</td>"


def _page(title: str, body: str, *, css: str = "") -> str:
    return (f'<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_e(title)}</title><style>{CSS}{css}</style></head><body>{body}</body></html>\n")


def in_scope(cert: dict) -> list[dict]:
    """The clauses this run judged (out-of-scope ones judge nothing and are left out)."""
    return [c for c in cert["clauses"] if c["verdict"] in JUDGEMENTS]


def _judgement_cell(clause: dict) -> str:
    zh, en, _ = JUDGEMENTS[clause["verdict"]]
    return f'<td class="v-{clause["verdict"]}">{_e(zh)} <span class="small">{_e(en)}</span></td>'


def _note(clause: dict) -> str:
    """Why the clause has its verdict: the first message of a test with that verdict, or the rule."""
    found = (t.get("message") for t in clause["tests"] if t["verdict"] == clause["verdict"] and t.get("message"))
    return next(found, "") or JUDGEMENTS[clause["verdict"]][2]


def _source(clause: dict) -> str:
    items = ", ".join(f"{ref['document']} {ref['id']}" for ref in clause.get("test_items", ()))
    return f"{clause['source']}; official test items {items}" if items else clause["source"]


def _blocking(cert: dict) -> list[dict]:
    bad = [c for c in cert["clauses"] if c["verdict"] in BLOCKING]
    return sorted(bad, key=lambda c: BLOCKING.index(c["verdict"]))


def _outcome_block(cert: dict) -> str:
    word, zh, cls = outcome_of(cert)
    bad = _blocking(cert)
    items = "".join(f'<li><b class="id">{_e(c["id"])}</b> {_e(JUDGEMENTS[c["verdict"]][0])} '
                    f'{_e(JUDGEMENTS[c["verdict"]][1])}: {_e(_note(c))}</li>' for c in bad[:12])
    more = f"<li>… {len(bad) - 12} more in the table below</li>" if len(bad) > 12 else ""
    loose = [t for t in cert.get("tests_without_clause", []) if t["verdict"] in ("fail", "broken")]
    loose_items = "".join(f"<li>{_e(t['nodeid'])} ({_e(t['verdict'])}, names no clause): {_e(t.get('message'))}</li>"
                          for t in loose)
    listed = (f"<p>Clauses standing in the way 未通过的条款:</p><ul>{items}{more}{loose_items}</ul>"
              if bad or loose else "")
    return (f'<div class="outcome {cls}"><div class="word">{_e(word)} · {_e(zh)}</div>'
            f'<div class="reason">{_e(cert["outcome"]["reason"])}</div>{listed}</div>')


def _issue_fields(cert: dict) -> list[tuple[str, str]]:
    """(label, value) of what the certificate says of itself, the lab, the applicant and the sample."""
    dut = cert["dut"]
    fields = [("证书编号 certificate number", cert.get("number")),
              ("检测机构 testing laboratory", (cert.get("lab") or {}).get("name")),
              ("委托单位 applicant", dut.get("applicant")), ("生产单位 manufacturer", dut.get("manufacturer")),
              ("样品 sample (as measured)", _text(cert.get("sample"))),
              ("检测依据 test basis", _text(cert.get("test_basis"))),
              ("有效期至 valid until", cert.get("valid_until"))]
    return [(label, str(value)) for label, value in fields if value]


def _facts(cert: dict) -> list[tuple[str, str]]:
    """(label, value) of the run: the issuing fields present, then the DUT, profile, run, tool."""
    facts = _issue_fields(cert)
    dut, profile = cert["dut"], cert["profile"]
    facts += [
        ("被测设备 device under test", f"{dut.get('name', '')} ({dut.get('spec', '')})"),
        ("设备信息 declared by the applicant", _text(_declared(dut)) or "none declared"),
        ("检测规范 profile", f"{profile.get('catalogue', '')} {profile.get('version', '')}, profile "
                         f"{profile.get('id', '')}, region {profile.get('region') or 'national only'}"),
        ("规范摘要 profile SM3", profile.get("sm3", "")),
        ("检测项目 suites · scope", f"{', '.join(cert['suites']['names'])}"
                                   f"{'' if cert['suites']['shipped'] else ' (NOT the shipped suites)'}"
                                   f" · parts {', '.join(cert['scope'])}"),
        ("检测编号 run id", cert["run_id"]),
        ("检测时间 started (UTC)", cert["created"]),
        ("检测工具 tool", f"{cert['tool'].get('name', '')} {cert['tool'].get('version', '')}, Python "
                      f"{cert['tool'].get('python', '')}, {cert['tool'].get('platform', '')}"),
    ]
    return facts


def _facts_table(facts: list[tuple[str, str]]) -> str:
    rows = "".join(f"<tr><th>{_e(label)}</th><td>{_e(value)}</td></tr>" for label, value in facts)
    return f'<table class="facts"><tbody>{rows}</tbody></table>'


def _counts(cert: dict) -> str:
    clauses = in_scope(cert)
    shown = [(v, sum(c["verdict"] == v for c in clauses)) for v in JUDGEMENTS]
    cells = ", ".join(f"{JUDGEMENTS[v][0]} {JUDGEMENTS[v][1]}"
                      f"{' (' + v.replace('_', ' ') + ')' if v in ('broken', 'not_covered') else ''}: {n}"
                      for v, n in shown if n)
    out = cert["counts"]["clauses"].get("out_of_scope", 0)
    tests = cert["counts"]["tests"]
    return (f"<p>{len(clauses)} clauses judged 判定条款 — {_e(cells)}. {out} clauses of other parts are out of "
            f"this run's scope. {tests.get('total', 0)} tests.</p>")


def clause_table(cert: dict, *, detail: bool = True) -> str:
    """The 单项判定 table in catalogue order; `detail` adds severity, tests and the note."""
    headers = ["序号 No.", "条款 clause", "要求 requirement", "来源 source", "单项判定 verdict"]
    if detail:
        headers += ["严重度 severity", "测试 tests", "说明 note"]
    rows = []
    for n, c in enumerate(in_scope(cert), 1):
        row = [_td(n), _td(c["id"], "id"), _td(c["statement"]), _td(_source(c), "small"), _judgement_cell(c)]
        if detail:
            row += [_td(c["severity"]), _td(len(c["tests"])), _td(_note(c), "small")]
        rows.append(row)
    return _table(headers, rows)


def trend_table(runs: list[dict], current: str) -> str:
    """Earlier runs of the same DUT (conformance.history), oldest first, this run marked."""
    rows = []
    for run in runs:
        word = outcome_of({"outcome": {"certified": run["certified"], "exit_code": run["exit_code"]}})
        counts = run["clauses"]
        this = " (this run)" if run["run_id"] == current else ""
        rows.append([_td(run["created"]), _td(run["run_id"] + this, "id"),
                     f'<td class="{word[2]}">{_e(word[0])} {_e(word[1])}</td>',
                     *(_td(counts.get(v, 0)) for v in ("pass", "fail", "broken", "not_covered", "not_applicable")),
                     _td(run.get("profile")), _td(run.get("tool"))])
    headers = ["时间 started", "检测编号 run", "结论 outcome", "合格 pass", "不合格 fail", "未检 broken",
               "未检 not covered", "不适用 n/a", "规范 profile", "工具 tool"]
    return _table(headers, rows)


def render_verdict(cert: dict, *, trend: list[dict], allure: str | None = report.ALLURE_FILE) -> str:
    """The verdict page; `allure` is the Allure report's file name beside it, None when missing."""
    word, zh, _ = outcome_of(cert)
    links = [f'<a href="{_e(allure)}">逐项测试详情 per-test detail and evidence (Allure)</a>' if allure
             else "<span>per-test detail (Allure): not generated, see certificate.json evidence</span>",
             '<a href="summary.html">检测报告 printable test report</a>',
             '<a href="../certificate.json">certificate.json</a>']
    body = [f"<h1>检测结论 Verdict — {_e(cert['dut'].get('name', ''))}</h1>",
            _outcome_block(cert), f"<nav>{''.join(links)}</nav>",
            "<h2>单项判定 Verdict per clause</h2>", _counts(cert), clause_table(cert),
            "<h2>检测信息 The run</h2>", _facts_table(_facts(cert)),
            "<h2>历次检测 Earlier runs of this device</h2>",
            trend_table(trend, cert["run_id"]) if trend else "<p>No earlier run of this device is recorded.</p>",
            f'<p class="small">Rule 判定规则: {_e(cert["outcome"]["rule"])}. This page is rendered from '
            f"certificate.json, which vouches for it by its SM3 and is signed by the lab: the certificate is "
            f"the record (`ykt certificate verify`); reports/README.md tells how to read and check it.</p>"]
    return _page(f"{word} {zh} — {cert['dut'].get('name', '')} ({cert['run_id']})", "".join(body))


def _basis(cert: dict) -> str:
    profile = cert["profile"]
    return _text(cert.get("test_basis")) or (
        f"{profile.get('catalogue', '')} {profile.get('version', '')} (yikatong profile {profile.get('id', '')}"
        f"{', region ' + profile['region'] if profile.get('region') else ''}; SM3 {profile.get('sm3', '')})")


def _declared(dut: dict) -> dict:
    """What --dut-info declared, secrets (the PIN) masked."""
    return {k: ("******" if k in SECRET_INFO else v) for k, v in (dut.get("info") or {}).items()}


def _sample(cert: dict) -> str:
    dut = cert["dut"]
    declared = f"; {_text(_declared(dut))}" if dut.get("info") else ""
    return _text(cert.get("sample")) or f"{dut.get('name', '')} ({dut.get('spec', '')}){declared}"


def render_summary(cert: dict) -> str:
    """The printable 检测报告: number, basis, sample, 单项判定 table, 检测结论, signatures."""
    word, zh, cls = outcome_of(cert)
    fields = [("报告编号 report number", _text(cert.get("number")) or cert["run_id"]),
              *((label, value) for label, value in _issue_fields(cert)
                if not label.startswith(("证书编号", "样品", "检测依据"))),
              ("检测依据 test basis", _basis(cert)),
              ("样品描述 sample description", _sample(cert)),
              ("检测项目 suites", ", ".join(cert["suites"]["names"])),
              ("检测日期 date of test (UTC)", cert["created"]),
              ("检测结论 conclusion", f"{zh} {word}")]
    key = (cert.get("lab") or {}).get("key_sm3")
    signatures = (_table(["编制 prepared by", "审核 checked by", "批准 approved by"], [["<td></td>"] * 3],
                         cls="signatures")
                  + (f'<p class="small">电子记录 electronic record: certificate.json, signed (SM2) by the lab\'s key '
                     f"SM3 <code>{_e(key)}</code>; check it with <code>ykt certificate verify</code>.</p>"
                     if key else ""))
    body = ["<h1>检测报告 Test report</h1>", _facts_table(fields),
            "<h2>单项判定 Verdict per clause</h2>", clause_table(cert, detail=False),
            "<h2>检测结论 Conclusion</h2>",
            f'<div class="outcome {cls}"><div class="word">{_e(zh)} {_e(word)}</div>'
            f'<div class="reason">{_e(cert["outcome"]["reason"])}</div></div>',
            f'<p class="small">判定规则 rule: {_e(cert["outcome"]["rule"])}.</p>', signatures]
    return _page(f"检测报告 {cert['run_id']}", "".join(body), css=PRINT_CSS)


@dataclass
class Pages:
    """The verdict page and the summary written, or why they could not be (`error`)."""

    index: Path | None
    summary: Path | None
    error: str | None = None


def publish(cert: dict, *, out: Path, history: History, allure: Path | None) -> Pages:
    """Write `out/report/index.html` and `summary.html` from the certificate (before it is signed:
    the certificate then vouches for them), with the DUT's earlier runs from `history`; `allure` is
    the Allure report (None: missing)."""
    report_dir = Path(out) / "report"
    try:
        trend = [*history.recent(limit=9), history.line(cert)]  # the earlier runs, then this one
    except (OSError, ValueError) as exc:
        return Pages(None, None, f"verdict page not written: the DUT's history cannot be read: {exc}")
    report_dir.mkdir(parents=True, exist_ok=True)
    pages = {"index.html": render_verdict(cert, trend=trend, allure=allure.name if allure else None),
             "summary.html": render_summary(cert)}
    for name, html in pages.items():
        left = report.external_references(html)
        if left:
            return Pages(None, None, f"verdict page not written: {name} would reference outside the file: {left[:5]}")
        (report_dir / name).write_text(html, encoding="utf-8")
    return Pages(report_dir / "index.html", report_dir / "summary.html")
