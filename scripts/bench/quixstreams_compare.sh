#!/usr/bin/env bash
# The engine against the same job written with quixstreams, side by side on
# the same broker and the same events.
#
#   scripts/bench/quixstreams_compare.sh [EVENTS] [REPETITIONS]   # 1000000 2
#
# Generates about EVENTS events once (`tidewatch seed --no-bad-records`,
# EVENTS/7.8 entities, as `tidewatch bench stream` does), then per
# repetition and per side, on a freshly started test broker (tansu, memory
# storage: it slows down as it fills, so every measured run gets a new one):
# produces the events to `bench.inspections|complaints|credit-records`
# (4 partitions, keyed by USCC) and runs
#   (a) `tidewatch run --brokers …` (the engine's one-shot catch-up); its
#       rate is the records it consumed over its catch-up, from the log line
#       that starts the catch-up to the one that ends it, less the 1 s of
#       quiet (catch_up_idle_ms) that tells it the input has ended. That
#       span also holds the engine's end-of-catch-up work (the lists judged
#       for everyone, the last checkpoint, every output acknowledged), so it
#       is a little longer than the busy period;
#   (b) scripts/bench/quixstreams_job.py; its rate is over its busy period,
#       first record processed to last (and, printed too, to its final
#       commit).
# Runs are sequential. Prints both rates and their ratio.
#
# Environment: TIDEWATCH_BIN (default: the release build,
# $CARGO_TARGET_DIR or target/, built first with `cargo build --release`),
# PY (a python with scripts/bench/quixstreams-requirements.txt installed;
# default: a virtualenv under ~/.cache/tidewatch/qx-venv, created on first
# use), PORT (19292), WORK (a fresh temporary directory, removed at the
# end), QX_ARGS (more flags for the quixstreams job, e.g. --align or
# --no-changelog).
set -euo pipefail

events="${1:-1000000}"
reps="${2:-2}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
if [ -z "${TIDEWATCH_BIN:-}" ]; then
  (cd "$root" && cargo build --release --locked --quiet)
  bin="${CARGO_TARGET_DIR:-$root/target}/release/tidewatch"
else
  bin="$TIDEWATCH_BIN"
fi
if [ -z "${PY:-}" ]; then
  venv="$HOME/.cache/tidewatch/qx-venv"
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet -r "$root/scripts/bench/quixstreams-requirements.txt"
  fi
  py="$venv/bin/python"
else
  py="$PY"
fi
port="${PORT:-19292}"
brokers="127.0.0.1:$port"
work="${WORK:-$(mktemp -d -t qx-compare.XXXXXX)}"
qx_args="${QX_ARGS:-}"
as_of=2026-09-30
idle_ms=1000
broker_pid=""

stop_broker() {
  if [ -n "$broker_pid" ]; then
    kill "$broker_pid" 2>/dev/null || true
    wait "$broker_pid" 2>/dev/null || true
    # The port is free once the process is gone.
    for _ in $(seq 1 50); do
      (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || break
      sleep 0.1
    done
    broker_pid=""
  fi
}
cleanup() {
  stop_broker
  rm -rf "$work"
}
trap cleanup EXIT

start_broker() {
  stop_broker
  # broker.sh starts tansu in the background and prints its PID; keep it a
  # child of this shell so that `wait` works.
  broker_pid="$("$root/scripts/ci/broker.sh" start "$port")"
}

produce() {
  "$bin" produce --from "$work/events" --brokers "$brokers" --topic-prefix bench. 2>&1 | tail -1
}

entities=$(python3 -c "import math; print(max(10, math.ceil($events / 7.8)))")
echo "generating about $events events ($entities entities) into $work/events"
"$bin" seed --entities "$entities" --no-bad-records --out "$work/events" >/dev/null
total=$(cat "$work/events"/{inspections,complaints,credit-records}.ndjson | wc -l)
echo "generated $total events; $reps repetition(s); broker tansu on $brokers, fresh for every run"
echo "quixstreams $("$py" -W ignore -c 'import quixstreams; print(quixstreams.__version__)' 2>/dev/null), $(nproc) cores"

tw_rates=()
qx_rates=()
for rep in $(seq 1 "$reps"); do
  echo
  echo "== repetition $rep/$reps: tidewatch"
  start_broker
  produce
  rm -rf "$work/state" "$work/out"
  t0=$(date +%s.%N)
  TIDEWATCH_LOG=info TIDEWATCH_CATCH_UP_IDLE_MS=$idle_ms "$bin" run --log-json \
    --brokers "$brokers" --topic-prefix bench. --checkpoint-dir "$work/state" \
    --out "$work/out" --as-of "$as_of" --pipelines "$root/pipelines" \
    >"$work/tw.out" 2>"$work/tw.log"
  t1=$(date +%s.%N)
  rate=$(python3 - "$work/tw.log" "$work/out/summary.json" "$idle_ms" "$t0" "$t1" <<'EOF'
import datetime as dt, json, re, sys
log, summary, idle_ms, t0, t1 = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
start = end = stats = None
for line in open(log):
    try:
        j = json.loads(line)
    except ValueError:
        continue
    msg = j.get("fields", {}).get("message")
    ts = dt.datetime.fromisoformat(j["timestamp"].replace("Z", "+00:00")).timestamp()
    if msg == "catching up to the end offsets":
        start = ts
    elif msg == "caught up":
        end, stats = ts, j["fields"]["stats"]
if start is None or end is None:
    sys.exit("no catch-up lines in the engine's log")
consumed = int(re.search(r"consumed: (\d+)", stats).group(1))
span = end - start
busy = span - idle_ms / 1000
ms = json.load(open(summary))["timings_ms"]
print(f"tidewatch: {stats}", file=sys.stderr)
print(f"tidewatch: catch-up {span:.2f} s, less {idle_ms} ms of quiet = {busy:.2f} s = {consumed / busy:.0f} events/s "
      f"(ingest incl. open {ms['ingest'] / 1000:.2f} s; whole run with features, scoring and files {t1 - t0:.2f} s)", file=sys.stderr)
print(f"{consumed / busy:.0f}")
EOF
)
  tw_rates+=("$rate")
  echo "== repetition $rep/$reps: quixstreams"
  start_broker
  produce
  qx_ok=0
  "$py" -W ignore "$root/scripts/bench/quixstreams_job.py" --brokers "$brokers" \
    --topic-prefix bench. --total "$total" --as-of "$as_of" --idle 60 \
    --state-dir "$work/qx-state" $qx_args 2>"$work/qx.err" | tee "$work/qx.out" || qx_ok=$?
  rate=$(sed -n 's/^quixstreams: busy .* = \([0-9]*\) events\/s$/\1/p' "$work/qx.out")
  if [ "$qx_ok" != 0 ] || [ -z "$rate" ]; then
    echo "the quixstreams job failed; its stderr:" >&2
    cat "$work/qx.err" >&2
    exit 1
  fi
  rm -rf "$work/qx-state"
  qx_rates+=("$rate")
  stop_broker
done

echo
echo "== $total events, $reps repetition(s), $(nproc) cores"
python3 - "${tw_rates[*]}" "${qx_rates[*]}" <<'EOF'
import statistics, sys
tw = [float(x) for x in sys.argv[1].split()]
qx = [float(x) for x in sys.argv[2].split()]
print("tidewatch   events/s: " + ", ".join(f"{x:.0f}" for x in tw) + f"  (median {statistics.median(tw):.0f})")
print("quixstreams events/s: " + ", ".join(f"{x:.0f}" for x in qx) + f"  (median {statistics.median(qx):.0f})")
print(f"tidewatch / quixstreams = {statistics.median(tw) / statistics.median(qx):.1f}x (medians)")
EOF
