#!/bin/bash
# Single-resource write throughput, A/B: two ikp builds (before/after a change) and, when it is
# installed, the Helios FHIR Server, each on a fresh SQLite database, driven by the same load tool
# (`ikp bench`: create, then update of what it created), interleaved round by round so that a busy
# machine weighs on all of them alike.
# Usage: bench/writes.sh BEFORE_BINARY AFTER_BINARY [rounds] [seconds] [clients]
#   e.g. bench/writes.sh /tmp/ikp-before target/release/ikp 3 10 16
# Helios: HFS=~/.cache/peers/bin/hfs (default; skipped when absent).
set -euo pipefail
cd "$(dirname "$0")/.."
BEFORE=$1
AFTER=$2
ROUNDS=${3:-3}
SECS=${4:-10}
CLIENTS=${5:-16}
HFS=${HFS:-$HOME/.cache/peers/bin/hfs}
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
OUT=${OUT:-$PWD/bench/writes-$(date +%F).jsonl}
PORT=18095
gzip -dc conformance/search-parameters.json.gz >"$WORK/search-parameters-r4.json"

wait_for() { # url
  for _ in $(seq 1 100); do curl -sf -o /dev/null "$1" && return 0; sleep 0.2; done
  echo "server at $1 did not start" >&2
  return 1
}

drive() { # label url
  "$AFTER" bench --url "$2" --clients "$CLIENTS" --seconds "$SECS" --phases create,update --label "$1" --json "$OUT"
}

ikp_round() { # label binary
  rm -rf "$WORK/db"
  mkdir -p "$WORK/db"
  "$2" serve --database-url "sqlite://$WORK/db/ikp.db" --listen 127.0.0.1:$PORT --auth off --demo false \
    --store-terminology false --sweep-seconds 0 >"$WORK/$1.log" 2>&1 &
  local pid=$!
  wait_for http://127.0.0.1:$PORT/fhir/metadata
  drive "$1" http://127.0.0.1:$PORT/fhir
  kill $pid
  wait $pid 2>/dev/null || true
}

helios_round() {
  rm -rf "$WORK/hfs"
  mkdir -p "$WORK/hfs/data"
  cp "$WORK/search-parameters-r4.json" "$WORK/hfs/data/"
  (cd "$WORK/hfs" && exec "$HFS" --port $PORT --database-url "$WORK/hfs/hfs.db" --data-dir "$WORK/hfs/data" \
    >"$WORK/hfs.log" 2>&1) &
  local pid=$!
  wait_for http://127.0.0.1:$PORT/metadata
  drive helios http://127.0.0.1:$PORT
  kill $pid
  wait $pid 2>/dev/null || true
}

for round in $(seq 1 "$ROUNDS"); do
  echo "round $round"
  ikp_round before "$BEFORE"
  ikp_round after "$AFTER"
  if [ -x "$HFS" ]; then helios_round; fi
done
echo "results: $OUT"
