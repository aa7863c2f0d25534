"""A lab's sample changer and tear rig for the project's own tests: `lab_bench.py SOCKET ARGS...`
sends ARGS to the test process serving the vpcd cards (tests/test_card_real.py, `LabBench`) and
prints its answer. As the changer (`lab_bench.py SOCKET change READER SAMPLE`) it returns once the
sample is in the reader; as the tear rig (`lab_bench.py SOCKET tear arm READER STEP`,
`... tear fired READER`) it arms a cut, or prints whether it came. Exit 1 when the bench refused."""

import socket
import sys

with socket.socket(socket.AF_UNIX) as link:
    link.settimeout(60)
    link.connect(sys.argv[1])
    link.sendall(("\t".join(sys.argv[2:]) + "\n").encode())
    answer = link.makefile().readline().strip()
if answer.startswith("error"):
    sys.exit(answer)
if answer != "ok":
    print(answer)
