"""银联闪付 (qPBOC): the FCI and its PDOL, GET PROCESSING OPTIONS, the ATC, the AFL records, the
application cryptogram, card risk management and the locked application.

The host plays the terminal (PDOL data in the profile's order) and the issuer: it reproduces 9F26
from the issuer's test master key (IMK-AC), the PAN and PAN sequence number the card's records
give, and the field-55 tags (`simulator.card.apps.qpboc.verify_cryptogram`). A test that the card
approves offline spends 1 fen of its electronic cash (9F79); the others ask for an online
cryptogram and move no money. No command of the profile gives electronic cash back, so the offline
approval needs a card the harness may change for good (a destructive sample); the offline limit,
an expired or locked application need a card personalised so (the persona's sample), and a power
cut mid-GPO a simulated card (`tear_control`).

PYTEST_DONT_REWRITE: assertion messages here are written for the vendor and carry no card data;
pytest's rewriting would add the compared values to them, personal data included.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from conformance.suites.card._host import CardLayout, Host, expect, sw_text, tlv_find
from conformance.suites.card._lab import CardLab
from conformance.verdicts import not_tested
from simulator.apdu import SW
from simulator.card.apps import qpboc
from simulator.clock import AS_OF
from simulator.tlv import parse_tlv, tlv

requires = pytest.mark.requires
pytestmark = requires("qpboc")

TEMPLATE_77 = (0x82, 0x94, 0x9F36, 0x9F26, 0x9F27, 0x9F10, 0x57, 0x9F5D, 0x9F6C)
ONLINE_TTQ = bytes.fromhex("21800080")  # the online-ODA transit value: byte 2 bit 80, online cryptogram required
OFFLINE_TTQ = bytes.fromhex("28000000")  # an EC-first bus terminal


def _pdol(layout: CardLayout) -> list[tuple[int, int]]:
    """(tag, length) of each PDOL entry, in the profile's order."""
    return [(int(e["tag"], 16), e["length"]) for e in layout.qpboc_profile["pdol"]["entries"]]


def _cid(layout: CardLayout) -> dict[str, int]:
    """Decision (TC, ARQC, AAC) -> its cryptogram information data (9F27)."""
    return {name: int(value, 16) for name, value in layout.qpboc_profile["cid"].items() if name != "source"}


def _algorithm_of(layout: CardLayout, iad: bytes) -> str | None:
    """The algorithm the IAD (9F10) names by its algorithm id, at its offset in the profile's layout."""
    items = layout.qpboc_profile["issuer_application_data"]["layout"]
    at = [i["name"] for i in items].index("algorithm_id")
    offset = sum(i.get("length") or len(bytes.fromhex(i.get("value") or next(iter(i["by_algorithm"].values()))))
                 for i in items[:at])
    by_id = {bytes.fromhex(v): alg for alg, v in items[at]["by_algorithm"].items()}
    return by_id.get(iad[offset : offset + 1])


def terminal_data(
    layout: CardLayout,
    *,
    ttq: bytes = ONLINE_TTQ,
    amount: int = 1,
    day: date = AS_OF,
    currency: bytes | None = None,
    un: bytes = bytes.fromhex("AE9BF3C8"),
) -> dict[int, bytes]:
    """The PDOL's tags as the terminal fills them (`currency`: the application's by default)."""
    application_currency = bytes.fromhex(layout.qpboc_profile["application_currency"]["value"])
    values = {
        0x9F66: ttq,
        0x9F02: qpboc.amount_n12(amount),
        0x9F03: bytes(6),
        0x9F1A: application_currency,
        0x95: bytes(5),
        0x5F2A: application_currency if currency is None else currency,
        0x9A: qpboc.yymmdd(day),
        0x9C: b"\x00",
        0x9F37: un,
    }
    return {tag: values[tag] for tag, _ in _pdol(layout)}


def pdol_data(layout: CardLayout, terminal: dict[int, bytes]) -> bytes:
    return b"".join(terminal[tag] for tag, _ in _pdol(layout))


def _select(host: Host) -> bytes:
    __tracebackhide__ = True
    return expect(host.select(host.layout.qpboc_aid), SW.OK, "SELECT of the qPBOC AID").data


def _gpo(host: Host, data: bytes):
    __tracebackhide__ = True
    return host.send(0x80, 0xA8, 0x00, 0x00, tlv(0x83, data), le=0)


def _pay(host: Host, terminal: dict[int, bytes], what: str = "GET PROCESSING OPTIONS") -> dict[int, bytes]:
    """SELECT, then GPO answering 9000: the tags of its template 77 (each one present)."""
    __tracebackhide__ = True
    _select(host)
    answer = expect(_gpo(host, pdol_data(host.layout, terminal)), SW.OK, what).data
    try:
        items = parse_tlv(answer)
        assert len(items) == 1 and items[0][0] == 0x77, "GET PROCESSING OPTIONS did not answer one template 77"
        tags = dict(parse_tlv(items[0][1]))
    except ValueError as exc:
        raise AssertionError(f"the answer to GET PROCESSING OPTIONS is not BER-TLV: {exc}") from exc
    missing = [f"{t:X}" for t in TEMPLATE_77 if t not in tags]
    assert not missing, f"template 77 of GPO lacks {', '.join(missing)}"
    cid = _cid(host.layout)
    assert len(tags[0x9F27]) == 1 and tags[0x9F27][0] in cid.values(), (
        f"9F27 (CID) is {tags[0x9F27].hex().upper()}; the profile knows {sorted(cid.items())}"
    )
    assert len(tags[0x9F36]) == 2, f"9F36 (ATC) has {len(tags[0x9F36])} bytes, not 2"
    return tags


def _decision(layout: CardLayout, tags: dict[int, bytes]) -> str:
    return {v: k for k, v in _cid(layout).items()}[tags[0x9F27][0]]


def _get_data(host: Host, tag: int) -> bytes:
    __tracebackhide__ = True
    answer = expect(host.send(0x80, 0xCA, tag >> 8, tag & 0xFF, le=0), SW.OK, f"GET DATA {tag:04X}").data
    value = tlv_find(answer, tag)
    assert value is not None, f"GET DATA {tag:04X} did not answer the data object {tag:04X}"
    return value


def _atc(host: Host) -> int:
    __tracebackhide__ = True
    value = _get_data(host, 0x9F36)
    assert len(value) == 2, f"GET DATA 9F36 answered an ATC of {len(value)} bytes, not 2"
    return int.from_bytes(value, "big")


def _amount(value: bytes, what: str) -> int:
    __tracebackhide__ = True
    amount = qpboc.amount_of(value)
    assert len(value) == 6 and amount is not None, f"{what} is not an n12 amount (6 bytes of BCD digits)"
    return amount


def _ec_balance(host: Host) -> int:
    __tracebackhide__ = True
    return _amount(_get_data(host, 0x9F79), "the EC balance (9F79)")


def _records(host: Host, afl: bytes) -> dict[int, bytes]:
    """READ RECORD of every record the AFL names: the tags of their templates 70."""
    __tracebackhide__ = True
    assert afl and len(afl) % 4 == 0, f"the AFL (94) has {len(afl)} bytes, not a multiple of 4"
    tags: dict[int, bytes] = {}
    for i in range(0, len(afl), 4):
        sfi, first, last = afl[i] >> 3, afl[i + 1], afl[i + 2]
        assert 1 <= first <= last, f"AFL entry {i // 4 + 1} names records {first}..{last}"
        for number in range(first, last + 1):
            record = expect(
                host.read_record(sfi, number), SW.OK, f"READ RECORD SFI {sfi} record {number} (named by the AFL)"
            ).data
            try:
                items = parse_tlv(record)
                assert len(items) == 1 and items[0][0] == 0x70, f"record {number} of SFI {sfi} is not one template 70"
                tags |= dict(parse_tlv(items[0][1]))
            except ValueError as exc:
                raise AssertionError(f"record {number} of SFI {sfi} is not BER-TLV: {exc}") from exc
    return tags


def _pan_and_sequence(host: Host, afl: bytes) -> tuple[str, int, dict[int, bytes]]:
    __tracebackhide__ = True
    tags = _records(host, afl)
    for tag in (0x5A, 0x5F34):
        assert tag in tags, f"the AFL records carry no {tag:X}"
    pan = tags[0x5A].hex().upper().rstrip("F")
    psn = tags[0x5F34].hex()
    assert pan.isdigit() and psn.isdigit(), "5A (PAN) or 5F34 (PAN sequence number) is not BCD digits"
    return pan, int(psn), tags


# -- selection ------------------------------------------------------------------------------
@pytest.mark.clause("QP-SEL-002")
def test_select_answers_the_fci_with_the_pdol_and_the_online_oda_flag(host):
    fci = _select(host)
    assert tlv_find(fci, 0x6F, 0x84) == host.layout.qpboc_aid, (
        "the FCI (6F) does not carry the qPBOC AID as DF name (84)")
    label = tlv_find(fci, 0x6F, 0xA5, 0x50)
    assert label is not None and label.isascii() and label, "the FCI's A5 has no application label (50)"
    priority = tlv_find(fci, 0x6F, 0xA5, 0x87)
    assert priority is not None and len(priority) == 1, "the FCI's A5 has no 1-byte application priority (87)"
    pdol = tlv_find(fci, 0x6F, 0xA5, 0x9F38)
    wanted = qpboc.pdol_bytes(host.layout.qpboc_profile)
    assert pdol == wanted, (
        f"9F38 (PDOL) is {pdol.hex().upper() if pdol is not None else 'absent'}; the profile "
        f"requires {wanted.hex().upper()} (9F66 4, 9F02 6, 9F03 6, 9F1A 2, 95 5, 5F2A 2, 9A 3, "
        f"9C 1, 9F37 4 in this order)"
    )
    flag_tag = int(host.layout.qpboc_profile["online_oda"]["tag"], 16)
    flag = tlv_find(fci, 0x6F, 0xA5, 0xBF0C, flag_tag)
    assert flag is not None and len(flag) >= 1, f"the FCI's A5 has no BF0C with the online-ODA flag {flag_tag:X}"


# -- GET PROCESSING OPTIONS -----------------------------------------------------------------
@pytest.mark.clause("QP-GPO-001")
def test_gpo_answers_template_77_and_refuses_wrong_lengths_and_a_second_gpo(host):
    _select(host)
    data = pdol_data(host.layout, terminal_data(host.layout))
    for wrong in (data[:-1], data + b"\x00"):
        expect(
            _gpo(host, wrong),
            SW.WRONG_LENGTH,
            f"GET PROCESSING OPTIONS with {len(wrong)} bytes of PDOL data (the PDOL asks {len(data)})",
        )
    tags = _pay(host, terminal_data(host.layout))
    assert tags[0x82] == bytes.fromhex(host.layout.qpboc_profile["aip"]["value"]), (
        f"82 (AIP) is {tags[0x82].hex().upper()}; the profile requires {host.layout.qpboc_profile['aip']['value']}"
    )
    expect(_gpo(host, data), SW.CONDITIONS_NOT_SATISFIED, "a second GET PROCESSING OPTIONS in the same transaction")


@pytest.mark.clause("QP-GPO-002")
def test_every_gpo_increments_the_atc_also_across_power_cycles(host):
    _select(host)
    seen = [_atc(host)]
    for cycle in range(3):
        tags = _pay(host, terminal_data(host.layout))
        atc = int.from_bytes(tags[0x9F36], "big")
        assert atc == seen[-1] + 1, (
            f"GPO {cycle + 1} answered ATC {atc} after ATC {seen[-1]}; every GPO must increment it by one"
        )
        shown = _atc(host)
        assert shown == atc, f"GET DATA 9F36 shows ATC {shown} after a GPO that answered ATC {atc}"
        seen.append(atc)
        host.reconnect()
        _select(host)
        assert _atc(host) == atc, f"after a power cycle GET DATA 9F36 shows {_atc(host)}, not the last ATC {atc}"


def _which(now, old, new) -> str:
    return "old" if now == old else "new" if now == new else "neither old nor new"


@pytest.mark.clause("QP-GPO-003")
@requires("persona_choice", "tear_control")
@pytest.mark.parametrize("decision", ["TC", "ARQC"])
def test_a_torn_gpo_leaves_atc_and_ec_balance_both_old_or_both_new(card: CardLab, decision):
    ttq = OFFLINE_TTQ if decision == "TC" else ONLINE_TTQ
    data = pdol_data(card.layout, terminal_data(card.layout, ttq=ttq, amount=100))

    def prepare() -> Host:
        host = card.open("bank")
        _select(host)
        return host

    def read_back(host: Host) -> tuple[int, int]:
        __tracebackhide__ = True
        _select(host)
        return _atc(host), _ec_balance(host)

    old = read_back(prepare())
    torn, new = card.sweep_tears(prepare, lambda host: expect(_gpo(host, data), SW.OK,
                                                              f"GET PROCESSING OPTIONS for a {decision}"), read_back)
    problems = [f"tear {i + 1}/{len(torn)}: ATC {_which(now[0], old[0], new[0])}, "
                f"EC balance {_which(now[1], old[1], new[1])}" for i, now in enumerate(torn) if now not in (old, new)]
    assert not problems, f"of {len(torn)} tear points of GPO ({decision}): " + "; ".join(problems)


# -- records and the cryptogram -------------------------------------------------------------
@pytest.mark.clause("QP-AFL-001")
def test_the_afl_records_give_track2_pan_expiry_sequence_and_usage_control(host):
    tags = _pay(host, terminal_data(host.layout))
    pan, _, records = _pan_and_sequence(host, tags[0x94])
    missing = [f"{t:X}" for t in (0x57, 0x5A, 0x5F24, 0x5F34, 0x9F07) if t not in records]
    assert not missing, f"the records the AFL names lack {', '.join(missing)}"
    assert qpboc.luhn_valid(pan), "5A (PAN) fails the Luhn check"
    track2_pan = records[0x57].hex().upper().split("D")[0]
    assert track2_pan == pan, "the PAN in 57 (Track 2) differs from 5A (PAN)"
    assert qpboc.date_of(records[0x5F24]) is not None, "5F24 (expiry date) is not a YYMMDD date"


@pytest.mark.clause("QP-AC-001")
def test_the_issuer_reproduces_the_cryptogram_and_any_changed_byte_breaks_it(host):
    terminal = terminal_data(host.layout, amount=123, un=bytes.fromhex("01020304"))
    answer = _pay(host, terminal)
    pan, psn, _ = _pan_and_sequence(host, answer[0x94])
    iad = answer[0x9F10]
    algorithm = _algorithm_of(host.layout, iad)
    assert algorithm is not None, "9F10 (IAD) names no algorithm the profile knows"
    master = host.issuer.master(f"qpboc.ac.{algorithm}")

    def verifies(tags: dict[int, bytes], *, the_pan: str = pan, the_psn: int = psn) -> bool:
        __tracebackhide__ = True
        try:
            return qpboc.verify_cryptogram(
                answer[0x9F26],
                algorithm=algorithm,
                master_key=master,
                pan=the_pan,
                pan_sequence=the_psn,
                tags=tags,
                qpboc_profile=host.layout.qpboc_profile,
            )
        except ValueError as exc:
            raise AssertionError(f"the card's tags cannot make the cryptogram input: {exc}") from exc

    field55 = terminal | {t: answer[t] for t in (0x82, 0x9F36, 0x9F10)}
    assert verifies(field55), (
        f"the issuer's master key ({algorithm}) does not reproduce 9F26 over the PAN, PAN "
        f"sequence number and the tags 9F02 9F03 9F1A 95 5F2A 9A 9C 9F37 82 9F36 9F10"
    )
    survived = []
    for tag in (0x9F02, 0x9F03, 0x9F1A, 0x95, 0x5F2A, 0x9A, 0x9C, 0x9F37, 0x82, 0x9F36):
        for i in range(len(field55[tag])):
            value = field55[tag]
            changed = value[:i] + bytes((value[i] ^ 0x01,)) + value[i + 1 :]
            if verifies(field55 | {tag: changed}):
                survived.append(f"{tag:X} byte {i + 1}")
    if verifies(field55, the_psn=(psn + 1) % 100):
        survived.append("5F34")
    assert not survived, "9F26 still verifies after a change of " + ", ".join(survived)


# -- card risk management -------------------------------------------------------------------
def _no_debit(host: Host, tags: dict[int, bytes], before: int, what: str) -> None:
    __tracebackhide__ = True
    after = _ec_balance(host)
    assert after == before, f"{what} moved the EC balance (9F79) by {after - before} fen"
    assert _amount(tags[0x9F5D], "9F5D") == before, f"{what}: 9F5D (available offline amount) is not the EC balance"


@pytest.mark.clause("QP-RISK-001")
def test_a_ttq_asking_for_an_online_cryptogram_gets_an_arqc_and_no_debit(host):
    _select(host)
    before = _ec_balance(host)
    tags = _pay(host, terminal_data(host.layout, ttq=ONLINE_TTQ, amount=1))
    assert _decision(host.layout, tags) == "ARQC", (
        f"TTQ 21800080 (online cryptogram required) got a {_decision(host.layout, tags)} "
        f"(CID {tags[0x9F27].hex().upper()}); the profile requires an ARQC (80)"
    )
    _no_debit(host, tags, before, "an online (ARQC) GPO")


@pytest.mark.clause("QP-RISK-002")
def test_an_amount_above_the_ec_balance_gets_an_arqc_and_no_debit(host):
    _select(host)
    before = _ec_balance(host)
    tags = _pay(host, terminal_data(host.layout, ttq=OFFLINE_TTQ, amount=before + 1))
    assert _decision(host.layout, tags) == "ARQC", (
        f"an amount 1 fen above the EC balance got a {_decision(host.layout, tags)}; the profile requires an ARQC (80)"
    )
    _no_debit(host, tags, before, "a GPO above the EC balance")


@pytest.mark.clause("QP-RISK-002")
def test_an_amount_above_the_offline_limit_gets_an_arqc_and_no_debit(card):
    limit = card.facts("bank").sections["qpboc"]["offline_limit"]
    host = card.open("bank")
    _select(host)
    before = _ec_balance(host)
    assert before > limit, "the bank persona's EC balance should exceed its offline limit"
    tags = _pay(host, terminal_data(host.layout, ttq=OFFLINE_TTQ, amount=limit + 1))
    assert _decision(host.layout, tags) == "ARQC", (
        f"an amount 1 fen above the offline limit got a {_decision(host.layout, tags)}; the profile requires an "
        f"ARQC (80)"
    )
    _no_debit(host, tags, before, "a GPO above the offline limit")


@pytest.mark.clause("QP-RISK-003")
def test_an_amount_within_limit_and_balance_gets_a_tc_and_debits_exactly_it(card):
    host = card.open_to_destroy()  # electronic cash spent offline: no command of the profile gives it back
    _select(host)
    before = _ec_balance(host)
    if before < 1:
        not_tested("the card holds no electronic cash (9F79 is 0)", need="the sample loaded with electronic cash")
    tags = _pay(host, terminal_data(host.layout, ttq=OFFLINE_TTQ, amount=1))
    assert _decision(host.layout, tags) == "TC", (
        f"1 fen in CNY, within the offline limit and the EC balance, got a "
        f"{_decision(host.layout, tags)}; the profile requires a TC (40)"
    )
    after = _ec_balance(host)
    assert after == before - 1, f"a TC of 1 fen moved the EC balance (9F79) by {after - before} fen"
    assert _amount(tags[0x9F5D], "9F5D") == after, "9F5D (available offline amount) is not the new EC balance"


@pytest.mark.clause("QP-RISK-004")
def test_a_date_after_the_application_expiry_gets_an_aac_and_no_debit(host):
    tags = _pay(host, terminal_data(host.layout))
    records = _records(host, tags[0x94])
    expiry = qpboc.date_of(records.get(0x5F24, b""))
    assert expiry is not None, "the AFL records carry no 5F24 (expiry date) as YYMMDD"
    before = _ec_balance(host)
    host.reconnect()
    tags = _pay(host, terminal_data(host.layout, ttq=OFFLINE_TTQ, amount=1, day=expiry + timedelta(days=1)))
    assert _decision(host.layout, tags) == "AAC", (
        f"a transaction the day after the application expiry (5F24) got a "
        f"{_decision(host.layout, tags)}; the profile requires an AAC (00)"
    )
    _select(host)
    _no_debit(host, tags, before, "a GPO after the application expiry")


@pytest.mark.clause("QP-RISK-004")
def test_an_expired_application_declines_offline(card):
    host = card.open("bank_expired_app")
    _select(host)
    before = _ec_balance(host)
    tags = _pay(host, terminal_data(host.layout, ttq=OFFLINE_TTQ, amount=1))
    assert _decision(host.layout, tags) == "AAC", (
        f"the expired application got a {_decision(host.layout, tags)}; the profile requires an AAC (00)"
    )
    _select(host)
    _no_debit(host, tags, before, "a GPO of the expired application")


# -- the locked application -----------------------------------------------------------------
@pytest.mark.clause("QP-LOCK-001")
def test_a_locked_application_answers_its_fci_with_6283_and_refuses_gpo_and_get_data(card):
    host = card.open("bank_locked")
    locked = int(host.layout.qpboc_profile["application"]["locked_select_sw"], 16)
    for attempt in (1, 2):
        answer = host.select(host.layout.qpboc_aid)
        expect(answer, locked, f"SELECT of the locked qPBOC application (attempt {attempt})")
        assert tlv_find(answer.data, 0x6F, 0x84) == host.layout.qpboc_aid, (
            "SELECT of the locked application returned no FCI with its AID"
        )
        expect(
            _gpo(host, pdol_data(host.layout, terminal_data(host.layout, ttq=OFFLINE_TTQ))),
            SW.CONDITIONS_NOT_SATISFIED,
            "GET PROCESSING OPTIONS in the locked application",
        )
        for tag in (0x9F36, 0x9F79):
            answer = host.send(0x80, 0xCA, tag >> 8, tag & 0xFF, le=0)
            assert answer.sw == SW.CONDITIONS_NOT_SATISFIED, (
                f"GET DATA {tag:04X} in the locked application answered {sw_text(answer.sw)}; the profile requires "
                f"{sw_text(SW.CONDITIONS_NOT_SATISFIED)}"
            )
        host.reconnect()
