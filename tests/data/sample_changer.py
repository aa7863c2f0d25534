"""A lab's sample changer for the project's own tests: `sample_changer.py SOCKET READER SAMPLE`
asks the test process serving the vpcd cards (tests/test_card_real.py, `SampleChanger`) to put
sample SAMPLE in READER, and returns once it is there (exit 0) or the request failed (exit 1)."""

import socket
import sys

with socket.socket(socket.AF_UNIX) as link:
    link.settimeout(60)
    link.connect(sys.argv[1])
    link.sendall(f"{sys.argv[2]}\t{sys.argv[3]}\n".encode())
    sys.exit(0 if link.makefile().readline().strip() == "ok" else 1)
