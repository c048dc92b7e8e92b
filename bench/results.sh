#!/bin/bash
# A patient app reading lab results: the newest result of each test (Observation/$lastn), one
# test's trend (Observation?patient&code&date&_sort=-date), the lab reports with their results
# (DiagnosticReport?patient&category=LAB&_include=DiagnosticReport:result) and the patient
# summary, with the patient's own token, over synthetic populations of each size given.
# Usage: bench/results.sh [seconds] [patients...]  (release build; SQLite; results in
# bench/results-<date>.jsonl, labelled with the population size)
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_PHASE=${1:-10}
shift || true
SIZES=${*:-1000 10000}
IKP=./target/release/ikp
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
OUT=${OUT:-bench/results-$(date +%F).jsonl}
cargo build --release --quiet
for N in $SIZES; do
  rm -rf "$WORK/data" "$WORK"/*.db*
  $IKP synth --patients "$N" --out "$WORK/data" >/dev/null
  DB="sqlite://$WORK/results-$N.db"
  echo "importing $N patients"
  $IKP import --database-url "$DB" "$WORK/data" | tail -1
  $IKP client add --database-url "$DB" --client-id bench-app --type public --redirect-uri https://x/cb >/dev/null
  $IKP serve --database-url "$DB" --listen 127.0.0.1:8092 --auth off --demo false --store-terminology false \
    >"$WORK/find-$N.log" 2>&1 &
  server=$!
  sleep 3
  # The patient with the most HbA1c results (a diabetic with years of history).
  P=$(curl -s "http://127.0.0.1:8092/fhir/Observation?code=http://loinc.org%7C4548-4&_count=1000&_elements=subject" |
    python3 -c 'import sys, json, collections
b = json.load(sys.stdin)
c = collections.Counter(e["resource"]["subject"]["reference"] for e in b.get("entry", []))
print(c.most_common(1)[0][0].split("/")[1])')
  kill "$server"; wait "$server" 2>/dev/null || true
  TOKEN=$($IKP client token --database-url "$DB" --client-id bench-app --fhir-user "Patient/$P" --scopes "user/*.rs")
  $IKP serve --database-url "$DB" --listen 127.0.0.1:8092 --auth on --demo false --store-terminology false \
    >"$WORK/serve-$N.log" 2>&1 &
  server=$!
  sleep 3
  echo "patient $P"
  IKP_BENCH_TOKEN=$TOKEN $IKP bench --url http://127.0.0.1:8092/fhir --clients 4 --seconds "$SECONDS_PER_PHASE" \
    --phases search:lastn,search:trend,search:reports,search:summary \
    --search "lastn=Observation/\$lastn?patient=Patient/$P&category=laboratory" \
    --search "trend=Observation?patient=Patient/$P&code=http://loinc.org|4548-4&date=ge2015-01-01&_sort=-date" \
    --search "reports=DiagnosticReport?patient=Patient/$P&category=LAB&_include=DiagnosticReport:result&_count=50" \
    --search "summary=Patient/$P/\$summary" \
    --label "patients=$N" --json "$OUT"
  kill "$server"; wait "$server" 2>/dev/null || true
done
