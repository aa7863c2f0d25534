"""The reference POS served over the terminal control protocol, paying through a served bank
(`ykt terminal serve --kind pos --bank URL` against `ykt bank serve`): the sale is in the bank's
books; and when the bank is gone, or dies between committing an authorisation and answering it,
the POS declines, keeps its reversal and sends it again until the bank takes it, so the customer
pays exactly the sales approved and the books always sum to zero."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from conformance.relay import CardRelay
from conformance.service import reference_app
from simulator.backend.ledger import Ledger
from simulator.backend.loopback import free_port, wait_until_serving
from simulator.backend.ports import AccountOpening
from simulator.card import personas
from simulator.card.cardos import CardOS
from simulator.clock import AS_OF

#: the financial application of the `bank` persona card, its opening balance and the POS's sale
PAN, OPENING, SALE = "6299990000000017", 100_000, 1500
YKT = [sys.executable, "-m", "conformance.cli"]


def _books(db: Path) -> Ledger:
    """The bank's books as its file holds them (a second connection to the WAL file)."""
    return Ledger(str(db))


@pytest.fixture
def books(tmp_path) -> Path:
    """A bank file with the card's account opened, before any bank serves it."""
    db = tmp_path / "bank.sqlite3"
    ledger = Ledger(str(db))
    ledger.open_account(AccountOpening(PAN, 1, OPENING))
    ledger.store.close()
    return db


@contextmanager
def served(command: list[str], url: str, log: Path) -> Iterator[subprocess.Popen]:
    """`ykt <command>` as its own process, answering at `url`; killed on exit."""
    with log.open("w") as out:
        process = subprocess.Popen([*YKT, *command], stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_until_serving(url + "/openapi.json", process=process)
        yield process
    finally:
        process.kill()
        process.wait(10)


def bank(db: Path, port: int, tmp: Path, *, plan: str | None = None):
    faults = []
    if plan is not None:
        (tmp / "plan.yaml").write_text(plan)
        faults = ["--faults", str(tmp / "plan.yaml")]
    return served(["bank", "serve", "--db", str(db), "--port", str(port), *faults], f"http://127.0.0.1:{port}",
                  tmp / f"bank-{port}-{len(list(tmp.glob('bank-*.log')))}.log")


def test_the_served_pos_pays_through_the_served_bank(books, tmp_path):
    bank_port, pos_port = free_port(), free_port()
    pos_url = f"http://127.0.0.1:{pos_port}"
    with bank(books, bank_port, tmp_path), \
            served(["terminal", "serve", "--kind", "pos", "--port", str(pos_port), "--log-level", "warning",
                    "--bank", f"http://127.0.0.1:{bank_port}"], pos_url, tmp_path / "pos.log"), \
            CardRelay(CardOS(personas.image("bank", as_of=AS_OF))) as relay:
        assert "bank at" in httpx.get(pos_url + "/info").json()["model"]
        for _ in range(2):
            decision = httpx.post(pos_url + "/transactions", json={"card": {"relay": relay.url}}, timeout=30).json()
            assert (decision["reason"], decision["amount"]) == ("APPROVED_ONLINE", SALE), decision
    ledger = _books(books)
    assert ledger.account(PAN).balance == OPENING - 2 * SALE
    assert ledger.total() == 0
    assert [tuple(r) for r in ledger.store.query("SELECT amount, approved FROM authorisations")] == [(SALE, 1)] * 2


def test_a_pos_whose_bank_is_gone_or_dies_mid_request_declines_and_reverses_until_the_bank_takes_it(books, tmp_path):
    port = free_port()
    app = reference_app("pos", None, bank=f"http://127.0.0.1:{port}")
    pos = app.state.terminal
    with TestClient(app) as terminal, CardRelay(CardOS(personas.image("bank", as_of=AS_OF))) as relay:
        def sale() -> dict:
            return terminal.post("/transactions", json={"card": {"relay": relay.url}}).json()

        # 1. the bank commits the authorisation, then dies before answering (its plan's crash point)
        with bank(books, port, tmp_path, plan="crash: {bank.after_commit: 1.0}") as process:
            declined = sale()
            assert process.wait(10) == -9  # SIGKILLed by its plan, at the commit
        assert declined["reason"] == "DECLINED" and "no answer from the bank" in declined["detail"], declined
        assert _books(books).account(PAN).balance == OPENING - SALE  # charged: the answer was lost
        # 2. no bank at all: declined again; both reversals kept (each tried, none taken)
        assert sale()["reason"] == "DECLINED"
        committed = [r[0] for r in _books(books).store.query("SELECT request_id FROM authorisations")]
        assert len(pos.unacknowledged) == 2 and pos.unacknowledged[0].original_id == committed[0]
        # 3. the bank is back: the reversals go first, then the sale is approved
        with bank(books, port, tmp_path):
            approved = sale()
        assert approved["reason"] == "APPROVED_ONLINE", approved
        assert pos.unacknowledged == []
    ledger = _books(books)
    assert ledger.account(PAN).balance == OPENING - SALE  # one sale approved, one paid
    assert ledger.total() == 0
    reversed_ = [r[0] for r in ledger.store.query("SELECT original_id FROM reversals")]
    assert len(reversed_) == 2 and committed[0] in reversed_  # the charge whose answer was lost, paid back


def test_bank_is_only_for_the_reference_pos():
    for kind, mutant in (("bus", None), (None, "pos_trusts_gpo")):
        with pytest.raises(ValueError, match="--kind pos"):
            reference_app(kind, mutant, bank="http://127.0.0.1:8710")
    with pytest.raises(ValueError, match="base URL"):
        reference_app("pos", None, bank="ftp://bank")
