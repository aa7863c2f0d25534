"""银联闪付 (UnionPay QuickPass, qPBOC): the card's financial application, from `profiles/national/qpboc.yaml`.

What a gate or POS sees (transit-payment.md §2): the PPSE lists the AID; SELECT answers an FCI with
the PDOL (9F38) and the online-ODA flag (BF0C / DF61); GET PROCESSING OPTIONS with the PDOL data runs
the card's risk management and answers template 77 with the application cryptogram; READ RECORD per
AFL (a card-OS command) gives PAN, expiry and Track 2. The ATC and the EC balance (9F79) live in NVM and
change in one atomic write, so a tear leaves both old or both new.

The cryptogram functions at module level (`card_ac_key`, `application_cryptogram`, `compute_cryptogram`,
`verify_cryptogram`) are the one definition of the modelled JR/T 0025 layout (`source: modelled` in
the profile): the card calls them with its UDK, an issuer back-end with its master key and the tags
of field 55. No fDDA (9F4B) and no PIN: this is the online / EC path only.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from datetime import date
from typing import TYPE_CHECKING

from simulator.apdu import SW, CardError, CommandAPDU, ResponseAPDU
from simulator.card.commands import command
from simulator.card.commands_files import select as os_select
from simulator.card.filesystem import DF, EF, Access
from simulator.card.image import AppBuild, Application, KeySlot, count_key, locked_key, record_key
from simulator.crypto import diversify, pboc_mac
from simulator.privacy import mask_pan
from simulator.profile import Profile, ProfileError, national
from simulator.tlv import parse_tlv, tlv

if TYPE_CHECKING:
    from simulator.card.cardos import CardOS
    from simulator.card.personas import Persona

KIND = "qpboc"
#: EMV tags the card's own logic reads (the rest of the layout comes from the profile).
TTQ, AMOUNT, CURRENCY, TXN_DATE, AIP, ATC, IAD = 0x9F66, 0x9F02, 0x5F2A, 0x9A, 0x82, 0x9F36, 0x9F10
EC_BALANCE = 0x9F79
#: risk conditions a profile rule may name (also the schema's enum).
CONDITIONS = (
    "application_locked",
    "application_expired",
    "terminal_data_malformed",
    "online_cryptogram_required",
    "currency_not_application_currency",
    "amount_over_offline_limit",
    "amount_over_ec_balance",
)
_GPO_DONE = "qpboc.gpo_done"


def atc_key(app: str) -> str:
    """NVM key of the application transaction counter (9F36, 2 bytes)."""
    return f"data:{app}:9F36"


def ec_balance_key(app: str) -> str:
    """NVM key of the electronic-cash balance (9F79, n12 in fen)."""
    return f"data:{app}:9F79"


# -- BER-TLV and DOLs (EMV Book 3 Annex B) ----------------------------------------------------
def _pdol(qpboc_profile: dict) -> list[tuple[int, int]]:
    return [(int(e["tag"], 16), e["length"]) for e in qpboc_profile["pdol"]["entries"]]


def pdol_bytes(qpboc_profile: dict | None = None) -> bytes:
    """9F38 as the card's FCI carries it: tag ‖ length per entry, in the real trace's order."""
    out = b""
    for tag, n in _pdol(qpboc_profile or national()["qpboc"]):
        out += tlv(tag, b"")[:-1] + bytes((n,))
    return out


# -- numbers, dates, PAN -----------------------------------------------------------------------
def luhn_check_digit(body: str) -> str:
    """ISO/IEC 7812-1 check digit for the digits before it."""
    if not body.isdigit() or not body.isascii():
        raise ValueError(f"a PAN body is digits, got {len(body)} characters that are not")
    total = 0
    for i, c in enumerate(reversed(body)):
        d = int(c) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return str(-total % 10)


def luhn_valid(number: str) -> bool:
    return len(number) >= 2 and number.isdigit() and luhn_check_digit(number[:-1]) == number[-1]


def amount_n12(value: int) -> bytes:
    """An amount in fen as EMV n12 (6 bytes BCD)."""
    if not 0 <= value <= 999_999_999_999:
        raise ValueError(f"amount {value} does not fit n12")
    return bytes.fromhex(f"{value:012d}")


def amount_of(raw: bytes) -> int | None:
    """An n-format amount, or None when the bytes are not BCD digits."""
    text = raw.hex()
    return int(text) if text.isdigit() else None


def yymmdd(day: date) -> bytes:
    return bytes.fromhex(f"{day:%y%m%d}")


def date_of(raw: bytes) -> date | None:
    """An EMV YYMMDD date (YY < 50 is 20YY), or None when it is not one."""
    text = raw.hex()
    if len(text) != 6 or not text.isdigit():
        return None
    yy = int(text[:2])
    try:
        return date((2000 if yy < 50 else 1900) + yy, int(text[2:4]), int(text[4:]))
    except ValueError:
        return None


def _cn(digits: str) -> bytes:
    return bytes.fromhex(digits + "F" * (len(digits) % 2))


def track2(pan: str, expiry: date, qpboc_profile: dict | None = None) -> bytes:
    """Track 2 equivalent data (57): PAN ‖ D ‖ YYMM ‖ service code ‖ discretionary, F-padded."""
    spec = (qpboc_profile or national()["qpboc"])["track2"]
    return _cn(f"{pan}D{expiry:%y%m}{spec['service_code']}{spec['discretionary']}")


def synthetic_pan(card_identifier: bytes, qpboc_profile: dict | None = None) -> str:
    """A Luhn-valid synthetic PAN derived from the card's 卡识别码 (for personas that give none)."""
    spec = (qpboc_profile or national()["qpboc"])["synthetic_pan"]
    room = spec["length"] - len(spec["prefix"]) - 1
    body = spec["prefix"] + f"{int.from_bytes(card_identifier[-8:], 'big') % 10**room:0{room}d}"
    return body + luhn_check_digit(body)


# -- keys and the application cryptogram (card and issuer share this code) ---------------------
def key_factor(pan: str, pan_sequence: int) -> bytes:
    """8-byte factor: rightmost 16 digits of PAN ‖ PSN (2 digits), left-padded with 0 (EMV option A)."""
    if not pan.isdigit() or not 0 <= pan_sequence <= 99:
        raise ValueError(f"PAN {mask_pan(pan)} / PSN {pan_sequence} cannot make a key factor")
    return bytes.fromhex(f"{pan}{pan_sequence:02d}"[-16:].rjust(16, "0"))


def card_ac_key(algorithm: str, master_key: bytes, pan: str, pan_sequence: int) -> bytes:
    """The card's AC key (UDK): the issuer master key diversified by the PAN factor (modelled)."""
    return diversify(algorithm, master_key, key_factor(pan, pan_sequence))


def session_key(algorithm: str, card_key: bytes, atc: bytes) -> bytes:
    """AC session key: the UDK diversified by ATC ‖ 00×6 (modelled)."""
    if len(atc) != 2:
        raise ValueError(f"the ATC has 2 bytes, got {len(atc)}")
    return diversify(algorithm, card_key, bytes(atc) + bytes(6))


def cvr_of(iad: bytes, qpboc_profile: dict | None = None) -> bytes:
    """The card verification results inside issuer application data (9F10), per the profile layout."""
    offset = 0
    for item in (qpboc_profile or national()["qpboc"])["issuer_application_data"]["layout"]:
        size = item.get("length") or len(bytes.fromhex(item.get("value") or item["by_algorithm"]["3des"]))
        if item["name"] == "cvr":
            if len(iad) < offset + size:
                raise ValueError(f"9F10 of {len(iad)} bytes holds no CVR at {offset}..{offset + size}")
            return bytes(iad[offset : offset + size])
        offset += size
    raise ValueError("the profile's IAD layout has no cvr")


def cryptogram_input(tags: Mapping[int, bytes], qpboc_profile: dict | None = None) -> bytes:
    """The data the AC is computed over, from the tags of GPO / field 55 (layout: profile, modelled)."""
    qpboc_profile = qpboc_profile or national()["qpboc"]
    lengths = dict(_pdol(qpboc_profile)) | {AIP: 2, ATC: 2}
    out = b""
    for item in qpboc_profile["cryptogram"]["input"]:
        tag = IAD if item == "cvr" else int(item, 16)
        if tag not in tags:
            raise ValueError(f"tag {tag:X} missing from the cryptogram data")
        value = cvr_of(tags[tag], qpboc_profile) if item == "cvr" else bytes(tags[tag])
        if item != "cvr" and tag in lengths and len(value) != lengths[tag]:
            raise ValueError(f"tag {tag:X} has {len(value)} bytes, {lengths[tag]} expected")
        out += value
    return out


def application_cryptogram(algorithm: str, card_key: bytes, tags: Mapping[int, bytes],
                           qpboc_profile: dict | None = None) -> bytes:
    """9F26: leftmost 8 bytes of the PBOC MAC under the session key of tags[9F36] (modelled)."""
    qpboc_profile = qpboc_profile or national()["qpboc"]
    return pboc_mac(algorithm, session_key(algorithm, card_key, tags[ATC]), cryptogram_input(tags, qpboc_profile),
                    length=qpboc_profile["cryptogram"]["length"])


def compute_cryptogram(*, algorithm: str, master_key: bytes, pan: str, pan_sequence: int,
                       tags: Mapping[int, bytes], qpboc_profile: dict | None = None) -> bytes:
    """The issuer's AC for a transaction, from its master key (IMK-AC) and the field-55 tags."""
    return application_cryptogram(algorithm, card_ac_key(algorithm, master_key, pan, pan_sequence), tags, qpboc_profile)


def verify_cryptogram(cryptogram: bytes, *, algorithm: str, master_key: bytes, pan: str, pan_sequence: int,
                      tags: Mapping[int, bytes], qpboc_profile: dict | None = None) -> bool:
    """True when `cryptogram` (9F26) is the card's AC over `tags`; ValueError when tags are missing."""
    expected = compute_cryptogram(algorithm=algorithm, master_key=master_key, pan=pan, pan_sequence=pan_sequence,
                                  tags=tags, qpboc_profile=qpboc_profile)
    return hmac.compare_digest(expected, bytes(cryptogram))


# -- card risk management -------------------------------------------------------------------
def risk_conditions(terminal: Mapping[int, bytes], *, ec_balance: int, offline_limit: int, expiry_date: date,
                    locked: bool = False, qpboc_profile: dict | None = None) -> dict[str, bool]:
    """Which risk conditions hold for one GPO's terminal data (names: `CONDITIONS`)."""
    qpboc_profile = qpboc_profile or national()["qpboc"]
    amount, today = amount_of(terminal[AMOUNT]), date_of(terminal[TXN_DATE])
    ttq = qpboc_profile["risk"]["ttq_online_required"]
    return {
        "application_locked": locked,
        "application_expired": today is not None and today > expiry_date,
        "terminal_data_malformed": amount is None or today is None,
        "online_cryptogram_required": bool(terminal[TTQ][ttq["byte"] - 1] & int(ttq["mask"], 16)),
        "currency_not_application_currency":
            terminal[CURRENCY] != bytes.fromhex(qpboc_profile["application_currency"]["value"]),
        "amount_over_offline_limit": amount is not None and amount > offline_limit,
        "amount_over_ec_balance": amount is not None and amount > ec_balance,
    }


def decide(conditions: Mapping[str, bool], rules: list[dict]) -> str:
    """TC, ARQC or AAC: the decision of the first rule whose condition holds."""
    for rule in rules:
        if rule["when"] == "always" or conditions[rule["when"]]:
            return rule["decision"]
    raise ValueError("no risk rule matched; the last rule must be `always`")


def card_verification_results(decision: str, conditions: Mapping[str, bool],
                              qpboc_profile: dict | None = None) -> bytes:
    spec = (qpboc_profile or national()["qpboc"])["issuer_application_data"]["cvr"]
    reasons = 0
    for name, bit in spec["reasons"].items():
        reasons |= int(bit, 16) if conditions.get(name) else 0
    return bytes.fromhex(spec["length_byte"] + spec["decision"][decision]) + bytes((reasons, 0))


def issuer_application_data(algorithm: str, cvr: bytes, qpboc_profile: dict | None = None) -> bytes:
    """9F10 per the profile layout (modelled after the field-55 sample)."""
    out = b""
    for item in (qpboc_profile or national()["qpboc"])["issuer_application_data"]["layout"]:
        if "value" in item:
            out += bytes.fromhex(item["value"])
        elif "by_algorithm" in item:
            out += bytes.fromhex(item["by_algorithm"][algorithm])
        else:
            if len(cvr) != item["length"]:
                raise ValueError(f"the CVR has {len(cvr)} bytes, the IAD layout {item['length']}")
            out += cvr
    return out


def _check_profile(qpboc_profile: dict, where: str) -> None:
    """What the schema cannot say: rules end with `always`, nothing decides a debit before the balance
    and data checks, the PDOL carries what risk management reads, the IAD has exactly one CVR."""
    rules = qpboc_profile["risk"]["rules"]
    whens = [r["when"] for r in rules]
    if whens[-1] != "always" or "always" in whens[:-1]:
        raise ProfileError(f"{where}: risk.rules must end with (only) `always`, got {whens}")
    debit = qpboc_profile["risk"]["debit_on"]
    first_debit = next(i for i, r in enumerate(rules) if r["decision"] == debit or r["when"] == "always")
    for needed in ("terminal_data_malformed", "amount_over_ec_balance"):
        if needed not in whens[:first_debit]:
            raise ProfileError(f"{where}: risk.rules must check {needed} before deciding {debit}")
    missing = {TTQ, AMOUNT, CURRENCY, TXN_DATE} - {t for t, _ in _pdol(qpboc_profile)}
    if missing:
        raise ProfileError(f"{where}: pdol lacks {sorted(f'{t:X}' for t in missing)}")
    layout = qpboc_profile["issuer_application_data"]["layout"]
    lengths_only = [i["name"] for i in layout if "length" in i]
    if lengths_only != ["cvr"]:
        raise ProfileError(f"{where}: issuer_application_data.layout needs exactly one cvr, got {lengths_only}")
    for item in layout:
        if len({len(v) for v in item.get("by_algorithm", {}).values()}) > 1:
            raise ProfileError(f"{where}: IAD {item['name']} must have one length for every algorithm")
    if qpboc_profile["application"]["aid"] not in qpboc_profile["aids"]:
        raise ProfileError(f"{where}: application.aid {qpboc_profile['application']['aid']!r} is not a key of aids")


# -- the application as a DF subtree -----------------------------------------------------------
def build(*, pan: str, pan_sequence: int, expiry_date: date, effective_date: date, ec_balance: int,
          offline_limit: int, locked: bool = False, algorithm: str | None = None, where: str = "qpboc",
          qpboc_profile: dict | None = None) -> AppBuild:
    """The qPBOC ADF with its AFL records, ATC, EC balance and AC key for one card."""
    qpboc_profile = qpboc_profile or national()["qpboc"]
    _check_profile(qpboc_profile, "qpboc.yaml")
    if not luhn_valid(pan) or not 16 <= len(pan) <= 19:
        raise ProfileError(f"{where}: PAN {mask_pan(pan)} is not 16-19 digits with a valid Luhn check digit")
    if not 0 <= ec_balance <= 99_999_999 or offline_limit < 0:
        raise ProfileError(f"{where}: EC balance {ec_balance} / offline limit {offline_limit} out of range")
    spec = qpboc_profile["application"]
    algorithm = algorithm or spec["algorithm"]
    path = f"3F00/{spec['fid']}"
    aid = bytes.fromhex(qpboc_profile["aids"][spec["aid"]])
    values = {
        "pan": _cn(pan),
        "expiry_date": yymmdd(expiry_date),
        "effective_date": yymmdd(effective_date),
        "pan_sequence": bytes.fromhex(f"{pan_sequence:02d}"),
        "track2": track2(pan, expiry_date, qpboc_profile),
    }
    elements = qpboc_profile["elements"]
    efs, contents, afl = [], {}, b""
    for file in qpboc_profile["files"]:
        ef_path = f"{path}/{file['fid']}"
        recs = [tlv(0x70, b"".join(
            tlv(int(elements[name]["tag"], 16),
                bytes.fromhex(elements[name]["value"]) if "value" in elements[name] else values[name])
            for name in rec["elements"])) for rec in file["records"]]
        oda = [rec["oda"] for rec in file["records"]]
        if oda != sorted(oda, reverse=True):
            raise ProfileError(f"qpboc.yaml: {file['name']}: ODA records must come first (AFL byte 4)")
        efs.append(EF(file["name"], int(file["fid"], 16), ef_path, "linear_variable", Access("free", "never"),
                      sfi=file["sfi"], record_size=max(len(r) for r in recs), max_records=len(recs)))
        for n, rec in enumerate(recs, 1):
            contents[record_key(ef_path, n)] = rec
        contents[count_key(ef_path)] = bytes((len(recs),))
        afl += bytes((file["sfi"] << 3, 1, len(recs), sum(oda)))
    label = spec["label"].encode("ascii")
    priority = bytes((spec["priority"],))
    oda_flag = qpboc_profile["online_oda"]
    df = DF(spec["name"], int(spec["fid"], 16), path, aid, tuple(efs),
            fci_proprietary=tlv(0x50, label) + tlv(0x87, priority) + tlv(0x9F38, pdol_bytes(qpboc_profile))
            + tlv(0xBF0C, tlv(int(oda_flag["tag"], 16), bytes.fromhex(oda_flag["value"]))))
    contents[atc_key(path)] = bytes(2)
    contents[ec_balance_key(path)] = amount_n12(ec_balance)
    contents[locked_key(path)] = b"\x01" if locked else b"\x00"
    kid = spec["ac_key_id"]
    master = bytes.fromhex(qpboc_profile["test_keys"]["ac"][algorithm])
    keys = {kid: KeySlot(kid, "application_cryptogram", algorithm,
                         card_ac_key(algorithm, master, pan, pan_sequence))}
    application = Application(KIND, path, algorithm, keys, locked_sw=int(spec["locked_select_sw"], 16), params={
        "profile": qpboc_profile, "afl": afl, "expiry_date": expiry_date, "offline_limit": offline_limit,
        "track2": values["track2"],
    })
    ppse_entry = tlv(0x61, tlv(0x4F, aid) + tlv(0x50, label) + tlv(0x87, priority))
    return AppBuild(df, application, contents, ppse_entry)


def account_of(persona: Persona, profile: Profile) -> tuple[str, int]:
    """(PAN, PAN sequence number) of a persona's financial application: what its bank account is
    keyed by (its `qpboc` section's PAN, else a synthetic one)."""
    qpboc_profile = profile["qpboc"]
    pan = persona.sections.get(KIND, {}).get("pan") or synthetic_pan(persona.values["card_identifier"], qpboc_profile)
    return pan, qpboc_profile["synthetic_pan"]["pan_sequence"]


def account_activated(persona: Persona) -> bool:
    """Whether the holder has activated the financial account behind the card's application (its
    `qpboc` section's `activated`, default true). The chip is the same either way: only the bank
    knows, by holding an account for it or not (郑州市人民政府令第249号 art. 19)."""
    return persona.sections.get(KIND, {}).get("activated", True)


def build_for(persona: Persona, profile: Profile) -> AppBuild:
    """The qPBOC application of a persona's card (its `qpboc` section, else the profile's defaults)."""
    qpboc_profile = profile["qpboc"]
    section = persona.sections.get(KIND, {})
    defaults = qpboc_profile["risk"]["defaults"]
    pan, pan_sequence = account_of(persona, profile)
    expiry = persona.date(section["expiry_date"]) if "expiry_date" in section else persona.values["expiry_date"]
    return build(pan=pan, pan_sequence=pan_sequence, expiry_date=expiry,
                 effective_date=persona.values["issue_date"],
                 ec_balance=section.get("ec_balance", defaults["ec_balance"]),
                 offline_limit=section.get("offline_limit", defaults["offline_limit"]),
                 locked=section.get("locked", False), algorithm=section.get("algorithm"),
                 where=f"personas/{persona.name} qpboc", qpboc_profile=qpboc_profile)


# -- commands (reached only while the qPBOC application is selected) ----------------------------
@command(0x00, 0xA4, app=KIND)
def select(card: CardOS, cmd: CommandAPDU) -> bytes | ResponseAPDU:
    """The card OS's SELECT; selecting a DF also starts a new transaction, so a re-selected
    application accepts GPO again (modelled on EMV's 'SELECT starts the transaction')."""
    result = os_select(card, cmd)
    if card.current_ef is None:
        card.session.pop(_GPO_DONE, None)
    return result


def _terminal_data(data: bytes, qpboc_profile: dict) -> dict[int, bytes]:
    """The PDOL data of GPO (83 L <data>) split by the PDOL: 6700 for a wrong length, 6A80 otherwise."""
    try:
        items = parse_tlv(data)
    except ValueError as exc:
        raise CardError(SW.WRONG_LENGTH, f"GPO data is not one TLV: {exc}") from exc
    if len(items) != 1 or items[0][0] != 0x83:
        raise CardError(SW.WRONG_DATA, "GPO data must be one command template 83")
    value, entries = items[0][1], _pdol(qpboc_profile)
    if len(value) != sum(n for _, n in entries):
        raise CardError(SW.WRONG_LENGTH, f"PDOL data of {len(value)} bytes, the PDOL asks "
                                         f"{sum(n for _, n in entries)}")
    terminal, i = {}, 0
    for tag, n in entries:
        terminal[tag], i = value[i : i + n], i + n
    return terminal


@command(0x80, 0xA8, app=KIND)
def get_processing_options(card: CardOS, cmd: CommandAPDU) -> bytes:
    """GPO: card risk management, the AC, and ATC (+ EC debit on TC) committed in one NVM write."""
    app = card.require_application()
    params, qpboc_profile = app.params, app.params["profile"]
    if cmd.p1 or cmd.p2:
        raise CardError(SW.INCORRECT_P1P2, "GPO takes P1=P2=00")
    if card.session.get(_GPO_DONE):
        raise CardError(SW.CONDITIONS_NOT_SATISFIED, "GPO already given in this transaction")
    terminal = _terminal_data(cmd.data, qpboc_profile)
    counter = int.from_bytes(card.nvm[atc_key(app.path)], "big")
    if counter == 0xFFFF:
        raise CardError(SW.CONDITIONS_NOT_SATISFIED, "ATC exhausted")
    atc = (counter + 1).to_bytes(2, "big")
    balance = amount_of(card.nvm[ec_balance_key(app.path)])
    conditions = risk_conditions(terminal, ec_balance=balance, offline_limit=params["offline_limit"],
                                 expiry_date=params["expiry_date"], locked=card.application_locked(),
                                 qpboc_profile=qpboc_profile)
    decision = decide(conditions, qpboc_profile["risk"]["rules"])
    cvr = card_verification_results(decision, conditions, qpboc_profile)
    iad = issuer_application_data(app.algorithm, cvr, qpboc_profile)
    aip = bytes.fromhex(qpboc_profile["aip"]["value"])
    tags = terminal | {AIP: aip, ATC: atc, IAD: iad}
    ac_key = app.keys[qpboc_profile["application"]["ac_key_id"]].value
    ac = application_cryptogram(app.algorithm, ac_key, tags, qpboc_profile)
    updates = {atc_key(app.path): atc}
    if decision == qpboc_profile["risk"]["debit_on"]:
        balance -= amount_of(terminal[AMOUNT])
        updates[ec_balance_key(app.path)] = amount_n12(balance)
    card.nvm.write(updates)  # the one commit point: ATC and EC balance together
    card.session[_GPO_DONE] = True
    return tlv(0x77, b"".join((
        tlv(AIP, aip), tlv(0x94, params["afl"]), tlv(ATC, atc), tlv(0x9F26, ac),
        tlv(0x9F27, bytes.fromhex(qpboc_profile["cid"][decision])), tlv(IAD, iad), tlv(0x57, params["track2"]),
        tlv(0x9F5D, amount_n12(balance)), tlv(0x9F6C, bytes.fromhex(qpboc_profile["ctq"]["value"])),
    )))


@command(0x80, 0xCA, app=KIND)
def get_data(card: CardOS, cmd: CommandAPDU) -> bytes:
    """GET DATA for the ATC (9F36) and the EC balance (9F79): tag ‖ length ‖ value."""
    app = card.require_application()
    if cmd.data:
        raise CardError(SW.WRONG_LENGTH, "GET DATA takes no data")
    tag = cmd.p1 << 8 | cmd.p2
    if f"{tag:04X}" not in app.params["profile"]["get_data"]["tags"]:
        raise CardError(SW.REFERENCE_NOT_FOUND, f"no data object {tag:04X}")
    key = atc_key(app.path) if tag == ATC else ec_balance_key(app.path)
    return tlv(tag, card.nvm[key])
