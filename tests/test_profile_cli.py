"""`ykt profile show|validate|diff` and the regional forms of `ykt clauses`."""

import shutil

import yaml
from typer.testing import CliRunner

from conformance import certify
from simulator import profile_cli
from simulator.profile import PROFILE_ROOT
from simulator.profile import build as profile_build

WIDE = {"COLUMNS": "200"}


def run(*args: str):
    return CliRunner().invoke(profile_cli.app, list(args), env=WIDE)


def test_validate_names_the_layered_profile():
    result = run("validate", "kaifeng")
    assert result.exit_code == 0, result.output
    assert "valid: national + kaifeng" in result.output


def test_validate_refuses_a_draft_that_loosens_a_limit_naming_file_and_path(tmp_path):
    folder = tmp_path / "kaifeng"
    shutil.copytree(PROFILE_ROOT / "regions" / "kaifeng", folder)
    (folder / "ecode.yaml").write_text(yaml.safe_dump({"clock_skew_seconds": 30}), encoding="utf-8")
    result = run("validate", str(folder))
    assert result.exit_code == 1
    assert "invalid: kaifeng/ecode.yaml: at clock_skew_seconds: raises the national limit 5 to 30" in \
        " ".join(result.output.split())


def test_validate_refuses_what_is_neither_a_profile_nor_a_region_folder(tmp_path):
    result = run("validate", str(tmp_path))
    assert result.exit_code == 1 and "nor a folder holding a region.yaml" in result.output


def test_diff_shows_what_kaifeng_adds_and_sets():
    result = run("diff", "kaifeng")
    assert result.exit_code == 0, result.output
    lines = [" ".join(line.replace("│", " ").split()) for line in result.output.splitlines()]
    assert "+ epurse card_types/05 {name: teacher, zh: 教师卡}" in lines
    assert "+ terminals concessions/by_card_type/05 50" in lines
    assert any(line.startswith("+ persona kaifeng_teacher") for line in lines)
    assert not any(" ssse " in line for line in lines), "Kaifeng changes nothing of the SSSE"


def test_show_gives_the_region_its_documents_and_file_digests():
    result = run("show", "zhengzhou")
    assert result.exit_code == 0, result.output
    assert "郑州市 (Zhengzhou), city; division codes 410100" in result.output
    assert "郑州市人民政府令第249号" in result.output
    assert "regions/zhengzhou/region.yaml" in result.output


def test_show_kind_prints_the_layered_document():
    result = run("show", "kaifeng", "--kind", "terminals")
    assert result.exit_code == 0, result.output
    assert yaml.safe_load(result.output)["concessions"]["by_card_type"]["05"] == 50


def test_clauses_of_a_region_and_an_unknown_region():
    result = CliRunner().invoke(certify.app, ["clauses", "--region", "sichuan"], env=WIDE)
    assert result.exit_code == 0, result.output
    assert "clauses of national + sichuan" in result.output
    refused = CliRunner().invoke(certify.app, ["clauses", "--region", "atlantis"], env=WIDE)
    assert refused.exit_code == 64 and "unknown region 'atlantis'" in refused.output


def test_no_clause_of_any_region_is_left_without_a_test():
    for region in ("kaifeng", "zhengzhou", "hubei", "sichuan", "guangdong"):
        result = CliRunner().invoke(certify.app, ["clauses", "--coverage", "--region", region], env=WIDE)
        assert result.exit_code == 0, result.output
        count = len(profile_build("national", region).clauses)
        assert f"0 of {count} clauses of national + {region} named by no test" in " ".join(result.output.split())
