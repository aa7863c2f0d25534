"""The card suite at full power on cards in PC/SC readers, as a card vendor runs it: the reference
card's samples served through pcscd + vpcd, `--dut pcsc:<reader>` and the vendor's declaration
(tests/data/ics/reference_card.yaml: its samples, the profiles' synthetic issuer keys), with the
lab's sample changer and tear rig played by this process (`LabBench`).

What it proves: most card clauses are judged on a real card (the figure is printed), the tear
clauses included; every card mutant served the same way fails; the sample under test leaves as
it came (everything but what only moves forward: transaction counters and the cyclic logs they
feed); without a declaration the run is never certified.
"""

from __future__ import annotations

import json
import random
import socketserver
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml

from conformance import report
from conformance.mutants.cards import MUTANTS
from simulator.card import personas
from simulator.card.apps import epurse, qpboc
from simulator.card.cardos import CardOS
from simulator.clock import AS_OF
from simulator.profile import national
from simulator.transport import VpcdCard, wait_for_card

pytestmark = [pytest.mark.pcsc, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[1]
ICS = ROOT / "tests" / "data" / "ics" / "reference_card.yaml"
BENCH = ROOT / "tests" / "data" / "lab_bench.py"
#: what the run needs at least: the share of the card clauses in scope it judges
JUDGED_AT_LEAST = 0.90


def run_suite(reader: str, out: Path, *extra: str) -> list[dict]:
    """The card suite against the card in `reader` (this session's pcscd); its verdicts."""
    results = out / "results.json"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "conformance/suites/card", "--dut", f"pcsc:{reader}", "--ics", str(ICS),
         "--yikatong-results", str(results), "-q", "-p", "no:cacheprovider", "-p", "no:randomly", *extra],
        cwd=ROOT, capture_output=True, text=True, timeout=280, check=False)
    assert results.exists(), f"the suite wrote no results:\n{proc.stdout[-4000:]}{proc.stderr[-2000:]}"
    return json.loads(results.read_text(encoding="utf-8"))


def clause_verdicts(results: list[dict]) -> dict[str, str]:
    """Each card clause's verdict (the certificate's rule, `report.clause_verdict`)."""
    by_clause: dict[str, list[str]] = {}
    for r in results:
        by_clause.setdefault(r["clause"], []).append(r["verdict"])
    return {cid: report.clause_verdict(by_clause.get(cid, [])) for cid, c in national().clauses.items()
            if c["part"] == "card"}


def forward_only(key: str) -> bool:
    """NVM a card legitimately moves forward in every transaction: counters, the last
    transaction's proof, and the cyclic logs (0x18, 0x1E: slots, count and head)."""
    purse_fid, qpboc_fid = national()["epurse"]["application"]["fid"], national()["qpboc"]["application"]["fid"]
    path = epurse_path = f"3F00/{purse_fid}"
    logs = [f"{epurse_path}/{f['fid']}" for f in national()["epurse"]["files"] if f["structure"] == "cyclic"]
    counters = {epurse.atc_key(path, "offline"), epurse.atc_key(path, "online"), epurse.proof_key(path)}
    counters |= {qpboc.atc_key(f"3F00/{qpboc_fid}")}
    return key in counters or any(key.startswith(f"{log}#") for log in logs)


def samples() -> dict[str, CardOS]:
    """The declaration's samples by id, each a card of its own personalised as its persona."""
    declared = yaml.safe_load(ICS.read_text(encoding="utf-8"))["samples"]
    return {s["id"]: CardOS(personas.image(s["persona"], as_of=AS_OF), rng=random.Random(n))
            for n, s in enumerate(declared)}


class LabBench(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """The lab's sample changer and tear rig, played by this test process over the vpcd slots
    (tests/data/lab_bench.py is the command the suite runs): `change` pulls the card in a slot and
    inserts a sample's; `tear arm` arms the served card's power cut at a step of the next command
    (its fault plan: what a relay in the field does to a real card); `tear fired` answers whether
    the cut came and, if so, puts the card back in the field."""

    daemon_threads = True

    def __init__(self, path: Path, pcscd, cards: dict[str, CardOS]) -> None:
        self.pcscd, self.cards = pcscd, cards
        self.inserted: dict[int, tuple[str, VpcdCard]] = {}
        self.tears = 0
        self.lock = threading.Lock()
        super().__init__(str(path), _BenchRequest)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def command(self, verb: str) -> str:
        """The command line the suite runs for `verb` (change, tear)."""
        return f"{sys.executable} {BENCH} {self.server_address} {verb}"

    def put(self, reader: str, sample: str) -> None:
        slot = self.pcscd.readers.index(reader)
        with self.lock:
            if slot in self.inserted and self.inserted[slot][0] == sample:
                return
            if slot in self.inserted:
                self.inserted.pop(slot)[1].remove()
            card = VpcdCard(self.cards[sample], port=self.pcscd.slot_port(slot))
            card.insert()
            self.inserted[slot] = (sample, card)
            wait_for_card(reader, present=True, timeout=5)

    def arm(self, reader: str, step: str) -> None:
        plan = self.inserted[self.pcscd.readers.index(reader)][1].card.faults
        plan.arm(at=plan.total + int(step))

    def fired(self, reader: str) -> str:
        card = self.inserted[self.pcscd.readers.index(reader)][1]
        card.card.faults.disarm()
        if card.tear is None:
            return "no"
        card.insert()  # the power back: pcscd sees the card again
        wait_for_card(reader, present=True, timeout=5)
        self.tears += 1
        return "yes"

    def close(self) -> None:
        self.shutdown()
        self.server_close()
        for _, card in self.inserted.values():
            card.remove()


class _BenchRequest(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        verb, *args = self.rfile.readline().decode().rstrip("\n").split("\t")
        try:
            if verb == "change":
                self.server.put(*args)
                answer = "ok"
            elif args[:1] == ["arm"]:
                self.server.arm(*args[1:])
                answer = "ok"
            else:
                answer = self.server.fired(*args[1:])
        except Exception as exc:  # the bench's own failure: the suite sees a broken rig
            answer = f"error {exc!r}"
        self.wfile.write(f"{answer}\n".encode())


def test_the_suite_judges_nine_tenths_of_the_card_clauses_and_the_sample_leaves_as_it_came(pcscd, tmp_path):
    cards = samples()
    before = dict(cards["S1"].nvm.data)
    bench = LabBench(tmp_path / "bench.sock", pcscd, cards)
    try:
        bench.put(pcscd.reader(0), "S1")
        bench.put(pcscd.reader(1), "S2")
        results = run_suite(pcscd.reader(0), tmp_path, "--dut-info", f"changer={bench.command('change')}",
                            "--dut-info", f"tear={bench.command('tear')}")
    finally:
        bench.close()
    bad = [f"{r['nodeid']}: {r['message']}" for r in results if r["verdict"] in ("fail", "broken")]
    assert not bad, "the reference card's samples must pass:\n" + "\n".join(bad)
    verdicts = clause_verdicts(results)
    scope = [cid for cid, v in verdicts.items() if v != "not_applicable"]
    judged = [cid for cid in scope if verdicts[cid] not in ("not_tested", "not_covered")]
    left = {cid: next(r["message"] for r in results if r["clause"] == cid and r["verdict"] == "not_tested")
            for cid in scope if verdicts[cid] == "not_tested"}
    print(f"card clauses judged on cards in PC/SC readers: {len(judged)}/{len(scope)} = "
          f"{len(judged) / len(scope):.1%}, {bench.tears} power cuts by the tear rig; not tested: "
          + "; ".join(f"{c} ({m})" for c, m in left.items()))
    assert bench.tears, "the tear rig never cut the power"
    after = dict(cards["S1"].nvm.data)
    moved = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    assert [k for k in moved if not forward_only(k)] == [], "the sample under test did not leave as it came"
    print(f"moved forward on the sample under test: {', '.join(moved)}")
    assert len(judged) / len(scope) >= JUDGED_AT_LEAST, left


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.name for m in MUTANTS])
def test_every_card_mutant_in_a_pcsc_reader_fails(pcscd, tmp_path, mutant):
    # S1 and S2; without a changer the other samples are out of reach
    bench = LabBench(tmp_path / "bench.sock", pcscd, {"S1": mutant.build("normal", random.Random(1), national()),
                                                      "S2": mutant.build("normal", random.Random(2), national())})
    try:
        bench.put(pcscd.reader(0), "S1")
        bench.put(pcscd.reader(1), "S2")
        results = run_suite(pcscd.reader(0), tmp_path, "-x", "--dut-info", f"tear={bench.command('tear')}")
    finally:
        bench.close()
    broken = [f"{r['nodeid']}: {r['message']}" for r in results if r["verdict"] == "broken"]
    assert not broken, f"{mutant.name} broke the suite:\n" + "\n".join(broken)
    caught = [f"{r['clause']} {r['nodeid'].split('::')[-1]}" for r in results if r["verdict"] == "fail"]
    assert caught, f"no test fails {mutant.name} ({mutant.defect}) in a PC/SC reader"
    print(f"{mutant.name} through PC/SC: caught by {caught[0]}")


def test_without_a_declaration_a_card_in_a_reader_is_never_certified(vpcd_slot, tmp_path):
    reader, _ = vpcd_slot(samples()["S1"], 0)
    done = subprocess.run([str(Path(sys.executable).with_name("ykt")), "certify", "--suite", "card", "--dut",
                           f"pcsc:{reader}", "--dut-info", "capabilities=purse,qpboc", "--no-html",
                           "--out", str(tmp_path / "run")], cwd=ROOT, capture_output=True, text=True, timeout=280,
                          check=False)
    cert = json.loads((tmp_path / "run" / "certificate.json").read_text(encoding="utf-8"))
    assert cert["outcome"]["certified"] is False, done.stdout[-2000:]
    # never 0; 3 (incomplete) rather than 4: without the declaration's keys the tests needing them
    # are not tested, and an incomplete run is reported as such before "never certified"
    assert done.returncode == report.EXIT_INCOMPLETE, (done.returncode, cert["outcome"]["reason"])
