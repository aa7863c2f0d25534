"""The T-Union purse beyond a plain purchase: its files, composite purchase, load, counters, the
0x18 log, APPLICATION BLOCK and GET TRANSACTION PROVE; and CHANGE PIN of the SSSE.

The host plays the issuer: MAC1 of a load is checked and MAC2 computed by its load host
(`Host.load_mac2`, `simulator.backend.load_host.LoadHost`), TACs and the maintenance MAC come from keys it derives on
its own from the (synthetic test) master keys and the card's file 0x15. A test spends a few fen of
the card's balance or loads 1.00 CNY: a real test card needs that much room; the balance is given
back when each test ends (`CardLab.keeping_balance`). Locking the purse is destructive (a
destructive sample) and cutting the power mid-command needs a simulated card (`tear_control`).

PYTEST_DONT_REWRITE: assertion messages here are written for the vendor and carry no card data;
pytest's rewriting would add the compared values to them, personal data included.
"""

from __future__ import annotations

import pytest

from conformance.suites.card._host import DATE, TERMINAL, TIME, Host, expect, sw_text
from conformance.verdicts import not_tested
from simulator.apdu import SW, counter_sw
from simulator.card.apps import epurse
from simulator.card.commands_security import encode_pin

requires = pytest.mark.requires
LOAD_AMOUNT = 100  # fen


def _files(host: Host) -> dict[int, dict]:
    """The purse's files by SFI, as the run's profile lays them out."""
    return {f["sfi"]: f for f in host.layout.purse_profile["files"]}


def _sw(host: Host, name: str) -> int:
    """A status word the purse document names (max_balance_exceeded_sw, prove_unavailable_sw)."""
    return int(host.layout.purse_profile[name], 16)


def _locked_select(host: Host) -> int:
    """What SELECT of a locked purse answers."""
    return int(host.layout.purse_profile["application"]["locked_select_sw"], 16)


@pytest.fixture
def purse_host(card, host) -> Host:
    """The purse selected; its balance given back when the test ends (a sample keeps its money)."""
    yield from card.keeping_balance(host)


def _init(host: Host, amount: int, *, composite: bool = False) -> bytes:
    __tracebackhide__ = True
    answer = host.init_purchase(amount, composite=composite)
    if answer.sw == SW.INSUFFICIENT_FUNDS:
        not_tested(f"the purse holds less than {amount} fen",
                   need=f"the sample's purse loaded with {amount} fen or more")
    what = "INITIALIZE FOR CAPP PURCHASE" if composite else "INITIALIZE FOR PURCHASE"
    init = expect(answer, SW.OK, f"{what} of {amount} fen").data
    assert len(init) == 15, f"{what} answered {len(init)} bytes; the profile requires 15"
    return init


def _purchase(host: Host, amount: int) -> tuple[bytes, dict]:
    """A committed purchase: (INITIALIZE's answer, what the issuer expects of it)."""
    __tracebackhide__ = True
    init = _init(host, amount)
    answer, expected = host.debit(init, amount)
    expect(answer, SW.OK, "DEBIT FOR PURCHASE with the right MAC1")
    return init, expected


def _offline_atc(host: Host) -> int:
    """The offline ATC, as INITIALIZE FOR PURCHASE of 1 fen names it (the transaction is abandoned)."""
    __tracebackhide__ = True
    return int.from_bytes(_init(host, 1)[4:6], "big")


def _init_load(host: Host, amount: int) -> bytes:
    __tracebackhide__ = True
    answer = host.init_load(amount)
    if answer.sw == _sw(host, "max_balance_exceeded_sw"):
        not_tested(f"a load of {amount} fen would take the purse above its maximum balance",
                   need=f"a sample with room for {amount} fen below the maximum balance")
    init = expect(answer, SW.OK, f"INITIALIZE FOR LOAD of {amount} fen").data
    assert len(init) == 16, (
        f"INITIALIZE FOR LOAD answered {len(init)} bytes; the profile requires 16 (balance 4, "
        f"online ATC 2, key version 1, algorithm ID 1, random 4, MAC1 4)"
    )
    return init


def _load(host: Host, amount: int) -> tuple[bytes, bytes, bytes]:
    """A committed load: (INITIALIZE FOR LOAD's answer, the TAC, the TAC the issuer expects)."""
    __tracebackhide__ = True
    init = _init_load(host, amount)
    tac = host.credit(init, amount)
    algorithm, keys = host.purse_keys(init[7], "DTK")
    new_balance = int.from_bytes(init[0:4], "big") + amount
    expected = epurse.load_tac(
        keys["DTK"], new_balance, init[4:6], amount, host.layout.load, TERMINAL, DATE, TIME, algorithm=algorithm
    )
    return init, tac, expected


def _log_record(host: Host) -> dict:
    __tracebackhide__ = True
    log = host.purse_log()
    assert log, "the 0x18 file has no record after a committed transaction"
    try:
        return epurse.parse_log_record(log[0])
    except ValueError as exc:
        raise AssertionError(f"0x18 record 1: {exc}") from exc


def _records(host: Host, sfi: int) -> list[bytes]:
    __tracebackhide__ = True
    return host.records(sfi)


# -- files ----------------------------------------------------------------------------------
@pytest.mark.clause("PURSE-SEL-002")
@requires("purse")
def test_the_purse_files_have_the_profiles_sizes_and_cannot_be_written(purse_host):
    files = _files(purse_host)
    for sfi in (0x15, 0x16, 0x17):
        data = purse_host.ok(f"READ BINARY of purse file 0x{sfi:02X} by SFI", 0x00, 0xB0, 0x80 | sfi, 0x00, le=0)
        assert len(data) == files[sfi]["size"], (
            f"purse file 0x{sfi:02X} has {len(data)} bytes; the profile says {files[sfi]['size']}"
        )
        changed = bytes((data[0] ^ 0xFF,)) + data[1:]
        answer = purse_host.send(0x00, 0xD6, 0x80 | sfi, 0x00, changed)
        assert answer.sw != SW.OK, f"UPDATE BINARY of purse file 0x{sfi:02X} answered 9000; the file is read-only"
        again = purse_host.ok(f"READ BINARY of purse file 0x{sfi:02X}", 0x00, 0xB0, 0x80 | sfi, 0x00, le=0)
        assert again == data, f"UPDATE BINARY ({sw_text(answer.sw)}) changed purse file 0x{sfi:02X}"
    for sfi in (0x18, 0x1A, 0x1E):
        spec = files[sfi]
        records = _records(purse_host, sfi)
        assert len(records) <= spec["max_records"], (
            f"purse file 0x{sfi:02X} holds {len(records)} records; the profile says at most {spec['max_records']}"
        )
        wrong = [n for n, r in enumerate(records, 1) if len(r) != spec["record_size"]]
        assert not wrong, (
            f"records {wrong} of purse file 0x{sfi:02X} are not {spec['record_size']} bytes, the profile's record size"
        )
        if spec["structure"] == "linear_fixed":
            assert len(records) == spec["max_records"], (
                f"linear fixed purse file 0x{sfi:02X} holds {len(records)} records; the profile says "
                f"{spec['max_records']}"
            )
        answer = purse_host.send(0x00, 0xDC, 0x01, sfi << 3 | 0b100, bytes(spec["record_size"]))
        assert answer.sw != SW.OK, f"UPDATE RECORD of purse file 0x{sfi:02X} answered 9000; the file is read-only"
        assert _records(purse_host, sfi) == records, (
            f"UPDATE RECORD ({sw_text(answer.sw)}) changed purse file 0x{sfi:02X}"
        )


# -- composite purchase ---------------------------------------------------------------------
def _give_back_capp_record(host: Host, record: bytes) -> None:
    """Write 0x1A record 1 back as it was, the one way the card allows: another composite purchase
    (of 1 fen, which `keeping_balance` gives back)."""
    __tracebackhide__ = True
    if _records(host, 0x1A)[0] == record:
        return
    init = _init(host, 1, composite=True)
    expect(host.send(0x80, 0xDC, 0x01, 0x1A << 3, record), SW.OK, "UPDATE CAPP DATA CACHE of 0x1A record 1 (back)")
    expect(host.debit(init, 1, txn_type=host.layout.composite)[0], SW.OK,
           "DEBIT FOR CAPP PURCHASE writing 0x1A record 1 back")


@pytest.mark.clause("PURSE-CPUR-001")
@requires("purse")
def test_capp_records_are_staged_and_written_only_with_the_debit(card, purse_host):
    ef1a_before = _records(purse_host, 0x1A)
    assert ef1a_before, "purse file 0x1A has no record 1"
    try:
        _stage_and_write_capp_records(purse_host, ef1a_before)
    finally:
        if card.persistent:
            _give_back_capp_record(purse_host, ef1a_before[0])


def _stage_and_write_capp_records(purse_host: Host, ef1a_before: list[bytes]) -> None:
    trip = bytes((0x01,)) + bytes(range(1, _files(purse_host)[0x1E]["record_size"]))
    ef1e_before = _records(purse_host, 0x1E)
    record1 = ef1a_before[0][:3] + bytes((ef1a_before[0][3] ^ 0x5A,)) + ef1a_before[0][4:]

    def stage() -> bytes:
        __tracebackhide__ = True
        init = _init(purse_host, 1, composite=True)
        expect(
            purse_host.send(0x80, 0xDC, 0x00, 0x1E << 3, trip),
            SW.OK,
            "UPDATE CAPP DATA CACHE of a new 0x1E record (80DC 00 F0)",
        )
        expect(
            purse_host.send(0x80, 0xDC, 0x01, 0x1A << 3, record1),
            SW.OK,
            "UPDATE CAPP DATA CACHE of 0x1A record 1 (80DC 01 D0)",
        )
        assert _records(purse_host, 0x1E) == ef1e_before and _records(purse_host, 0x1A) == ef1a_before, (
            "UPDATE CAPP DATA CACHE wrote to the file at once; it must only stage the record until DEBIT"
        )
        return init

    refused, _ = purse_host.debit(stage(), 1, wrong_mac=True, txn_type=purse_host.layout.composite)
    expect(refused, SW.MAC_INVALID, "DEBIT FOR CAPP PURCHASE with a wrong MAC1")
    assert _records(purse_host, 0x1E) == ef1e_before and _records(purse_host, 0x1A) == ef1a_before, (
        "a refused DEBIT FOR CAPP PURCHASE wrote the staged records"
    )

    answer, expected = purse_host.debit(stage(), 1, txn_type=purse_host.layout.composite)
    expect(answer, SW.OK, "DEBIT FOR CAPP PURCHASE with the right MAC1")
    assert answer.data[0:4] == expected["tac"] and answer.data[4:8] == expected["mac2"], (
        "DEBIT FOR CAPP PURCHASE answered a TAC / MAC2 the issuer's keys do not give for type 09"
    )
    ef1e = _records(purse_host, 0x1E)
    assert ef1e and ef1e[0] == trip, "after DEBIT FOR CAPP PURCHASE, 0x1E record 1 is not the staged record"
    assert ef1e[1:] == ef1e_before[: _files(purse_host)[0x1E]["max_records"] - 1], (
        "DEBIT FOR CAPP PURCHASE did not add the staged 0x1E record in front of the older ones"
    )
    assert _records(purse_host, 0x1A)[0] == record1, (
        "after DEBIT FOR CAPP PURCHASE, 0x1A record 1 is not the staged record"
    )
    record = _log_record(purse_host)
    assert record["type"] == purse_host.layout.composite, (
        f"the 0x18 record of a composite purchase has type {record['type']:02X}; the profile requires 09"
    )


# -- load -----------------------------------------------------------------------------------
@pytest.mark.clause("PURSE-LOAD-001")
@requires("purse")
def test_initialize_for_load_answers_balance_atc_and_a_mac1_the_issuer_verifies(purse_host):
    balance = purse_host.balance()
    init = _init_load(purse_host, LOAD_AMOUNT)
    assert int.from_bytes(init[0:4], "big") == max(balance, 0), (
        f"INITIALIZE FOR LOAD names balance {int.from_bytes(init[0:4], 'big')}; GET BALANCE said {balance}"
    )
    version = int(purse_host.layout.purse_profile["keys"]["DLK"]["version"], 16)
    assert init[6] == version, f"INITIALIZE FOR LOAD names key version {init[6]:02X}; the load key's is {version:02X}"
    purse_host.load_mac2(init, LOAD_AMOUNT)  # fails the test when MAC1 does not verify


@pytest.mark.clause("PURSE-LOAD-002")
@requires("purse")
def test_credit_for_load_credits_counts_logs_and_answers_the_tac(purse_host):
    before = purse_host.balance()
    init, tac, expected = _load(purse_host, LOAD_AMOUNT)
    assert tac == expected, "the TAC of CREDIT FOR LOAD is not the one the issuer's TAC key (DTK) gives"
    assert purse_host.balance() == before + LOAD_AMOUNT, (
        f"a load of {LOAD_AMOUNT} fen moved the balance by {purse_host.balance() - before}"
    )
    record = _log_record(purse_host)
    assert record["type"] == purse_host.layout.load and record["amount"] == LOAD_AMOUNT, (
        f"0x18 record 1 after a load has type {record['type']:02X} and amount {record['amount']}; the load was "
        f"type 02 of {LOAD_AMOUNT} fen"
    )
    online = int.from_bytes(init[4:6], "big")
    again = _init_load(purse_host, 1)
    assert int.from_bytes(again[4:6], "big") == online + 1, (
        f"the online ATC was {online} for the load and is {int.from_bytes(again[4:6], 'big')} after it"
    )
    most = purse_host.layout.purse_profile["max_balance"]
    room = most - max(purse_host.balance(), 0)
    expect(purse_host.init_load(room + 1), _sw(purse_host, "max_balance_exceeded_sw"),
           f"INITIALIZE FOR LOAD beyond the maximum balance of {most} fen")


@pytest.mark.clause("PURSE-MAC-001")
@requires("purse")
def test_a_wrong_mac2_answers_9302_moves_no_money_and_ends_the_load(purse_host):
    before, log_before = purse_host.balance(), purse_host.purse_log()
    init = _init_load(purse_host, LOAD_AMOUNT)
    mac2 = purse_host.load_mac2(init, LOAD_AMOUNT)
    wrong = bytes((mac2[0] ^ 0x01,)) + mac2[1:]
    expect(
        purse_host.send(0x80, 0x52, 0x00, 0x00, DATE + TIME + wrong, le=4),
        SW.MAC_INVALID,
        "CREDIT FOR LOAD with a wrong MAC2",
    )
    expect(
        purse_host.send(0x80, 0x52, 0x00, 0x00, DATE + TIME + mac2, le=4),
        SW.CONDITIONS_NOT_SATISFIED,
        "CREDIT FOR LOAD retried with the right MAC2 after a wrong one, without a new INITIALIZE",
    )
    assert purse_host.balance() == before, "a refused load moved money"
    assert purse_host.purse_log() == log_before, "a refused load changed the 0x18 records"
    again = _init_load(purse_host, LOAD_AMOUNT)
    assert again[4:6] == init[4:6], (
        f"the online ATC moved from {init[4:6].hex()} to {again[4:6].hex()} though no load was committed"
    )


# -- counters and the log -------------------------------------------------------------------
@pytest.mark.clause("PURSE-ATC-001")
@requires("purse")
def test_each_counter_rises_by_one_per_committed_transaction_of_its_kind(purse_host):
    init, _ = _purchase(purse_host, 1)
    atc = int.from_bytes(init[4:6], "big")
    assert _log_record(purse_host)["atc"] == atc, (
        "the 0x18 record of the purchase names another ATC than INITIALIZE FOR PURCHASE returned"
    )
    assert _offline_atc(purse_host) == atc + 1, "the offline ATC did not rise by exactly one with a purchase"
    online = int.from_bytes(_init_load(purse_host, LOAD_AMOUNT)[4:6], "big")
    init, tac, expected = _load(purse_host, LOAD_AMOUNT)
    assert int.from_bytes(init[4:6], "big") == online, "an abandoned INITIALIZE FOR LOAD moved the online ATC"
    assert _log_record(purse_host)["atc"] == online, (
        "the 0x18 record of the load names another ATC than INITIALIZE FOR LOAD returned"
    )
    assert _offline_atc(purse_host) == atc + 1, "a load moved the offline ATC"
    _purchase(purse_host, 1)
    assert int.from_bytes(_init_load(purse_host, LOAD_AMOUNT)[4:6], "big") == online + 1, (
        "the online ATC did not rise by exactly one with a load (or moved with a purchase)"
    )


@pytest.mark.clause("PURSE-LOG-001")
@requires("purse")
def test_record_1_is_the_newest_transaction_and_the_oldest_drop_out(purse_host):
    log, log_size = purse_host.purse_log(), _files(purse_host)[0x18]["max_records"]
    count = max(1, log_size + 1 - len(log))
    for amount in range(1, count + 1):
        before = purse_host.balance()
        init, expected = _purchase(purse_host, amount)
        spent = before - purse_host.balance()
        record = _log_record(purse_host)
        atc = int.from_bytes(init[4:6], "big")
        assert (record["amount"], record["type"], record["atc"]) == (spent, purse_host.layout.purchase, atc), (
            f"after purchase {amount} of {count}, 0x18 record 1 has amount {record['amount']}, type "
            f"{record['type']:02X}, ATC {record['atc']}; the balance fell by {spent} in a purchase (06) with ATC "
            f"{atc}"
        )
        log = [expected["record"], *log][:log_size]
    now = purse_host.purse_log()
    assert len(now) == log_size, (
        f"after {count} purchases the 0x18 file holds {len(now)} records; the profile keeps {log_size}"
    )
    assert now == log, f"the 0x18 file is not the {log_size} newest transactions, newest first"


# -- APPLICATION BLOCK ----------------------------------------------------------------------
def _block(host: Host, *, wrong: bool = False):
    __tracebackhide__ = True
    algorithm, keys = host.purse_keys(_init_load(host, 1)[7], "DAMK")
    challenge = host.challenge(4)
    mac = epurse.block_mac(algorithm, keys["DAMK"], challenge)
    if wrong:
        mac = bytes((mac[0] ^ 0x01,)) + mac[1:]
    return host.send(0x84, 0x1E, 0x00, 0x00, mac)


@pytest.mark.clause("PURSE-LOCK-001")
@requires("purse")
def test_application_block_locks_the_purse_for_good_and_a_wrong_mac_locks_nothing(card):
    card.issuer.require("epurse.DAMK")
    host = card.open_to_destroy("transit")
    host.select_purse()
    before = host.balance()
    expect(_block(host, wrong=True), SW.SM_DATA_INCORRECT, "APPLICATION BLOCK with a wrong MAC")
    host.select_purse()
    assert host.balance() == before, "a refused APPLICATION BLOCK changed the balance"
    expect(_block(host), SW.OK, "APPLICATION BLOCK with the maintenance key's MAC over a fresh challenge")
    host.reconnect()
    expect(host.select(host.layout.purse_aid), _locked_select(host),
           "SELECT of the purse after APPLICATION BLOCK (and a power cycle)")
    for what, ins, p1, data, le in (
        ("GET BALANCE", 0x5C, 0x00, b"", 4),
        ("INITIALIZE FOR PURCHASE", 0x50, 0x01, bytes((1,)) + (1).to_bytes(4, "big") + TERMINAL, 0x0F),
        ("INITIALIZE FOR LOAD", 0x50, 0x00, bytes((1,)) + (1).to_bytes(4, "big") + TERMINAL, 0x10),
    ):
        answer = host.send(0x80, ins, p1, 0x02, data, le=le)
        assert answer.sw != SW.OK, f"{what} in the blocked purse answered 9000; a locked purse refuses it"


def _locked_purse(card) -> Host:
    """A card whose purse is locked for good: a fresh `transit_locked` card or a sample declared
    so, else a destructive sample, its purse locked by APPLICATION BLOCK unless it is already."""
    __tracebackhide__ = True
    if card.persona_choice or card.declares("transit_locked"):
        return card.open("transit_locked")
    card.issuer.require("epurse.DAMK")
    host = card.open_to_destroy("transit")
    if host.select(host.layout.purse_aid).sw != _locked_select(host):
        host.select_purse()
        expect(_block(host), SW.OK, "APPLICATION BLOCK with the maintenance key's MAC (to lock the purse)")
        host.reconnect()
    return host


@pytest.mark.clause("PURSE-LOCK-001")
@requires("purse")
def test_a_blacklisted_purse_selects_with_9303(card):
    host = _locked_purse(card)
    expect(host.select(host.layout.purse_aid), _locked_select(host), "SELECT of a permanently locked purse")
    assert host.send(0x80, 0x5C, 0x00, 0x02, le=4).sw != SW.OK, "GET BALANCE in a locked purse answered 9000"


# -- GET TRANSACTION PROVE ------------------------------------------------------------------
def _prove_atc(host: Host, init: bytes) -> int:
    atc = int.from_bytes(init[4:6], "big")
    return atc + 1 if host.layout.purse_profile["prove_atc"] == "next_offline_atc" else atc


def _prove(host: Host, txn_type: int, atc: int):
    __tracebackhide__ = True
    return host.send(0x80, 0x5A, 0x00, txn_type, atc.to_bytes(2, "big"), le=8)


@pytest.mark.clause("PURSE-PROVE-001")
@requires("purse", "persona_choice", "tear_control")
def test_prove_answers_a_purchase_whose_answer_the_power_cut_took(card):
    amount = 7
    step = 0
    while True:
        host = card.open("normal")
        host.select_purse()
        before = host.balance()
        init = _init(host, amount)
        if not card.cut_power(host, step, lambda h=host, i=init: h.debit(i, amount)):
            break  # the purchase ended before the cut: every step covered
        step += 1
        expected = host.last_debit
        host.select_purse()
        answer = _prove(host, host.layout.purchase, _prove_atc(host, init))
        if host.balance() == before - amount:
            proof = expect(answer, SW.OK, f"GET TRANSACTION PROVE after the power was cut at step {step} of a "
                                          f"purchase that committed").data
            assert proof == expected["mac2"] + expected["tac"], (
                f"after the power was cut at step {step}, GET TRANSACTION PROVE did not answer the committed "
                f"purchase's MAC2 ‖ TAC"
            )
        else:
            expect(
                answer,
                _sw(host, "prove_unavailable_sw"),
                f"GET TRANSACTION PROVE after the power was cut at step {step} of a purchase that did not commit",
            )
    if step == 0:
        raise RuntimeError("the debit passed no tear point: the card's tear control is not wired")


# -- CHANGE PIN -----------------------------------------------------------------------------
def _other(pin: str) -> str:
    return "".join(str((int(d) + 3) % 10) for d in pin)


def _change(host: Host, old: str, new: str, *, new_raw: bytes | None = None):
    __tracebackhide__ = True
    return host.send(0x80, 0x5E, 0x01, 0x00, encode_pin(old) + b"\xff" + (new_raw or encode_pin(new)))


@pytest.mark.clause("CARD-PIN-003")
def test_change_pin_needs_the_right_old_pin_and_a_new_pin_of_4_to_16_digits(host, pin):
    host.select_ssse()
    left = host.pin_tries()
    if left < 2:
        not_tested(f"the card has {left} PIN tries left; this test spends one",
                   need="a sample with at least 2 PIN tries left")
    new = _other(pin)
    expect(_change(host, new, pin), counter_sw(left - 1), "CHANGE PIN with a wrong old PIN")
    for digits in ("123", "12" * 8 + "1"):
        answer = _change(host, pin, digits)
        assert answer.sw != SW.OK, (
            f"CHANGE PIN to a new PIN of {len(digits)} digits answered 9000; the profile allows 4-16"
        )
    expect(host.verify(pin), SW.OK, "VERIFY with the old PIN after refused CHANGE PINs")
    current = pin
    try:
        for target in (new, "2580", "1357913579135791"):  # and the shortest and the longest PIN the profile allows
            expect(_change(host, current, target), SW.OK, f"CHANGE PIN with the right old PIN to a new one of "
                                                          f"{len(target)} digits")
            current = target
        host.reconnect()
        host.select_ssse()
        expect(host.verify(current), SW.OK, "VERIFY with the new PIN after CHANGE PIN and a power cycle")
    finally:
        expect(_change(host, current, pin), SW.OK, "CHANGE PIN back to the card's PIN")
    expect(host.verify(pin), SW.OK, "VERIFY with the card's PIN, changed back")


@pytest.mark.clause("PURSE-CPUR-001")
@requires("purse")
def test_capp_data_cache_refuses_a_p2_that_is_not_sfi_shifted_by_3(purse_host):
    """P2 b3..b1 of UPDATE CAPP DATA CACHE are 000 (P2 = SFI << 3): any other P2 is a parameters
    fault of ISO/IEC 7816-4, answered with a status word national.card `malformed` allows for it."""
    allowed = purse_host.layout.malformed.answers["parameters"]
    trip = bytes((0x01,)) + bytes(range(1, _files(purse_host)[0x1E]["record_size"]))
    _init(purse_host, 1, composite=True)
    for low in range(1, 8):
        p2 = 0x1E << 3 | low
        answer = purse_host.send(0x80, 0xDC, 0x00, p2, trip)
        assert answer.sw in allowed, (
            f"UPDATE CAPP DATA CACHE with P2 {p2:02X} (not SFI << 3) answered {sw_text(answer.sw)}; the profile "
            f"allows {', '.join(sw_text(sw) for sw in sorted(allowed))}"
        )


@pytest.mark.clause("CARD-PIN-003")
def test_change_pin_takes_a_new_pin_of_an_odd_number_of_digits(host, pin):
    """5 digits: BCD with a final F nibble, the length between the 4 and 16 the profile allows."""
    host.select_ssse()
    odd = "13579"
    expect(_change(host, pin, odd), SW.OK, "CHANGE PIN to a new PIN of 5 digits (BCD, padded with F)")
    try:
        expect(host.verify(odd), SW.OK, "VERIFY with the new PIN of 5 digits")
    finally:
        expect(_change(host, odd, pin), SW.OK, "CHANGE PIN back to the card's PIN")
    expect(host.verify(pin), SW.OK, "VERIFY with the card's PIN, changed back")
