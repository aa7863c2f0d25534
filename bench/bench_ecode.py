"""E-code SM2 verifications per second on one core (issue 13 target: >= 500/s).

Baseline measured in the same run: the pure-Python reference path (`sm2.verify_reference`, gmalg)
on the same signature, so the ratio says what the compiled path (Tongsuo) buys whatever the
machine. Then whole e-codes verified offline from a terminal's key chain: fresh displays of one
holder, each the first scan of its code, timed over all of them (the certificate and the
authorisation recur and are verified once; each display costs one SM2 verification).
"""

from __future__ import annotations

import random
import time
from datetime import timedelta

from simulator import ecode
from simulator.clock import START
from simulator.crypto import sm2
from simulator.profile import national

TARGET = 500


def rate(work, *, seconds: float = 1.0) -> float:
    """Calls of `work()` per second, best of 3 runs of `seconds`/3."""
    best = 0.0
    for _ in range(3):
        n, start = 0, time.perf_counter()
        while (now := time.perf_counter()) < start + seconds / 3:
            work()
            n += 1
        best = max(best, n / (now - start))
    return best


def codes(count: int) -> tuple[list[bytes], ecode.KeyChain, dict]:
    ecode_profile = national()["ecode"]
    rng = random.Random(13)
    ca_key, issuer_key, user_key = (sm2.generate_keypair(rng) for _ in range(3))
    ca = ecode.CertificateAuthority(1, ca_key[0])
    certificate = ca.certify(issuer_id=b"\x41\x00\x00\x01", issuer_key=issuer_key[1],
                             expires=START.date() + timedelta(days=365), serial=1, rng=rng)
    issuer = ecode.Issuer(certificate, issuer_key[0], ecode_profile)
    authorisation = issuer.authorise(card_number="K00000001", holder=b"\x00" * 16, region="410200", kind="ride",
                                     user_key=user_key[1], now=START, rng=rng)
    raw = [ecode.display(certificate=certificate, authorisation=authorisation, user_private_key=user_key[0],
                         now=START + timedelta(seconds=i % 30), rng=rng).encode() for i in range(count)]
    return raw, ecode.KeyChain([ecode.CaKey(1, ca_key[1], test=False)]), ecode_profile


def main() -> int:
    sk, pk = sm2.generate_keypair(random.Random(1))
    message = b"\x81" * 250
    signature = sm2.sign(sk, message, rng=random.Random(2))
    reference = rate(lambda: sm2.verify_reference(pk, message, signature))
    fast = rate(lambda: sm2.verify(pk, message, signature))
    raw, chain, ecode_profile = codes(600)
    log = ecode.MemoryReplayLog()
    at = START + timedelta(seconds=31)
    started = time.perf_counter()
    for i, payload in enumerate(raw):
        verdict = ecode.verify(payload, chain=chain, profile=ecode_profile, now=at, replay=log, revoked=lambda _: False)
        if not verdict.valid:
            raise SystemExit(f"code {i} refused: {verdict}")
    whole = len(raw) / (time.perf_counter() - started)
    print("SM2 verification, one core (default user ID, 250-byte message)")
    print(f"  gmalg, pure Python (baseline)  {reference:>10,.0f} /s")
    print(f"  Tongsuo (sm2.verify)           {fast:>10,.0f} /s   ratio {fast / reference:.1f} of baseline")
    print(f"  e-code verified offline        {whole:>10,.0f} /s   (chain cached, one new signature per display)")
    print(f"  target                         {TARGET:>10,} /s   {'met' if fast >= TARGET else 'NOT MET'}")
    return 0 if fast >= TARGET else 1


if __name__ == "__main__":
    main()
