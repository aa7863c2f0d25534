"""Personal data is masked in values, free text and APDU traces."""

from datetime import date

from simulator.privacy import TraceMasker, mask_record, mask_text, mask_value
from simulator.tlv import tlv


def test_value_masks_keep_too_little_to_identify():
    assert mask_value("citizen_id", "410203198506150130") == "4102************30"
    assert mask_value("name", "测试甲") == "测**"
    assert mask_value("birth_date", date(1985, 6, 15)) == "198*-**-**"
    assert mask_value("sex", "1") == "*"


def test_a_record_keeps_only_the_fields_it_declares():
    citizen_id = "410203198506150130"
    record = {"reason": "OK", "debited": 200, "name": "测试甲", "birth_date": "1985-06-15",
              "visitor": {"citizen_id": citizen_id}, "evidence": {"atc": "0001", "citizen_id": citizen_id}}
    masked = mask_record(record, keep={"reason", "debited"}, nested={"evidence": {"atc"}})
    assert masked == {"reason": "OK", "debited": 200, "name": "测**", "birth_date": "*" * 10,
                      "visitor": "*" * len(str(record["visitor"])),
                      "evidence": {"atc": "0001", "citizen_id": "4102************30"}}
    assert mask_record({"evidence": citizen_id}, keep={"evidence"}, nested={"evidence": set()}) == {
        "evidence": "*" * 18}  # a nested record that is not one is withheld, not kept


def test_free_text_citizen_ids_are_masked():
    text = "card of 410203198506150130 refused"
    assert mask_text(text) == "card of 4102************30 refused"
    assert mask_text("order 12345") == "order 12345"


def test_trace_masks_personal_records_pins_and_record_writes():
    masker = TraceMasker.from_profiles()
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


def test_trace_masks_the_pan_and_track2_wherever_the_tlv_puts_them():
    masker = TraceMasker.from_profiles()
    pan = bytes.fromhex("6299991234567890")
    track2 = bytes.fromhex("6299991234567890D3012201")
    gpo = tlv(0x77, tlv(0x82, b"\x00\x80") + tlv(0x57, track2) + tlv(0x9F36, b"\x00\x01"))
    masked = masker.response(bytes.fromhex("80A8000023"), gpo + b"\x90\x00")
    assert track2 not in masked and masked.endswith(b"\x90\x00") and len(masked) == len(gpo) + 2
    assert b"\x9f\x36\x02\x00\x01" in masked  # the ATC is not personal
    record = tlv(0x70, tlv(0x5A, pan) + tlv(0x5F24, bytes.fromhex("301231")))
    masked = masker.response(bytes.fromhex("00B2010C00"), record + b"\x90\x00")
    assert pan not in masked and bytes.fromhex("5F2403301231") in masked


def test_trace_masks_the_purse_cardholder_file_but_keeps_the_card_type():
    masker = TraceMasker.from_profiles()
    ef16 = b"\x03\x00" + "测试".encode("gbk").ljust(20, b"\0") + b"410203198506150130".ljust(32, b"\0") + b"\x00"
    masked = masker.response(bytes.fromhex("00B0960037"), ef16 + b"\x90\x00")
    assert masked[:2] == b"\x03\x00" and "测试".encode("gbk") not in masked and b"4102031985" not in masked


def test_a_citizen_id_in_any_response_is_masked():
    masker = TraceMasker.from_profiles()
    masked = masker.response(bytes.fromhex("00B0000010"), b"xx410203198506150130yy\x90\x00")
    assert masked == b"xx4102**************yy\x90\x00"


def test_an_update_of_the_purse_cardholder_file_is_masked_too():
    masker = TraceMasker.from_profiles()
    body = b"\x01\x00" + "测试".encode("gbk").ljust(20, b"\0")
    masked = masker.command(bytes.fromhex("00D6960016") + body)
    assert masked[5:7] == b"\x01\x00" and "测试".encode("gbk") not in masked
