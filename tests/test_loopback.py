"""No card from the network: what the managed pcscd and our cards listen on (issue 11 point 5).

The run-time oracle is `ss` (iproute2), independent of the /proc reader the module itself uses to
refuse an exposed pcscd; Debian's vpcd configuration listens on 0.0.0.0:35963-35964 and fails
both checks (`test_a_pcscd_listening_beyond_loopback_is_refused` starts one to prove it).
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from simulator.card.interface import EchoCard
from simulator.transport import Pcscd, PcscTransport, ServiceUnavailableError, loopback, wait_for_card

ROOT = Path(__file__).resolve().parents[1]


def ss_listeners() -> list[tuple[int, str]]:
    """(pid, local address) of every listening TCP socket on the machine, as `ss -ltnpH` shows them."""
    shown = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, check=True).stdout
    found = []
    for line in shown.splitlines():
        local = line.split()[3]
        found += [(int(pid), local) for pid in re.findall(r"pid=(\d+)", line)]
    return found


def on_loopback(local: str) -> bool:
    """'127.0.0.1:35963', '[::1]:8000': True; '0.0.0.0:35963', '*:22', '0.0.0.0%lo:1': False."""
    host = local.rpartition(":")[0].strip("[]")
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def test_listeners_beyond_loopback_are_named_and_loopback_ones_spared():
    with socket.socket() as wild, socket.socket() as local, socket.socket(socket.AF_INET6) as local6:
        for sock, host in ((wild, "0.0.0.0"), (local, "127.0.0.2"), (local6, "::1")):
            sock.bind((host, 0))
            sock.listen()
        ports = [sock.getsockname()[1] for sock in (wild, local, local6)]
        listening = loopback.listening(os.getpid())
        exposed = loopback.beyond_loopback(os.getpid())
    assert {("0.0.0.0", ports[0]), ("127.0.0.2", ports[1]), ("::1", ports[2])} <= set(listening)
    assert f"0.0.0.0:{ports[0]}" in exposed
    assert not [entry for entry in exposed if entry.endswith((f":{ports[1]}", f":{ports[2]}"))]


@pytest.mark.pcsc
@pytest.mark.timeout(30)
def test_no_pcscd_or_card_port_listens_beyond_loopback(pcscd, vpcd_slot):
    """While pcscd serves a card of this process and one of `ykt card serve`, everything they listen
    on is loopback, and pcscd listens on exactly vpcd's two slot ports there."""
    reader, _ = vpcd_slot(EchoCard(), slot=0)
    served = subprocess.Popen([sys.executable, "-m", "conformance.cli", "card", "serve", "--slot", "1"], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for_card(pcscd.reader(1), timeout=15)
        with PcscTransport(reader) as link:
            assert link.transmit(bytes.fromhex("00B0000010")) == b"\x90\x00"
            sockets = ss_listeners()
    finally:
        served.terminate()
        output = served.communicate(timeout=10)[0]
    ours = {pcscd.pid, os.getpid(), served.pid}
    mine = [(pid, local) for pid, local in sockets if pid in ours]
    assert sorted(local for pid, local in mine if pid == pcscd.pid) == [
        f"127.0.0.1:{pcscd.slot_port(0)}", f"127.0.0.1:{pcscd.slot_port(1)}"]
    assert all(on_loopback(local) for _, local in mine), mine
    assert "card removed" in output, output


@pytest.mark.pcsc
@pytest.mark.timeout(30)
def test_a_pcscd_listening_beyond_loopback_is_refused(pcscd, monkeypatch):
    """Debian's configuration, without the bind wrapper, listens on 0.0.0.0: `start()` refuses it."""
    pcscd.stop()
    try:
        with monkeypatch.context() as patch:
            patch.setattr(loopback, "preload", lambda directory: dict(os.environ))
            exposed = Pcscd(port=pcscd.port)
            with pytest.raises(ServiceUnavailableError, match=rf"beyond loopback on .*0\.0\.0\.0:{pcscd.port}\b"):
                exposed.start()
        assert not exposed.running
    finally:
        pcscd.start()
