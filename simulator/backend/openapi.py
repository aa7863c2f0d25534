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
