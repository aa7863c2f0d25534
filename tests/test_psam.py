"""The T-Union PSAM (simulator/devices/psam.py) and the issuer's load host (backend/load_host.py).

What a terminal relies on: the ATR and the two files it reads at start-up, MAC1 that the card
accepts (checked against the published vectors of transit-payment.md §1.4 and independently with
crypto.purse), MAC2 verification, a terminal transaction serial that moves exactly once per 8070
whatever the power does, and TAC re-computation. Keys are derived from the purse profile's
synthetic masters with the same two-level diversification the card is personalised with
(`epurse.card_key`, shared). The end-to-end tests put a purse persona's card and the PSAM side by
side in process: purchase, a wrong MAC1, the terminal's APDU client, a torn DEBIT proven after the
re-tap, and a load authorised by `LoadHost`.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest

from simulator.backend.issuer import purse_master
from simulator.backend.load_host import LoadHost
from simulator.backend.ports import LoadRequest
from simulator.card import personas
from simulator.card.apps import epurse
from simulator.card.cardos import CardOS
from simulator.crypto import (
    diversify,
    load_mac1,
    load_mac2,
    load_session_key,
    purchase_mac1,
    purchase_mac2,
    purchase_session_key,
    tac,
)
from simulator.devices import psam
from simulator.devices.purse_client import Psam, PurseCard
from simulator.faults import FaultPlan
from simulator.profile import ProfileError, load
from simulator.transport import CardRemovedError, InProcessTransport, PcscTransport

PROFILE = load("national/psam", "psam")
PURSE = load("national/epurse", "epurse")
PSAM_AID = bytes.fromhex("A000000632") + b"MOT.CPSAM01"
TERMINAL = bytes.fromhex("001122334455")
SERIAL8 = bytes.fromhex("1051700101709079")  # rightmost 8 bytes of a synthetic app serial
ISSUER8 = bytes.fromhex("01011000FFFFFFFF")
ALG_ID = {"3des": 0x00, "sm4": 0x04}


def _connected(*, algorithm="3des", serial_start=1, faults=None, terminal=TERMINAL):
    card = CardOS(psam.psam_image(terminal_id=terminal, algorithm=algorithm, serial_start=serial_start),
                  faults=faults)
    transport = InProcessTransport(card)
    transport.connect()
    return card, transport


def _select(t):
    answer = t.send(0x00, 0xA4, 0x04, 0x00, PSAM_AID, le=0)
    assert answer.sw == 0x9000, answer
    return answer


def _mac1_data(*, random4=b"\x11\x22\x33\x44", atc2=b"\x00\x00", amount=0x1000, txn_type=0x06,
               date4=b"\x20\x12\x02\x29", time3=b"\x13\x51\x00", key_version=1, alg_id=0x00,
               serial8=SERIAL8, issuer8=ISSUER8):
    """8070 data; the defaults are the published purchase example (transit-payment.md §1.4)."""
    return (random4 + atc2 + amount.to_bytes(4, "big") + bytes((txn_type,)) + date4 + time3
            + bytes((key_version, alg_id)) + serial8 + issuer8)


def _card_key(usage, algorithm="3des", serial8=SERIAL8, issuer8=ISSUER8):
    """The card's key computed here from the profile, without the code under test."""
    master = bytes.fromhex(PURSE["test_keys"][purse_master(usage).name])
    return diversify(algorithm, diversify(algorithm, master, issuer8), serial8)


# -- start-up: ATR, 0x16, SELECT, 0x17 -------------------------------------------------------
def test_atr_through_the_in_process_transport_is_t0_at_the_default_rate():
    card, t = _connected()
    assert t.atr == card.image.atr == psam.atr(TERMINAL)
    assert t.atr[0] == 0x3B  # direct convention
    t0 = t.atr[1]
    assert not t0 & 0x10, "no TA1: Fi/Di default, 9600 baud at 3.57 MHz"
    assert not t0 & 0x80, "no TD1: T=0 only"
    assert len(t.atr) - 4 == t0 & 0x0F
    assert t.atr.endswith(TERMINAL[-4:])
    assert PROFILE["atr"]["protocol"] == "T=0" and PROFILE["atr"]["baud"] == 9600


def test_terminal_number_before_select_and_public_info_after():
    _, t = _connected()
    answer = t.send(0x00, 0xB0, 0x96, 0x00, le=6)
    assert (answer.data, answer.sw) == (TERMINAL, 0x9000)
    assert t.send(0x00, 0xB0, 0x97, 0x00, le=0x19).sw == 0x6A82  # 0x17 lives in the application
    assert PSAM_AID in _select(t).data
    info = t.send(0x00, 0xB0, 0x97, 0x00, le=0x19)
    assert info.sw == 0x9000 and len(info.data) == 25
    fields = psam.decode_public_info(info.data)
    assert fields["key_index"][0] == PURSE["keys"][purse_master("purchase").name]["index"] == 1
    assert t.send(0x00, 0xD6, 0x97, 0x00, b"\x02").sw == 0x6985  # the terminal cannot rewrite it


@pytest.mark.parametrize("vector", PROFILE["public_info"]["vectors"], ids=lambda v: v["raw"][:8])
def test_public_info_vectors_round_trip(vector):
    raw = bytes.fromhex(vector["raw"])
    fields = psam.decode_public_info(raw)
    assert {k: v.hex().upper() for k, v in fields.items()} == {
        k: v for k, v in vector.items() if k not in ("raw", "source")}
    assert psam.encode_public_info(fields) == raw


def test_psam_commands_need_the_psam_application():
    _, t = _connected()
    assert t.send(0x80, 0x70, 0x00, 0x00, _mac1_data(), le=8).sw != 0x9000
    assert t.send(0x80, 0xCA, 0x00, 0x00, le=4).sw != 0x9000


def test_default_terminal_number_from_the_profile():
    assert psam.default_terminal_id() == bytes.fromhex(PROFILE["terminal"]["default"])
    assert len(psam.default_terminal_id()) == 6


def test_image_arguments_are_checked_at_the_door():
    with pytest.raises(ValueError, match="terminal_id"):
        psam.psam_image(terminal_id=b"\x01\x02")
    with pytest.raises(ValueError, match="algorithm"):
        psam.psam_image(terminal_id=TERMINAL, algorithm="des")
    with pytest.raises(ValueError, match="serial_start"):
        psam.psam_image(terminal_id=TERMINAL, serial_start=0)


# -- key derivation --------------------------------------------------------------------------
@pytest.mark.parametrize("algorithm", ["3des", "sm4"])
def test_card_keys_are_two_level_diversified_issuer_first(algorithm):
    """The one derivation the purse, the PSAM and the load host share (epurse.card_key)."""
    master = bytes.fromhex(PURSE["test_keys"]["DPK"])
    level1 = diversify(algorithm, master, ISSUER8)
    derived = epurse.card_key(PURSE, "DPK", ISSUER8, SERIAL8, algorithm)
    assert derived == diversify(algorithm, level1, SERIAL8) == _card_key("purchase", algorithm)
    assert epurse.card_key(PURSE, "DPK", ISSUER8, b"\x03\x10" + SERIAL8, algorithm) == derived  # rightmost 8
    assert epurse.card_key(PURSE, "DPK", SERIAL8, ISSUER8, algorithm) != derived
    assert psam.psam_keys().card_key("purchase", ISSUER8, SERIAL8, algorithm) == derived


def test_purse_masters_come_from_the_purse_profile():
    for usage, name in {"purchase": "DPK", "load": "DLK", "tac": "DTK", "maintenance": "DAMK"}.items():
        assert purse_master(usage).name == name
    assert (purse_master("purchase").index, purse_master("purchase").version) == (1, 1)
    assert purse_master("tac").version is None
    with pytest.raises(ProfileError, match="usage 'reload'"):
        purse_master("reload")


# -- 8070 / 8072 ------------------------------------------------------------------------------
def test_mac1_and_mac2_reproduce_the_published_purchase_vector(monkeypatch):
    """transit-payment.md §1.4 [V]: DPK 1122…2211, random 11223344, ATC 0000, serial 00000001 ->
    session 003238ABC57659DD, MAC1 F15CAB75, MAC2 56988A13. The derived card key is replaced by
    the vector's key; the derivation is tested on its own above."""
    vector_key = bytes.fromhex("11223344556677888877665544332211")
    monkeypatch.setattr(epurse, "card_key", lambda *args: vector_key)
    _, t = _connected(serial_start=1)
    _select(t)
    answer = t.send(0x80, 0x70, 0x00, 0x00, _mac1_data(), le=8)
    assert (answer.data.hex().upper(), answer.sw) == ("00000001F15CAB75", 0x9000)
    assert t.send(0x80, 0x72, 0x00, 0x00, bytes.fromhex("56988A13")).sw == 0x9000


@pytest.mark.parametrize("algorithm", ["3des", "sm4"])
def test_mac1_verifies_independently_with_crypto_purse(algorithm):
    _, t = _connected(algorithm=algorithm, serial_start=0x01020304)
    _select(t)
    random4, atc2 = bytes.fromhex("A1B2C3D4"), bytes.fromhex("0042")
    date4, time3 = bytes.fromhex("20261123"), bytes.fromhex("081500")
    data = _mac1_data(random4=random4, atc2=atc2, amount=200, txn_type=0x09, date4=date4, time3=time3,
                      alg_id=ALG_ID[algorithm])
    answer = t.send(0x80, 0x70, 0x00, 0x00, data, le=8)
    assert answer.sw == 0x9000
    serial4, mac = answer.data[:4], answer.data[4:]
    assert serial4 == bytes.fromhex("01020304")
    session = purchase_session_key(_card_key("purchase", algorithm), random4, atc2, serial4, algorithm=algorithm)
    assert mac == purchase_mac1(session, 200, 0x09, TERMINAL, date4, time3, algorithm=algorithm)
    assert t.send(0x80, 0x72, 0x00, 0x00, purchase_mac2(session, 200, algorithm=algorithm)).sw == 0x9000


def test_mac2_right_wrong_and_out_of_order():
    _, t = _connected()
    _select(t)
    assert t.send(0x80, 0x72, 0x00, 0x00, b"\x00" * 4).sw == 0x6985  # no 8070 yet
    serial4 = t.send(0x80, 0x70, 0x00, 0x00, _mac1_data(), le=8).data[:4]
    session = purchase_session_key(_card_key("purchase"), bytes.fromhex("11223344"), b"\x00\x00", serial4)
    right = purchase_mac2(session, 0x1000)
    wrong = bytes((right[0] ^ 1,)) + right[1:]
    assert t.send(0x80, 0x72, 0x00, 0x00, wrong).sw == 0x9302
    assert t.send(0x80, 0x72, 0x00, 0x00, right).sw == 0x6985  # the session is spent
    t.send(0x80, 0x70, 0x00, 0x00, _mac1_data(), le=8)  # serial + 1: a new session
    serial4 = (int.from_bytes(serial4, "big") + 1).to_bytes(4, "big")
    session = purchase_session_key(_card_key("purchase"), bytes.fromhex("11223344"), b"\x00\x00", serial4)
    assert t.send(0x80, 0x72, 0x00, 0x00, purchase_mac2(session, 0x1000)).sw == 0x9000
    assert t.send(0x80, 0x72, 0x00, 0x00, purchase_mac2(session, 0x1000)).sw == 0x6985


@pytest.mark.parametrize(("changes", "sw"), [
    ({"alg_id": 0x04}, 0x6A88),        # an SM4 card at a 3DES PSAM
    ({"alg_id": 0x01}, 0x6A88),        # single DES: no such purse algorithm here
    ({"key_version": 0x02}, 0x6A88),   # a key version the PSAM does not hold
])
def test_mac1_refusals_do_not_spend_a_serial(changes, sw):
    _, t = _connected()
    _select(t)
    assert t.send(0x80, 0x70, 0x00, 0x00, _mac1_data(**changes), le=8).sw == sw
    assert t.send(0x80, 0x70, 0x00, 0x00, _mac1_data()[:-1], le=8).sw == 0x6700
    assert t.send(0x80, 0x70, 0x01, 0x00, _mac1_data(), le=8).sw == 0x6A86
    assert t.send(0x80, 0xCA, 0x00, 0x00, le=4).data == bytes(4)
    assert t.send(0x80, 0x70, 0x00, 0x00, _mac1_data(), le=8).data[:4] == bytes.fromhex("00000001")


def test_terminal_serial_moves_once_per_mac1_and_survives_power_cycles():
    card, t = _connected(serial_start=7)
    served = []
    for _ in range(3):
        _select(t)
        served.append(int.from_bytes(t.send(0x80, 0x70, 0x00, 0x00, _mac1_data(), le=8).data[:4], "big"))
        assert int.from_bytes(t.send(0x80, 0xCA, 0x00, 0x00, le=4).data, "big") == served[-1]
        t.connect()  # cold reset: power down and up
    assert served == [7, 8, 9]
    _select(t)
    assert t.send(0x80, 0x72, 0x00, 0x00, b"\x00" * 4).sw == 0x6985  # sessions are volatile
    assert card.faults.hits["nvm.commit"] == 3  # one NVM write per 8070, nothing else writes


def test_exhausted_serial_is_refused():
    _, t = _connected(serial_start=0xFFFFFFFF)
    _select(t)
    assert t.send(0x80, 0x70, 0x00, 0x00, _mac1_data(), le=8).data[:4] == b"\xff" * 4
    assert t.send(0x80, 0x70, 0x00, 0x00, _mac1_data(), le=8).sw == 0x6985


# -- tearing ----------------------------------------------------------------------------------
def _tear_cases() -> int:
    card, t = _connected(serial_start=100)
    _select(t)
    before = card.faults.total
    assert t.send(0x80, 0x70, 0x00, 0x00, _mac1_data(), le=8).sw == 0x9000
    return card.faults.total - before


@pytest.mark.clause("CARD-NVM-001")
def test_power_lost_at_every_fault_point_of_mac1_leaves_the_serial_all_old_or_all_new():
    cases = _tear_cases()
    assert cases >= 5  # journal, commit, apply, clear, done
    outcomes = set()
    for at in range(cases):
        plan = FaultPlan()
        card, t = _connected(serial_start=100, faults=plan)
        _select(t)
        plan.arm(at=plan.total + at)
        with pytest.raises(CardRemovedError):
            t.send(0x80, 0x70, 0x00, 0x00, _mac1_data(), le=8)
        t.connect()  # power up: the NVM recovers
        stored = card.nvm[psam.serial_key("3F00/1001")]
        assert stored in (bytes.fromhex("00000063"), bytes.fromhex("00000064")), (at, plan.trail[-1], stored)
        outcomes.add(stored)
        _select(t)
        assert t.send(0x80, 0x72, 0x00, 0x00, b"\x00" * 4).sw == 0x6985  # no half session survives
        following = t.send(0x80, 0x70, 0x00, 0x00, _mac1_data(), le=8).data[:4]
        assert int.from_bytes(following, "big") == int.from_bytes(stored, "big") + 1  # never reused
    assert outcomes == {bytes.fromhex("00000063"), bytes.fromhex("00000064")}


# -- TAC --------------------------------------------------------------------------------------
@pytest.mark.parametrize("algorithm", ["3des", "sm4"])
def test_tac_by_801a_80fa_equals_crypto_purse_tac(algorithm):
    _, t = _connected(algorithm=algorithm)
    _select(t)
    serial4, date4, time3 = bytes.fromhex("00000001"), bytes.fromhex("20111221"), bytes.fromhex("214822")
    tac_input = (0x1000).to_bytes(4, "big") + b"\x06" + TERMINAL + serial4 + date4 + time3
    assert t.send(0x80, 0xFA, 0x05, 0x00, tac_input, le=4).sw == 0x6985  # no key loaded
    assert t.send(0x80, 0x1A, 0x45, 0x01, SERIAL8 + ISSUER8).sw == 0x6A88  # usage not held
    assert t.send(0x80, 0x1A, 0x44, 0x01, SERIAL8 + ISSUER8).sw == 0x9000
    answer = t.send(0x80, 0xFA, 0x05, 0x00, tac_input, le=4)
    assert answer.sw == 0x9000
    expected = tac(_card_key("tac", algorithm), 0x1000, 0x06, TERMINAL, serial4, date4, time3, algorithm=algorithm)
    assert answer.data == expected
    assert t.send(0x80, 0xFA, 0x00, 0x00, tac_input, le=4).sw == 0x6A86  # only the MAC (05)
    assert t.send(0x80, 0xFA, 0x05, 0x00, tac_input[:-1], le=4).sw == 0x6700


def test_tac_key_of_the_published_vector(monkeypatch):
    """transit-payment.md §1.4: TAC key 0011…EEFF folds to 8888888888888888; the TAC of the
    purchase example (E5385579) is the note author's own computation, not an external value."""
    monkeypatch.setattr(epurse, "card_key", lambda *args: bytes.fromhex("00112233445566778899AABBCCDDEEFF"))
    _, t = _connected()
    _select(t)
    t.send(0x80, 0x1A, 0x44, 0x01, SERIAL8 + ISSUER8)
    tac_input = bytes.fromhex("00001000" "06" "001122334455" "00000001" "20111221" "214822")
    answer = t.send(0x80, 0xFA, 0x05, 0x00, tac_input, le=4)
    assert answer.data == tac(bytes.fromhex("00112233445566778899AABBCCDDEEFF"), 0x1000, 6, TERMINAL,
                              bytes.fromhex("00000001"), bytes.fromhex("20111221"), bytes.fromhex("214822"))


# -- the load host ----------------------------------------------------------------------------
def _load_request(**changes):
    request = dict(card_serial10=b"\x03\x10" + SERIAL8, issuer_id8=ISSUER8, old_balance=500, amount=2000,
                   terminal_id6=TERMINAL, card_random4=bytes.fromhex("0A0B0C0D"), online_atc2=bytes.fromhex("0003"),
                   date4=bytes.fromhex("20261123"), time3=bytes.fromhex("091011"))
    request.update(changes)
    return request


def _authorise(host, **fields):
    """The host's answer through its port (`ports.LoadHostPort`)."""
    return host.authorise(LoadRequest(request_id="test", **fields))


@pytest.mark.parametrize("algorithm", ["3des", "sm4"])
def test_load_host_answers_mac2_for_a_right_mac1(algorithm):
    r = _load_request()
    session = load_session_key(_card_key("load", algorithm), r["card_random4"], r["online_atc2"], algorithm=algorithm)
    mac1 = load_mac1(session, 500, 2000, 0x02, TERMINAL, algorithm=algorithm)
    answer = _authorise(LoadHost(), **r, mac1=mac1, algorithm=algorithm)
    assert answer.approved
    assert answer.mac2 == load_mac2(session, 2000, 0x02, TERMINAL, r["date4"], r["time3"], algorithm=algorithm)
    refused = _authorise(LoadHost(), **_load_request(amount=20000), mac1=mac1, algorithm=algorithm)
    assert (refused.approved, refused.mac2) == (False, b"") and "MAC1" in refused.detail


def test_load_host_on_the_published_vectors(monkeypatch):
    """transit-payment.md §1.4 [V]: the ED load example (type 01) and a real card's EP load MAC1."""
    host = LoadHost()
    monkeypatch.setattr(epurse, "card_key", lambda *args: bytes.fromhex("11223344556677888877665544332211"))
    request = _load_request(old_balance=0, amount=0x1000, card_random4=bytes.fromhex("11223344"),
                            online_atc2=b"\x00\x00", date4=bytes.fromhex("20111221"), time3=bytes.fromhex("214822"))
    assert _authorise(host, **request, mac1=bytes.fromhex("2988AE5A"), txn_type=0x01).mac2 == bytes.fromhex("3A845BF0")
    monkeypatch.setattr(epurse, "card_key", lambda *args: bytes.fromhex("3F01") * 8)
    real = _load_request(old_balance=0, amount=0x1234, terminal_id6=bytes.fromhex("000000000001"),
                         card_random4=bytes.fromhex("F9CABA91"), online_atc2=b"\x00\x00")
    assert _authorise(host, **real, mac1=bytes.fromhex("6C394D64")).approved  # type 02 from the profile
    assert not _authorise(host, **real, mac1=bytes.fromhex("6C394D65")).approved


# -- through the real PC/SC stack --------------------------------------------------------------
@pytest.mark.pcsc
@pytest.mark.timeout(30)
def test_the_psam_works_in_a_vpcd_slot(vpcd_slot):
    reader, _ = vpcd_slot(CardOS(psam.psam_image(terminal_id=TERMINAL)), 1)
    with PcscTransport(reader) as t:
        assert t.atr == psam.atr(TERMINAL)
        assert t.send(0x00, 0xB0, 0x96, 0x00, le=6).data == TERMINAL
        _select(t)
        answer = t.send(0x80, 0x70, 0x00, 0x00, _mac1_data(), le=8)
        serial4 = answer.data[:4]
        session = purchase_session_key(_card_key("purchase"), bytes.fromhex("11223344"), b"\x00\x00", serial4)
        assert (serial4, answer.data[4:]) == (b"\x00\x00\x00\x01", purchase_mac1(
            session, 0x1000, 0x06, TERMINAL, bytes.fromhex("20120229"), bytes.fromhex("135100")))
        assert t.send(0x80, 0x72, 0x00, 0x00, purchase_mac2(session, 0x1000)).sw == 0x9000


# -- end to end: a purse card and the PSAM, both in process ------------------------------------
AS_OF = date(2026, 11, 23)
PURSE_AID = bytes.fromhex("A000000632010105")
DATE4, TIME3 = bytes.fromhex("20261123"), bytes.fromhex("101500")


def _purse_card(persona, faults=None):
    card = CardOS(personas.image(persona, as_of=AS_OF), faults=faults)
    transport = InProcessTransport(card)
    transport.connect()
    return card, transport


def _psam_ready(algorithm):
    """Start-up as field code does it: 0x16, SELECT, 0x17 -> (transport, terminal, key index)."""
    _, p = _connected(algorithm=algorithm, terminal=bytes.fromhex("410200000777"))
    terminal = p.send(0x00, 0xB0, 0x96, 0x00, le=6).data
    _select(p)
    key_index = p.send(0x00, 0xB0, 0x97, 0x00, le=0x19).data[0]
    return p, terminal, key_index


def _purse_ready(c):
    """SELECT purse, READ BINARY 0x15, GET BALANCE -> (serial8, issuer8, balance)."""
    assert c.send(0x00, 0xA4, 0x04, 0x00, PURSE_AID, le=0).sw == 0x9000
    ef15 = c.send(0x00, 0xB0, 0x95, 0x00, le=0x1E)
    assert ef15.sw == 0x9000 and len(ef15.data) == 30
    balance = c.send(0x80, 0x5C, 0x00, 0x02, le=4)
    assert balance.sw == 0x9000
    return ef15.data[12:20], ef15.data[0:8], int.from_bytes(balance.data, "big")


def _init_purchase(c, terminal, key_index, amount):
    """INITIALIZE FOR PURCHASE -> its 15 bytes: balance 4 ‖ ATC 2 ‖ overdraft 3 ‖ key version 1 ‖
    algorithm ID 1 ‖ random 4."""
    init = c.send(0x80, 0x50, 0x01, 0x02, bytes((key_index,)) + amount.to_bytes(4, "big") + terminal, le=0x0F)
    assert init.sw == 0x9000 and len(init.data) == 15, init
    return init.data


@pytest.mark.parametrize(("persona", "algorithm"), [("transit", "3des"), ("transit_sm4", "sm4")])
def test_end_to_end_purchase_card_and_psam(persona, algorithm):
    _, c = _purse_card(persona)
    p, terminal, key_index = _psam_ready(algorithm)
    serial8, issuer8, before = _purse_ready(c)
    amount = 200
    init = _init_purchase(c, terminal, key_index, amount)
    atc2, key_version, alg_id, random4 = init[4:6], init[9], init[10], init[11:15]
    assert alg_id == ALG_ID[algorithm]
    mac1_data = (random4 + atc2 + amount.to_bytes(4, "big") + b"\x06" + DATE4 + TIME3
                 + bytes((key_version, alg_id)) + serial8 + issuer8)
    answer = p.send(0x80, 0x70, 0x00, 0x00, mac1_data, le=8)
    assert answer.sw == 0x9000, answer
    serial4, mac1 = answer.data[:4], answer.data[4:]
    debit = c.send(0x80, 0x54, 0x01, 0x00, serial4 + DATE4 + TIME3 + mac1, le=8)
    assert debit.sw == 0x9000, debit  # the card accepted the PSAM's MAC1
    card_tac, mac2 = debit.data[:4], debit.data[4:]
    assert p.send(0x80, 0x72, 0x00, 0x00, mac2).sw == 0x9000  # the PSAM accepted the card's MAC2
    assert p.send(0x80, 0x1A, 0x44, 0x01, serial8 + issuer8).sw == 0x9000
    tac_input = amount.to_bytes(4, "big") + b"\x06" + terminal + serial4 + DATE4 + TIME3
    assert p.send(0x80, 0xFA, 0x05, 0x00, tac_input, le=4).data == card_tac
    assert int.from_bytes(c.send(0x80, 0x5C, 0x00, 0x02, le=4).data, "big") == before - amount
    newest = c.send(0x00, 0xB2, 0x01, (0x18 << 3) | 0x04, le=0).data
    assert epurse.parse_log_record(newest)["terminal"] == terminal


def test_a_wrong_mac1_is_refused_by_the_card_and_nothing_is_debited():
    _, c = _purse_card("transit")
    p, terminal, key_index = _psam_ready("3des")
    serial8, issuer8, before = _purse_ready(c)
    init = _init_purchase(c, terminal, key_index, 300)
    other_issuer = bytes(8)  # the PSAM derives another card's key
    data = (init[11:15] + init[4:6] + (300).to_bytes(4, "big") + b"\x06" + DATE4 + TIME3
            + bytes((init[9], init[10])) + serial8 + other_issuer)
    answer = p.send(0x80, 0x70, 0x00, 0x00, data, le=8)
    assert c.send(0x80, 0x54, 0x01, 0x00, answer.data[:4] + DATE4 + TIME3 + answer.data[4:], le=8).sw == 0x9302
    assert int.from_bytes(c.send(0x80, 0x5C, 0x00, 0x02, le=4).data, "big") == before


def test_the_terminal_client_drives_the_psam():
    """The terminal's APDU client (devices/purse_client.py) against this PSAM and the purse:
    a composite purchase with the client's exact encodings (8070 with Le, 801A P2 01)."""
    moment = datetime(2026, 11, 23, 10, 15, 0)
    _, c = _purse_card("transit")
    _, p = _connected(terminal=bytes.fromhex("410200000778"))
    card, client = PurseCard(c), Psam(p)
    card.select()
    info = c.send(0x00, 0xB0, 0x95, 0x00, le=0x1E).data
    before = card.balance()
    init = card.init_purchase(amount=150, terminal_id=client.terminal_id, key_index=client.key_index, composite=True)
    serial4, mac1 = client.mac1(init=init, amount=150, txn_type=0x09, moment=moment, serial8=info[12:20],
                                issuer_id=info[0:8])
    card_tac, mac2 = card.debit(terminal_serial=serial4, moment=moment, mac1=mac1)
    assert client.verify_mac2(mac2)
    assert client.tac(serial8=info[12:20], issuer_id=info[0:8], amount=150, txn_type=0x09,
                      terminal_serial=serial4, moment=moment) == card_tac
    assert card.balance() == before - 150


def test_a_torn_debit_is_proven_to_the_psam_after_the_re_tap():
    """transit-payment.md §1.6: DEBIT committed but its answer lost; on the re-tap the balance shows
    the debit, GET TRANSACTION PROVE returns MAC2 and TAC, and the PSAM (session kept) checks MAC2."""
    plan = FaultPlan()
    card, c = _purse_card("transit", faults=plan)
    p, terminal, key_index = _psam_ready("3des")
    serial8, issuer8, before = _purse_ready(c)
    init = _init_purchase(c, terminal, key_index, 250)
    data = (init[11:15] + init[4:6] + (250).to_bytes(4, "big") + b"\x06" + DATE4 + TIME3
            + bytes((init[9], init[10])) + serial8 + issuer8)
    serial4, mac1 = (answer := p.send(0x80, 0x70, 0x00, 0x00, data, le=8).data)[:4], answer[4:]
    plan.arm(at=plan.hits["nvm.done"], point="nvm.done")  # power lost after the commit, before the answer
    with pytest.raises(CardRemovedError):
        c.send(0x80, 0x54, 0x01, 0x00, serial4 + DATE4 + TIME3 + mac1, le=8)
    c.connect()  # the same card comes back
    _, _, after = _purse_ready(c)
    assert after == before - 250
    next_atc = (int.from_bytes(init[4:6], "big") + 1).to_bytes(2, "big")  # profile prove_atc: INIT ATC + 1
    prove = c.send(0x80, 0x5A, 0x00, 0x06, next_atc, le=8)
    assert prove.sw == 0x9000, prove
    mac2, card_tac = prove.data[:4], prove.data[4:]
    assert p.send(0x80, 0x72, 0x00, 0x00, mac2).sw == 0x9000
    p.send(0x80, 0x1A, 0x44, 0x01, serial8 + issuer8)
    tac_input = (250).to_bytes(4, "big") + b"\x06" + terminal + serial4 + DATE4 + TIME3
    assert p.send(0x80, 0xFA, 0x05, 0x00, tac_input, le=4).data == card_tac


@pytest.mark.parametrize(("persona", "algorithm"), [("transit", "3des"), ("transit_sm4", "sm4")])
def test_end_to_end_load_through_the_load_host(persona, algorithm):
    _, c = _purse_card(persona)
    terminal = bytes.fromhex("410200000900")
    serial8, issuer8, before = _purse_ready(c)
    serial10 = c.send(0x00, 0xB0, 0x95, 0x00, le=0x1E).data[10:20]
    dlk_index = purse_master("load").index
    init = c.send(0x80, 0x50, 0x00, 0x02, bytes((dlk_index,)) + (3000).to_bytes(4, "big") + terminal, le=0x10)
    assert init.sw == 0x9000 and len(init.data) == 16, init
    old, atc2, random4, mac1 = int.from_bytes(init.data[0:4], "big"), init.data[4:6], init.data[8:12], init.data[12:16]
    assert init.data[7] == ALG_ID[algorithm]
    host = LoadHost()
    request = dict(card_serial10=serial10, issuer_id8=issuer8, old_balance=old, amount=3000, terminal_id6=terminal,
                   card_random4=random4, online_atc2=atc2, date4=DATE4, time3=TIME3, algorithm=algorithm)
    assert not _authorise(host, **{**request, "amount": 30000}, mac1=mac1).approved  # the terminal lied
    mac2 = _authorise(host, **request, mac1=mac1).mac2
    credit = c.send(0x80, 0x52, 0x00, 0x00, DATE4 + TIME3 + mac2, le=4)
    assert credit.sw == 0x9000 and len(credit.data) == 4, credit
    assert int.from_bytes(c.send(0x80, 0x5C, 0x00, 0x02, le=4).data, "big") == before + 3000
