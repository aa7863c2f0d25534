"""The platform as the throughput suite plays it to a gate under test: a PlatformPort it holds
reachable or unreachable, and whose requests it counts (how many round trips each tap costs is what
the harness sees, and what the site model replays with the scenario's latency and timeout).

Reachable, it answers from the certification lists (ics.yaml `test_lists`): their cards are lost
(挂失) and on the blacklist, every other card is normal. Unreachable, every request is
`ports.Unavailable`, as a platform that does not answer is to a terminal.
"""

from __future__ import annotations

from simulator.backend import ports
from simulator.devices.terminal import certification_blacklist
from simulator.profile import Profile

LIST_VERSION = 1


class HarnessPlatform:
    """The suite's platform port: `reachable` is the suite's switch; `taken()` the requests since last asked."""

    def __init__(self, profile: Profile) -> None:
        """`profile`: the run's, whose certification lists the platform answers from."""
        self.reachable = True
        self.listed = certification_blacklist(profile)
        self._calls = 0

    def taken(self) -> int:
        calls, self._calls = self._calls, 0
        return calls

    def _answering(self, what: str) -> None:
        self._calls += 1
        if not self.reachable:
            raise ports.Unavailable(f"{what}: the harness holds the platform unreachable")

    def card_status(self, request: ports.CardStatusRequest) -> ports.CardStatus:
        self._answering("card status")
        lost = request.card_number in self.listed
        return ports.CardStatus(request.request_id, request.card_number, "lost" if lost else "normal", not lost)

    def blacklist(self, request: ports.BlacklistRequest) -> ports.BlacklistUpdate:
        self._answering("blacklist")
        whole = request.since is None
        return ports.BlacklistUpdate(request.request_id, LIST_VERSION, request.since,
                                     cards=tuple(sorted(self.listed)) if whole else ())
