"""交通联合电子钱包 (T-Union e-purse, JT/T 978 / PBOC ED/EP), built from `profiles/national/epurse.yaml`.

The application is its ADF (files 0x15-0x1E), its key set and its value commands
(transit-payment.md §1.3): GET BALANCE, INITIALIZE FOR LOAD / PURCHASE / CAPP PURCHASE, CREDIT
FOR LOAD, UPDATE CAPP DATA CACHE, DEBIT FOR (CAPP) PURCHASE, GET TRANSACTION PROVE and
APPLICATION BLOCK. Cryptograms come from `simulator.crypto.purse` (3DES verified, SM4 modelled).

The one rule that matters for tearing (transit-payment.md §1.6 [B], clause PURSE-NVM-001): a value
command changes NVM in exactly one `card.nvm.write`, which carries the balance, the counter, the
new 0x18 record, any record staged by UPDATE CAPP DATA CACHE and the transaction's proof (MAC2,
TAC) for GET TRANSACTION PROVE. Until then the transaction lives in `card.session` (volatile:
dropped at power-up, by selecting another application and after each DEBIT / CREDIT).

The balance is kept as one signed value; 805C 00 02 answers its positive part (primary purse),
805C 01 02 its negative part (overdraft used), and a reader shows primary - negative (modelled on
the readers cited in the profile). Every other 4-byte balance field (INITIALIZE answers, MACs, the
TAC of a load) carries the primary purse.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from typing import TYPE_CHECKING

from simulator.apdu import SW, CardError, CommandAPDU
from simulator.card.commands import command
from simulator.card.filesystem import DF, EF, Access
from simulator.card.image import AppBuild, Application, KeySlot, count_key, head_key, locked_key, record_key
from simulator.card.security import parse_condition
from simulator.crypto import block, diversify, purse
from simulator.crypto.keys import tac_key
from simulator.crypto.mac import pboc_mac
from simulator.profile import Profile, national

if TYPE_CHECKING:
    from simulator.card.cardos import CardOS
    from simulator.card.personas import Persona

KIND = "epurse"
PROOF_LENGTH = 11  # txn type 1 ‖ ATC 2 ‖ MAC2 4 ‖ TAC 4


# -- NVM keys (besides the files' contents and record keys of image.py) --------------------
def balance_key(app: str) -> str:
    """The purse balance in fen: 4 bytes, signed big-endian (negative = overdraft used)."""
    return f"purse:{app}:balance"


def atc_key(app: str, kind: str) -> str:
    """The offline (purchase) or online (load) transaction counter: 2 bytes, the next ATC to use."""
    if kind not in ("offline", "online"):
        raise ValueError(f"ATC kind is offline or online, got {kind!r}")
    return f"purse:{app}:{kind}_atc"


def proof_key(app: str) -> str:
    """The last value transaction's proof: txn type 1 ‖ its ATC 2 ‖ MAC2 4 ‖ TAC 4 (empty: none)."""
    return f"purse:{app}:proof"


# -- issuer side: identity, keys, cryptograms a terminal or PSAM reuses ----------------------
def _template(text: str, **fields: str) -> bytes:
    return bytes.fromhex(text.format(**fields))


def identity(region: str, card_serial: bytes, prof: dict | None = None) -> tuple[bytes, bytes]:
    """(issuer ID 8, application serial 10) of a card from its region code and 8-byte card serial
    (templates in the profile's `identity`, modelled)."""
    spec = (prof or national()["epurse"])["identity"]
    fields = {"city": region[:4], "serial_tail6": card_serial[-6:].hex().upper()}
    issuer, serial = _template(spec["issuer_id"], **fields), _template(spec["serial"], **fields)
    if len(issuer) != 8 or len(serial) != 10:
        raise ValueError(f"epurse identity templates give {len(issuer)}-byte issuer ID and {len(serial)}-byte "
                         f"serial; 0x15 needs 8 and 10")
    return issuer, serial


def card_key(prof: dict, name: str, issuer_id8: bytes, serial: bytes, algorithm: str) -> bytes:
    """Card key `name` (DPK, DLK, DTK, DAMK) = diversify(diversify(master, issuer ID 8), serial 8),
    serial 8 = the rightmost 8 bytes of the application serial (two-level PBOC diversification,
    transit-payment.md §1.5; order modelled). The master is the profile's synthetic test key."""
    return _diversified(algorithm, bytes.fromhex(prof["test_keys"][name]), bytes(issuer_id8), bytes(serial[-8:]))


@lru_cache(maxsize=4096)
def _diversified(algorithm: str, master: bytes, issuer_id8: bytes, serial8: bytes) -> bytes:
    """The two-level derivation, kept per card: a PSAM derives the same card's keys at every tap
    of it (a world of full-logic gates taps the same personas' cards all day)."""
    return diversify(algorithm, diversify(algorithm, master, issuer_id8), serial8)


def card_keys(prof: dict, issuer_id8: bytes, serial: bytes, algorithm: str) -> dict[str, bytes]:
    """All the purse keys of one card, by name."""
    return {name: card_key(prof, name, issuer_id8, serial, algorithm) for name in prof["keys"]}


def load_tac(tac_key16: bytes, new_balance: int, online_atc2: bytes, amount: int, txn_type: int,
             terminal_id6: bytes, date4: bytes, time3: bytes, *, algorithm: str = "3des") -> bytes:
    """TAC of a load: MAC(DTK, new balance 4 ‖ online ATC 2 ‖ amount 4 ‖ type 1 ‖ terminal 6 ‖ date 4 ‖
    time 3), key and MAC as `purse.tac` (3DES folded key / SM4). The layout is [B] (PBOC practice,
    not in the notes' sources); `simulator.crypto.purse` has only the purchase TAC."""
    data = (new_balance.to_bytes(4, "big") + online_atc2 + amount.to_bytes(4, "big") + bytes((txn_type,))
            + terminal_id6 + date4 + time3)
    if len(data) != 24:
        raise ValueError("load TAC fields: ATC 2, terminal 6, date 4, time 3 bytes")
    if algorithm == "3des":
        return pboc_mac("des", tac_key(tac_key16), data)
    return pboc_mac(algorithm, tac_key16, data)


def block_mac(algorithm: str, damk: bytes, challenge: bytes, header: bytes = bytes.fromhex("841E000004")) -> bytes:
    """MAC of APPLICATION BLOCK: PBOC MAC (3DES retail / SM4) under DAMK over the command header
    (CLA INS P1 P2 Lc), ICV = the card's challenge padded with zeros to a block (modelled)."""
    size = block.spec(algorithm).block_size
    return pboc_mac(algorithm, damk, header, icv=challenge.ljust(size, b"\x00")[:size])


def log_record(atc: int, overdraft: int, amount: int, txn_type: int, terminal_id6: bytes,
               date4: bytes, time3: bytes) -> bytes:
    """A 0x18 record: ATC 2 ‖ overdraft limit 3 ‖ amount 4 ‖ type 1 ‖ terminal 6 ‖ date 4 ‖ time 3
    (transit-payment.md §1.2 [V])."""
    record = (atc.to_bytes(2, "big") + overdraft.to_bytes(3, "big") + amount.to_bytes(4, "big")
              + bytes((txn_type,)) + terminal_id6 + date4 + time3)
    if len(record) != 23:
        raise ValueError(f"a 0x18 record has 23 bytes, these fields give {len(record)}")
    return record


def parse_log_record(record: bytes) -> dict:
    """The fields of a 0x18 record (ints for ATC, overdraft, amount, type; bytes otherwise)."""
    if len(record) != 23:
        raise ValueError(f"a 0x18 record has 23 bytes, got {len(record)}")
    return {"atc": int.from_bytes(record[0:2], "big"), "overdraft": int.from_bytes(record[2:5], "big"),
            "amount": int.from_bytes(record[5:9], "big"), "type": record[9], "terminal": record[10:16],
            "date": record[16:20], "time": record[20:23]}


# -- personalisation ------------------------------------------------------------------------
def _bcd_date(day: date) -> bytes:
    return bytes.fromhex(day.strftime("%Y%m%d"))


def _gbk(text: str, length: int) -> bytes:
    """GBK, cut at a character boundary to fit, padded with 00."""
    raw = b""
    for char in text:
        if len(raw) + len(char.encode("gbk")) > length:
            break
        raw += char.encode("gbk")
    return raw.ljust(length, b"\x00")


def _files(prof: dict, path: str) -> tuple[EF, ...]:
    nodes = []
    for spec in prof["files"]:
        access = Access(**{op: parse_condition(spec["access"][op], where=f"epurse.yaml {spec['name']}.{op}")
                           for op in ("read", "update")})
        nodes.append(EF(spec["name"], int(spec["fid"], 16), f"{path}/{spec['fid']}", spec["structure"], access,
                        sfi=spec["sfi"], size=spec.get("size", 0), record_size=spec.get("record_size", 255),
                        max_records=spec.get("max_records", 254)))
    return tuple(nodes)


def build(*, region: str, card_serial: bytes, holder_name: str, citizen_id: str, start: date, expiry: date,
          balance: int = 0, overdraft_limit: int = 0, card_type: str = "01", locked: bool = False,
          algorithm: str | None = None, prof: dict | None = None) -> AppBuild:
    """The purse ADF with its files, keys and initial balance for one card."""
    prof = prof or national()["epurse"]
    algorithm = algorithm or prof["default_algorithm"]
    if card_type not in prof["card_types"]:
        raise ValueError(f"epurse card_type {card_type!r} is not one of the profile's {sorted(prof['card_types'])}")
    if not 0 <= balance <= prof["max_balance"]:
        raise ValueError(f"epurse balance {balance} outside 0..max_balance {prof['max_balance']}")
    if not 0 <= overdraft_limit < 1 << 24:
        raise ValueError(f"epurse overdraft_limit {overdraft_limit} does not fit 3 bytes")
    spec = prof["application"]
    ident = prof["identity"]
    path = f"3F00/{spec['fid']}"
    issuer, serial = identity(region, card_serial, prof)
    ef15 = (issuer + bytes.fromhex(ident["app_type"] + ident["enable_flag"]) + serial + _bcd_date(start)
            + _bcd_date(expiry) + bytes.fromhex(ident["issuer_fci"]))
    ef16 = (bytes.fromhex(card_type) + b"\x00" + _gbk(holder_name, 20) + citizen_id.encode("ascii").ljust(32, b"\x00")
            + b"\x00")
    ef17 = (bytes.fromhex(ident["international_code"] + region[:2] + "00" + region[:4] + ident["interop_flag"]
                          + card_type) + bytes(49))
    efs = _files(prof, path)
    by_sfi = {ef.sfi: ef for ef in efs}
    contents = {by_sfi[0x15].path: ef15, by_sfi[0x16].path: ef16, by_sfi[0x17].path: ef17}
    for ef, spec_file in zip(efs, prof["files"], strict=True):
        if ef.structure == "transparent":
            if len(contents[ef.path]) != ef.size:
                raise ValueError(f"{ef.name}: built {len(contents[ef.path])} bytes, the profile says {ef.size}")
        elif ef.structure == "cyclic":
            contents[count_key(ef.path)] = contents[head_key(ef.path)] = b"\x00"
        else:
            ids = spec_file.get("record_ids", [])
            for n in range(1, ef.max_records + 1):
                head = bytes.fromhex(ids[n - 1]) + bytes((ef.record_size - 3,)) if n <= len(ids) else b""
                contents[record_key(ef.path, n)] = head.ljust(ef.record_size, b"\x00")
            contents[count_key(ef.path)] = bytes((ef.max_records,))

    keys: dict[tuple[str, int], KeySlot] = {}
    versions: dict[str, int] = {}
    for name, key_spec in prof["keys"].items():
        index = key_spec.get("index", 0)
        value = card_key(prof, name, issuer, serial, algorithm)
        keys[(key_spec["usage"], index)] = KeySlot(index, key_spec["usage"], algorithm, value)
        versions[key_spec["usage"]] = int(key_spec.get("version", "00"), 16)
    contents[balance_key(path)] = balance.to_bytes(4, "big", signed=True)
    contents[atc_key(path, "offline")] = contents[atc_key(path, "online")] = b"\x00\x00"
    contents[proof_key(path)] = b""
    contents[locked_key(path)] = b"\x01" if locked else b"\x00"

    aid = bytes.fromhex(spec["aid"])
    fci = bytes.fromhex(f"9F0801{spec['app_version']}9F0C1E") + ef15
    df = DF(spec["name"], int(spec["fid"], 16), path, aid, efs, fci_proprietary=fci)
    label = spec["label"].encode("ascii")
    entry = (b"\x4F" + bytes((len(aid),)) + aid + b"\x50" + bytes((len(label),)) + label
             + bytes((0x87, 1, spec["ppse_priority"])))
    application = Application(
        KIND, path, algorithm, {}, locked_sw=int(spec["locked_select_sw"], 16),
        params={
            "keys": keys,
            "key_versions": versions,
            "algorithm_id": int(prof["algorithms"][algorithm]["id"], 16),
            "overdraft_limit": overdraft_limit,
            "max_balance": prof["max_balance"],
            "prove_atc": prof["prove_atc"],
            "prove_unavailable_sw": int(prof["prove_unavailable_sw"], 16),
            "max_balance_exceeded_sw": int(prof["max_balance_exceeded_sw"], 16),
            "counter_exhausted_sw": int(prof["counter_exhausted_sw"], 16),
            "balance_p1": (prof["balance_query"]["primary_p1"], prof["balance_query"]["negative_p1"]),
            "txn": {name: int(t["code"], 16) for name, t in prof["transaction_types"].items()},
            "log": by_sfi[0x18].path,
            "capp_sfis": {s["sfi"] for s in prof["files"] if s.get("capp_cache")},
        },
    )
    return AppBuild(df, application, contents, ppse_entry=b"\x61" + bytes((len(entry),)) + entry)


def build_for(persona: Persona, profile: Profile) -> AppBuild:
    """The purse of a persona's card: its `epurse` section over the profile's defaults; dates
    default to the card's issue and expiry dates."""
    section = persona.sections.get(KIND, {})
    values = persona.values
    return build(
        region=values["card_identifier"][:3].hex(), card_serial=values["card_identifier"][-8:],
        holder_name=values["name"], citizen_id=values["citizen_id"],
        start=persona.date(section["start_date"]) if "start_date" in section else values["issue_date"],
        expiry=persona.date(section["expiry_date"]) if "expiry_date" in section else values["expiry_date"],
        balance=section.get("balance", 0), overdraft_limit=section.get("overdraft_limit", 0),
        card_type=section.get("card_type", "01"), locked=section.get("locked", False),
        algorithm=section.get("algorithm"), prof=profile["epurse"],
    )


# -- card side: state helpers ---------------------------------------------------------------
def _app(card: CardOS) -> Application:
    return card.require_application()


def _balance(card: CardOS, app: Application) -> int:
    return int.from_bytes(card.nvm[balance_key(app.path)], "big", signed=True)


def _shown(balance: int) -> bytes:
    """The primary purse: the balance's positive part, 4 bytes."""
    return max(balance, 0).to_bytes(4, "big")


def _counter(card: CardOS, app: Application, kind: str) -> int:
    atc = int.from_bytes(card.nvm[atc_key(app.path, kind)], "big")
    if atc == 0xFFFF:
        raise CardError(app.params["counter_exhausted_sw"], f"{kind} ATC exhausted")
    return atc


def _key(app: Application, usage: str, index: int = 0) -> KeySlot:
    key = app.params["keys"].get((usage, index))
    if key is None:
        raise CardError(SW.KEY_INDEX_NOT_SUPPORTED, f"no {usage} key with index {index:02X}")
    return key


def _append(card: CardOS, ef: EF, record: bytes) -> dict[str, bytes]:
    """The NVM updates that add `record` as record 1 of a cyclic EF (not yet written)."""
    head = card.nvm[head_key(ef.path)][0] % ef.max_records + 1
    count = min(card.nvm[count_key(ef.path)][0] + 1, ef.max_records)
    return {record_key(ef.path, head): record, head_key(ef.path): bytes((head,)), count_key(ef.path): bytes((count,))}


def _ef(card: CardOS, path: str) -> EF:
    return card.tree.nodes[path]  # type: ignore[return-value]


def _take_session(card: CardOS, *ops: str) -> dict:
    """The transaction in progress if it is one of `ops` (6985 otherwise); it ends here either way."""
    session, card.session = card.session, {}
    if session.get("op") not in ops:
        raise CardError(SW.CONDITIONS_NOT_SATISFIED, f"no {' or '.join(ops)} initialised")
    return session


# -- commands -------------------------------------------------------------------------------
@command(0x80, 0x5C, app=KIND)
def get_balance(card: CardOS, cmd: CommandAPDU) -> bytes:
    """805C 00 02 04: primary purse; 805C 01 02 04: negative purse (overdraft used). PURSE-BAL-001."""
    if cmd.data:
        raise CardError(SW.WRONG_LENGTH, "GET BALANCE takes no data")
    app = _app(card)
    primary, negative = app.params["balance_p1"]
    if cmd.p2 != 0x02 or cmd.p1 not in (primary, negative):
        raise CardError(SW.INCORRECT_P1P2, "GET BALANCE: P1 primary or negative purse, P2 02 (EP)")
    balance = _balance(card, app)
    return _shown(balance if cmd.p1 == primary else -balance)


@command(0x80, 0x50, app=KIND)
def initialize(card: CardOS, cmd: CommandAPDU) -> bytes:
    """INITIALIZE FOR LOAD (P1 00), PURCHASE (01), CAPP PURCHASE (03); data key index 1 ‖ amount 4 ‖
    terminal 6. A new INITIALIZE abandons the transaction in progress. PURSE-PUR-001, PURSE-LOAD-001."""
    op = {0x00: "load", 0x01: "purchase", 0x03: "composite"}.get(cmd.p1)
    if op is None or cmd.p2 != 0x02:
        raise CardError(SW.INCORRECT_P1P2, "INITIALIZE: P1 00 load, 01 purchase, 03 CAPP purchase; P2 02")
    if len(cmd.data) != 11:
        raise CardError(SW.WRONG_LENGTH, "INITIALIZE data is key index 1 ‖ amount 4 ‖ terminal 6")
    card.session = {}
    app = _app(card)
    p = app.params
    index, amount, terminal = cmd.data[0], int.from_bytes(cmd.data[1:5], "big"), cmd.data[5:11]
    usage = "load" if op == "load" else "purchase"
    key = _key(app, usage, index)
    balance = _balance(card, app)
    version_alg = bytes((p["key_versions"][usage], p["algorithm_id"]))
    random4 = card.rng.randbytes(4)
    if op == "load":
        if amount == 0:
            raise CardError(SW.WRONG_DATA, "a load of 0")
        if balance + amount > p["max_balance"]:
            raise CardError(p["max_balance_exceeded_sw"], f"balance would exceed {p['max_balance']}")
        atc = _counter(card, app, "online").to_bytes(2, "big")
        session_key = purse.load_session_key(key.value, random4, atc, algorithm=app.algorithm)
        mac1 = purse.load_mac1(session_key, max(balance, 0), amount, p["txn"]["load"], terminal,
                               algorithm=app.algorithm)
        card.session = {"op": op, "amount": amount, "terminal": terminal, "atc": atc, "key": session_key}
        return _shown(balance) + atc + version_alg + random4 + mac1
    if balance - amount < -p["overdraft_limit"]:
        raise CardError(SW.INSUFFICIENT_FUNDS, f"balance {balance} + overdraft {p['overdraft_limit']} < {amount}")
    atc = _counter(card, app, "offline").to_bytes(2, "big")
    card.session = {"op": op, "amount": amount, "terminal": terminal, "atc": atc, "random": random4,
                    "key": key.value, "staged": {}}
    return _shown(balance) + atc + p["overdraft_limit"].to_bytes(3, "big") + version_alg + random4


@command(0x80, 0xDC, app=KIND)
def update_capp_data_cache(card: CardOS, cmd: CommandAPDU) -> bytes:
    """80DC P1 P2=SFI<<3: stage a record for the DEBIT FOR CAPP PURCHASE that follows; P1 = record
    number of a linear EF, 00 = a new record of a cyclic EF ([B]). Writes nothing. PURSE-CPUR-001."""
    if cmd.le is not None or not cmd.data:
        raise CardError(SW.WRONG_LENGTH, "UPDATE CAPP DATA CACHE takes a record and no Le")
    if cmd.p2 & 0x07:
        raise CardError(SW.INCORRECT_P1P2, "UPDATE CAPP DATA CACHE: P2 = SFI << 3")
    if card.session.get("op") != "composite":
        raise CardError(SW.CONDITIONS_NOT_SATISFIED, "no CAPP purchase initialised")
    app = _app(card)
    adf = card.tree.nodes[app.path]
    ef = adf.ef_by_sfi(cmd.p2 >> 3)  # type: ignore[union-attr]
    if ef is None:
        raise CardError(SW.FILE_NOT_FOUND, f"no EF with SFI {cmd.p2 >> 3:02X}")
    if ef.sfi not in app.params["capp_sfis"]:
        raise CardError(SW.COMMAND_INCOMPATIBLE, f"{ef.name} is not a CAPP data file")
    if ef.structure == "cyclic" and cmd.p1 != 0:
        raise CardError(SW.INCORRECT_P1P2, f"{ef.name} is cyclic: P1 00 adds a new record")
    if ef.structure != "cyclic" and not 1 <= cmd.p1 <= ef.max_records:
        raise CardError(SW.RECORD_NOT_FOUND, f"{ef.name} has records 1..{ef.max_records}")
    if len(cmd.data) != ef.record_size:
        raise CardError(SW.WRONG_LENGTH, f"{ef.name} records are {ef.record_size} bytes")
    card.session["staged"][(ef.path, cmd.p1)] = cmd.data
    return b""


@command(0x80, 0x54, app=KIND)
def debit(card: CardOS, cmd: CommandAPDU) -> bytes:
    """DEBIT FOR (CAPP) PURCHASE 8054 01 00: terminal serial 4 ‖ date 4 ‖ time 3 ‖ MAC1 4 -> TAC 4 ‖
    MAC2 4. One NVM write commits balance, ATC, 0x18 record, staged records and the proof.
    PURSE-PUR-002, PURSE-MAC-001, PURSE-NVM-001."""
    if cmd.p1 != 0x01 or cmd.p2 != 0x00:
        raise CardError(SW.INCORRECT_P1P2, "DEBIT FOR PURCHASE takes P1 01, P2 00")
    if len(cmd.data) != 15:
        raise CardError(SW.WRONG_LENGTH, "DEBIT data is terminal serial 4 ‖ date 4 ‖ time 3 ‖ MAC1 4")
    session = _take_session(card, "purchase", "composite")
    app = _app(card)
    p = app.params
    serial4, date4, time3, mac1 = cmd.data[0:4], cmd.data[4:8], cmd.data[8:11], cmd.data[11:15]
    amount, terminal, atc = session["amount"], session["terminal"], session["atc"]
    txn = p["txn"][session["op"]]
    alg = app.algorithm
    session_key = purse.purchase_session_key(session["key"], session["random"], atc, serial4, algorithm=alg)
    if mac1 != purse.purchase_mac1(session_key, amount, txn, terminal, date4, time3, algorithm=alg):
        raise CardError(SW.MAC_INVALID, "MAC1 wrong")
    balance = _balance(card, app)
    if balance - amount < -p["overdraft_limit"]:
        raise CardError(SW.INSUFFICIENT_FUNDS, "balance changed since INITIALIZE")
    mac2 = purse.purchase_mac2(session_key, amount, algorithm=alg)
    tac = purse.tac(_key(app, "tac").value, amount, txn, terminal, serial4, date4, time3, algorithm=alg)
    counter = int.from_bytes(atc, "big")
    updates = {
        balance_key(app.path): (balance - amount).to_bytes(4, "big", signed=True),
        atc_key(app.path, "offline"): (counter + 1).to_bytes(2, "big"),
        proof_key(app.path): bytes((txn,)) + atc + mac2 + tac,
        **_append(card, _ef(card, p["log"]),
                  log_record(counter, p["overdraft_limit"], amount, txn, terminal, date4, time3)),
    }
    for (path, number), record in session["staged"].items():
        ef = _ef(card, path)
        updates.update(_append(card, ef, record) if ef.structure == "cyclic" else {record_key(path, number): record})
    card.nvm.write(updates)
    return tac + mac2


@command(0x80, 0x52, app=KIND)
def credit_for_load(card: CardOS, cmd: CommandAPDU) -> bytes:
    """CREDIT FOR LOAD 8052 00 00: date 4 ‖ time 3 ‖ MAC2 4 -> TAC 4; one NVM write as DEBIT's.
    PURSE-LOAD-002."""
    if cmd.p1 or cmd.p2:
        raise CardError(SW.INCORRECT_P1P2, "CREDIT FOR LOAD takes P1 = P2 = 00")
    if len(cmd.data) != 11:
        raise CardError(SW.WRONG_LENGTH, "CREDIT FOR LOAD data is date 4 ‖ time 3 ‖ MAC2 4")
    session = _take_session(card, "load")
    app = _app(card)
    p = app.params
    date4, time3, mac2 = cmd.data[0:4], cmd.data[4:7], cmd.data[7:11]
    amount, terminal, atc = session["amount"], session["terminal"], session["atc"]
    txn = p["txn"]["load"]
    expected = purse.load_mac2(session["key"], amount, txn, terminal, date4, time3, algorithm=app.algorithm)
    if mac2 != expected:
        raise CardError(SW.MAC_INVALID, "MAC2 wrong")
    new = _balance(card, app) + amount
    if new > p["max_balance"]:
        raise CardError(p["max_balance_exceeded_sw"], "balance changed since INITIALIZE")
    tac = load_tac(_key(app, "tac").value, max(new, 0), atc, amount, txn, terminal, date4, time3,
                   algorithm=app.algorithm)
    counter = int.from_bytes(atc, "big")
    card.nvm.write({
        balance_key(app.path): new.to_bytes(4, "big", signed=True),
        atc_key(app.path, "online"): (counter + 1).to_bytes(2, "big"),
        proof_key(app.path): bytes((txn,)) + atc + mac2 + tac,
        **_append(card, _ef(card, p["log"]),
                  log_record(counter, p["overdraft_limit"], amount, txn, terminal, date4, time3)),
    })
    return tac


@command(0x80, 0x5A, app=KIND)
def get_transaction_prove(card: CardOS, cmd: CommandAPDU) -> bytes:
    """GET TRANSACTION PROVE 805A 00 <txn type>: ATC 2 -> MAC2 4 ‖ TAC 4 of the last value transaction
    when the ATC names it (profile `prove_atc`: its ATC + 1 or its ATC itself; for a load the online
    ATC, and MAC2 is the one the card verified); 9406 otherwise [B]. PURSE-PROVE-001."""
    if cmd.p1 != 0x00:
        raise CardError(SW.INCORRECT_P1P2, "GET TRANSACTION PROVE takes P1 00, P2 = transaction type")
    if len(cmd.data) != 2:
        raise CardError(SW.WRONG_LENGTH, "GET TRANSACTION PROVE data is the ATC (2 bytes)")
    app = _app(card)
    proof = card.nvm.get(proof_key(app.path), b"")
    unavailable = app.params["prove_unavailable_sw"]
    if len(proof) != PROOF_LENGTH or proof[0] != cmd.p2:
        raise CardError(unavailable, "no proof of that transaction type")
    atc = int.from_bytes(proof[1:3], "big")
    named = atc + 1 if app.params["prove_atc"] == "next_offline_atc" else atc
    if int.from_bytes(cmd.data, "big") != named:
        raise CardError(unavailable, "no proof for that ATC")
    return proof[3:7] + proof[7:11]


@command(0x84, 0x1E, app=KIND)
def application_block(card: CardOS, cmd: CommandAPDU) -> bytes:
    """APPLICATION BLOCK 841E 00 00 04 MAC: with the right DAMK MAC over a fresh challenge, lock the
    purse permanently (SELECT then answers 9303). PURSE-LOCK-001."""
    if cmd.p1 or cmd.p2:
        raise CardError(SW.INCORRECT_P1P2, "APPLICATION BLOCK takes P1 = P2 = 00 (permanent)")
    if len(cmd.data) != 4 or cmd.le is not None:
        raise CardError(SW.WRONG_LENGTH, "APPLICATION BLOCK data is the MAC (4 bytes), no Le")
    app = _app(card)
    challenge = card.take_challenge()
    header = bytes((cmd.cla, cmd.ins, cmd.p1, cmd.p2, len(cmd.data)))
    if cmd.data != block_mac(app.algorithm, _key(app, "maintenance").value, challenge, header):
        raise CardError(SW.SM_DATA_INCORRECT, "APPLICATION BLOCK MAC wrong")
    card.session = {}
    card.nvm.write({locked_key(app.path): b"\x01"})
    return b""
