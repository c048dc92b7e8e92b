#!/bin/bash
# What the access policy and the audit trail cost: the same searches on the same data with
# authorization off, with a backend service's token (no confinement, every access audited) and
# with a patient's own token (entitlements worked out per request, SQL narrowed to the record).
# Usage: bench/policy-overhead.sh [patients] [seconds]  (release build; results in bench/policy-<date>.jsonl)
set -euo pipefail
cd "$(dirname "$0")/.."
PATIENTS=${1:-1000}
SECONDS_PER_PHASE=${2:-8}
IKP=./target/release/ikp
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
OUT=${OUT:-bench/policy-$(date +%F).jsonl}
cargo build --release --quiet
$IKP synth --patients "$PATIENTS" --out "$WORK/data" >/dev/null
PRISTINE="sqlite://$WORK/pristine.db"
$IKP import --database-url "$PRISTINE" "$WORK/data" | tail -1
$IKP client add --database-url "$PRISTINE" --client-id bench-backend --type public --redirect-uri https://x/cb --scopes "system/*.rs" >/dev/null
$IKP client add --database-url "$PRISTINE" --client-id bench-app --type public --redirect-uri https://x/cb >/dev/null
P=pat-000501
BACKEND=$($IKP client token --database-url "$PRISTINE" --client-id bench-backend --scopes "system/*.rs")
PATIENT=$($IKP client token --database-url "$PRISTINE" --client-id bench-app --fhir-user "Patient/$P" --scopes "user/*.rs")
run() { # label auth token
  cp "$WORK/pristine.db" "$WORK/run.db"
  rm -f "$WORK/run.db-wal" "$WORK/run.db-shm"
  $IKP serve --database-url "sqlite://$WORK/run.db" --listen 127.0.0.1:8091 --auth "$2" --demo false \
    --store-terminology false >"$WORK/serve-$1.log" 2>&1 &
  local server=$!
  sleep 3
  IKP_BENCH_TOKEN=$3 $IKP bench --url http://127.0.0.1:8091/fhir --clients 4 --seconds "$SECONDS_PER_PHASE" \
    --phases search:own,search:everything,search:readpatient \
    --search "own=Observation?patient=$P" --search "everything=Patient/$P/\$everything?_count=100" \
    --search "readpatient=Patient?_id=$P" --label "$1" --json "$OUT"
  kill "$server"
  wait "$server" 2>/dev/null || true
}
run auth-off off ""
run backend-token on "$BACKEND"
run patient-token on "$PATIENT"
