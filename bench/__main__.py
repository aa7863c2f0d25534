"""`python -m bench [name ...]`: run `bench/bench_<name>.py`'s `main()`, all of them by default."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from pathlib import Path


def available() -> list[str]:
    """Names of the benchmarks in this package (bench_<name>.py -> name)."""
    here = str(Path(__file__).parent)
    return sorted(
        info.name.removeprefix("bench_") for info in pkgutil.iter_modules([here]) if info.name.startswith("bench_")
    )


def main(argv: list[str] | None = None) -> int:
    names = available()
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", metavar="name", help=f"benchmarks to run (default all: {names})")
    parser.add_argument("--quick", action="store_true",
                        help="shorter runs for iterating (a benchmark that has them reads it from sys.argv)")
    chosen = parser.parse_args(argv).names or names
    unknown = [name for name in chosen if name not in names]
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; available: {names}")
    status = 0
    for name in chosen:
        print(f"== bench {name} ==", flush=True)
        module = importlib.import_module(f"bench.bench_{name}")
        status = status or int(module.main() or 0)
    return status


if __name__ == "__main__":
    sys.exit(main())
