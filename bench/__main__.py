"""python -m bench [--quick] [--calls N]: run the benchmark, print the table, write bench/results/*.json."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from bench.report import RESULTS, finish, render
from bench.run import Plan, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a handful of calls per scenario: proves the harness runs")
    parser.add_argument("--calls", type=int, help="calls per scenario and round (default 1000; 2 with --quick)")
    parser.add_argument("--streams", type=int, help="SSE streams to hold open (default 500; 10 with --quick)")
    parser.add_argument("--no-catalog", action="store_true", help="leave out the catalog tools (no target, ~5 minutes)")
    parser.add_argument(
        "--out", type=Path, default=RESULTS, help="directory for the JSON result (default bench/results)"
    )
    args = parser.parse_args(argv)
    plan = Plan.quick() if args.quick else Plan()
    if args.calls:
        plan = dataclasses.replace(plan, calls=args.calls)
    if args.no_catalog:
        plan = dataclasses.replace(plan, catalog=False)
    if args.streams:
        plan = dataclasses.replace(plan, streams=args.streams)
    result = run(plan, log=lambda line: print(line, file=sys.stderr, flush=True))
    path = finish(result, directory=args.out)
    print(render(result))
    print(f"\nwritten to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
