"""The platform's refusals: each an HTTP status and a code a client can act on, with a detail
that names the problem (the service answers them as `{"error": code, "detail": ...}`)."""

from __future__ import annotations


class PlatformError(Exception):
    status = 400
    code = "invalid_request"

    def __init__(self, detail: str, *, code: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code


class Unauthenticated(PlatformError):
    """The request is not signed by a known department, or its signature, time or nonce is wrong.
    Codes: unsigned, unknown_department, stale_timestamp, bad_signature, replayed_nonce."""

    status = 401


class Forbidden(PlatformError):
    """The department's declared purpose does not permit the operation."""

    status = 403
    code = "purpose_forbids"


class NotFound(PlatformError):
    """No such thing visible to this department (an unknown card and another department's card are
    answered alike, so a department cannot learn who the others' citizens are)."""

    status = 404
    code = "not_found"


class Conflict(PlatformError):
    """The request contradicts the platform's state: an invalid lifecycle transition, an id reused
    with different content, a card number already issued."""

    status = 409
    code = "conflict"


class Invalid(PlatformError):
    status = 422
