"""iReadCardBas without the HSM: the 11-field string, its field formats, and the card's values."""

from __future__ import annotations

import pytest

from conformance.suites.reader_api import _cards
from conformance.suites.reader_api.formats import format_errors, historical_bytes, show, split
from conformance.verdicts import not_tested

#: ATRs of other structures than the personas' (ISO/IEC 7816-3 §8.2), with the historical bytes
#: each carries, by what they exercise
OTHER_ATRS = {
    # T0 C5: TC1, TD1, 5 historical bytes; TC1 00; TD1 40: TC2, T=0; TC2 0A
    "TC1, TD1 (T=0) and TC2": ("3BC500400A0081594B54", "0081594B54"),
    # T0 85: TD1, 5 historical bytes; TD1 80: TD2, T=0; TD2 01: T=1; TCK C3 (T=1 offered)
    "TD1 and TD2 (T=0, T=1) and TCK": ("3B8580010081594B54C3", "0081594B54"),
    # T0 80: TD1, no historical bytes; TD1 80: TD2, T=0; TD2 01: T=1; TCK 01
    "no historical bytes": ("3B80800101", ""),
}


def _read(bench, persona: str, itype: int = 1, *, alter: _cards.Alteration | None = None) -> tuple[int, str]:
    bench.present(persona, alter=alter)
    return bench.call("iReadCardBas", itype)


def _fields(bench, api, persona: str, *, alter: _cards.Alteration | None = None) -> dict[str, str]:
    code, out = _read(bench, persona, alter=alter)
    assert code == 0, f"iReadCardBas of a valid {persona} card returned {code}, expected 0"
    fields = split(out, api["formats"]["card_basic"])
    assert fields is not None, "pOutInfo is not 11 fields each ended by '|'"
    return fields


def _authenticated(api) -> frozenset[str]:
    return frozenset(f["name"] for f in api["formats"]["card_basic"]["fields"] if f.get("authenticated"))


@pytest.mark.clause("READER-FMT-002")
@pytest.mark.parametrize("persona", ["second_generation", "normal"], scope="module")
def test_field_formats(bench, api, persona):
    fields = _fields(bench, api, persona)
    problems = format_errors(fields, api["formats"]["card_basic"], may_be_empty=_authenticated(api))
    assert not problems, "; ".join(problems)
    assert fields["region"] == fields["card_identifier"][:6], (
        f"发卡地区行政区划代码 {fields['region']} is not the first 6 digits of 卡识别码 {fields['card_identifier']}")


@pytest.mark.clause("READER-FMT-004")
@pytest.mark.parametrize("persona", ["second_generation", "normal"], scope="module")
def test_values_are_the_cards(bench, api, persona):
    fields = _fields(bench, api, persona)
    card = bench.values(persona)
    expected = {
        "card_identifier": card["card_identifier"].hex().upper(),
        "spec_version": card["spec_version"],
        "issue_date": card["issue_date"].strftime("%Y%m%d"),
        "expiry_date": card["expiry_date"].strftime("%Y%m%d"),
    }
    if fields["card_number"]:
        expected["card_number"] = card["card_number"][:9]
    wrong = {k: (fields[k], v) for k, v in expected.items() if fields[k] != v}
    spec = api["formats"]["card_basic"]
    assert not wrong, "; ".join(f"{k} is {show(spec, k, got)!r}, the card holds {show(spec, k, want)!r}"
                                for k, (got, want) in wrong.items())


@pytest.mark.clause("READER-FMT-001")
def test_eleven_fields_each_ended_by_the_separator(bench, api):
    code, out = _read(bench, "normal")
    spec = api["formats"]["card_basic"]
    assert code == 0, f"iReadCardBas of a valid 3rd-generation card returned {code}, expected 0"
    assert out.endswith(spec["separator"]), "the last data item of pOutInfo is not ended by '|'"
    count = len(out.split(spec["separator"])) - 1
    assert count == len(spec["fields"]), f"pOutInfo holds {count} '|'-ended items, the interface has 11"


def _check_reset_information(fields: dict[str, str], atr: str, expected: str) -> None:
    __tracebackhide__ = True
    assert fields["atr_historical"] == expected, (
        f"卡复位信息 is {fields['atr_historical']!r}; the card's ATR {atr} has historical bytes "
        f"{expected or 'none'} and only those belong there")


@pytest.mark.clause("READER-FMT-003")
def test_reset_information_is_the_historical_bytes(bench, api):
    fields = _fields(bench, api, "normal")
    atr = bench.atr("normal")
    _check_reset_information(fields, atr.hex().upper(), historical_bytes(atr).hex().upper())


@pytest.mark.clause("READER-FMT-003")
@pytest.mark.parametrize(("atr", "historical"), OTHER_ATRS.values(), ids=OTHER_ATRS.keys())
def test_reset_information_is_the_historical_bytes_of_any_atr_structure(bench, api, atr, historical):
    fields = _fields(bench, api, "normal", alter=_cards.with_atr(bytes.fromhex(atr)))
    _check_reset_information(fields, atr, historical)


@pytest.mark.clause("READER-PRIV-001")
def test_generation_3_without_hsm_leaves_personal_fields_empty(bench, api):
    fields = _fields(bench, api, "normal")
    rule = api["unauthenticated_read"]
    if fields["terminal_number"] != rule["no_psam_terminal_number"]:
        not_tested(f"the reader reads with a PSAM (terminal number {fields['terminal_number']}), which may hold "
                   f"RKSSSE and so may fill the personal fields", need="the reader set up without its PSAM")
    filled = [name for name in rule["generation_3"]["empty"] if fields[name]]
    assert not filled, (f"a 3rd-generation card read without HSM authentication and without a PSAM gave "
                        f"{', '.join(filled)}: those stay empty unless the read is authenticated")


@pytest.mark.clause("READER-ITYPE-001")
def test_every_itype_reads_the_dual_interface_card(bench, api):
    answers = {itype: _read(bench, "normal", int(itype)) for itype in api["itype"]["values"]}
    bad = {itype: code for itype, (code, _) in answers.items() if code != 0}
    assert not bad, f"iType {', '.join(bad)} ({', '.join(api['itype']['values'][i] for i in bad)}) returned {bad}"
    outs = {out for _, out in answers.values()}
    assert len(outs) == 1, "the same card read through different iType values gave different pOutInfo"


@pytest.mark.clause("READER-ITYPE-002")
@pytest.mark.parametrize("itype", [0, 5])
def test_an_unknown_itype_is_a_parameter_error(bench, api, itype):
    code, out = _read(bench, "normal", itype)
    expected = api["conditions"]["bad_itype"]["code"]
    assert code == expected, f"iReadCardBas(iType={itype}) returned {code}, expected {expected} (命令参数错)"
    assert out == "", "a call refused for its iType still wrote card data into pOutInfo"
