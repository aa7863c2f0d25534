"""The reference departments: what each one's flow needs (department.py does the rest).

- library (图书馆): registers a reader once (identity verification binds the card), then before
  every loan checks the card's status; where the profile asks for the holder's identity at every
  service (platform.yaml clients.identity_every_service, e.g. Hubei), it verifies it every time;
  it lends items and takes them back (lending.py);
- hospital (医疗卫生): verifies the patient's identity at every registration, then the card's status;
- subsidy office (惠民惠农补贴): verifies the beneficiary, checks the card's status and pays only
  into an activated financial account (郑州市人民政府令第249号 art. 19).

Every kind serves only the holder's current card where the profile asks for one person one card
(platform.yaml lifecycle.one_card_per_person: Guangdong, Sichuan), so no subsidy is paid into a
zombie or duplicate card (department.py `refusal`).
"""

from __future__ import annotations

from .department import Department
from .lending import Lending


class Library(Lending):
    kind, zh, purpose, flow, use_kind = "library", "图书馆", "library", "lend", "loan"

    def needs_identity(self, card_number: str) -> bool:
        if self.rules["identity_every_service"]:
            return True
        with self.lock:
            return card_number not in self.cards or not self.cards[card_number]["kept"]


class Hospital(Department):
    kind, zh, purpose, flow, use_kind = "hospital", "医院", "hospital", "register", "consultation"


class SubsidyOffice(Department):
    kind, zh, purpose, flow, use_kind = "subsidy", "补贴发放机构", "subsidy", "pay", "disbursement"

    def refusal(self, view: dict) -> str | None:
        return super().refusal(view) or (None if view.get("financial_active") else "financial_account_not_active")


#: kind -> its reference department
DEPARTMENTS: dict[str, type[Department]] = {d.kind: d for d in (Library, Hospital, SubsidyOffice)}


def department_class(kind: str) -> type[Department]:
    if kind not in DEPARTMENTS:
        raise ValueError(f"unknown department kind {kind!r}; kinds: {', '.join(DEPARTMENTS)}")
    return DEPARTMENTS[kind]
