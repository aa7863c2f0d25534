"""The OpenAPI document a served app publishes, marked with where its interface comes from.

No public interface of the 一卡通 platform or of a department's side exists, so each document
says in `info.x-source` why it is modelled (the profiles' `source: modelled`); the document is then
the profile file itself (`ykt platform openapi`, `ykt department openapi` regenerate them).
"""

from __future__ import annotations

from fastapi import FastAPI


def publish_as_modelled(app: FastAPI, reason: str) -> None:
    """Make `app.openapi()` FastAPI's document with `info.x-source.modelled = reason`."""
    generated = app.openapi

    def document() -> dict:
        schema = generated()
        schema["info"]["x-source"] = {"modelled": reason}
        return schema

    app.openapi = document  # type: ignore[method-assign]


#: an http(s) URL every HTTP client can use: a host name or IPv4 address, a port, a printable
#: ASCII path. Spelt out (no \s, no IPv6 brackets): JSON Schema's and pydantic's regex engines read
#: shorthand classes differently, and "http://[::1" matches [!-~]+ yet no client can parse it
HTTP_URL = r"^https?://[A-Za-z0-9.-]{1,100}(:[0-9]{1,5})?(/[!-~]{0,100})?$"
