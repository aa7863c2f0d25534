"""The profile loads, validates, and names file, path and value when it does not."""

from pathlib import Path

import pytest

from simulator import profile
from simulator.profile import ProfileError


def test_every_document_validates():
    assert profile.load("national/card", "card")["id"] == "national.card"
    assert profile.load("national/ssse", "ssse")["application"]["aid"].startswith("7378312E")
    assert len(profile.persona_names()) >= 11
    for name in profile.persona_names():
        assert profile.load_persona(name)["id"] == name


def test_every_clause_has_a_source_and_a_unique_id():
    clauses = profile.clauses()
    assert {"CARD-PIN-001", "CARD-NVM-001", "CARD-ACC-001"} <= set(clauses)
    assert all(c["source"].strip() for c in clauses.values())


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
        profile.load_persona("nobody")


def test_unknown_kind_is_refused():
    with pytest.raises(ProfileError, match="valid kinds"):
        profile.validate({}, "nonsense", where="here")
