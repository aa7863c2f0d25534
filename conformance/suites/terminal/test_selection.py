"""The terminal selects the application its kind works with, by its AID, before using it."""

from __future__ import annotations

import pytest

from . import _harness as h

#: purse commands: READ BINARY / READ RECORD of a purse SFI, and the purse's proprietary commands
PURSE_SFIS = range(0x15, 0x1F)
PURSE_INS = (0x5C, 0x50, 0xDC, 0x54, 0x5A)


def _is_purse_command(step: h.Step) -> bool:
    c = step.command
    if len(c) < 4:
        return False
    if c[0] & 0x80:
        return c[1] in PURSE_INS
    return bool((c[1] == 0xB0 and c[2] & 0x80 and c[2] & 0x1F in PURSE_SFIS)
                or (c[1] == 0xB2 and c[3] >> 3 in PURSE_SFIS))


def _first_use(steps: list[h.Step], used) -> tuple[h.Step | None, h.Step | None]:
    """The first step that uses the application, and the last SELECT before it."""
    first = next((s for s in steps if used(s)), None)
    if first is None:
        return None, None
    return first, next((s for s in reversed(steps[: first.n - 1]) if s.is_select), None)


def _selected_by_name(select: h.Step | None, aid: bytes) -> bool:
    return select is not None and select.command[2] == 0x04 and h.command_data(select.command) == aid


@pytest.mark.clause("TERM-SEL-001")
@pytest.mark.requires("purse")
def test_the_purse_is_selected_by_its_aid(harness, terminal):
    shown = harness.ride(terminal, "normal", "valid purse card")
    first, select = _first_use(harness.steps(shown.trace), _is_purse_command)
    assert first is not None, f"{terminal.name} sent no purse command to a valid purse card"
    assert _selected_by_name(select, harness.purse_aid), (
        f"{terminal.name} sent purse command #{first.n} without selecting the T-Union purse by its AID "
        f"{harness.purse_aid.hex().upper()} first (last SELECT: {select.command.hex().upper() if select else 'none'})")
    assert select.sw == 0x9000, f"{terminal.name} used the purse after its SELECT answered {select.sw:04X}"


@pytest.mark.clause("TERM-SEL-002")
@pytest.mark.requires("ssse_identity")
def test_the_social_security_application_is_selected_by_its_aid(harness, terminal):
    shown = harness.ride(terminal, "normal", "valid card")
    first, select = _first_use(harness.steps(shown.trace), lambda s: s.ins == 0xB2)
    assert first is not None, f"{terminal.name} read no record of a valid social security card"
    assert _selected_by_name(select, harness.ssse_aid), (
        f"{terminal.name} read record #{first.n} without selecting the social security application by its AID "
        f"{harness.ssse_aid.hex().upper()} first (last SELECT: {select.command.hex().upper() if select else 'none'})")
    assert select.sw == 0x9000, f"{terminal.name} read the card after its SELECT answered {select.sw:04X}"


@pytest.mark.clause("TERM-SEL-003")
@pytest.mark.requires("qpboc")
def test_the_pos_selects_a_unionpay_application_from_the_ppse(harness, terminal):
    shown = harness.show(terminal, harness.card("normal"), "card with purse and QuickPass")  # the PPSE lists both
    selected = harness.selects_by_name(shown.trace)
    assert selected and selected[0][0] == h.PPSE, (
        f"{terminal.name} did not start by selecting the PPSE {h.PPSE.decode()} (selected: "
        f"{', '.join(aid.hex().upper() for aid, _ in selected) or 'nothing'})")
    assert len(selected) > 1, f"{terminal.name} selected no application after the PPSE"
    aid = selected[1][0]
    listed = h.ppse_aids(shown.trace)
    assert aid in listed and aid.startswith(h.UNIONPAY_RID), (
        f"{terminal.name} selected {aid.hex().upper()} after the PPSE; expected a UnionPay AID "
        f"({h.UNIONPAY_RID.hex().upper()}...) the PPSE lists: {', '.join(a.hex().upper() for a in listed)}")
