"""The lab's SM2 key files and certificate signatures, checked against OpenSSL as an independent
implementation (key files it reads, signatures it verifies), and the refusal of any change."""

from __future__ import annotations

import base64
import multiprocessing
import random
import shutil
import subprocess

import pytest
from json_edits import changed, leaves

from conformance import signing
from simulator.crypto import sm2

DOCUMENT = {"format": "demo", "number": "YKT-1", "outcome": {"certified": True, "reason": "17 clause(s) passed"},
            "clauses": [{"id": "CARD-PIN-001", "verdict": "pass"}, {"id": "CARD-SEL-001", "verdict": "pass"}],
            "sample": {"atr": "3B8F8001", "note": "合格"}}


@pytest.fixture(scope="module")
def key(tmp_path_factory) -> signing.LabKey:
    return signing.load_or_create(tmp_path_factory.mktemp("keystore"))


def test_the_key_is_made_once_private_and_reloaded(tmp_path):
    first = signing.load_or_create(tmp_path)
    assert (tmp_path / signing.PRIVATE_FILE).stat().st_mode & 0o777 == 0o600
    assert signing.load_or_create(tmp_path) == first
    assert sm2.load_public_key_pem((tmp_path / signing.PUBLIC_FILE).read_text()) == first.public_key


def _fingerprint(keystore) -> str:
    return signing.load_or_create(keystore).fingerprint


def test_runs_making_the_key_at_once_all_get_the_same_whole_key(tmp_path):
    """Parallel runs (a lab's, or these tests under pytest-xdist) on a fresh keystore."""
    with multiprocessing.get_context("spawn").Pool(6) as pool:
        fingerprints = pool.map(_fingerprint, [tmp_path] * 6)
    assert len(set(fingerprints)) == 1, fingerprints
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([signing.PRIVATE_FILE, signing.PUBLIC_FILE])
    public = (tmp_path / signing.PUBLIC_FILE).read_text()
    assert sm2.public_key_pem(signing.load_or_create(tmp_path).public_key) == public


def test_key_files_round_trip_and_refuse_other_keys(key):
    assert sm2.load_private_key_pem(sm2.private_key_pem(key.private_key)) == key.private_key
    assert sm2.load_public_key_pem(key.public_pem) == key.public_key
    with pytest.raises(ValueError):
        sm2.load_public_key_pem(key.public_pem.replace("PUBLIC KEY", "CERTIFICATE"))
    der = base64.b64decode("".join(sm2.private_key_pem(key.private_key).splitlines()[1:-1]))
    foreign = der[:-65] + sm2.generate_keypair(random.Random(1))[1]  # another key's public half
    pem = "-----BEGIN EC PRIVATE KEY-----\n" + base64.b64encode(foreign).decode() + "\n-----END EC PRIVATE KEY-----\n"
    with pytest.raises(ValueError, match="does not belong"):
        sm2.load_private_key_pem(pem)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="OpenSSL is the independent check")
def test_openssl_reads_the_keys_and_verifies_a_signature(key, tmp_path):
    signed = signing.sign(DOCUMENT, key)
    (tmp_path / "pub.pem").write_text(key.public_pem)
    (tmp_path / "key.pem").write_text(sm2.private_key_pem(key.private_key))
    (tmp_path / "body").write_bytes(signing.canonical(signed))
    (tmp_path / "sig").write_bytes(base64.b64decode(signed["signature"]["der_base64"]))
    text = subprocess.run(["openssl", "ec", "-in", str(tmp_path / "key.pem"), "-text", "-noout"],
                          capture_output=True, text=True, check=True).stdout
    assert "SM2" in text or "sm2" in text
    verify = ["openssl", "dgst", "-sm3", "-verify", str(tmp_path / "pub.pem"), "-sigopt",
              "distid:1234567812345678", "-signature", str(tmp_path / "sig"), str(tmp_path / "body")]
    assert subprocess.run(verify, capture_output=True, text=True).stdout.strip() == "Verified OK"
    (tmp_path / "body").write_bytes(signing.canonical(signed).replace(b"true", b"false"))
    assert subprocess.run(verify, capture_output=True, text=True).returncode != 0


def test_a_signature_holds_and_any_single_change_breaks_it(key):
    signed = signing.sign(DOCUMENT, key)
    assert signing.signature_problems(signed) == [] == signing.signature_problems(signed, key.public_key)
    for path in leaves(DOCUMENT):
        assert signing.signature_problems(changed(signed, path)), f"a change at {path} went unnoticed"
    assert signing.signature_problems({k: v for k, v in signed.items() if k != "signature"})


def test_another_labs_key_is_refused(key):
    signed = signing.sign(DOCUMENT, key)
    other = sm2.generate_keypair(random.Random(2))[1]
    assert "another key" in signing.signature_problems(signed, other)[0]
    forged = signing.sign(DOCUMENT, signing.LabKey(*sm2.generate_keypair(random.Random(3))))
    forged["signature"]["public_key"] = key.public_key.hex()  # claims the lab's key
    assert signing.signature_problems(forged, key.public_key)
