"""Personal data is masked in values, free text and APDU traces."""

from datetime import date

from simulator.card.apps import ssse
from simulator.privacy import TraceMasker, mask_text, mask_value


def test_value_masks_keep_too_little_to_identify():
    assert mask_value("citizen_id", "410203198506150130") == "4102************30"
    assert mask_value("name", "测试甲") == "测**"
    assert mask_value("birth_date", date(1985, 6, 15)) == "198*-**-**"
    assert mask_value("sex", "1") == "*"


def test_free_text_citizen_ids_are_masked():
    text = "card of 410203198506150130 refused"
    assert mask_text(text) == "card of 4102************30 refused"
    assert mask_text("order 12345") == "order 12345"


def test_trace_masks_personal_records_pins_and_record_writes():
    masker = TraceMasker.from_elements(ssse.elements())
    read_id = bytes.fromhex("00B2083000")
    response = bytes.fromhex("0812") + b"410203198506150130" + b"\x90\x00"
    masked = masker.response(read_id, response)
    assert masked[:2] == bytes.fromhex("0812") and masked[-2:] == b"\x90\x00"
    assert b"410203" not in masked
    ef05 = bytes.fromhex("0304332E30309000")  # 规范版本 is not personal
    assert masker.response(bytes.fromhex("00B2032C00"), ef05) == ef05
    verify = bytes.fromhex("0020000003123456")
    assert masker.command(verify) == bytes.fromhex("00200000032A2A2A")
    update_name = bytes.fromhex("00DC020420091E") + "测试".encode("gbk").ljust(30, b"\0")
    assert "测试".encode("gbk") not in masker.command(update_name)
