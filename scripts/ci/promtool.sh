#!/usr/bin/env bash
# Prints the path of promtool (Prometheus' config, rules and exposition
# checker), installing Debian's `prometheus` package first when it is
# missing. The deploy tests run promtool on deploy/prometheus/ and on the
# engine's metrics page.
set -euo pipefail

find_promtool() {
  command -v promtool 2>/dev/null && return 0
  # Debian ships it under /usr/bin; look there too in case PATH is narrow.
  [ -x /usr/bin/promtool ] && echo /usr/bin/promtool && return 0
  return 1
}

if p=$(find_promtool); then
  echo "$p"
  exit 0
fi

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "promtool is missing and cannot be installed here (needs root and apt-get): install Debian's prometheus package" >&2
  exit 1
fi

echo "installing promtool (Debian package prometheus)" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
# --no-install-recommends: only promtool is needed, not the web UI or exporters.
apt-get install -y -qq --no-install-recommends prometheus >&2

if p=$(find_promtool); then
  echo "$p"
else
  echo "prometheus was installed but promtool was not found" >&2
  exit 1
fi
