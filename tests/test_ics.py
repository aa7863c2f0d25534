"""Capability declarations (ICS): they alone decide what is not applicable, a declaration short of
its kind's mandatory capabilities is refused, a harness facility a DUT lacks leaves its tests *not
tested* (the run incomplete, never certified), and a DUT other than the project's simulated
devices is certified only with a declaration."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from conformance import report
from conformance.ics import DeclarationError, load_declaration

ROOT = Path(__file__).resolve().parent.parent

CARD = {"format": "yikatong.ics/1", "product": {"kind": "card", "vendor": "ACME Cards", "model": "SSC-3",
                                                "generation": 3},
        "applicant": "ACME Cards Ltd.", "manufacturer": "ACME Fab",
        "capabilities": ["ssse"], "samples": [{"id": "S1", "purpose": "non_destructive", "pin": "847261"}],
        "test_keys": {"ssse.07": "00112233445566778899AABBCCDDEEFF"}}
READER = {"format": "yikatong.ics/1", "product": {"kind": "reader", "vendor": "ACME", "model": "R1"},
          "capabilities": ["hsm", "pin_entry"]}

#: a lab's own adapter (a pytest plugin): the reference devices, but not the project's simulated
#: devices as far as certification goes, and, for `lab:bare`, without the harness's facilities
LAB_ADAPTER = '''
def pytest_yikatong_make_dut(config, spec, info):
    if not spec.startswith("lab:"):
        return None
    from conformance.dut import make_dut
    dut = make_dut("sim", info=info)
    dut.simulated = False
    dut.name = "lab bench"
    if spec == "lab:bare":
        dut.card.capabilities = frozenset({"ssse", "purse", "qpboc"})
    return dut
'''


def write(tmp_path: Path, name: str, document: dict) -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def with_(document: dict, **changes) -> dict:
    return {**document, **changes}


def ykt(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(Path(sys.executable).with_name("ykt")), *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=600, check=False, env=env)


@pytest.fixture
def lab_env(tmp_path) -> dict:
    (tmp_path / "lab_adapter.py").write_text(LAB_ADAPTER)
    return {**os.environ, "PYTHONPATH": str(tmp_path)}


# -- the declaration itself -------------------------------------------------------------------------
def test_a_declaration_is_read_and_cites_its_capabilities_line(tmp_path):
    declared = load_declaration(write(tmp_path, "card.yaml", CARD))
    assert declared.kind == "card" and declared.capabilities == {"ssse"}
    lines = (tmp_path / "card.yaml").read_text().splitlines()
    assert lines[declared.capabilities_line - 1].startswith("capabilities")
    assert declared.cite() == f"ICS card.yaml line {declared.capabilities_line} (capabilities: ssse)"
    shown = json.dumps(declared.summary())
    assert "847261" not in shown and "00112233" not in shown and "ssse.07" in shown


REFUSED = {
    "a card without the social-security application": (with_(CARD, capabilities=["purse"]), "must declare ssse"),
    "a bus validator without the blacklist": (
        with_(CARD, product={"kind": "bus", "vendor": "V", "model": "M"},
              capabilities=["purse", "validity", "recovery", "timing", "minimisation"]), "must declare blacklist"),
    "an option its kind cannot have": (with_(CARD, capabilities=["ssse", "metro_exit"]), "cannot declare metro_exit"),
    "a harness facility as a product option": (with_(CARD, capabilities=["ssse", "tear_control"]),
                                               "harness's facilities"),
    "an unknown kind": (with_(CARD, product={"kind": "toaster", "vendor": "V", "model": "M"}), "unknown product kind"),
    "a malformed document": (with_(CARD, product={"kind": "card"}), "'vendor' is a required property"),
    "a wrong format": (with_(CARD, format="ics/0"), "format"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_a_declaration_is_refused(case, tmp_path):
    document, said = REFUSED[case]
    with pytest.raises(DeclarationError, match=said.replace("(", r"\(")):
        load_declaration(write(tmp_path, "ics.yaml", document))


def test_certify_refuses_a_short_declaration_before_running(tmp_path):
    path = write(tmp_path, "ics.yaml", with_(CARD, capabilities=["purse"]))
    done = ykt("certify", "--suite", "card", "--ics", str(path), "--out", str(tmp_path / "run"))
    assert done.returncode == report.EXIT_USAGE, done.stderr
    assert "must declare ssse" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


def test_a_declaration_of_a_kind_the_dut_does_not_play_is_refused(tmp_path):
    done = ykt("certify", "--suite", "reader_api", "--dut", "sim:mutant=card_ignores_le", "--ics",
               str(write(tmp_path, "ics.yaml", READER)), "--out", str(tmp_path / "run"))
    assert done.returncode == report.EXIT_USAGE and "declares a reader" in done.stderr, done.stderr


# -- what the declaration decides -----------------------------------------------------------------
def test_what_a_card_does_not_declare_is_not_applicable_citing_the_declaration(tmp_path):
    path = write(tmp_path, "card.yaml", CARD)
    done = ykt("certify", "--suite", "card", "--ics", str(path), "--no-html", "--out", str(tmp_path / "run"))
    cert = json.loads((tmp_path / "run" / "certificate.json").read_text(encoding="utf-8"))
    by_id = {c["id"]: c for c in cert["clauses"]}
    purse = [c for cid, c in by_id.items() if cid.startswith(("PURSE-", "QP-"))]
    assert purse and all(c["verdict"] == "not_applicable" for c in purse), [c["verdict"] for c in purse]
    line = load_declaration(path).capabilities_line
    assert all(f"ICS card.yaml line {line}" in c["why"] for c in purse)
    assert done.returncode == 0, done.stdout[-3000:]
    assert cert["dut"]["declaration"]["capabilities"] == ["ssse"] and cert["dut"]["applicant"] == "ACME Cards Ltd."
    assert "847261" not in (tmp_path / "run" / "certificate.json").read_text()


def test_a_missing_harness_facility_leaves_the_run_incomplete(tmp_path, lab_env):
    suite = tmp_path / "suites" / "card"
    suite.mkdir(parents=True)
    (suite / "test_tear.py").write_text(textwrap.dedent('''
        import pytest

        @pytest.mark.clause("CARD-NVM-001")
        @pytest.mark.requires("tear_control")
        def test_needs_a_tear(dut):
            assert True
    '''))
    done = ykt("certify", "--suites-dir", str(tmp_path / "suites"), "--dut", "lab:bare", "-p", "lab_adapter",
               "--ics", str(write(tmp_path, "card.yaml", CARD)), "--no-html", "--out", str(tmp_path / "run"),
               env=lab_env)
    cert = json.loads((tmp_path / "run" / "certificate.json").read_text(encoding="utf-8"))
    clause = next(c for c in cert["clauses"] if c["id"] == "CARD-NVM-001")
    assert clause["verdict"] == "not_tested" and "cuts the card's power" in clause["why"], clause
    assert done.returncode == report.EXIT_INCOMPLETE and cert["outcome"]["reason"].startswith("incomplete")


def test_a_dut_of_our_own_needs_no_declaration_any_other_is_never_certified_without_one(tmp_path, lab_env):
    without = ykt("certify", "--suite", "reader_api", "--dut", "lab:bench", "-p", "lab_adapter", "--no-html",
                  "--out", str(tmp_path / "without"), env=lab_env)
    cert = json.loads((tmp_path / "without" / "certificate.json").read_text(encoding="utf-8"))
    assert without.returncode == report.EXIT_NOT_CERTIFIABLE, without.stdout[-2000:]
    assert "no capability declaration" in cert["outcome"]["reason"] and cert["counts"]["clauses"]["pass"] > 0
    declared = ykt("certify", "--suite", "reader_api", "--dut", "lab:bench", "-p", "lab_adapter", "--no-html",
                   "--ics", str(write(tmp_path, "reader.yaml", READER)), "--out", str(tmp_path / "with"),
                   env=lab_env)
    assert declared.returncode == 0, declared.stdout[-2000:]


def test_the_schema_names_every_issuer_test_key_the_card_suite_uses_and_no_other(tmp_path):
    from conformance.suites.card._issuer import synthetic
    from simulator.profile import national

    schema = json.loads((ROOT / "profiles" / "schema" / "ics_declaration.schema.json").read_text(encoding="utf-8"))
    assert schema["properties"]["test_keys"]["propertyNames"]["enum"] == sorted(synthetic(national()))
    with pytest.raises(DeclarationError, match="test_keys"):
        load_declaration(write(tmp_path, "card.yaml", with_(CARD, test_keys={"pin_unblock": "00" * 16})))
