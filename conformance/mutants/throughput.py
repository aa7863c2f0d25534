"""Seeded-defect metro gates for the throughput suite (`suite="throughput"`): each a reference gate
with one defect that its station's gate array feels.

- `gate_slow_for_throughput` re-reads its purse's trip log (0x1E) in the transaction path, several
  passes of every record: exchanges the harness's card really sees, which make its transaction
  about 30% longer than the purchase limit (timing.yaml limits.purchase) allows;
- `gate_blocks_without_platform` keeps its flaps shut (RETAP: tap again) while the platform does not
  answer its card-status query, instead of deciding from its own blacklist.
"""

from __future__ import annotations

from simulator.devices.transit import MetroGate

from . import Mutant
from .terminals import _entry


class SlowForThroughput(MetroGate):
    """Reads every record of the 0x1E trip log `passes` times before it plans the fare."""

    passes = 13  # 13 x 10 READ RECORD: about 430 ms of exchanges on a 100 ms transaction (526 ms, 1.3 x 400)

    def plan(self, purse, info):
        records = next(f["max_records"] for f in self.purse_profile["files"] if f["sfi"] == 0x1E)
        for _ in range(self.passes):
            for number in range(1, records + 1):
                purse.read_record(0x1E, number)
        return super().plan(purse, info)


class BlocksWithoutPlatform(MetroGate):
    """Refuses a card it would admit when its card-status query went unanswered."""

    def admit(self, info):
        refused = yield from super().admit(info)
        answer = self.status.last
        if refused is None and self.status.platform is not None and answer is not None and answer.offline:
            return self.decide("RETAP", card=info.serial.hex().upper(), detail="the platform did not answer")
        return refused


MUTANTS = [
    Mutant(name="gate_slow_for_throughput", role="terminal", kind="gate_entry", suite="throughput",
           defect="re-reads the 0x1E trip log in the transaction path: about 30% over the purchase time limit",
           build=_entry(SlowForThroughput)),
    Mutant(name="gate_blocks_without_platform", role="terminal", kind="gate_entry", suite="throughput",
           defect="keeps its flaps shut (RETAP) while the platform does not answer its card-status query",
           build=_entry(BlocksWithoutPlatform)),
]
