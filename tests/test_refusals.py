"""`ykt certify` refuses bad input before anything runs (issue: verdicts only about what was applied).

Each refusal is one line on stderr with no traceback, writes no report (the --out folder is not
left behind), and exits with a code of its own, never one of the verdict codes 0-5: usage 64,
DUT unavailable 69, output not writable 74. The DUT is checked by asking the
`pytest_yikatong_make_dut` hook, so a lab's own adapter plugged in with `-p` is accepted.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conformance import report
from simulator.backend.loopback import free_port

ROOT = Path(__file__).resolve().parent.parent


def ykt(*args: str, cwd: Path = ROOT, env: dict | None = None) -> subprocess.CompletedProcess:
    """The real entry point (`ykt` = conformance.cli:main), as a user runs it."""
    return subprocess.run([str(Path(sys.executable).with_name("ykt")), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120, check=False, env=env)


REFUSALS = {
    "unknown profile": (["--profile", "nope"], report.EXIT_USAGE, "unknown profile 'nope'; profiles: national"),
    "unknown region": (["--region", "atlantis"], report.EXIT_USAGE, "unknown region 'atlantis'"),
    "unknown suite": (["--suite", "nope"], report.EXIT_USAGE,
                      "available: card, terminal, reader_api, integration, throughput, all"),
    "unknown DUT scheme": (["--dut", "nope:x"], report.EXIT_USAGE, "valid schemes: sim, pcsc, vpcd, http, lib"),
    "unknown mutant": (["--dut", "sim:mutant=nosuch"], report.EXIT_USAGE, "unknown mutant 'nosuch'"),
    "malformed --dut-info": (["--dut-info", "vendor"], report.EXIT_USAGE, "--dut-info takes KEY=VALUE"),
    "unknown option": (["--bogus"], report.EXIT_USAGE, "No such option: --bogus"),
    "missing value": (["--suite"], report.EXIT_USAGE, "requires an argument"),
    "no suites folder": (["--suites-dir", "/nonexistent/suites"], report.EXIT_USAGE, "no such folder"),
    "bad adapter setting": (["--dut", "pcsc:"], report.EXIT_USAGE, "pcsc needs a reader name"),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_refused_before_running_with_one_line_and_its_own_code(case, tmp_path):
    args, code, said = REFUSALS[case]
    out = tmp_path / "run"
    done = ykt("certify", "--out", str(out), *args)
    assert done.returncode == code, (done.returncode, done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and said in lines[0], done.stderr
    assert "Traceback" not in done.stderr + done.stdout and "collected" not in done.stdout
    assert not out.exists(), "a refused run leaves no report behind"


def test_an_unreachable_dut_is_refused_as_unavailable(tmp_path):
    out = tmp_path / "run"
    done = ykt("certify", "--suite", "terminal", "--dut", f"http://127.0.0.1:{free_port()}", "--out", str(out))
    assert done.returncode == report.EXIT_UNAVAILABLE, done.stderr
    assert "not reachable" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_an_unwritable_out_is_an_io_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    done = ykt("certify", "--out", str(blocker / "run"))
    assert done.returncode == report.EXIT_IO, done.stderr
    assert done.stderr.startswith("ykt certify: --out ") and "cannot write there" in done.stderr
    assert blocker.read_text() == "not a folder"


def test_a_refusal_does_not_remove_a_folder_that_was_there(tmp_path):
    out = tmp_path / "kept"
    out.mkdir()
    (out / "earlier.txt").write_text("x")
    done = ykt("certify", "--dut", "nope:x", "--out", str(out))
    assert done.returncode == report.EXIT_USAGE
    assert sorted(p.name for p in out.iterdir()) == ["earlier.txt"]


def test_a_labs_own_adapter_plugged_in_with_p_is_a_valid_dut(tmp_path):
    """The check before running asks the hook: an adapter our list does not know is accepted, and
    its own refusal of a spec comes back as a usage error."""
    (tmp_path / "lab_adapter.py").write_text(textwrap.dedent('''
        def pytest_yikatong_make_dut(config, spec, info):
            if not spec.startswith("lab:"):
                return None
            if spec != "lab:bench-1":
                raise ValueError(f"no bench {spec[4:]!r} in this lab")
            from conformance.dut import make_dut
            dut = make_dut("sim", info=info)
            dut.name = "lab bench 1 (reference reader)"
            return dut
    '''))
    env = {**__import__("os").environ, "PYTHONPATH": str(tmp_path)}
    refused = ykt("certify", "--suite", "reader_api", "--dut", "lab:bench-9", "-p", "lab_adapter",
                  "--out", str(tmp_path / "refused"), env=env)
    assert refused.returncode == report.EXIT_USAGE and "no bench 'bench-9' in this lab" in refused.stderr
    ran = ykt("certify", "--suite", "reader_api", "--dut", "lab:bench-1", "-p", "lab_adapter", "--no-html",
              "--out", str(tmp_path / "ran"), env=env)
    assert ran.returncode == 0, ran.stdout[-2000:] + ran.stderr
    assert (tmp_path / "ran" / "certificate.json").is_file()
