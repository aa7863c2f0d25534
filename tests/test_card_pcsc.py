"""The reference social security card through the real PC/SC stack (pcscd + vpcd + pyscard).

What a department program on the same machine would see: every data element readable as the
profile says, the PIN counter, access conditions, and a card pulled mid-session as a clear error.
"""

from datetime import date

import pytest

from simulator.backend.issuer import IssuerKeys
from simulator.card import personas
from simulator.card.cardos import CardOS
from simulator.devices.ssse_reader import read_card
from simulator.transport import CardRemovedError, PcscTransport

pytestmark = [pytest.mark.pcsc, pytest.mark.timeout(30)]

AS_OF = date(2026, 11, 23)
AID = bytes.fromhex("7378312E73682EC9E7BBE1B1A3D5CF")


def _card(persona="normal"):
    return CardOS(personas.image(persona, as_of=AS_OF))


def test_every_data_element_of_the_normal_persona(vpcd_slot):
    reader, _ = vpcd_slot(_card())
    with PcscTransport(reader) as transport:
        out = read_card(transport, keys=IssuerKeys())
        atr = transport.atr
    expected = personas.resolve("normal", as_of=AS_OF).values
    assert out.errors == {}
    assert out.values == {k: (v.rstrip() if isinstance(v, str) else v) for k, v in expected.items()}
    assert atr == out.atr == personas.image("normal", as_of=AS_OF).atr


def test_three_wrong_pins_block_and_the_right_one_is_refused(vpcd_slot):
    reader, _ = vpcd_slot(_card())
    with PcscTransport(reader) as t:
        assert t.send(0x00, 0xA4, 0x04, 0x00, AID, le=0).sw == 0x9000
        wrong, right = bytes.fromhex("111111"), bytes.fromhex("123456")
        assert [t.send(0x00, 0x20, 0x00, 0x00, wrong).sw for _ in range(3)] == [0x63C2, 0x63C1, 0x6983]
        assert t.send(0x00, 0x20, 0x00, 0x00, right).sw == 0x6983


def test_access_conditions_hold_through_pcsc(vpcd_slot):
    reader, _ = vpcd_slot(_card())
    with PcscTransport(reader) as t:
        t.send(0x00, 0xA4, 0x04, 0x00, AID, le=0)
        assert t.send(0x00, 0xB2, 0x01, 0x2C, le=0).sw == 0x9000  # EF05: free read
        assert t.send(0x00, 0xB2, 0x08, 0x30, le=0).sw == 0x6982  # EF06: needs key 0A
        assert t.send(0x00, 0x20, 0x00, 0x00, bytes.fromhex("123456")).sw == 0x9000
        assert t.send(0x00, 0xB2, 0x08, 0x30, le=0).sw == 0x6982  # the PIN is not enough on gen 3
        record = bytes.fromhex("0201") + b"9"
        assert t.send(0x00, 0xDC, 0x02, 0x2C, record).sw == 0x6982  # EF05 update needs key 04


def test_a_card_pulled_mid_session_is_a_clear_error(vpcd_slot):
    reader, vcard = vpcd_slot(_card())
    with PcscTransport(reader) as t:
        assert t.send(0x00, 0xA4, 0x04, 0x00, AID, le=0).sw == 0x9000
        vcard.remove()
        with pytest.raises(CardRemovedError):
            t.send(0x00, 0xB2, 0x01, 0x2C, le=0)
