"""No profile file cites the project's research notes: a source names the public document itself.

The notes live outside the project, so a reader of a profile (or of a report quoting one) cannot follow
a citation of them. This reads every YAML and JSON file under profiles/, comments included.
"""

import json
import re
from pathlib import Path

import pytest

PROFILES = Path(__file__).resolve().parents[1] / "profiles"

#: the project's research notes by file name, their folder, and ids of our code-search tool
NOTES = re.compile(
    r"\b(?:ssc-card|transit-payment|crypto|pcsc-stack|test-specs|services|style)\.md\b"
    r"|shared/notes|\bnotes/|find_string",
    re.IGNORECASE)
#: the notes' own shorthand, which only the notes explain: confidence labels [V] [V-code] [B] [D] and the
#: source keys S1..S14 of the social-security card note; a profile says "seen in field code" or names the source
NOTE_SHORTHAND = re.compile(r"\[(?:V|B|D)(?:-code)?[ ,\]/]|(?<![\w-])S(?:[1-9]|1[0-4])\b(?![-\w])")

FILES = sorted(p for p in PROFILES.rglob("*") if p.suffix in {".yaml", ".yml", ".json"})


def _without_patterns(node):
    """A JSON document without the values of `pattern` keys: a schema may name the notes to refuse them."""
    if isinstance(node, dict):
        return {k: _without_patterns(v) for k, v in node.items() if k != "pattern"}
    if isinstance(node, list):
        return [_without_patterns(v) for v in node]
    return node


def _text(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        return json.dumps(_without_patterns(json.loads(text)), ensure_ascii=False, indent=0)
    return text


def test_every_profile_file_is_read():
    names = {p.relative_to(PROFILES).as_posix() for p in FILES}
    assert {"national/card.yaml", "national/clauses.yaml", "national/epurse.yaml", "national/psam.yaml",
            "national/ssse.yaml", "national/terminals.yaml", "national/timing.yaml", "national/reader_api.yaml",
            "schema/clauses.schema.json", "personas/normal.yaml"} <= names


@pytest.mark.parametrize("path", FILES, ids=[p.relative_to(PROFILES).as_posix() for p in FILES])
def test_no_profile_file_cites_the_research_notes(path):
    cited = [f"{n}: {line.strip()}" for n, line in enumerate(_text(path).splitlines(), 1)
             if NOTES.search(line) or NOTE_SHORTHAND.search(line)]
    assert not cited, f"{path.relative_to(PROFILES)} cites the project's research notes:\n" + "\n".join(cited)


@pytest.mark.parametrize("line", ['source: "transit-payment.md §1.5 [V-code] CPUCARJTB.c"',
                                  "# Sources: ../shared/notes/ssc-card.md (field code S1..S14)",
                                  'fci_source: "HCE replay (find_string id 46384223511)"',
                                  "see notes/crypto.md", "per style.md"])
def test_the_check_catches_a_citation_of_the_notes(line):
    assert NOTES.search(line)


@pytest.mark.parametrize("line", ['source: "[V S1]"', "3 tries [B, common practice]", "fc/128 [D]",
                                  "seen [V-code] in CPUCARJTB.c", "(-14, S1 table)", "[V S1,S7]", "[B/open]"])
def test_the_check_catches_the_notes_shorthand(line):
    assert NOTE_SHORTHAND.search(line)


@pytest.mark.parametrize("line", ['{kind: code, document: "HOCC2011/Universal-Card-Reader", file: "README.md"}',
                                  'file: "docs/card_data_format.md"', "EMV Book 3 Annex A", "source: modelled",
                                  "ISO/IEC 7816-4:2020 §5.6", "S-block", "PSAM S12-3"])
def test_the_check_lets_a_public_file_through(line):
    assert not NOTES.search(line) and not NOTE_SHORTHAND.search(line)
