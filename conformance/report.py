"""The regulator's report of a certification run: what `ykt certify` writes besides the test run.

- `allure-results/environment.properties` (the DUT, the profile and its SM3 digest, the tool) and
  `allure-results/categories.json` (product defects apart from broken links and harness faults);
- `report/allure.html`: the single-file Allure 3 report (per-test detail, grouped part › section ›
  clause, with the DUT's history), generated offline by the npm package
  `allure` (package.json) and then cleaned of everything that would reach an outside host (Allure
  3.18 embeds Google Tag Manager with no option to turn it off; notes/pcsc-stack.md "Allure HTML
  offline"); `external_references()` is the definition of "loads nothing from outside";
- `certificate.json`: the verdict per clause and the certification rule's outcome, judged from
  our own per-test verdicts (`--yikatong-results`), never from the report generator's exit code.
  The verdict page in front of the Allure report (`report/index.html`) is rendered from it by
  `conformance.verdict_page`.

Digests are SM3 (GB/T 32905) so that a regulator can recompute them with any SM3 tool: a set of
files is digested as a manifest, one line `<sm3 hex>  <relative path>` per file in path order,
and the manifest's own SM3 is the set's digest (the format of `sha256sum`, with SM3).
"""

from __future__ import annotations

import ast
import base64
import binascii
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

from simulator.crypto.hashes import sm3
from simulator.privacy import mask_text
from simulator.profile import PROFILE_ROOT, source_line

#: the repository (or installed tree) that holds conformance/, package.json and node_modules/
PROJECT_ROOT = Path(__file__).resolve().parent.parent
CERTIFICATE_FORMAT = "yikatong.certificate/2"
#: per-test verdicts (conformance.plugin) and per-clause verdicts, in order of gravity
TEST_VERDICTS = ("fail", "broken", "not_tested", "pass", "not_applicable")
CLAUSE_VERDICTS = ("fail", "broken", "not_tested", "not_covered", "pass", "not_applicable", "out_of_scope")
RULE = ("certified only when no clause in scope failed or broke, every applicable (mandatory) clause in scope "
        "was judged by every test of it, at least one clause passed, the test run itself completed, the suites "
        "that ran are the shipped ones, and the product brought a capability declaration (ICS) unless it is one "
        "of the project's own simulated devices")
#: exit status of `ykt certify` (README "Exit status"): verdicts first, then refusals before running,
#: whose codes follow BSD sysexits so that no refusal reads like a verdict
EXIT_CERTIFIED, EXIT_FAILED, EXIT_BROKEN, EXIT_INCOMPLETE, EXIT_NOT_CERTIFIABLE = 0, 1, 2, 3, 4
#: the run was judged (certificate.json written) but its HTML report could not be produced
EXIT_REPORT = 5
EXIT_USAGE, EXIT_UNAVAILABLE, EXIT_IO = 64, 69, 74
#: how long a certificate is valid from its date (source: modelled; no public rule found)
VALIDITY_DAYS = 365

#: Allure categories (Allure 2 `categories.json` format; Allure 3 reads the same rules from its config)
CATEGORIES = [
    {"name": "Product defects", "matchedStatuses": ["failed"],
     "description": "An assertion about the device failed: the DUT does not do what the clause says."},
    {"name": "Broken links / harness faults", "matchedStatuses": ["broken"],
     "description": "The link, the adapter or the harness failed: nothing was judged; never a pass."},
    {"name": "Not applicable", "matchedStatuses": ["skipped"],
     "description": "The DUT does not declare the capability or the role the test needs."},
]


# -- digests -----------------------------------------------------------------------------------
def sm3_hex(data: bytes) -> str:
    return sm3(data).hex()


def file_sm3(path: Path) -> str:
    return sm3_hex(Path(path).read_bytes())


def manifest(files: Iterable[Path], base: Path) -> tuple[str, dict[str, str]]:
    """(SM3 of the manifest, {relative path: SM3}) of `files`, paths relative to `base`, sorted."""
    digests = {p.relative_to(base).as_posix(): file_sm3(p) for p in files}
    digests = dict(sorted(digests.items()))
    text = "".join(f"{h}  {rel}\n" for rel, h in digests.items())
    return sm3_hex(text.encode("utf-8")), digests


def profile_documents(profile: str = "national", region: str | None = None) -> list[Path]:
    """The documents a run certifies against: the profile, its schemas, the test-card personas and
    the region's layer when one is given."""
    roots = [PROFILE_ROOT / profile, PROFILE_ROOT / "schema", PROFILE_ROOT / "personas"]
    if region:
        roots.append(PROFILE_ROOT / "regions" / region)
    return sorted(p for root in roots if root.is_dir() for p in root.rglob("*")
                  if p.is_file() and p.suffix in (".yaml", ".yml", ".json"))


def profile_digest(profile: str = "national", region: str | None = None) -> tuple[str, dict[str, str]]:
    return manifest(profile_documents(profile, region), PROFILE_ROOT)


def catalogue_header(profile: str = "national") -> dict[str, str]:
    """id and version of the profile's clause catalogue."""
    import yaml

    path = PROFILE_ROOT / profile / "clauses.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else {}
    return {"catalogue": str(doc.get("id", f"{profile}.clauses")), "version": str(doc.get("version", "unknown"))}


# -- what goes into allure-results ------------------------------------------------------------
def _escape_property(text: str, *, key: bool) -> str:
    out = str(text).replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
    if key:
        out = out.replace("=", "\\=").replace(":", "\\:").replace(" ", "\\ ")
    return out


def write_environment(results_dir: Path, properties: dict[str, str]) -> Path:
    """environment.properties (UTF-8; Allure shows it as the report's metadata)."""
    path = Path(results_dir) / "environment.properties"
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"{_escape_property(k, key=True)}={_escape_property(v, key=False)}" for k, v in properties.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_categories(results_dir: Path) -> Path:
    path = Path(results_dir) / "categories.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(CATEGORIES, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


#: a citizen ID number right after a byte escape (b'\x12410203...'), which mask_text's digit
#: boundary does not see as the start of a number
_ESCAPED_CITIZEN_ID = re.compile(r"(?<=\\x[0-9a-fA-F]{2})[1-9][0-9]{5}(?:19|20)[0-9]{9}[0-9Xx](?![0-9])")
#: a Python bytes literal, as pytest's assertion introspection prints card data
_BYTES_LITERAL = re.compile(r"""\bb(?:'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")""")
#: up to this many bytes a literal is a status word or a tag, shown as it is
KEEP_BYTES = 2


def _bytes_literal(m: re.Match) -> str:
    try:
        value = ast.literal_eval(m.group(0))
    except (ValueError, SyntaxError):
        return m.group(0)
    return m.group(0) if len(value) <= KEEP_BYTES else f"b'<{len(value)} bytes masked>'"


def mask_failure_text(text: str) -> str:
    """Failure text (messages, tracebacks) as evidence may hold it.

    Citizen ID numbers are masked wherever they stand (also right after a byte escape), and a
    bytes value longer than a status word is replaced by its length: pytest's introspection prints
    what the card answered (`ResponseAPDU(data=b'...')`), which may be personal data; the APDU trace,
    masked by structure (conformance.evidence), is where the card's data is shown.
    """
    return mask_ids(_BYTES_LITERAL.sub(_bytes_literal, text))


def mask_ids(text: str) -> str:
    """`mask_text`, and also citizen ID numbers right after a byte escape."""
    return mask_text(_ESCAPED_CITIZEN_ID.sub(lambda m: m.group(0)[:4] + "*" * 12 + m.group(0)[-2:], text))


def _mask_json(value, *, failure: bool = False):
    if isinstance(value, str):
        return mask_failure_text(value) if failure else mask_ids(value)
    if isinstance(value, list):
        return [_mask_json(v, failure=failure) for v in value]
    if isinstance(value, dict):
        return {k: _mask_json(v, failure=failure or k in ("statusDetails", "message", "trace"))
                for k, v in value.items()}
    return value


def mask_file(path: Path) -> bool:
    """Mask one evidence file in place (see `mask_failure_text`); True when it changed."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    try:
        document = json.loads(text) if path.suffix == ".json" else None
    except ValueError:
        document = None
    if document is not None:
        masked_doc = _mask_json(document)
        if masked_doc == document:
            return False
        masked = json.dumps(masked_doc, ensure_ascii=False, indent=1 if isinstance(document, list) else None)
    else:
        masked = mask_ids(text)
    if masked == text:
        return False
    path.write_text(masked, encoding="utf-8")
    return True


def mask_results(*paths: Path) -> list[str]:
    """Mask every text file of allure-results (and results.json) after the run.

    allure-pytest writes pytest's failure text, introspection included, unmasked, and the plugin's
    results.json masks only free-text citizen IDs. Returns the files changed: a non-empty list means
    a suite let card data into its failure text (its assertion should not print the response).
    """
    changed = []
    for root in paths:
        files = sorted(p for p in Path(root).iterdir() if p.is_file()) if Path(root).is_dir() else [Path(root)]
        changed += [p.name for p in files if p.exists() and mask_file(p)]
    return changed


# -- the HTML report ---------------------------------------------------------------------------
#: hosts named only as XML namespace identifiers (xmlns="http://www.w3.org/2000/svg"): never fetched
NAMESPACE_HOSTS = frozenset({"www.w3.org"})
_ABSOLUTE_URL = re.compile(r"\b(?:https?|wss?|ftp)://(?P<host>[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*|\[[0-9A-Fa-f:.]+\])"
                           r"(?::\d+)?(?:[/?#][^\s\"'`<>\\)]*)?")
#: an inline script that only assigns a JSON document to a global (Allure's `window.allureReportOptions
#: = {...}`): data the code reads, not code
_DATA_ASSIGNMENT = re.compile(r"\s*window\.[A-Za-z_$][\w$]*\s*=\s*(?P<json>[\[{].*[\]}])\s*;?\s*", re.S)
_CSS_URL = re.compile(r"(?:url\(\s*|@import\s+)[\"']?(?P<url>[^\"')\s;]+)")
_DATA_BUNDLE = re.compile(r"data:text/(?P<kind>javascript|css);base64,(?P<payload>[A-Za-z0-9+/=]+)")
#: attributes whose URL the browser loads (or navigates to) by itself
_LOADING_ATTRIBUTES = {"src", "href", "srcset", "action", "formaction", "data", "poster", "background",
                       "manifest", "ping", "xlink:href"}
_INERT_SCHEMES = ("data:", "blob:", "about:", "javascript:", "#")
_ANALYTICS = ("googletagmanager", "google-analytics", "gtag(", "datalayer")


def generator() -> Path | None:
    """The Allure 3 command line: $YIKATONG_ALLURE, else the npm package `allure` installed by
    `npm ci` in the project (or in the current folder, for an installed tool)."""
    if not shutil.which("node"):
        return None
    candidates = [os.environ.get("YIKATONG_ALLURE", ""), PROJECT_ROOT / "node_modules" / ".bin" / "allure",
                  Path.cwd() / "node_modules" / ".bin" / "allure"]
    return next((Path(c) for c in candidates if c and Path(c).is_file()), None)


INSTALL_HINT = (f"install the report generator with `npm ci` in {PROJECT_ROOT} (npm package allure 3.18.0, "
                f"package.json; scripts/install-system-deps does it), then re-run "
                f"(the certificate and the verdict page are written without it)")


def _external(url: str) -> bool:
    """Does loading `url` from the report reach anything but the report file itself?"""
    url = url.strip()
    return bool(url) and not url.lower().startswith(_INERT_SCHEMES)


def _urls_in_code(code: str) -> list[str]:
    return [m.group(0) for m in _ABSOLUTE_URL.finditer(code) if m.group("host").lower() not in NAMESPACE_HOSTS]


def _strings(value) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _urls_in_data(document) -> list[str]:
    """The strings of a JSON document that are each, as a whole, an absolute URL outside the file:
    what the code could hand to fetch() or an <img> as it stands. A string that only mentions a URL
    in its text (a report name naming an http: DUT) is not a URL, and loads nothing."""
    return [text for text in _strings(document)
            if (m := _ABSOLUTE_URL.fullmatch(text.strip())) and m.group("host").lower() not in NAMESPACE_HOSTS]


def _data_document(code: str):
    """The JSON document an inline script only assigns to a global, or None when it is code."""
    m = _DATA_ASSIGNMENT.fullmatch(code)
    if m is None:
        return None
    try:
        return json.loads(m.group("json"))
    except ValueError:
        return None


class _Markup(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self.code: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if value is None:
                continue
            if name in _LOADING_ATTRIBUTES and _external(value) and not (tag == "a" and not _ABSOLUTE_URL.match(value)):
                self.found.append(f"<{tag} {name}={value[:120]}>")
            if name == "style":
                self.code.append(value)
            if tag == "meta" and name == "content" and "url=" in value.lower():
                self.found.append(f"<meta content={value[:120]}>")
        self._in = tag if tag in ("script", "style") else None
        if self._in:
            self.code.append("")

    def handle_endtag(self, tag):
        self._in = None

    def handle_data(self, data):
        if self._in:
            self.code[-1] += data


def external_references(html: str) -> list[str]:
    """Everything in a report that the browser would load from outside the file. Empty = offline.

    Precisely: (1) an element attribute the browser loads or navigates by itself (`src`, `href`,
    `srcset`, `action`, `data`, `poster`, ...; `<a href>` only when absolute) whose URL is not
    data:, blob:, about:, javascript: or a #fragment, i.e. `<script src>`, `<link href>`, `<img
    src>`, `<iframe src>` pointing at a host or at another file; a `<meta>` refresh; (2) in the
    code (inline scripts and styles, and the base64 `data:text/javascript|css` bundles decoded):
    any absolute http(s)/ws(s)/ftp URL literal, which is what a fetch/XHR/import or CSS url()
    target outside the file looks like, except XML namespace names (www.w3.org, never fetched),
    and any CSS url()/@import that is not inert; (3) in an inline script that only assigns a JSON
    document to a global (the report's options): any string that is, as a whole, such a URL (the
    code may load it, as Allure does its logo), but not a text that merely mentions one (the report
    name of an http: DUT); (4) any analytics marker (Tag Manager, gtag, dataLayer). The report's
    *data* (test results, environment and attachments, base64 in `d(...)` calls) is text shown to the
    reader and never loaded, so it is not searched for URLs: an http: DUT's address there is text.
    """
    parser = _Markup()
    parser.feed(html)
    found = list(parser.found)
    code = list(parser.code)
    for m in _DATA_BUNDLE.finditer(html):
        try:
            code.append(base64.b64decode(m.group("payload")).decode("utf-8", "replace"))
        except (binascii.Error, ValueError):
            found.append(f"undecodable data:text/{m.group('kind')} bundle")
    for text in code:
        lowered = text.lower()
        found += [f"analytics: {marker}" for marker in _ANALYTICS if marker in lowered]
        document = _data_document(text)
        if document is not None:
            found += _urls_in_data(document)
            continue
        found += _urls_in_code(text)
        found += [f"url({m.group('url')[:120]})" for m in _CSS_URL.finditer(text)
                  if _external(m.group("url")) and ("//" in m.group("url") or "." in m.group("url"))
                  and not m.group("url").startswith(("${", "`", "+"))]
    return found


def _script_blocks(html: str) -> list[tuple[int, int]]:
    """(start, end) of every <script ...>...</script> element, in order."""
    blocks, at = [], 0
    while (start := html.find("<script", at)) >= 0:
        close = html.find("</script>", start)
        if close < 0:
            break
        blocks.append((start, close + len("</script>")))
        at = close + len("</script>")
    return blocks


def _neutralise_code(code: str) -> str:
    return _ABSOLUTE_URL.sub(lambda m: m.group(0) if m.group("host").lower() in NAMESPACE_HOSTS else "about:blank",
                             code)


def sanitize_html(html: str) -> tuple[str, list[str]]:
    """Strip from a generated report every script loaded from outside, the analytics snippet, any
    other tag loading from outside, and absolute external URLs inside the embedded code bundles
    (Allure's "Powered by" link, the Playwright trace viewer). Returns (html, what was removed)."""
    removed: list[str] = []
    out, at = [], 0
    for start, end in _script_blocks(html):
        block = html[start:end]
        opening = block[: block.find(">") + 1]
        src = re.search(r"\bsrc\s*=\s*[\"']?([^\"'\s>]+)", opening)
        inline = block[len(opening): -len("</script>")]
        drop = (src is not None and _external(src.group(1))) or (
            src is None and any(marker in inline.lower() for marker in _ANALYTICS))
        out.append(html[at:start])
        if drop:
            removed.append(opening[:160] if src else f"inline script: {inline.strip()[:80]}")
        else:
            out.append(block)
        at = end
    out.append(html[at:])
    html = "".join(out)

    def _tag(m: re.Match) -> str:
        attrs = dict(re.findall(r"([\w:-]+)\s*=\s*[\"']([^\"']*)[\"']", m.group(0)))
        if any(k.lower() in _LOADING_ATTRIBUTES and _external(v) for k, v in attrs.items()):
            removed.append(m.group(0)[:160])
            return ""
        return m.group(0)

    html = re.sub(r"<(?:link|img|iframe|source|embed|object|audio|video|track)\b[^>]*>", _tag, html)

    def _bundle(m: re.Match) -> str:
        code = base64.b64decode(m.group("payload")).decode("utf-8")
        clean = _neutralise_code(code)
        if clean == code:
            return m.group(0)
        removed.extend(f"{u} (in the {m.group('kind')} bundle)" for u in sorted(set(_urls_in_code(code))))
        return f"data:text/{m.group('kind')};base64," + base64.b64encode(clean.encode("utf-8")).decode("ascii")

    html = _DATA_BUNDLE.sub(_bundle, html)
    return html, removed


@dataclass
class HtmlReport:
    """A generated page (or why it could not be produced: `error`, and then `path` is None)."""

    path: Path | None
    removed: list[str] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0


#: the Allure report's file in report/ (index.html there is the verdict page, conformance.verdict_page)
ALLURE_FILE = "allure.html"
#: tests grouped part › section › clause: the labels conformance.plugin sets from the clause
GROUP_BY = ("epic", "feature", "story")
#: Allure 3's Chinese locale (zh-CN); the report's own words stay bilingual on the verdict page
LANGUAGE = "zh"
#: labels that describe the lab machine, not the DUT
HIDDEN_LABELS = ("host", "thread")


def allure_config(name: str) -> dict:
    return {"name": name, "categories": [{k: v for k, v in c.items() if k != "description"} for c in CATEGORIES]}


def _quiet_teardown(after: dict) -> bool:
    """A fixture teardown that neither failed nor broke and left nothing to show (no step, attachment
    or parameter), such as the `<fixture>::<lambda>` bookkeeping finalizer pytest adds to every
    fixture (allure-pytest writes it without a status: its container closes first)."""
    return after.get("status") in (None, "passed") and not any(after.get(k) for k in ("steps", "attachments",
                                                                                     "parameters"))


def tidy_results(source: Path, target: Path) -> None:
    """Copy allure-results to `target` for the report, without the quiet teardowns (the evidence in
    allure-results is left as the run wrote it)."""
    shutil.copytree(source, target)
    for path in target.glob("*-container.json"):
        container = json.loads(path.read_text(encoding="utf-8"))
        afters = [a for a in container.get("afters", []) if not _quiet_teardown(a)]
        if afters != container.get("afters", []):
            container["afters"] = afters
            path.write_text(json.dumps(container, ensure_ascii=False), encoding="utf-8")


def build_html(results_dir: Path, report_dir: Path, *, name: str, history: Path | None = None,
               timeout: float = 300) -> HtmlReport:
    """Generate the single-file Allure report `report_dir/allure.html`, clean it, and verify it
    loads nothing from outside.

    Tests are grouped part › section › clause, in Chinese; `history` is the DUT's Allure history
    file (JSON lines, conformance.history), read for the trends and appended with this run. The
    generator's exit status says nothing about the run's verdicts (it exits 0 when tests failed);
    an HTML that still references an outside host after cleaning is deleted, not shipped.
    """
    import time

    allure = generator()
    if allure is None:
        return HtmlReport(None, error=f"HTML report not generated: the Allure 3 generator is missing; {INSTALL_HINT}")
    report_dir = Path(report_dir)
    if report_dir.exists():
        shutil.rmtree(report_dir)
    started = time.perf_counter()
    options = ["--single-file", "--report-name", name, "--lang", LANGUAGE, "--group-by", ",".join(GROUP_BY),
               *[arg for label in HIDDEN_LABELS for arg in ("--hide-labels", label)],
               *(["--history-path", str(Path(history).resolve())] if history else [])]
    with tempfile.TemporaryDirectory(prefix="ykt-allure-") as tmp:
        config = Path(tmp) / "allurerc.json"
        config.write_text(json.dumps(allure_config(name), ensure_ascii=False), encoding="utf-8")
        tidy_results(Path(results_dir), Path(tmp) / "allure-results")
        try:
            done = subprocess.run(
                [str(allure), "awesome", str(Path(tmp) / "allure-results"), "-o", str(report_dir.resolve()),
                 "--config", str(config), *options],
                cwd=tmp, capture_output=True, text=True, timeout=timeout, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return HtmlReport(None, error=f"HTML report not generated: {exc}")
    index, page = report_dir / "index.html", report_dir / ALLURE_FILE
    if done.returncode != 0 or not index.is_file():
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        return HtmlReport(None, error=f"HTML report not generated: allure exited {done.returncode}: {' / '.join(tail)}")
    for extra in report_dir.iterdir():  # summary.json, test-results.json: the report is the one file
        if extra != index:
            shutil.rmtree(extra) if extra.is_dir() else extra.unlink()
    html, removed = sanitize_html(index.read_text(encoding="utf-8"))
    index.unlink()
    left = external_references(html)
    if left:
        return HtmlReport(None, removed, f"HTML report withheld: it still references outside the file: {left[:5]}")
    page.write_text(html, encoding="utf-8")
    return HtmlReport(page, removed, seconds=time.perf_counter() - started)


# -- judging -----------------------------------------------------------------------------------
def clause_verdict(verdicts: list[str]) -> str:
    """A clause's verdict from the verdicts of the tests naming it (on every device in scope).

    fail if any test failed; else broken if any broke; else not_tested if any applicable test
    could not be judged; else pass if at least one applied and all that applied passed;
    not_applicable if every test was not applicable; not_covered if no test named it.
    """
    if not verdicts:
        return "not_covered"
    for verdict in ("fail", "broken", "not_tested", "pass"):
        if verdict in verdicts:
            return verdict
    return "not_applicable"


@dataclass
class Judgement:
    clauses: list[dict]
    tests: Counter
    clause_counts: Counter
    certified: bool
    exit_code: int
    reason: str
    unclaused: list[dict]


def judge(results: list[dict], catalogue: dict[str, dict], scope: set[str], *,
          harness_error: str | None = None, certifiable: str | None = None) -> Judgement:
    """The verdict per clause of the catalogue and the certification rule's outcome.

    `scope`: the parts of the standard this run certifies (the suites run and the parts of the
    clauses their tests name); clauses of other parts are `out_of_scope` and judge nothing.
    `certifiable`: None, or why the run can be judged but never certified (e.g. suites that are
    not the shipped ones ran); a run that would otherwise certify then exits EXIT_NOT_CERTIFIABLE.
    """
    by_clause: dict[str, list[dict]] = {}
    unclaused = []
    for r in results:
        if r.get("clause"):
            by_clause.setdefault(r["clause"], []).append(r)
        else:
            unclaused.append(r)
    clauses = []
    for cid, clause in catalogue.items():
        tests = by_clause.get(cid, [])
        verdict = clause_verdict([t["verdict"] for t in tests])
        if clause["part"] not in scope and not tests:
            verdict = "out_of_scope"
        devices: dict[str, list[str]] = {}
        for t in tests:
            devices.setdefault(t.get("device") or clause["part"], []).append(t["verdict"])
        clauses.append({
            "id": cid, "part": clause["part"], "section": clause.get("section", ""),
            "severity": clause.get("severity", ""), "source": source_line(clause),
            "test_items": clause.get("test_items", []), "statement": clause.get("statement", ""), "verdict": verdict,
            "why": next((t.get("message", "") for t in tests if t["verdict"] == verdict), "")
            if verdict in ("not_applicable", "not_tested") else "",
            "devices": {device: clause_verdict(found) for device, found in sorted(devices.items())},
            "tests": [{"nodeid": t["nodeid"], "verdict": t["verdict"], "seconds": t.get("seconds"),
                       "message": t.get("message", "")} for t in tests],
        })
    for cid in sorted(set(by_clause) - set(catalogue)):  # the plugin refuses these; judge them anyway
        tests = by_clause[cid]
        clauses.append({"id": cid, "part": "unknown", "section": "", "severity": "", "source": "", "test_items": [],
                        "statement": "not in the profile's catalogue",
                        "verdict": clause_verdict([t["verdict"] for t in tests]),
                        "tests": [{"nodeid": t["nodeid"], "verdict": t["verdict"]} for t in tests]})
    counts = Counter(c["verdict"] for c in clauses)
    tests = Counter(r["verdict"] for r in results)
    loose = Counter(r["verdict"] for r in unclaused)
    failed = counts["fail"] + loose["fail"]
    broken = counts["broken"] + loose["broken"]
    if failed:
        code, reason = EXIT_FAILED, f"{failed} clause(s) or test(s) failed: product defects"
    elif broken or harness_error:
        parts = [f"{broken} clause(s) or test(s) broken (link, adapter or harness)"] if broken else []
        code, reason = EXIT_BROKEN, "; ".join(parts + ([harness_error] if harness_error else []))
    elif counts["not_tested"] or counts["not_covered"]:
        code, reason = EXIT_INCOMPLETE, (f"incomplete: {counts['not_tested'] + counts['not_covered']} mandatory "
                                         f"clause(s) in scope were not judged ({counts['not_tested']} not tested "
                                         f"here, {counts['not_covered']} named by no test)")
    elif not counts["pass"]:
        code, reason = EXIT_INCOMPLETE, "incomplete: no clause was tested (every test was not applicable or none ran)"
    elif certifiable:
        code, reason = EXIT_NOT_CERTIFIABLE, f"never certified: {certifiable} ({counts['pass']} clause(s) passed)"
    else:
        code, reason = EXIT_CERTIFIED, f"{counts['pass']} clause(s) passed, {counts['not_applicable']} not applicable"
    return Judgement(clauses, tests, counts, code == EXIT_CERTIFIED, code, reason, unclaused)


def certificate_number(run_id: str, created: datetime) -> str:
    """YKT-<date>-<first 8 hex of SM3(run id)>: unique per run, readable on paper."""
    return f"YKT-{created:%Y%m%d}-{sm3_hex(run_id.encode('utf-8'))[:8].upper()}"


#: reference kinds a certification is based on (code and web pages are where facts were read, not a basis)
BASIS_KINDS = ("standard", "policy")


def test_basis(profile: dict, catalogue: dict[str, dict], judgement: Judgement) -> list[str]:
    """What the run certified against: the profile's catalogue, then every standard and policy
    document that the clauses in scope cite, in catalogue order."""
    in_scope = {c["id"] for c in judgement.clauses if c["verdict"] != "out_of_scope"}
    documents = dict.fromkeys(ref["document"] for cid, clause in catalogue.items() if cid in in_scope
                              for ref in clause["source"].get("references", ()) if ref["kind"] in BASIS_KINDS)
    return [f"{profile['catalogue']} {profile['version']} (SM3 {profile['sm3'][:16]}…)", *documents]


def certificate(*, run_id: str, created: datetime, judgement: Judgement, lab: dict, dut: dict, sample: dict,
                profile: dict, basis: list[str], tool: dict, suites: dict, scope: set[str], evidence: dict,
                command: list[str]) -> dict:
    """The certificate document (format `yikatong.certificate/2`, described in reports/README.md);
    `conformance.signing.sign` adds its signature."""
    return {
        "format": CERTIFICATE_FORMAT,
        "number": certificate_number(run_id, created),
        "run_id": run_id,
        "created": created.isoformat(),
        "valid_until": (created + timedelta(days=VALIDITY_DAYS)).date().isoformat()
        if judgement.certified else None,
        "outcome": {
            "certified": judgement.certified,
            "verdict": "certified" if judgement.certified else "not certified",
            "exit_code": judgement.exit_code,
            "reason": judgement.reason,
            "rule": RULE,
        },
        "lab": lab,
        "dut": dut,
        "sample": sample,
        "test_basis": basis,
        "profile": profile,
        "tool": tool,
        "suites": suites,
        "scope": sorted(scope),
        "counts": {
            "tests": {v: judgement.tests.get(v, 0) for v in TEST_VERDICTS} | {"total": sum(judgement.tests.values())},
            "clauses": {v: judgement.clause_counts.get(v, 0) for v in CLAUSE_VERDICTS}
            | {"total": sum(judgement.clause_counts.values())},
        },
        "evidence": evidence,
        "command": command,
        "clauses": judgement.clauses,
        "tests_without_clause": judgement.unclaused,
    }
