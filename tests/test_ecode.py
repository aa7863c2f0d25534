"""The e-code: its layout, the SM2 paths under it, and every verdict reason of the verifier.

The oracle is the chain of signatures made here with the reference SM2 (gmalg) and the windows of
profiles/national/ecode.yaml, never the verifier's own arithmetic; each case changes one thing from
a valid code and expects its own reason.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import timedelta

import pytest

from simulator import ecode
from simulator.clock import START
from simulator.crypto import sm2
from simulator.ecode import Reason, qr
from simulator.ecode.layout import SIZE, signed_parts
from simulator.profile import load

PROFILE = load("national/ecode", "ecode")
RNG = random.Random(2026)
CA, TEST_CA, ISSUER, USER = (sm2.generate_keypair(RNG) for _ in range(4))


def make(*, ca_index=1, ca_key=CA[0], kind="essc", card="K00000001", now=START, expires=None):
    """A code issued at START and shown at `now`: certificate, authorisation, display."""
    authority = ecode.CertificateAuthority(ca_index, ca_key)
    certificate = authority.certify(issuer_id=b"\x41\x00\x00\x01", issuer_key=ISSUER[1],
                                    expires=expires or START.date() + timedelta(days=365), serial=7, rng=RNG)
    issuer = ecode.Issuer(certificate, ISSUER[0], PROFILE)
    authorisation = issuer.authorise(card_number=card, holder=ecode.holder_binding("410203198506150131", "测试甲"),
                                     region="410200", kind=kind, user_key=USER[1], now=START, rng=RNG)
    return ecode.display(certificate=certificate, authorisation=authorisation, user_private_key=USER[0], now=now,
                         rng=RNG)


CHAIN = ecode.KeyChain([ecode.CaKey(1, CA[1], test=False), ecode.CaKey(200, TEST_CA[1], test=True)])


def check(raw: bytes, *, at=START + timedelta(seconds=10), chain=CHAIN, log=None, revoked=()):
    return ecode.verify(raw, chain=chain, profile=PROFILE, now=at, replay=log or ecode.MemoryReplayLog(),
                        revoked=lambda card: card in revoked)


def test_a_code_round_trips_through_its_bytes_and_binds_card_and_holder():
    code = make()
    raw = code.encode()
    assert len(raw) == SIZE == 318 and raw[0] == PROFILE["version_byte"]
    assert ecode.ECode.decode(raw) == code
    assert code.authorisation.card_number == "K00000001"
    assert code.authorisation.holder == ecode.holder_binding("410203198506150131", "测试甲")
    assert b"410203198506150131" not in raw and "测试甲".encode() not in raw  # no personal data on the QR


def test_a_valid_code_is_taken_once_and_each_scan_after_is_a_replay():
    log = ecode.MemoryReplayLog()
    raw = make().encode()
    first = check(raw, log=log)
    assert (first.reason, first.card_number, first.kind) == (Reason.VALID, "K00000001", "essc")
    assert check(raw, log=log).reason is Reason.REPLAYED
    assert check(make(now=START + timedelta(seconds=1)).encode(), log=log).reason is Reason.VALID  # next display


def test_expiry_is_the_profiles_window_to_the_second():
    raw = make().encode()
    window = PROFILE["kinds"]["essc"]["validity_seconds"]
    assert check(raw, at=START + timedelta(seconds=window)).reason is Reason.VALID
    assert check(raw, at=START + timedelta(seconds=window + 1)).reason is Reason.EXPIRED


def test_a_code_from_the_future_beyond_the_skew_is_not_yet_valid():
    skew = PROFILE["clock_skew_seconds"]
    assert check(make(now=START + timedelta(seconds=skew)).encode(), at=START).reason is Reason.VALID
    assert check(make(now=START + timedelta(seconds=skew + 1)).encode(), at=START).reason is Reason.NOT_YET_VALID


def test_a_revoked_card_is_refused_and_its_refusal_does_not_burn_the_code():
    log = ecode.MemoryReplayLog()
    raw = make().encode()
    assert check(raw, log=log, revoked={"K00000001"}).reason is Reason.REVOKED_CARD
    assert check(raw, log=log).reason is Reason.VALID


@pytest.mark.parametrize("offset", [3 + 20, 3 + 111 + 40, SIZE - 70, SIZE - 1])
def test_a_changed_byte_under_any_signature_is_a_wrong_signature(offset):
    raw = bytearray(make().encode())
    raw[offset] ^= 0x01
    verdict = check(bytes(raw))
    assert verdict.reason is Reason.WRONG_SIGNATURE, verdict


def test_the_signatures_are_checked_over_the_bytes_as_scanned():
    """The parts cut from the bytes are those the CA, the issuer and the user signed; a card number
    that decodes but does not encode (a leading space) is a wrong signature, not an error."""
    code = make()
    assert signed_parts(code.encode()) == (code.certificate.signed_part(),
                                           code.certificate.encode() + code.authorisation.encode()[:-64],
                                           code.user_signed_part())
    raw = bytearray(code.encode())
    number = 3 + 111  # the authorisation's card number, after the header and the certificate
    assert raw[number:number + 9] == b"K00000001"
    raw[number:number + 9] = b" K0000001"
    assert ecode.ECode.decode(bytes(raw)).authorisation.card_number == " K0000001"
    verdict = check(bytes(raw))
    assert (verdict.reason, verdict.detail) == (Reason.WRONG_SIGNATURE, "the issuer's over the authorisation does "
                                                                        "not verify")


def test_a_code_signed_by_another_user_key_is_a_wrong_signature():
    code = make()
    forged = ecode.display(certificate=code.certificate, authorisation=code.authorisation,
                           user_private_key=sm2.generate_keypair(RNG)[0], now=START, rng=RNG)
    verdict = check(forged.encode())
    assert (verdict.reason, verdict.detail) == (Reason.WRONG_SIGNATURE, "the user's over the display does not verify")


def test_a_certificate_not_signed_by_the_indexed_ca_is_a_wrong_signature():
    verdict = check(make(ca_index=1, ca_key=TEST_CA[0]).encode())
    assert verdict.reason is Reason.WRONG_SIGNATURE and "CA" in verdict.detail


def test_a_code_valid_only_under_a_test_key_is_refused_in_production_and_taken_in_test_mode():
    raw = make(ca_index=200, ca_key=TEST_CA[0]).encode()
    assert check(raw).reason is Reason.TEST_KEY
    test_mode = ecode.KeyChain(CHAIN.keys.values(), accept_test_keys=True)
    assert check(raw, chain=test_mode).reason is Reason.VALID


def test_an_unknown_ca_index_is_its_own_reason():
    assert check(make(ca_index=9).encode()).reason is Reason.UNKNOWN_CA_KEY


def test_an_expired_certificate_and_an_expired_authorisation_are_their_own_reasons():
    assert check(make(expires=START.date() - timedelta(days=1)).encode()).reason is Reason.CERTIFICATE_EXPIRED
    days = PROFILE["authorisation_days"]
    late = START + timedelta(days=days, seconds=1)
    assert check(make(now=late).encode(), at=late).reason is Reason.AUTHORISATION_EXPIRED


@pytest.mark.parametrize("raw", [b"", b"\x81" * 10, b"\x00" + make().encode()[1:], make().encode() + b"\x00"])
def test_bytes_that_are_no_code_are_malformed(raw):
    assert check(raw).reason is Reason.MALFORMED


def test_an_unknown_kind_is_malformed():
    code = make()
    odd = replace(code, authorisation=replace(code.authorisation, kind=0x7F))
    assert check(odd.encode()).reason is Reason.MALFORMED


def test_compressed_keys_decompress_to_the_same_point():
    for _ in range(20):
        _, pk = sm2.generate_keypair(RNG)
        assert sm2.decompress(sm2.compress(pk)) == pk
    with pytest.raises(ValueError, match="33 bytes"):
        sm2.decompress(b"\x04" + bytes(32))


def test_the_fast_sm2_path_agrees_with_the_reference_on_good_and_bad_signatures():
    for i in range(12):
        sk, pk = sm2.generate_keypair(RNG)
        message = RNG.randbytes(i * 20)
        signature = sm2.sign(sk, message, rng=RNG)
        bad = bytes([signature[0] ^ 1]) + signature[1:]
        for candidate in (signature, bad, bytes(64), b"\xff" * 64):
            assert sm2.verify(pk, message, candidate) == sm2.verify_reference(pk, message, candidate)
        assert sm2.verify(pk, message, signature) and not sm2.verify(pk, message, bad)


def test_the_qr_image_is_a_png_or_an_svg_of_the_payload():
    raw = make().encode()
    assert qr.image(raw, kind="png").startswith(b"\x89PNG\r\n\x1a\n")
    assert b"<svg" in qr.image(raw, kind="svg")
    with pytest.raises(ValueError, match="known: png, svg"):
        qr.image(raw, kind="gif")
