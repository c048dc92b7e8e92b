#!/bin/bash
# ikp and the Helios FHIR Server side by side: same synthetic patients loaded through the same
# transaction Bundles, the same load tool (`ikp bench`), one machine, SQLite for both.
# Needs `hfs` (cargo install --root ~/.cache/peers helios-hfs). Usage: bench/peer-helios.sh [patients] [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
PATIENTS=${1:-200}
SECS=${2:-10}
IKP=$PWD/target/release/ikp
HFS=${HFS:-$HOME/.cache/peers/bin/hfs}
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
OUT=${OUT:-$PWD/bench/peer-helios-$(date +%F).jsonl}
cargo build --release --quiet
$IKP synth --patients "$PATIENTS" --format bundles --out "$WORK/bundles" >/dev/null
mkdir -p "$WORK/hfs/data"
# Helios wants the R4 search parameters next to it.
gzip -dc conformance/search-parameters.json.gz > "$WORK/hfs/data/search-parameters-r4.json"
SEARCHES=(--search "patient-obs=Observation?patient={patient}" --search "pesel=Patient?identifier=urn:oid:2.16.840.1.113883.3.4424.1.1.616|{pesel}"
          --search "patient-cond=Condition?patient={patient}")
run() { # label url
  # Load: the transaction Bundles (each once, then again as updates, for the time given).
  $IKP bench --url "$2" --clients 2 --seconds 40 --phases transaction --bundles "$WORK/bundles" --label "$1" --json "$OUT"
  $IKP bench --url "$2" --clients 8 --seconds "$SECS" --phases create,read,search:patient-obs,search:pesel,search:patient-cond \
    "${SEARCHES[@]}" --label "$1" --json "$OUT"
}
$IKP serve --database-url "sqlite://$WORK/ikp.db" --listen 127.0.0.1:8091 --auth off --demo false \
  --store-terminology false --sweep-seconds 0 >"$WORK/ikp.log" 2>&1 &
IKP_PID=$!
sleep 4
run ikp http://127.0.0.1:8091/fhir
kill $IKP_PID; wait $IKP_PID 2>/dev/null || true
(cd "$WORK/hfs" && exec "$HFS" --port 8092 --database-url "$WORK/hfs/hfs.db" --data-dir "$WORK/hfs/data" >"$WORK/hfs.log" 2>&1) &
sleep 6
run helios http://127.0.0.1:8092
echo "results: $OUT"
