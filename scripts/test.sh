#!/usr/bin/env bash
# The project's one test command (README, and .ci/run calls it).
#
# It checks formatting, runs clippy with warnings as errors, and runs every
# test in the release profile, the same profile `cargo run --release` uses,
# so polars is compiled once for running and testing.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

# The toolchain components the checks need (present on most installs).
for c in rustfmt clippy; do
  if ! rustup component list --installed 2>/dev/null | grep -q "^$c"; then
    rustup component add "$c"
  fi
done

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (-D warnings)"
cargo clippy --release --locked --workspace --all-targets -- -D warnings

step "promtool (Prometheus' checker, for the deploy and metrics tests)"
bash scripts/ci/promtool.sh

step "Kafka-compatible test broker"
# The integration tests talk to a real broker; they fail (never skip) when
# TIDEWATCH_TEST_BROKERS is unset.
port="${TIDEWATCH_TEST_PORT:-19092}"
broker_pid=$(scripts/ci/broker.sh start "$port")
export TIDEWATCH_TEST_BROKERS="127.0.0.1:$port"
echo "tansu on $TIDEWATCH_TEST_BROKERS (pid $broker_pid)"

step "cargo test"
log=$(mktemp)
trap 'rm -f "$log"; kill "$broker_pid" 2>/dev/null || true' EXIT
cargo test --release --locked --workspace 2>&1 | tee "$log"

# One closing line for the whole run: the per-binary lines end with the
# doc-tests, which have nothing to run.
awk '/^test result:/ { p += $4; f += $6 } END { printf "\ntidewatch: %d passed, %d failed\n", p, f; exit (f > 0 || p == 0) }' "$log"
