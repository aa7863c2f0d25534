"""The issuer's online load server (圈存主机) for CREDIT FOR LOAD, behind the load-host port.

The load kiosk sends what INITIALIZE FOR LOAD returned (old balance, online ATC, random, MAC1)
with the card's identifiers as a `ports.LoadRequest`; the host derives the card's load key (DLK)
from its master (`simulator.backend.issuer.purse_master`), checks MAC1 and answers MAC2 for
`80 52` (transit-payment.md §1.3 [V], §1.4 [V] layouts).
"""

from __future__ import annotations

import hmac

from simulator.backend.issuer import purse_master
from simulator.backend.ports import LoadAnswer, LoadRequest
from simulator.card.apps import epurse
from simulator.crypto import load_mac1, load_mac2, load_session_key
from simulator.profile import Profile, national


class LoadHost:
    """The issuer's online load server (圈存主机): implements `ports.LoadHostPort`."""

    def __init__(self, profile: Profile | None = None, *, purse_profile: dict | None = None) -> None:
        """The load keys of `profile`'s purse document (the national profile by default);
        `purse_profile` replaces that document (a lab's issuer with a subset of the keys)."""
        self.purse_profile = purse_profile or (profile or national())["epurse"]
        self.master = purse_master("load", purse_profile=self.purse_profile)
        self.load_type = int(self.purse_profile["transaction_types"]["load"]["code"], 16)

    def authorise(self, request: LoadRequest) -> LoadAnswer:
        """MAC2 for CREDIT FOR LOAD, or a refusal naming the card when its MAC1 is wrong.

        `request.txn_type` None is the profile's EP load (02); 01 is an ED (passbook) load.
        """
        if len(request.card_serial10) != 10:
            raise ValueError(f"the application serial has 10 bytes, got {len(request.card_serial10)}")
        txn_type = self.load_type if request.txn_type is None else request.txn_type
        algorithm = request.algorithm
        dlk = epurse.card_key(self.purse_profile, self.master.name, request.issuer_id8, request.card_serial10,
                              algorithm)
        session = load_session_key(dlk, request.card_random4, request.online_atc2, algorithm=algorithm)
        expected = load_mac1(session, request.old_balance, request.amount, txn_type, request.terminal_id6,
                             algorithm=algorithm)
        if not hmac.compare_digest(expected, bytes(request.mac1)):
            return LoadAnswer(request.request_id, approved=False, detail=(
                f"MAC1 {bytes(request.mac1).hex().upper()} does not verify for card "
                f"{request.card_serial10.hex().upper()} (load of {request.amount} fen, "
                f"ATC {request.online_atc2.hex()})"))
        mac2 = load_mac2(session, request.amount, txn_type, request.terminal_id6, request.date4, request.time3,
                         algorithm=algorithm)
        return LoadAnswer(request.request_id, approved=True, mac2=mac2)
