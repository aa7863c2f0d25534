"""One root seed per run, and a generator per component derived from it.

Each component (a back-end, a gate, an arrival stream, one replication) draws from its own
`random.Random`, seeded from the root seed and the component's name, so adding a component or
reordering draws elsewhere changes nothing in the others, and a failing run is reproduced from the
one root seed it prints.
"""

from __future__ import annotations

import hashlib
import random


def child_seed(root: int, *names: str | int) -> int:
    """The 64-bit seed of the component `names` under `root` (SHA-256 of both, stable across runs,
    Python versions and machines, unlike `hash()`)."""
    text = "/".join([str(root), *map(str, names)])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def generator(root: int, *names: str | int) -> random.Random:
    """A fresh generator for the component `names` under `root`."""
    return random.Random(child_seed(root, *names))
