"""Signed requests and callbacks: HMAC-SM3 with the department's secret (platform.yaml
`request_signing`, `callbacks`).

A request is signed over its method, path as sent (percent-encoded, with the query), timestamp, nonce and the SM3 of its
body, one per line, and carries `X-Department`, `X-Timestamp` (Unix s), `X-Nonce` and
`X-Signature` (hex). A callback carries `webhook-id`, `webhook-timestamp` and `webhook-signature`
(`v1,` + hex) over `id.timestamp.body`, the Standard Webhooks form with SM3 for SHA-256.
"""

from __future__ import annotations

import hmac as std_hmac

from cryptography.hazmat.primitives import hashes, hmac

from simulator.crypto.hashes import sm3

HEADERS = ("X-Department", "X-Timestamp", "X-Nonce", "X-Signature")


def hmac_sm3(key: bytes, message: bytes) -> bytes:
    mac = hmac.HMAC(key, hashes.SM3())
    mac.update(message)
    return mac.finalize()


def string_to_sign(method: str, path: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    return "\n".join((method.upper(), path, timestamp, nonce, sm3(body).hex())).encode()


def request_headers(*, department: str, secret: bytes, method: str, path: str, timestamp: int, nonce: str,
                    body: bytes) -> dict[str, str]:
    """The headers that sign one request (what a department's client sends)."""
    mac = hmac_sm3(secret, string_to_sign(method, path, str(timestamp), nonce, body))
    return dict(zip(HEADERS, (department, str(timestamp), nonce, mac.hex()), strict=True))


def request_signature_matches(secret: bytes, signature: str, *, method: str, path: str, timestamp: str, nonce: str,
                              body: bytes) -> bool:
    expected = hmac_sm3(secret, string_to_sign(method, path, timestamp, nonce, body)).hex()
    return std_hmac.compare_digest(expected, signature.lower())


def callback_headers(*, secret: bytes, event_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The headers of one callback delivery (what a department's receiver checks)."""
    mac = hmac_sm3(secret, f"{event_id}.{timestamp}.".encode() + body)
    return {"webhook-id": event_id, "webhook-timestamp": str(timestamp), "webhook-signature": "v1," + mac.hex()}
