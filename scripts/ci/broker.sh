#!/usr/bin/env bash
# Starts the Kafka-compatible test broker (tansu 0.6.0) on loopback and
# prints its PID; installs it first (about 13 minutes on 2 cores) when the
# cached binary is missing or another version.
#
#   scripts/ci/broker.sh start [PORT]   # prints the PID; broker on 127.0.0.1:PORT (9092)
#   scripts/ci/broker.sh install        # only install
#
# The binary is cached under $HOME/.cache/tidewatch/tansu-0.6.0 (its
# successor crate needs a newer compiler than the project's). Storage is in
# memory: each start is an empty broker.
set -euo pipefail

version=0.6.0
root="${TANSU_ROOT:-$HOME/.cache/tidewatch/tansu-$version}"
bin="$root/bin/tansu"

install() {
  if [ -x "$bin" ] && "$bin" --version 2>/dev/null | grep -q "tansu $version"; then
    return 0
  fi
  echo "installing tansu $version into $root (cargo install, takes a while)" >&2
  # Its own target dir, so the project's build cache is not disturbed.
  CARGO_TARGET_DIR="$root/target" cargo install "tansu@$version" --locked \
    --features dynostore,libsql --root "$root" >&2
  rm -rf "$root/target"
}

start() {
  local port="${1:-9092}"
  install
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "127.0.0.1:$port is already in use; stop what listens there or set TIDEWATCH_TEST_PORT" >&2
    return 1
  fi
  local log="${TMPDIR:-/tmp}/tansu-$port.log"
  "$bin" broker --storage-engine=memory://tansu/ \
    --listener-url="tcp://127.0.0.1:$port" \
    --advertised-listener-url="tcp://127.0.0.1:$port" >"$log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$pid"
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "tansu exited at start; its log ($log):" >&2
      cat "$log" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "tansu did not listen on 127.0.0.1:$port within 10 s; its log ($log):" >&2
  cat "$log" >&2
  kill "$pid" 2>/dev/null || true
  return 1
}

case "${1:-}" in
  install) install ;;
  start) shift; start "$@" ;;
  *) echo "usage: $0 install | start [PORT]" >&2; exit 2 ;;
esac
