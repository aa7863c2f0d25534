"""Is the card a terminal just read still usable? The platform's word online, the terminal's own
blacklist offline.

A card reported lost (挂失), superseded by a reissue (补领/换领) or cancelled (注销) must be refused
by every terminal within the propagation delay the platform profile states
(profiles/national/platform.yaml `blacklist`). Two ways get it there, and a terminal uses one or
both (terminals.yaml `card_status`):

- online: every card read is asked about at the platform (`PlatformPort.card_status`, a "backend"
  step of the flow, so the world can time it and fail it); when the platform does not answer
  (`ports.Unavailable`) the terminal decides from its own list and says so (`offline`), it never
  blocks;
- offline: the terminal keeps the platform's blacklist, fetched whole once and then as the delta
  after the version it holds (`BlacklistRequest(since=version)`), at least every refresh
  interval, also as a step of a tap when one is due.

The lists a terminal is provisioned with before certification (ics.yaml `test_lists`) stay listed
whatever the platform says. A card the platform does not know (another city's T-Union card) is
decided by the local list alone: not being registered here is no reason to refuse it.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Generator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from simulator.backend import ports
from simulator.devices.steps import Step
from simulator.profile import national


@dataclass(frozen=True)
class StatusAnswer:
    """Whether the card is listed and who said so: "online" (the platform), "offline" (the local
    list, because the terminal is offline or the platform did not answer) or "local" (the local
    list, because the platform does not know the card)."""

    listed: bool
    source: str

    @property
    def offline(self) -> bool:
        return self.source == "offline"


class CardStatusCheck:
    """The card-status check of one terminal: online query, local blacklist, delta sync."""

    def __init__(
        self,
        *,
        terminal_id: str,
        clock: Callable[[], datetime],
        platform: ports.PlatformPort | None = None,
        online: bool = False,
        provisioned: Container[str] = frozenset(),
        platform_profile: dict | None = None,
    ) -> None:
        """`platform_profile`: the platform document whose blacklist refresh interval the check keeps
        (the run's, through its terminal; the national one by default)."""
        self.terminal_id, self.clock, self.platform = terminal_id, clock, platform
        self.asks_online = online
        self.provisioned = provisioned
        self.listed: set[str] = set()
        self.version: int | None = None
        self.synced_at: datetime | None = None
        spec = (platform_profile or national()["platform"])["blacklist"]
        self.refresh_interval = timedelta(seconds=spec["refresh_interval_seconds"])
        self._requests = 0
        #: the answer of the current presentation's check (None before it ran): its decision says
        #: whether the platform or the local list decided
        self.last: StatusAnswer | None = None

    @property
    def online(self) -> bool:
        """Whether each card is asked about at the platform: the terminal's kind asks, and it has one."""
        return self.asks_online and self.platform is not None

    def __contains__(self, identifier: object) -> bool:
        return identifier in self.provisioned or identifier in self.listed

    def _request_id(self, what: str) -> str:
        self._requests += 1
        return f"{self.terminal_id}-{what}-{self._requests}"

    def apply(self, update: ports.BlacklistUpdate) -> None:
        """Take the platform's full list (since None) or its delta after the version held."""
        if update.since is None:
            self.listed = set(update.cards)
        else:
            self.listed |= set(update.added)
            self.listed -= set(update.removed)
        self.version, self.synced_at = update.version, self.clock()

    def due(self) -> bool:
        return self.platform is not None and (
            self.synced_at is None or self.clock() - self.synced_at >= self.refresh_interval)

    def refresh(self) -> Generator[Step, Any, None]:
        """Fetch the blacklist (whole, then deltas) when the refresh interval has passed; a platform
        that does not answer leaves the list as it was, to be fetched at the next tap."""
        if not self.due():
            return
        request = ports.BlacklistRequest(self._request_id("blacklist"), since=self.version)
        try:
            update = yield Step("backend", "fetch the blacklist", call=partial(self.platform.blacklist, request))
        except ports.Unavailable:
            return
        self.apply(update)

    def check(self, identifiers: Sequence[str]) -> Generator[Step, Any, StatusAnswer]:
        """Is any of the card's identifiers (卡识别码, purse serial, card number) listed?"""
        self.last = yield from self._ask(identifiers)
        return self.last

    def _ask(self, identifiers: Sequence[str]) -> Generator[Step, Any, StatusAnswer]:
        yield from self.refresh()
        local = any(identifier in self for identifier in identifiers)
        if not self.online:
            return StatusAnswer(local, "offline")
        request = ports.CardStatusRequest(self._request_id("status"), identifiers[0])
        try:
            status = yield Step("backend", "ask the platform the card's status",
                                call=partial(self.platform.card_status, request))
        except ports.Unavailable:
            return StatusAnswer(local, "offline")
        if status.status is None:
            return StatusAnswer(local, "local")
        return StatusAnswer(local or not status.usable, "online")
