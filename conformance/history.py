"""The history of one DUT across certification runs: where it is kept, and the runs it holds.

Kept in `history/` beside the run folders (`reports/history/` by default), two files per DUT:
- `<dut>.jsonl`: Allure 3's history file (`allure awesome --history-path`), read and appended by
  the generator: the per-test history and trends of `report/allure.html`;
- `<dut>.runs.jsonl`: one line per certificate of the DUT (run id, time, outcome, counts, profile,
  tool, the certificate's SM3), appended after each run with an HTML report: the trend table of
  the verdict page (conformance.verdict_page).

"The same DUT" is the same `--dut` spec and, where `--dut-info` declares them, the same vendor and
model: a firmware change stays in one history, which is what a trend should show.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from simulator.crypto.hashes import sm3

#: --dut-info keys that tell one device from another at the same address
IDENTITY = ("vendor", "model")


def dut_key(spec: str, info: dict[str, str]) -> str:
    """What identifies the DUT across runs: its spec, plus its vendor and model when declared."""
    return "|".join([spec, *(f"{k}={info[k]}" for k in IDENTITY if info.get(k))])


@dataclass(frozen=True)
class History:
    """The history files of one DUT under `root`."""

    root: Path
    slug: str

    @classmethod
    def of(cls, root: Path, *, spec: str, info: dict[str, str]) -> History:
        """A readable file name (the key, punctuation folded) made unique by the key's SM3."""
        key = dut_key(spec, info)
        readable = re.sub(r"[^A-Za-z0-9]+", "-", key).strip("-")[:60] or "dut"
        return cls(Path(root), f"{readable}-{sm3(key.encode('utf-8')).hex()[:8]}")

    @property
    def allure(self) -> Path:
        return self.root / f"{self.slug}.jsonl"

    @property
    def runs(self) -> Path:
        return self.root / f"{self.slug}.runs.jsonl"

    @staticmethod
    def line(cert: dict, *, certificate_sm3: str | None = None) -> dict:
        """A run's line in the history, from its certificate."""
        return {
            "run_id": cert["run_id"], "created": cert["created"],
            "certified": cert["outcome"]["certified"], "exit_code": cert["outcome"]["exit_code"],
            "clauses": cert["counts"]["clauses"], "tests": cert["counts"]["tests"], "suites": cert["suites"]["names"],
            "profile": f"{cert['profile'].get('catalogue', '')} {cert['profile'].get('version', '')}".strip(),
            "profile_sm3": cert["profile"].get("sm3"), "tool": cert["tool"].get("version"),
            "certificate_sm3": certificate_sm3,
        }

    def record(self, cert: dict, *, certificate_sm3: str) -> None:
        """Append this run's line (from its written certificate) to the runs file."""
        line = self.line(cert, certificate_sm3=certificate_sm3)
        self.root.mkdir(parents=True, exist_ok=True)
        with self.runs.open("a", encoding="utf-8") as out:
            out.write(json.dumps(line, ensure_ascii=False) + "\n")

    def recent(self, limit: int = 10) -> list[dict]:
        """The last `limit` runs, oldest first; ValueError naming the line that is not JSON."""
        if not self.runs.is_file():
            return []
        lines = self.runs.read_text(encoding="utf-8").splitlines()
        runs = []
        for n, text in enumerate(lines, 1):
            if text.strip():
                try:
                    runs.append(json.loads(text))
                except ValueError as exc:
                    raise ValueError(f"{self.runs} line {n} is not JSON: {exc}") from exc
        return runs[-limit:]
