"""Every benchmark in one command, one table: ``python -m tests.bench [--only a,b] [--skip c] [--mode m]
[--quick]`` (the benchmarks and the table: ``tests/bench/suite.py``).

The table has one line per figure: its target, the embedded and scale-out measures side by side, the
verdict. ``--quick`` shrinks every benchmark to a smoke run (its figures then say little about the targets).
Exits 1 when a figure misses its target or a benchmark fails.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench.suite import BENCHES, MODES, run_one, table  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help=f"comma-separated, of: {', '.join(BENCHES)}")
    parser.add_argument("--skip", default="", help="comma-separated benchmarks to leave out")
    parser.add_argument("--mode", choices=(*MODES, "both"), default="both")
    parser.add_argument("--quick", action="store_true", help="a smoke run of every benchmark")
    args = parser.parse_args(argv)
    chosen = [n for n in (args.only.split(",") if args.only else BENCHES) if n not in args.skip.split(",")]
    unknown = [n for n in chosen if n not in BENCHES]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    rows: list[dict[str, Any]] = []
    for name in chosen:
        bench = BENCHES[name]
        options = bench.quick if args.quick else bench.full
        if len(bench.modes) == 1:
            rows += run_one(name, bench, options)
            continue
        for mode in bench.modes if args.mode == "both" else (args.mode,):
            rows += run_one(name, bench, {**options, "mode": mode})
    print("\n" + table(rows))
    return 0 if all(row["passed"] is not False for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
