"""The SSSE reader reads every element the card allows, reports the rest, masks personal data."""

from datetime import date

import pytest

from simulator.backend.issuer import IssuerKeys
from simulator.card import personas
from simulator.card.cardos import CardOS
from simulator.devices.ssse_reader import ReadError, read_card
from simulator.transport import InProcessTransport

AS_OF = date(2026, 11, 23)


def _read(persona, **kw):
    with InProcessTransport(CardOS(personas.image(persona, as_of=AS_OF))) as transport:
        return read_card(transport, **kw)


def test_generation_3_reads_everything_after_external_authentication():
    out = _read("normal", keys=IssuerKeys())
    expected = personas.resolve("normal", as_of=AS_OF).values
    assert out.errors == {}
    assert out.opened_by == "auth:0A"
    assert out.algorithm == "sm4"
    assert out.values == {k: (v.rstrip() if isinstance(v, str) else v) for k, v in expected.items()}


def test_without_the_issuer_keys_ef06_stays_closed():
    out = _read("normal")
    assert out.opened_by == "none"
    assert {"citizen_id", "name", "birth_date"} <= set(out.errors)
    assert out.errors["citizen_id"].startswith("6982")
    assert "card_identifier" in out.values


def test_generation_2_opens_ef06_with_the_pin():
    out = _read("second_generation", pin="888888")
    assert (out.algorithm, out.opened_by, out.errors) == ("3des", "pin", {})


def test_garbled_records_are_reported_per_element_and_masked():
    out = _read("garbled", keys=IssuerKeys())
    assert set(out.errors) == {"name", "birth_date"}
    assert "masked" in out.errors["birth_date"] and "1317" not in out.errors["birth_date"]


def test_a_locked_application_is_a_clear_read_error():
    with pytest.raises(ReadError, match="6283"):
        _read("app_locked", keys=IssuerKeys())


def test_shown_values_mask_personal_data_unless_asked():
    out = _read("normal", keys=IssuerKeys())
    values = personas.resolve("normal", as_of=AS_OF).values
    masked = out.shown()
    assert values["citizen_id"] not in masked.values()
    assert masked["name"] == "测**"
    assert masked["birth_date"] == "198*-**-**"
    assert masked["card_identifier"] == values["card_identifier"].hex().upper()  # not personal
    assert out.shown(show_personal_data=True)["citizen_id"] == values["citizen_id"]
