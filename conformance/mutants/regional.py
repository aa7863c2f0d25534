"""Seeded defects against a region's own rules: each device or integration does what the national
profile asks and so passes the national suites, but ignores what its region adds, so the suites run
for that region (`ykt certify --region NAME`) must fail it on the region's clause.

The defects are the ones a vendor makes when it builds to the national profile alone: a table or
a list taken from the national document instead of the run's, a behaviour the region tightens
left as it is nationally.
"""

from __future__ import annotations

from simulator.departments.kinds import Library, SubsidyOffice
from simulator.devices.pos import QuickPassPOS
from simulator.devices.scenic import ScenicGate
from simulator.devices.transit import BusValidator
from simulator.profile import national

from . import Mutant
from .terminals import _bus, _pos, _scenic  # the reference terminals' factories, as the terminal mutants build theirs


class NationalConcessionsOnly(BusValidator):
    """Its concession table is the national one whatever its profile says: a card type the region
    adds (Kaifeng's teachers, 05) pays the full fare."""

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.terminals = {**self.terminals, "concessions": national()["terminals"]["concessions"]}


class PaysInactiveAccounts(SubsidyOffice):
    """Pays into any card the platform lists as usable, its financial account activated or not."""

    def refusal(self, view: dict) -> str | None:
        return super(SubsidyOffice, self).refusal(view)


class RegistersOnce(Library):
    """Verifies a reader's identity once, at registration, as the national profile allows, even where
    the region asks for it at every service."""

    def needs_identity(self, card_number: str) -> bool:
        with self.lock:
            return card_number not in self.cards or not self.cards[card_number]["kept"]


class ReturnsFirstUseOnly(Library):
    """Returns a reader's first loan to the platform, not the ones after it."""

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.returned: set[str] = set()

    def report_use(self, card_number: str) -> None:
        with self.lock:
            first = card_number not in self.returned
            self.returned.add(card_number)
        if first:
            super().report_use(card_number)


class NationalBlacklistOnly(Library):
    """Refuses the card states the national profile blacklists, not those its region adds (a card
    sealed in Guangdong's cleanup is served)."""

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.unusable = frozenset(national()["platform"]["lifecycle"]["blacklisted"])


# -- a library's loans (SC-LIB-001, GD-LIB-001): each breaks lending alone, its flow (`serve`) is the reference's

class ReturnsUnreported(Library):
    """Takes an item back and ends its loan, but returns only loans to the platform, not returns."""

    def close_loan(self, item_id: str, event: dict) -> dict:
        with self.lock:
            self.loans.pop(item_id, None)
            self.returning.pop(item_id, None)
        return {"outcome": "served", "reason": "returned"}


class RefusesLostReturns(Library):
    """Refuses to take back an item whose card it last learnt is unusable (from the platform or a
    callback): the book of a lost card stays out."""

    def take_back(self, item_id: str, card: dict | None = None) -> dict:
        with self.lock:
            holder = self.loans.get(item_id)
            status = self.cards.get(holder, {}).get("status") if holder is not None else None
        if status in self.unusable:
            return {"outcome": "refused", "reason": f"card_{status}"}
        return super().take_back(item_id, card)


class LendsOnRegistration(Library):
    """Checks a reader's card when it registers the reader (its first borrow), then lends on the
    reader card alone: a card reported lost since borrows again."""

    def lend(self, card: dict, item_id: str) -> dict:
        with self.lock:
            registered = bool(self.cards.get(card["card_number"], {}).get("kept"))
        if not registered:
            return super().lend(card, item_id)
        return self.attempt(lambda: self.lent(card["card_number"], item_id))


class NationalCodeKinds(BusValidator):
    """Scans only the code kinds the national profile admits at a bus (the ride code), not every kind its
    region's shared scanning terminals take: a Zhengzhou e-SSC code is refused as of a wrong kind."""

    @property
    def code_kinds(self) -> tuple[str, ...]:
        return tuple(national()["terminals"]["ecode"]["admits"][self.kind])


class PaysAnyPresentedCard(SubsidyOffice):
    """Pays into any usable card the holder presents, as the national profile allows, even where the
    region asks for one person one card: a zombie or duplicate card beside the holder's current one is paid."""

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.one_card_per_person = national()["platform"]["lifecycle"]["one_card_per_person"]


# -- a POS's sale (ZZ-FIN-002) ---------------------------------------------------------------------

class LetsCardApproveOffline(QuickPassPOS):
    """Never asks the card for an online cryptogram (the TTQ bit of qpboc.yaml risk.ttq_online_required
    left clear, as a POS built for offline electronic cash leaves it): a card within its offline
    limit approves the sale itself, its financial account activated or not."""

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        bit = self.profile["qpboc"]["risk"]["ttq_online_required"]
        ttq = bytearray(self.ttq)
        ttq[bit["byte"] - 1] &= ~int(bit["mask"], 16) & 0xFF
        self.ttq = bytes(ttq)


class NationalScenicAges(ScenicGate):
    """Its scenic entitlement is the national one whatever its profile says: a region's own residents
    enter free only from the national age (a Kaifeng resident aged 62 pays)."""

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.terminals = {**self.terminals, "scenic": national()["terminals"]["scenic"]}


class OwnProvinceConcessions(BusValidator):
    """Gives the residents' concessions to the cards of its own region alone, not to those of the
    divisions its region recognises: a Chongqing card in Sichuan pays the full fare."""

    def local_areas(self) -> list[str]:
        return (self.profile.region_document or {}).get("division_codes", [])


# -- a POS redeeming consumption vouchers (GD-VOUCH-001..003): each skips one check of the reference's flow

class VoucherSkipsPin(QuickPassPOS):
    """Redeems a voucher on the card alone: the holder's PIN, typed or not, is never verified."""

    def holder_verified(self, card, pin):
        return None


class VoucherIgnoresStatus(QuickPassPOS):
    """Redeems a voucher without asking whether the card is listed: a card reported lost spends its vouchers."""

    def card_listed(self, card_id):
        yield from ()  # asks nobody
        return False


class VoucherAnyMerchant(QuickPassPOS):
    """Redeems any voucher of the card with enough left, whatever merchants its category may be spent at."""

    def spendable(self, voucher):
        return voucher.remaining >= self.amount


MUTANTS = [
    Mutant(name="bus_national_concessions", role="terminal", kind="bus", region="kaifeng",
           defect="applies the national concession table, not the region's (a Kaifeng teacher's card pays the full "
                  "fare)", build=_bus(NationalConcessionsOnly)),
    Mutant(name="subsidy_pays_inactive_accounts", role="department", kind="subsidy", region="zhengzhou",
           defect="pays into a card whose financial account is not activated", build=PaysInactiveAccounts),
    Mutant(name="library_registers_once", role="department", kind="library", region="hubei",
           defect="verifies a reader's identity once, not at every service as the region asks",
           build=RegistersOnce),
    Mutant(name="library_returns_first_use_only", role="department", kind="library", region="sichuan",
           defect="returns only a reader's first loan to the platform", build=ReturnsFirstUseOnly),
    Mutant(name="library_national_blacklist", role="department", kind="library", region="guangdong",
           defect="serves a card in a state only the region blacklists (a sealed card)", build=NationalBlacklistOnly),
    Mutant(name="library_unreported_returns", role="department", kind="library", region="sichuan",
           defect="takes items back without returning the return to the platform", build=ReturnsUnreported),
    Mutant(name="library_refuses_lost_returns", role="department", kind="library", region="guangdong",
           defect="refuses to take back an item held by a card reported lost", build=RefusesLostReturns),
    Mutant(name="library_lends_on_registration", role="department", kind="library", region="guangdong",
           defect="checks a reader's card only at registration: a card reported lost since borrows again",
           build=LendsOnRegistration),
    Mutant(name="bus_national_code_kinds", role="terminal", kind="bus", region="zhengzhou",
           defect="scans only the national code kinds at a bus, not every kind a shared scanning terminal takes "
                  "(refuses the e-SSC code)", build=_bus(NationalCodeKinds)),
    Mutant(name="subsidy_pays_any_presented_card", role="department", kind="subsidy", region="guangdong",
           defect="pays into a zombie card the platform holds beside the holder's current card",
           build=PaysAnyPresentedCard),
    Mutant(name="subsidy_pays_any_card_sichuan", role="department", kind="subsidy", region="sichuan",
           defect="pays into a duplicate card the platform holds beside the holder's current card",
           build=PaysAnyPresentedCard),
    Mutant(name="pos_lets_card_approve_offline", role="terminal", kind="pos", region="zhengzhou",
           defect="lets the card approve a sale offline without going online (a card whose financial account is not "
                  "activated pays)", build=_pos(LetsCardApproveOffline)),
    Mutant(name="scenic_national_ages", role="terminal", kind="scenic", region="kaifeng",
           defect="applies the national free-entry ages at a scenic gate, not the region's for its own residents (a "
                  "Kaifeng resident aged 62 is not entitled)", build=_scenic(NationalScenicAges)),
    Mutant(name="bus_own_province_concessions", role="terminal", kind="bus", region="sichuan",
           defect="gives the residents' concessions to its own province's cards only (a Chongqing elderly card pays "
                  "the full fare)", build=_bus(OwnProvinceConcessions)),
    Mutant(name="pos_voucher_skips_pin", role="terminal", kind="pos", region="guangdong",
           defect="redeems a consumption voucher without the holder's PIN", build=_pos(VoucherSkipsPin)),
    Mutant(name="pos_voucher_lost_card", role="terminal", kind="pos", region="guangdong",
           defect="redeems the vouchers of a card reported lost", build=_pos(VoucherIgnoresStatus)),
    Mutant(name="pos_voucher_any_merchant", role="terminal", kind="pos", region="guangdong",
           defect="redeems a voucher at a merchant its category may not be spent at",
           build=_pos(VoucherAnyMerchant)),
]
