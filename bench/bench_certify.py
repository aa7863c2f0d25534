"""End-to-end wall time of the main job, `ykt certify` with no options (all suites, `--dut sim`,
HTML report included); target < 60 s on 2 cores.

Baseline measured in the same run: `pytest --collect-only` of the same suites in a subprocess, i.e.
the interpreter, the imports and the collection that any run pays before the first test, so the
ratio shows what running the tests and writing the report cost on top, whatever the machine.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from conformance.certify import SUITES_ROOT, available_suites
from conformance.report import PROJECT_ROOT

TARGET_SECONDS = 60.0


def timed(command: list[str]) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    done = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, check=False)
    return time.perf_counter() - start, done


def main() -> None:
    suites = available_suites()
    if not suites:
        print("no suite under conformance/suites/: nothing to time")
        return
    collect, _ = timed([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                        *[str(SUITES_ROOT / s) for s in suites]])
    with tempfile.TemporaryDirectory(prefix="bench-certify-") as tmp:
        out = Path(tmp) / "run"
        seconds, done = timed([sys.executable, "-m", "conformance.certify", "certify", "--out", str(out)])
        cert_path = out / "certificate.json"
        cert = json.loads(cert_path.read_text(encoding="utf-8")) if cert_path.is_file() else {}
    tests = cert.get("counts", {}).get("tests", {}).get("total", "?")
    evidence = cert.get("evidence", {})
    print(f"ykt certify (suites {', '.join(suites)}, --dut sim, HTML report), {tests} tests")
    print(f"  pytest --collect-only (baseline)  {collect:8.2f} s")
    phases = f"tests {evidence.get('seconds', '?')} s, HTML {evidence.get('html_seconds', '?')} s"
    print(f"  ykt certify end to end            {seconds:8.2f} s   ratio {seconds / collect:.1f} of baseline "
          f"({phases}), exit {done.returncode}")
    print(f"  target                            {TARGET_SECONDS:8.2f} s   "
          f"{'met' if seconds < TARGET_SECONDS else 'NOT MET'}")


if __name__ == "__main__":
    main()
