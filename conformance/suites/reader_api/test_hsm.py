"""The HSM path: Step 1's data for the encryption machine, Step 2 with its answer."""

from __future__ import annotations

import pytest

from conformance.suites.reader_api.formats import format_errors, split

pytestmark = pytest.mark.requires("hsm")


def _step1(bench, api) -> dict[str, str]:
    code, out = bench.call("iReadCardBas_HSM_Step1", 1)
    assert code == 0, f"iReadCardBas_HSM_Step1 of a valid 3rd-generation card returned {code}, expected 0"
    fields = split(out, api["formats"]["hsm_step1"])
    assert fields is not None, "Step 1's pOutInfo is not 8 fields each ended by '|'"
    return fields


@pytest.mark.clause("READER-HSM-001")
def test_step1_gives_the_hsm_its_data(bench, api):
    bench.present("normal", fresh=True)
    fields = _step1(bench, api)
    problems = format_errors(fields, api["formats"]["hsm_step1"])
    assert not problems, "; ".join(problems)
    ident = bench.values("normal")["card_identifier"].hex().upper()
    assert fields["card_identifier"] == ident, f"卡识别码 {fields['card_identifier']} is not the card's {ident}"
    assert bool(fields["external_factor"]) == bool(fields["external_original"]), (
        "the external-authentication fields are all present or all empty")


@pytest.mark.clause("READER-HSM-002")
def test_step2_with_the_hsm_answer_reads_everything(bench, api, hsm):
    bench.present("normal", fresh=True)
    fields1 = _step1(bench, api)
    key = hsm.answer("|".join(fields1.values()) + "|")
    code, out = bench.call("iReadCardBas_HSM_Step2", key)
    assert code == 0, f"iReadCardBas_HSM_Step2 with the encryption machine's answer returned {code}, expected 0"
    spec = api["formats"]["card_basic"]
    fields = split(out, spec)
    assert fields is not None, "Step 2's pOutInfo is not 11 fields each ended by '|'"
    problems = format_errors(fields, spec)
    assert not problems, "; ".join(problems)
    card = bench.values("normal")
    expected = {"citizen_id": card["citizen_id"], "card_number": card["card_number"][:9],
                "name": card["name"] + card["name_ext"]}
    wrong = [k for k, v in expected.items() if fields[k] != v]
    assert not wrong, f"after HSM authentication {', '.join(wrong)} differ from the card's"


@pytest.mark.clause("READER-HSM-003")
def test_step2_refuses_an_internal_auth_result_the_card_did_not_give(bench, api, hsm):
    bench.present("normal", fresh=True)
    fields1 = _step1(bench, api)
    key = hsm.answer("|".join(fields1.values()) + "|")
    forged = f"{int(key[:16], 16) ^ 1:016X}{key[16:]}"
    code, out = bench.call("iReadCardBas_HSM_Step2", forged)
    expected = api["conditions"]["hsm_internal_auth_mismatch"]["code"]
    assert code == expected, (f"Step 2 with an internal-authentication result that is not the card's returned "
                              f"{code}, expected {expected} (内部认证与加密机不一致)")
    assert not (split(out, api["formats"]["card_basic"]) or {}).get("citizen_id"), (
        "a refused Step 2 still gave 社会保障号码")


@pytest.mark.clause("READER-HSM-004")
def test_step2_refuses_an_original_other_than_step1s(bench, api, hsm):
    bench.present("normal", fresh=True)
    fields1 = _step1(bench, api)
    key = hsm.answer("|".join(fields1.values()) + "|")
    other = f"{int(key[16:32], 16) ^ 1:016X}"  # pKey = 内认证结果 16 ‖ 原始信息 16 | 外认证数据 | (formats.hsm_key)
    code, out = bench.call("iReadCardBas_HSM_Step2", key[:16] + other + key[32:])
    expected = api["conditions"]["hsm_original_mismatch"]["code"]
    assert code == expected, (f"Step 2 with a 原始信息 that is not Step 1's returned {code}, expected {expected} "
                              f"(传入数据与卡内不符)")
    assert not (split(out, api["formats"]["card_basic"]) or {}).get("citizen_id"), (
        "a refused Step 2 still gave 社会保障号码")
