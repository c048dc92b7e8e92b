#!/bin/bash
# The size series: for each population size and backend, the import rate, the database size per
# resource, and a patient's own searches with the patient's token (req/s, p50, p99), so that what
# grows with the population shows. The plans of those searches are written for the largest size.
# Usage: bench/scale.sh [seconds] [patients...]   (release build; SQLite and PostgreSQL on
#   127.0.0.1:5432, database per size `ikp_scale_<N>`; set BACKENDS=sqlite to skip PostgreSQL;
#   results in bench/scale-<date>.jsonl and bench/scale-explain-<date>.txt). A database already
#   imported can stand in for a size: REUSE_SQLITE_<N>=path.db, REUSE_POSTGRES_<N>=dbname (no
#   import rate is recorded then).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_PHASE=${1:-10}
shift || true
SIZES=${*:-1000 10000}
BACKENDS=${BACKENDS:-sqlite postgres}
PG=${PG:-postgres://postgres@127.0.0.1:5432}
IKP=./target/release/ikp
if [ -z "${WORK:-}" ]; then
  WORK=$(mktemp -d)
  trap 'rm -rf "$WORK"' EXIT
fi
OUT=${OUT:-bench/scale-$(date +%F).jsonl}
EXPLAIN=${EXPLAIN:-bench/scale-explain-$(date +%F).txt}
P=${P:-pat-000501}
cargo build --release --quiet
LARGEST=$(echo "$SIZES" | tr ' ' '\n' | sort -n | tail -1)

record() { # size backend key value
  printf '{"patients":%s,"backend":"%s","%s":%s}\n' "$1" "$2" "$3" "$4" >>"$OUT"
}

for N in $SIZES; do
  for B in $BACKENDS; do
    reuse_var="REUSE_${B^^}_$N"
    reuse=${!reuse_var:-}
    if [ "$B" = sqlite ]; then
      FILE=${reuse:-$WORK/scale-$N.db}
      DB="sqlite://$FILE"
      NAME=""
    else
      NAME=${reuse:-ikp_scale_$N}
      DB="$PG/$NAME"
    fi
    echo "== $N patients on $B"
    if [ -z "$reuse" ]; then
      if [ ! -d "$WORK/data-$N" ]; then
        $IKP synth --patients "$N" --out "$WORK/data-$N" >/dev/null
      fi
      if [ "$B" = sqlite ]; then
        rm -f "$FILE"*
      else
        psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $NAME" -c "CREATE DATABASE $NAME"
      fi
      line=$($IKP import --database-url "$DB" "$WORK/data-$N" | tail -1)
      echo "$line"
      record "$N" "$B" import_resources_per_s "$(echo "$line" | sed -E 's/.*\(([0-9]+) resources\/s\).*/\1/')"
    fi
    if [ "$B" = sqlite ]; then
      resources=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('SELECT COUNT(*) FROM resource').fetchone()[0])" "$FILE")
      # The WAL folded into the database file first, so the file is the whole size.
      python3 -c "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('PRAGMA wal_checkpoint(TRUNCATE)')" "$FILE"
      bytes=$(stat -c %s "$FILE")
    else
      resources=$(psql "$DB" -Atc "SELECT COUNT(*) FROM resource")
      bytes=$(psql "$PG/postgres" -Atc "SELECT pg_database_size('$NAME')")
    fi
    record "$N" "$B" resources "$resources"
    record "$N" "$B" bytes_per_resource "$((bytes / resources))"
    echo "$((bytes / 1048576)) MB, $((bytes / resources)) bytes per resource"

    $IKP client add --database-url "$DB" --client-id bench-app --type public --redirect-uri https://x/cb >/dev/null 2>&1 || true
    TOKEN=$($IKP client token --database-url "$DB" --client-id bench-app --fhir-user "Patient/$P" --scopes "user/*.rs")
    $IKP serve --database-url "$DB" --listen 127.0.0.1:18093 --auth on --demo false --store-terminology false \
      >"$WORK/serve-$N-$B.log" 2>&1 &
    server=$!
    for _ in $(seq 600); do curl -sf http://127.0.0.1:18093/health/ready >/dev/null && break; sleep 0.2; done
    PESEL=$(curl -s -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:18093/fhir/Patient/$P" |
      python3 -c 'import sys, json
p = json.load(sys.stdin)
print(next(i["value"] for i in p["identifier"] if i["system"] == "urn:oid:2.16.840.1.113883.3.4424.1.1.616"))')
    IKP_BENCH_TOKEN=$TOKEN $IKP bench --url http://127.0.0.1:18093/fhir --clients 4 --seconds "$SECONDS_PER_PHASE" \
      --phases search:code,search:date,search:everything,search:pesel,search:documents \
      --search "code=Observation?patient=$P&code=http://loinc.org|4548-4" \
      --search "date=Encounter?patient=$P&date=ge2020-01-01" \
      --search "everything=Patient/$P/\$everything?_count=100" \
      --search "pesel=Patient?identifier=urn:oid:2.16.840.1.113883.3.4424.1.1.616|$PESEL" \
      --search "documents=DocumentReference?patient=$P" \
      --label "patients=$N backend=$B" --json "$OUT"
    kill "$server"
    wait "$server" 2>/dev/null || true
    if [ "$N" = "$LARGEST" ]; then
      for q in "Observation?patient=$P&code=http://loinc.org|4548-4" "Encounter?patient=$P&date=ge2020-01-01" \
        "Patient?identifier=urn:oid:2.16.840.1.113883.3.4424.1.1.616|$PESEL" "DocumentReference?patient=$P"; do
        echo "### $N patients, $B: $q" >>"$EXPLAIN"
        $IKP explain --database-url "$DB" "$q" >>"$EXPLAIN" 2>&1
        echo >>"$EXPLAIN"
      done
    fi
  done
done
