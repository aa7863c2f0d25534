"""The code as a QR image for people (segno, PNG or SVG); terminals receive the payload bytes.

Byte mode, error correction M: 318 bytes fit a version-13 symbol, which a phone shows at a size
gate scanners read (modelled: the field ride code uses a comparable symbol for 332 bytes).
"""

from __future__ import annotations

import io

import segno

FORMATS = ("png", "svg")


def image(payload: bytes, *, kind: str = "png", scale: int = 4) -> bytes:
    """The QR symbol of `payload` as a `kind` image (PNG bytes or SVG text as UTF-8)."""
    if kind not in FORMATS:
        raise ValueError(f"image kind {kind!r}; known: {', '.join(FORMATS)}")
    symbol = segno.make_qr(payload, error="m", mode="byte", boost_error=False)
    out = io.BytesIO()
    symbol.save(out, kind=kind, scale=scale)
    return out.getvalue()
