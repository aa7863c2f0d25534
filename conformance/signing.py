"""The lab's SM2 key and the signature that makes a certificate verifiable offline.

A certificate is signed by the lab that ran the certification: SM2 with SM3 (GB/T 32918.2,
GB/T 32905), user ID the GM/T 0009 default, over the certificate's canonical JSON (UTF-8, keys
sorted, no insignificant white space) without its `signature` member. Anyone holding the lab's
public key can check it with any SM2 tool: `der_base64` is the signature as OpenSSL reads it
(`openssl dgst -sm3 -verify lab-public.pem -sigopt distid:1234567812345678 -signature SIG BODY`,
reports/README.md); `ykt certificate verify` does it and also recomputes every evidence digest
(`conformance.certificate_check`).

The key is made on first use in the keystore: `$YIKATONG_KEYSTORE`, else
`~/.local/share/yikatong/keystore/` (README "Certificates"). It holds `lab-key.pem` (SEC 1 `EC
PRIVATE KEY`, mode 0600) and `lab-public.pem`; every run copies the public key beside its
certificate. A key generated here is a self-test key: the lab that certifies for a regulator
puts its own key there.
"""

from __future__ import annotations

import base64
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from simulator.crypto import sm2
from simulator.crypto.hashes import sm3

ALGORITHM = "SM2-with-SM3"
PRIVATE_FILE, PUBLIC_FILE = "lab-key.pem", "lab-public.pem"


def default_keystore() -> Path:
    return Path(os.environ.get("YIKATONG_KEYSTORE") or Path.home() / ".local" / "share" / "yikatong" / "keystore")


@dataclass(frozen=True)
class LabKey:
    private_key: bytes
    public_key: bytes

    @property
    def fingerprint(self) -> str:
        """SM3 of the public key (65 bytes 04 ‖ x ‖ y), hex: how the certificate names the key."""
        return sm3(self.public_key).hex()

    @property
    def public_pem(self) -> str:
        return sm2.public_key_pem(self.public_key)


def load_or_create(keystore: Path) -> LabKey:
    """The lab's key from `keystore`, generated there (private file 0600) when there is none."""
    private = Path(keystore) / PRIVATE_FILE
    if not private.is_file():
        _create(Path(keystore))
    sk = sm2.load_private_key_pem(private.read_text(encoding="ascii"))
    return LabKey(sk, sm2.public_key_of(sk))


def _create(keystore: Path) -> None:
    """A new key pair in `keystore`. Two runs creating one at once (a lab's parallel runs, the
    project's parallel tests) keep the first: the private key is written whole to a temporary
    file (0600) and hard-linked into place, which fails for the second; nobody reads half a file."""
    sk, pk = sm2.generate_keypair()
    keystore.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=keystore, prefix=".lab-key-")
    try:
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(sm2.private_key_pem(sk))
        try:
            os.link(temp, keystore / PRIVATE_FILE)
        except FileExistsError:
            return  # another run's key won
        public = keystore / f".{PUBLIC_FILE}.{os.getpid()}"
        public.write_text(sm2.public_key_pem(pk), encoding="ascii")
        public.replace(keystore / PUBLIC_FILE)
    finally:
        os.unlink(temp)


def canonical(document: dict) -> bytes:
    """The bytes a signature covers: the document without `signature`, as canonical JSON."""
    body = {k: v for k, v in document.items() if k != "signature"}
    return json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"),
                      allow_nan=False).encode("utf-8")


def sign(document: dict, key: LabKey) -> dict:
    """`document` with a `signature` member by `key`."""
    value = sm2.sign(key.private_key, canonical(document))
    return {**document, "signature": {
        "algorithm": ALGORITHM, "uid": sm2.DEFAULT_UID.decode("ascii"), "public_key": key.public_key.hex(),
        "public_key_sm3": key.fingerprint, "covers": "canonical JSON of the certificate without 'signature'",
        "value": value.hex(), "der_base64": base64.b64encode(sm2.signature_der(value)).decode("ascii")}}


def signature_problems(document: dict, public_key: bytes | None = None) -> list[str]:
    """Why the signature of `document` does not hold (empty: it holds).

    With `public_key` (the lab's, obtained apart from the certificate) the certificate must name
    that key; without, the key the certificate names is used, which proves integrity, not origin.
    """
    signature = document.get("signature")
    if not isinstance(signature, dict):
        return ["the certificate is not signed"]
    if signature.get("algorithm") != ALGORITHM or signature.get("uid") != sm2.DEFAULT_UID.decode("ascii"):
        return [f"unknown signature scheme {signature.get('algorithm')!r} / uid {signature.get('uid')!r}"]
    try:
        named = bytes.fromhex(signature["public_key"])
        value = bytes.fromhex(signature["value"])
    except (KeyError, TypeError, ValueError):
        return ["the signature's public key or value is not hex"]
    if public_key is not None and named != public_key:
        return ["the certificate was signed with another key than the one given"]
    if signature.get("public_key_sm3") != sm3(named).hex():
        return ["the signature's key fingerprint does not match its key"]
    try:
        valid = sm2.verify(named, canonical(document), value)
    except ValueError as exc:
        return [f"the signature's public key is not an SM2 key: {exc}"]
    return [] if valid else ["the SM2 signature does not match the certificate's content"]
