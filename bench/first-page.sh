#!/bin/bash
# Population-level first pages (a backend's or clinician's searches without a patient) on a large
# synthetic population: the first page of each search below, timed with curl against `ikp serve`
# (auth off): the first request after the server starts ("cold": the database's own cache is
# empty, the operating system's is not) and the median and slowest of RUNS more ("warm").
# Usage: bench/first-page.sh LABEL DATABASE_URL [RUNS]
#   A sqlite:// database that does not exist yet is built first: `ikp synth --patients
#   ${PATIENTS:-10000} --seed 1` imported with `ikp import`. A postgres:// database must have been
#   imported already. Results are appended to ${OUT:-bench/first-page-<date>.jsonl}; IKP picks the
#   binary (default ./target/release/ikp, built if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
LABEL=${1:?label}
DB=${2:?database url}
RUNS=${3:-20}
IKP=${IKP:-./target/release/ikp}
OUT=${OUT:-bench/first-page-$(date +%F).jsonl}
PORT=${PORT:-8197}
[ -x "$IKP" ] || cargo build --release --quiet
case "$DB" in
  sqlite://*)
    FILE=${DB#sqlite://}
    if [ ! -f "$FILE" ]; then
      WORK=$(mktemp -d)
      trap 'rm -rf "$WORK"' EXIT
      "$IKP" synth --patients "${PATIENTS:-10000}" --seed 1 --out "$WORK/pop" --format ndjson >/dev/null
      "$IKP" import --database-url "$DB" "$WORK/pop" | tail -1
    fi
    BACKEND=sqlite ;;
  postgres://*) BACKEND=postgres ;;
  *) echo "a sqlite:// or postgres:// URL" >&2; exit 2 ;;
esac
BASE=http://127.0.0.1:$PORT/fhir
SEARCHES=(
  "Observation?date=ge2025-01-01&_count=10&_total=none"
  "Observation?date=ge2025-01-01&_count=10"
  "Observation?date=ge2025-01-01&_count=10&_sort=date"
  "Encounter?_has:Condition:encounter:code=E11"
)
serve() {
  "$IKP" serve --database-url "$DB" --listen 127.0.0.1:$PORT --auth off --demo false --store-terminology false \
    >>/tmp/first-page-serve.log 2>&1 &
  server=$!
  for _ in $(seq 300); do curl -sf "$BASE/metadata" -o /dev/null && return; sleep 0.2; done
  echo "the server did not start (see /tmp/first-page-serve.log)" >&2; exit 1
}
trap 'kill $server 2>/dev/null || true' EXIT
ms() { curl -s -o /dev/null -w '%{http_code} %{time_total}\n' "$BASE/$1" | awk '$1 != 200 { exit 1 } { printf "%.1f\n", $2 * 1000 }'; }
# A fresh server for each search: its first request is the cold one.
for s in "${SEARCHES[@]}"; do
  serve
  cold=$(ms "$s")
  times=$(for _ in $(seq "$RUNS"); do ms "$s"; done | sort -n)
  median=$(echo "$times" | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }')
  max=$(echo "$times" | tail -1)
  total=$(curl -s "$BASE/$s" | python3 -c 'import sys, json; print(json.load(sys.stdin).get("total", "absent"))')
  kill $server; wait $server 2>/dev/null || true
  printf '{"date":"%s","label":"%s","backend":"%s","search":"%s","cold_ms":%s,"warm_median_ms":%s,"warm_max_ms":%s,"runs":%s,"total":"%s"}\n' \
    "$(date +%F)" "$LABEL" "$BACKEND" "$s" "$cold" "$median" "$max" "$RUNS" "$total" | tee -a "$OUT"
done
