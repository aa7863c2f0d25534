"""Seeded-defect departments: a reference department with one defect each, which the integration
suite must fail on the clause the defect breaks (tests/test_suite_integration.py). Selected with
`--dut sim:mutant=NAME`; each overrides one method of simulator/departments/department.py."""

from __future__ import annotations

from contextlib import suppress
from datetime import timedelta

import httpx

from simulator.backend.platform.client import DepartmentClient
from simulator.departments import Hospital, Library, PlatformLink, SubsidyOffice
from simulator.departments.department import Final

from . import Mutant


class AcksUnsignedCallbacks(Library):
    def authenticate_callback(self, headers, body: bytes) -> str:
        if not headers.get("webhook-signature"):
            return headers.get("webhook-id") or "unsigned"
        return super().authenticate_callback(headers, body)


class TrustsAnySignature(Hospital):
    @staticmethod
    def signature_matches(expected: str, given: str) -> bool:
        return given.startswith("v1,")


class AcceptsStaleCallbacks(SubsidyOffice):
    def check_timestamp(self, timestamp: str) -> None:
        return None


class AppliesRepeats(Library):
    def is_repeat(self, event_id: str) -> bool:
        return False


class AppliesOlderEvents(Hospital):
    @staticmethod
    def is_older(card: dict, event: dict) -> bool:
        return False


class ComparesWithLastEventOnly(SubsidyOffice):
    """Takes a callback as new when it is not the last one applied: no memory of ids, no order."""

    def is_repeat(self, event_id: str) -> bool:
        return self.applied[-1:] == [event_id]

    @staticmethod
    def is_older(card: dict, event: dict) -> bool:
        return False


class IgnoresRetryAfter(Library):
    def wait_before_retry(self, response) -> float:
        return 0.0


class RetriesEvery4xx(Hospital):
    def should_retry(self, response) -> bool:
        return response is None or response.status_code >= 400


class NewEventIdPerRetry(SubsidyOffice):
    def send(self, method: str, path: str, body: dict | None):
        if body is not None and "event_id" in body:
            body = {**body, "event_id": self.new_event_id()}
        return super().send(method, path, body)


class KeepsBirthDate(Library):
    def kept(self, view: dict, presented: dict) -> dict:
        return {**super().kept(view, presented), "birth_date": presented["birth_date"]}


class ServesLostCards(Library):
    def refusal(self, view: dict) -> str | None:
        return None if view["status"] == "lost" else super().refusal(view)


class RefusesOnlyLostCards(Library):
    def refusal(self, view: dict) -> str | None:
        return "card_lost" if view["status"] == "lost" else None


class SignsWithAnOldKey(Hospital):
    def client(self, http: httpx.Client, link: PlatformLink) -> DepartmentClient:
        return super().client(http, PlatformLink(link.url, link.department_id, bytes(len(link.secret))))


class StampsTenMinutesLate(SubsidyOffice):
    def client(self, http: httpx.Client, link: PlatformLink) -> DepartmentClient:
        client = super().client(http, link)
        client.clock = lambda: self.clock() - timedelta(minutes=10)
        return client


class FetchesTheBlacklist(Library):
    def serve(self, card: dict) -> dict:
        with suppress(Final):
            self.call("GET", "/blacklist")
        return super().serve(card)


def _mutant(name: str, cls: type, defect: str) -> Mutant:
    return Mutant(name=name, role="department", defect=defect, build=cls, kind=cls.kind)


MUTANTS = [
    _mutant("library_acks_unsigned_callbacks", AcksUnsignedCallbacks,
            "acknowledges and applies a callback that carries no webhook-signature"),
    _mutant("hospital_trusts_any_signature", TrustsAnySignature,
            "takes any v1, signature on a callback without checking it"),
    _mutant("subsidy_accepts_stale_callbacks", AcceptsStaleCallbacks,
            "never checks a callback's webhook-timestamp against its clock"),
    _mutant("library_applies_repeats", AppliesRepeats, "applies a callback again when the platform retries it"),
    _mutant("hospital_applies_older_events", AppliesOlderEvents,
            "applies a callback older than the one it holds (a retried report of loss undoes its lifting)"),
    _mutant("subsidy_compares_with_last_event", ComparesWithLastEventOnly,
            "takes a callback as new unless it is the last one applied, whatever its time"),
    _mutant("library_ignores_retry_after", IgnoresRetryAfter, "retries a 429/503 at once, ignoring Retry-After"),
    _mutant("hospital_retries_4xx", RetriesEvery4xx, "retries a request the platform refused with a 4xx"),
    _mutant("subsidy_new_event_id_per_retry", NewEventIdPerRetry,
            "gives a data-return report a new event_id on every retry"),
    _mutant("library_keeps_birth_date", KeepsBirthDate,
            "keeps the reader's birth date from the card, which the library purpose may not read"),
    _mutant("library_serves_lost_cards", ServesLostCards, "lends on a card the platform reports lost"),
    _mutant("library_refuses_only_lost", RefusesOnlyLostCards,
            "refuses lost cards only: serves cancelled and superseded ones"),
    _mutant("hospital_signs_with_old_key", SignsWithAnOldKey, "signs its requests with a key that is not its secret"),
    _mutant("subsidy_stamps_ten_minutes_late", StampsTenMinutesLate,
            "stamps its requests with a clock ten minutes behind"),
    _mutant("library_fetches_blacklist", FetchesTheBlacklist,
            "fetches the blacklist, which the library purpose does not permit, before every loan"),
]
