"""A back-end port over HTTP: one httpx client and the wire's answers in the ports' terms.

Shared by the bank's and the voucher service's clients, so both meet their service the same way: no
answer (timeout, refused connection, 5xx) is `Unavailable` (the caller retries the same request, or
reverses), 409 is `IdConflict` (or `Refused`, when the body's `error` says so), 404 `NotFound`,
any other 4xx `Invalid`. Retrying is the caller's decision, never this module's.
"""

from __future__ import annotations

import httpx

from simulator.backend import ports


class JsonClient:
    """The service at `base_url` (e.g. http://127.0.0.1:8710), through one httpx client."""

    def __init__(self, base_url: str, *, timeout: float = 5.0, transport: httpx.BaseTransport | None = None) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=timeout, transport=transport, trust_env=False)

    def close(self) -> None:
        self.http.close()

    def _shown(self, path: str) -> str:
        """`path` as an error may show it (a subclass masks what must not be shown)."""
        return path

    def _call(self, method: str, path: str, body: dict | None = None) -> dict:
        where = f"{method} {self._shown(path)}"
        try:
            answer = self.http.request(method, path, json=body)
        except httpx.TransportError as exc:
            raise ports.Unavailable(f"{where}: {type(exc).__name__}: {exc}") from exc
        if answer.status_code >= 500:
            raise ports.Unavailable(f"{where}: HTTP {answer.status_code} {answer.text[:200]}")
        if answer.status_code == 200:
            return answer.json()
        body = answer.json() if answer.headers.get("content-type", "").startswith("application/json") else {}
        detail = body.get("detail", answer.text)
        if answer.status_code == 409:
            raise ports.Refused(detail) if body.get("error") == "refused" else ports.IdConflict(where, detail)
        if answer.status_code == 404:
            raise ports.NotFound(detail)
        raise ports.Invalid(f"{where}: HTTP {answer.status_code}: {detail}")
