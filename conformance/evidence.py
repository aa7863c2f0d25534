"""Evidence attached to a conformance test: APDU traces, decision records, timings.

Everything goes through the masks of simulator.privacy before it is written (PIPL; Zhengzhou
order 249 art. 13): a report never holds an unmasked 社会保障号码, name, birth date, PAN or PIN.
A decision record is masked structurally (`attach_decision`: only the fields the profile declares
keep their values), whatever its terminal put into it; free text is masked for citizen IDs too.
Attachments go to Allure when it is recording, and nowhere otherwise; a fixture's evidence is
attached when the test ends (`at_test_end`), so that it belongs to the test, not to a teardown.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable

from conformance.plugin import EVIDENCE_KEY
from simulator import trace
from simulator.privacy import TraceMasker, mask_record, mask_text
from simulator.transport.base import Exchange


def trace_text(exchanges: Iterable[Exchange], masker: TraceMasker) -> str:
    """An APDU trace decoded and masked (simulator.trace) by `masker` (the run's profile's, which
    knows its applications' personal data): name, status word, time, bytes."""
    return trace.render(exchanges, masker)


def _attach(body: str | bytes, name: str, kind: str) -> None:
    try:
        import allure
    except ImportError:
        return
    allure.attach(body, name=name, attachment_type=getattr(allure.attachment_type, kind))


def attach_png(name: str, png: bytes) -> None:
    """A chart (PNG bytes): it holds figures, never a holder's data."""
    _attach(png, name, "PNG")


def at_test_end(request, collect: Callable[[], None]) -> None:
    """Have `collect` attach its evidence when the test ends, before any fixture is torn down
    (conformance.plugin runs it), so that a fixture's traces are shown on the test itself."""
    request.node.stash.setdefault(EVIDENCE_KEY, []).append(collect)


def attach_trace(name: str, exchanges: Iterable[Exchange], masker: TraceMasker) -> None:
    _attach(trace_text(exchanges, masker), name, "TEXT")


def attach_json(name: str, value: object) -> None:
    """A harness record (timings, the harness's own reading) as JSON, with citizen IDs in any text
    masked; a DUT's decision record goes through `attach_decision`."""
    text = json.dumps(value, ensure_ascii=False, indent=1, default=lambda v: v.hex().upper() if isinstance(v, bytes)
                      else str(v))
    _attach(mask_text(text), name, "JSON")


def attach_decision(name: str, record: dict, *, fields: Collection[str], evidence: Collection[str]) -> dict:
    """Attach a terminal's decision record masked by field name (`fields` at the top, `evidence` keys
    inside `evidence`; anything else is withheld); returns the masked record it attached."""
    masked = mask_record(record, keep=fields, nested={"evidence": evidence})
    attach_json(name, masked)
    return masked
