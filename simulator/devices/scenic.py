"""Scenic-spot (and library, museum) gate: identity and entitlement from the social-security
application, nothing charged; or admission by the e-SSC code (simulator/devices/code_flow.py).

It reads only what entitlement needs (data minimisation, terminals.yaml `minimisation.scenic`):
卡识别码 and the validity dates from EF05, and 出生日期 from EF06 after the HSM authenticates
the terminal (EXTERNAL AUTHENTICATE with key 0A); never 姓名 or 社会保障号码.
"""

from __future__ import annotations

from datetime import date

from simulator.apdu import SW
from simulator.card.apps import ssse
from simulator.devices.code_flow import CodeReader
from simulator.devices.ssse_reader import READ_KEY, IssuerKeys
from simulator.devices.steps import Flow, Phase
from simulator.devices.terminal import Terminal
from simulator.transport.base import Transport


def age_on(birth: date, day: date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


class ScenicGate(CodeReader, Terminal):
    kind = "scenic"

    def __init__(self, *, keys: IssuerKeys | None = None, **kw) -> None:
        super().__init__(**kw)
        self.keys = keys or IssuerKeys(self.profile)
        self.ssse_profile = self.profile["ssse"]
        self.elements = ssse.elements(self.ssse_profile)

    def free_from_age(self, card_identifier: bytes) -> int:
        """The age from which the holder enters free: the region's age for its own residents
        (terminals.yaml `scenic.local_residents`) when the card was issued in one of the region's
        divisions (卡识别码 starts with the division code, 3 bytes BCD), else `scenic.free_from_age`."""
        rule = self.terminals["scenic"]
        region = self.profile.region_document or {}
        if "local_residents" in rule and card_identifier[:3].hex() in region.get("division_codes", ()):
            return rule["local_residents"]["free_from_age"]
        return rule["free_from_age"]

    def _read(self, card: Transport, name: str) -> bytes | None:
        element = self.elements[name]
        sfi = 5 if element.file == "EF05" else 6
        by_tag = element.file == "EF06"
        p1, p2 = (element.tag, sfi << 3) if by_tag else (element.record, (sfi << 3) | 4)
        answer = card.send(0x00, 0xB2, p1, p2, le=0)
        return answer.data if answer.sw == SW.OK else None

    def flow(self, card: Transport) -> Flow:
        aid = bytes.fromhex(self.ssse_profile["application"]["aid"])
        selected = card.send(0x00, 0xA4, 0x04, 0x00, aid, le=0)
        yield Phase("select the social-security application")
        if selected.sw == SW.FILE_DEACTIVATED:
            return self.decide("APP_LOCKED", detail=f"SELECT SSSE {selected.sw:04X}")
        if selected.sw != SW.OK:
            return self.decide("NO_APPLICATION", detail=f"SELECT SSSE {selected.sw:04X}")
        today = self.clock().date()
        try:
            values = {
                n: self.elements[n].parse_record(self._read(card, n) or b"")
                for n in ("card_identifier", "issue_date", "expiry_date")
            }
        except ValueError as exc:  # the exchanges so far are timed as the presentation's last step
            return self.decide("CARD_ERROR", detail=str(exc))
        yield Phase("read 卡识别码 and the validity dates from EF05")
        card_id = values["card_identifier"].hex().upper()
        if (yield from self.status.check([card_id])).listed:
            return self.decide("BLACKLISTED", card=card_id)
        if today < values["issue_date"]:
            return self.decide("NOT_YET_VALID", card=card_id)
        if today > values["expiry_date"]:
            return self.decide("EXPIRED", card=card_id)
        challenge = card.send(0x00, 0x84, 0x00, 0x00, le=8)
        algorithm = "sm4" if b"\x9f\x0c\x03\x86\x01\x03" in selected.data else "3des"
        if challenge.sw == SW.OK:
            cryptogram = self.keys.external_auth(READ_KEY, values["card_identifier"], algorithm, challenge.data)
            card.send(0x00, 0x82, 0x00, READ_KEY, cryptogram)
        raw = self._read(card, "birth_date")
        yield Phase("authenticate the terminal (key 0A), read 出生日期 from EF06")
        if raw is None:
            return self.decide("NOT_ENTITLED", card=card_id, detail="出生日期 not readable")
        try:
            age = age_on(self.elements["birth_date"].parse_record(raw), today)
        except ValueError as exc:
            return self.decide("CARD_ERROR", card=card_id, detail=str(exc))
        free_below = self.terminals["scenic"]["free_below_age"]
        entitled = age >= self.free_from_age(values["card_identifier"]) or age < free_below
        return self.decide("ENTITLED" if entitled else "NOT_ENTITLED", card=card_id, evidence={"age": age})
