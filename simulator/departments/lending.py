"""Lending (借阅): what a library department does besides checking a reader's card, the loans of its
items and their return.

A borrow (借) is the department's flow (identity where it needs it, the card's status at the
platform) and, when the reader may be served, a loan: the item is held by the reader's card and the
use is returned to the platform as a `loan`. A return (还) is always taken, whatever the status of
the card that holds the item (a book comes back even on a lost card): the loan ends and the return
is reported as a use of its own, kind `return` (national.platform data_return kinds), naming the
card whose loan ended. Its event is made once per return and kept until the platform took it, so a
return the counter tries again after a failure is the same event (the platform holds it once).

The loans are the department's own state (item id -> card number), kept in memory: a reference
department, not a library system.
"""

from __future__ import annotations

from typing import ClassVar

from .department import Department


class NotLending(Exception):
    """The department does not lend (its kind has no loans): the control API answers 404."""


class NotOnLoan(Exception):
    """An item returned that is not on loan: the control API answers 409."""


class Lending(Department):
    """A department that lends items: `lend` and `take_back` besides its flow."""

    return_kind: ClassVar[str] = "return"

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        #: item id -> the card number holding it
        self.loans: dict[str, str] = {}
        #: item id -> its return event not yet taken by the platform
        self.returning: dict[str, dict] = {}
        #: items whose borrow is under way (two counters cannot lend one item)
        self.lending: set[str] = set()

    def lend(self, card: dict, item_id: str) -> dict:
        """Lend `item_id` to the holder of the presented `card` (its chip's data): the outcome record."""
        with self.lock:
            if item_id in self.loans or item_id in self.lending:
                return {"outcome": "refused", "reason": "on_loan"}
            self.lending.add(item_id)
        try:
            return self.attempt(lambda: self.admit(card) or self.lent(card["card_number"], item_id))
        finally:
            with self.lock:
                self.lending.discard(item_id)

    def lent(self, card_number: str, item_id: str) -> dict:
        """The loan made: its use returned to the platform, then the item held by the card."""
        outcome = self.served(card_number)
        with self.lock:
            self.loans[item_id] = card_number
        return outcome

    def take_back(self, item_id: str, card: dict | None = None) -> dict:
        """Take `item_id` back (NotOnLoan when it is not lent). The presented `card`, if any, is not
        checked: the book comes back whoever brings it, and the loan that ends is the item's."""
        with self.lock:
            holder = self.loans.get(item_id)
            if holder is None:
                raise NotOnLoan(f"item {item_id!r} is not on loan")
            if item_id not in self.returning:
                self.returning[item_id] = self.use_event(holder, self.return_kind)
            event = self.returning[item_id]
        return self.attempt(lambda: self.close_loan(item_id, event))

    def close_loan(self, item_id: str, event: dict) -> dict:
        """The return reported, then the loan ended."""
        self.report_event(event)
        with self.lock:
            self.loans.pop(item_id, None)
            self.returning.pop(item_id, None)
        return {"outcome": "served", "reason": "returned"}

    def state(self) -> dict:
        held = super().state()
        with self.lock:
            return {**held, "loans": dict(self.loans)}


def lender(department: Department) -> Lending:
    """`department` as a lender, or NotLending naming its kind."""
    if not isinstance(department, Lending):
        raise NotLending(f"the {department.kind} department ({department.zh}) does not lend")
    return department
