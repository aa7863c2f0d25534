"""The profile loads, validates, and names file, path and value when it does not."""

import copy
import re
from pathlib import Path

import pytest

from simulator import profile
from simulator.profile import ProfileError


def test_every_document_validates():
    assert profile.load("national/card", "card")["id"] == "national.card"
    assert profile.load("national/ssse", "ssse")["application"]["aid"].startswith("7378312E")
    personas = profile.national().personas
    assert len(personas) >= 11
    for name in personas:
        assert profile.national().persona(name)["id"] == name


#: names of the project's private research notes, which a reader of a report cannot follow
NOTES = re.compile(r"notes/|ssc-card|transit-payment|test-specs|find_string", re.IGNORECASE)
#: any Markdown file; only a code reference's `file` (a file of the public repository it names) may be one
MARKDOWN = re.compile(r"\.md\b", re.IGNORECASE)


def test_every_clause_has_a_unique_id_and_a_public_reference_or_a_modelled_reason():
    clauses = profile.national().clauses
    assert {"CARD-PIN-001", "CARD-NVM-001", "CARD-ACC-001"} <= set(clauses)
    for cid, clause in clauses.items():
        source = clause["source"]
        references = source.get("references", [])
        assert references or source.get("modelled", "").strip(), f"{cid}: no reference and no modelled reason"
        texts = [source.get("modelled", "")]
        texts += [r.get(k, "") for r in references for k in ("document", "section", "note")]
        outside = [t for t in texts if NOTES.search(t) or MARKDOWN.search(t)]
        assert not outside, f"{cid} cites a file outside the project: {outside}"
        assert not NOTES.search(profile.source_line(clause)), f"{cid} cites the project's research notes"


def test_the_schema_refuses_a_clause_that_cites_the_notes_or_gives_no_source():
    document = copy.deepcopy(profile.load("national/clauses", "clauses"))
    clause = document["clauses"][0]
    for source in ({"references": [{"kind": "web", "document": "ssc-card.md", "section": "§2 [V S1]"}]},
                   {"modelled": "see transit-payment.md §1.6"},
                   {"references": [{"kind": "code", "document": "CPUCARJTB.c"}]},  # a code reference names owner/repo
                   {"references": []},
                   {}):
        clause["source"] = source
        with pytest.raises(ProfileError, match="clauses: at clauses/0/source"):
            profile.validate(document, "clauses", where="clauses")


def test_a_source_renders_as_one_line_references_first_then_the_modelled_part():
    clause = {"source": {"references": [{"kind": "standard", "document": "ISO/IEC 7816-4:2020", "section": "§5.6"},
                                        {"kind": "code", "document": "owner/repo", "file": "src/a.c", "note": "9302"},
                                        {"kind": "web", "document": "example.org/page"}],
                         "modelled": "the MAC layout is not published"}}
    assert profile.source_line(clause) == ("ISO/IEC 7816-4:2020 §5.6; owner/repo src/a.c (9302); example.org/page; "
                                           "modelled: the MAC layout is not published")
    assert profile.source_line({"source": {"modelled": "not published"}}) == "modelled: not published"


def test_every_ssse_fact_says_where_it_comes_from():
    ssse = profile.load("national/ssse", "ssse")
    for name, element in ssse["elements"].items():
        assert element["source"], name
    for spec in ssse["files"]:
        assert spec["source"], spec["name"]


def test_schema_error_names_file_path_and_value(tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "id: x\ndescription: a persona with a broken region code\ngeneration: 3\nregion: '41A200'\n"
        "card_serial: 5A3C7E0000000001\ncard_number: K0000001\nissue_date: -2y\nexpiry_date: +8y\n"
        "holder: {name: 测试, sex: 1, birth_date: '1985-06-15', ethnicity: 1, birthplace: '410203',"
        " id_sequence: '013'}\n",
        encoding="utf-8",
    )
    with pytest.raises(ProfileError, match=r"bad\.yaml: at region: '41A200' does not match"):
        profile.load_file(bad, "persona")


def test_unknown_persona_lists_the_known_ones():
    with pytest.raises(ProfileError, match="known personas: app_locked"):
        profile.national().persona("nobody")


def test_unknown_kind_is_refused():
    with pytest.raises(ProfileError, match="valid kinds"):
        profile.validate({}, "nonsense", where="here")
