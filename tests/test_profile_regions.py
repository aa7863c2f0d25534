"""Regional profiles layer over the national one: they add or tighten, and every other change is
refused with a message naming the file, the path inside the document and the values."""

import shutil
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from conformance.adapters.sim import REFERENCE_TERMINALS
from simulator import profile
from simulator.profile import PROFILE_ROOT, ProfileError, layer_region, national

REGIONS = ("kaifeng", "zhengzhou", "hubei", "sichuan", "guangdong")
#: Kaifeng's own clauses, which a draft replacing its clauses.yaml keeps (its applications name them)
KAIFENG_CLAUSES = yaml.safe_load((PROFILE_ROOT / "regions" / "kaifeng" / "clauses.yaml").read_text("utf-8"))["clauses"]


@pytest.mark.parametrize("region", REGIONS)
def test_each_seed_region_builds_over_the_national_profile(region):
    built = profile.build("national", region)
    assert built.region == region and built.label == f"national + {region}"
    assert set(national().clauses) <= set(built.clauses), "a region dropped a national clause"
    assert built.region_document["division_codes"]
    assert PROFILE_ROOT / "regions" / region / "region.yaml" in built.files


def test_kaifeng_adds_the_teachers_concession_without_touching_the_national_profile():
    kaifeng = profile.build("national", "kaifeng")
    assert kaifeng["terminals"]["concessions"]["by_card_type"]["05"] == 50
    assert kaifeng["epurse"]["card_types"]["05"]["name"] == "teacher"
    assert kaifeng.persona("kaifeng_teacher")["epurse"]["card_type"] == "05"
    assert "05" not in national()["terminals"]["concessions"]["by_card_type"]
    assert "kaifeng_teacher" not in national().personas


@pytest.fixture
def draft(tmp_path: Path):
    """A copy of Kaifeng's region to edit: write(name, document) adds or replaces one of its files."""
    folder = tmp_path / "kaifeng"
    shutil.copytree(PROFILE_ROOT / "regions" / "kaifeng", folder)

    def write(name: str, document) -> Path:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
        return folder

    return write


def test_a_tighter_limit_is_taken(draft):
    folder = draft("platform.yaml", {"blacklist": {"propagation_delay_seconds": 120, "refresh_interval_seconds": 30}})
    built = layer_region(national(), folder)
    assert built["platform"]["blacklist"]["propagation_delay_seconds"] == 120
    assert built["platform"]["blacklist"]["refresh_interval_seconds"] == 30
    assert built["platform"]["lifecycle"] == national()["platform"]["lifecycle"]


def test_a_looser_limit_is_refused_naming_file_path_and_values(draft):
    folder = draft("platform.yaml", {"blacklist": {"propagation_delay_seconds": 600}})
    with pytest.raises(ProfileError, match=r"kaifeng/platform.yaml: at blacklist/propagation_delay_seconds: raises the "
                                           r"national limit 300 to 600, which loosens it"):
        layer_region(national(), folder)


def test_a_lower_throughput_floor_is_refused(draft):
    folder = draft("throughput.yaml", {"design_capacity": {"persons_per_hour": 1500}})
    with pytest.raises(ProfileError, match=r"throughput.yaml: at design_capacity/persons_per_hour: lowers the national "
                                           r"limit 1800 to 1500"):
        layer_region(national(), folder)


def test_a_value_no_schema_lets_a_region_change_is_refused(draft):
    folder = draft("ssse.yaml", {"application": {"aid": "A000000333010101"}})
    with pytest.raises(ProfileError, match=r"ssse.yaml: at application/aid: changes the national value '7378312E"):
        layer_region(national(), folder)


def test_a_null_would_drop_a_national_value_and_is_refused(draft):
    folder = draft("terminals.yaml", {"card_status": None})
    with pytest.raises(ProfileError, match=r"terminals.yaml: at card_status: is null, which would drop"):
        layer_region(national(), folder)


def test_a_national_clause_can_be_raised_in_severity_but_not_lowered(draft):
    raise_it = {"clauses": [*KAIFENG_CLAUSES, {"id": "TERM-CONC-001", "severity": "blocker"}]}
    raised = layer_region(national(), draft("clauses.yaml", raise_it))
    assert raised.clauses["TERM-CONC-001"]["severity"] == "blocker"
    assert raised.clauses["TERM-CONC-001"]["statement"] == national().clauses["TERM-CONC-001"]["statement"]
    folder = draft("clauses.yaml", {"clauses": [*KAIFENG_CLAUSES, {"id": "TERM-CONC-001", "severity": "minor"}]})
    with pytest.raises(ProfileError, match=r"clauses.yaml: at clauses/TERM-CONC-001/severity: moves the "
                                           r"national limit 'critical' to 'minor'"):
        layer_region(national(), folder)


def test_a_national_clause_statement_cannot_be_rewritten(draft):
    folder = draft("clauses.yaml", {"clauses": [*KAIFENG_CLAUSES, {"id": "TERM-CONC-001",
                                                                      "statement": "anything goes"}]})
    with pytest.raises(ProfileError, match=r"at clauses/TERM-CONC-001/statement: changes the national value"):
        layer_region(national(), folder)


def _regional_clause(document: str) -> dict:
    return {"id": "KF-TEST-001", "part": "terminal", "section": "fares", "statement": "A regional rule.",
            "severity": "normal", "source": {"references": [{"kind": "policy", "document": document}]}}


def test_a_regional_clause_must_cite_one_of_the_regions_documents(draft):
    cited = _regional_clause("汴政办〔2020〕71号")
    layer_region(national(), draft("clauses.yaml", {"clauses": [*KAIFENG_CLAUSES, cited]}))
    folder = draft("clauses.yaml", {"clauses": [*KAIFENG_CLAUSES, _regional_clause("some other order")]})
    with pytest.raises(ProfileError, match=r"clauses.yaml: at clauses/KF-TEST-001/source: a regional clause cites one "
                                           r"of the region's documents"):
        layer_region(national(), folder)


def test_an_application_naming_an_unknown_clause_is_refused(draft):
    region = yaml.safe_load((PROFILE_ROOT / "regions" / "kaifeng" / "region.yaml").read_text(encoding="utf-8"))
    region["applications"][0]["clauses"].append("TERM-NONE-999")
    with pytest.raises(ProfileError, match=r"region.yaml: at applications/0 \(social_security\)/clauses: unknown "
                                           r"clause\(s\) \['TERM-NONE-999'\]"):
        layer_region(national(), draft("region.yaml", region))


def test_an_application_naming_an_unknown_scenario_terminal_kind_or_purpose_is_refused(draft):
    region = yaml.safe_load((PROFILE_ROOT / "regions" / "kaifeng" / "region.yaml").read_text(encoding="utf-8"))
    region["applications"][1]["scenario"] = "kaifeng-nowhere"
    with pytest.raises(ProfileError, match=r"applications/1 \(bus\)/scenario: unknown scenario 'kaifeng-nowhere'"):
        layer_region(national(), draft("region.yaml", region))
    region["applications"][1].pop("scenario")
    region["applications"][1]["terminal_kind"] = "tram"
    with pytest.raises(ProfileError, match=r"applications/1 \(bus\)/terminal_kind: unknown terminal kind 'tram'"):
        layer_region(national(), draft("region.yaml", region))
    region["applications"][1]["terminal_kind"] = "bus"
    region["applications"][1]["purposes"] = ["transit", "advertising"]
    with pytest.raises(ProfileError, match=r"applications/1 \(bus\)/purposes: undeclared purpose\(s\) "
                                           r"\['advertising'\]"):
        layer_region(national(), draft("region.yaml", region))


def test_a_region_may_not_replace_a_national_persona(draft):
    normal = yaml.safe_load((PROFILE_ROOT / "personas" / "normal.yaml").read_text(encoding="utf-8"))
    with pytest.raises(ProfileError, match=r"personas \['normal'\] would replace the national ones"):
        layer_region(national(), draft("personas/normal.yaml", normal))


def test_an_overlay_of_no_known_document_is_refused(draft):
    with pytest.raises(ProfileError, match=r"\['tarifs.yaml'\] overlay no profile document"):
        layer_region(national(), draft("tarifs.yaml", {"bus": {"flat_fare": 100}}))


def test_a_tariff_is_the_regions_to_set(draft):
    built = layer_region(national(), draft("terminals.yaml", {"bus": {"flat_fare": 100, "source": "modelled: a city"}}))
    assert built["terminals"]["bus"]["flat_fare"] == 100
    assert built["terminals"]["bus"]["industry_code"] == national()["terminals"]["bus"]["industry_code"]


@pytest.mark.parametrize(("exit_station", "guangzhou_fare", "national_fare"), [("0102", 200, 300), ("0107", 800, 700)])
def test_guangdongs_exit_gate_charges_guangzhou_metros_published_tariff(exit_station, guangzhou_fare, national_fare):
    """2.5 km and 33.2 km from station 0101: Guangzhou Metro's 2 yuan to 4 km, then +1 yuan per 4 km to 12 km, per
    6 km to 24 km, per 8 km beyond (so 33.2 km is 6 + 2 = 8 yuan); the national model's tariff is left as it is."""
    for region, fare in (("guangdong", guangzhou_fare), (None, national_fare)):
        gate = REFERENCE_TERMINALS["gate_exit"](profile=profile.build("national", region), clock=datetime.now)
        assert gate.fare_between("0101", exit_station) == fare, region


def test_a_layered_document_still_satisfies_the_national_schema(draft):
    folder = draft("terminals.yaml", {"bus": {"flat_fare": -5}})
    with pytest.raises(ProfileError, match=r"terminals.yaml \(layered over national\): at bus/flat_fare"):
        layer_region(national(), folder)


def test_an_unknown_region_is_refused_listing_the_five():
    with pytest.raises(ProfileError, match=r"unknown region 'atlantis'; regional profiles: guangdong, hubei, kaifeng, "
                                           r"sichuan, zhengzhou"):
        profile.build("national", "atlantis")


def test_a_region_may_not_widen_what_a_purpose_reads_or_a_terminal_asks(draft):
    folder = draft("platform.yaml", {"purposes": {"declared": {"library": {"fields": ["citizen_id"]}}}})
    with pytest.raises(ProfileError, match=r"platform.yaml: at purposes/declared/library/fields: adds "
                                           r"\['citizen_id'\], which loosens"):
        layer_region(national(), folder)
    (folder / "platform.yaml").unlink()
    folder = draft("terminals.yaml", {"minimisation": {"scenic": {"ssse_elements": ["姓名"]}}})
    with pytest.raises(ProfileError, match=r"terminals.yaml: at minimisation/scenic/ssse_elements: adds"):
        layer_region(national(), folder)


def test_guangdong_seals_cards_and_hubei_checks_identity_at_every_service():
    guangdong = profile.build("national", "guangdong")["platform"]["lifecycle"]
    assert "sealed" in guangdong["blacklisted"] and guangdong["actions"]["seal"]["to"] == "sealed"
    assert profile.build("national", "hubei")["platform"]["clients"]["identity_every_service"] is True
    assert national()["platform"]["clients"]["identity_every_service"] is False


@pytest.mark.parametrize("region", REGIONS)
def test_every_regional_scenario_resolves_against_the_regions_world(region):
    from simulator.world.scenario import resolve

    built = profile.build("national", region)
    own = set(built.scenarios) - set(national().scenarios)
    named = {a["scenario"] for a in built.region_document["applications"] if "scenario" in a}
    assert named <= own | set(national().scenarios)
    for name in own:
        assert resolve(built.scenario(name), built).sites, name
