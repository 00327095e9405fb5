"""Measure experiments against the unchanged app, interleaved and repeated, in one process each.

`.venv/bin/python bench/compare_variants.py [-n 1500] [--rounds 3] [VARIANT ...]` runs
bench/profile_signup.py for the baseline and each variant (default: every one in
bench/bench_app.py) in turn, `--rounds` times over, and prints the median wall and
CPU milliseconds per sign-up and the saving against the baseline. Interleaving the runs keeps a
noisy neighbour on this small machine from favouring one variant.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import bench_app

BENCH = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variants", nargs="*", help="default: every one in bench_app.VARIANTS")
    parser.add_argument("-n", type=int, default=1500, help="sign-ups per run (1500)")
    parser.add_argument("--rounds", type=int, default=3, help="runs per variant (3)")
    args = parser.parse_args(argv)
    variants = ["", *(args.variants or bench_app.VARIANTS)]
    with tempfile.NamedTemporaryFile(suffix=".jsonl") as results:
        for round_number in range(1, args.rounds + 1):
            for variant in variants:
                print(f"round {round_number}: {variant or 'baseline'}", file=sys.stderr)
                command = [sys.executable, str(BENCH / "profile_signup.py"), "-n", str(args.n)]
                command += ["--variant", variant, "--json", results.name]
                subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        records = [json.loads(line) for line in Path(results.name).read_text().splitlines()]
    by_variant: dict[str, list[dict]] = {}
    for record in records:
        by_variant.setdefault(record["variant"], []).append(record)

    def median(variant: str, key: str) -> float:
        return statistics.median(record[key] for record in by_variant[variant])

    base_wall, base_cpu = median("", "wall_ms"), median("", "cpu_ms")
    print(f"{'variant':20} {'wall ms':>8} {'saves':>6} {'CPU ms':>7} {'saves':>6} {'SQL':>4}")
    for variant in variants:
        wall, cpu = median(variant, "wall_ms"), median(variant, "cpu_ms")
        sql = median(variant, "sql_statements")
        print(
            f"{variant or 'baseline':20} {wall:8.2f} {base_wall - wall:6.2f} "
            f"{cpu:7.2f} {base_cpu - cpu:6.2f} {sql:4.0f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
