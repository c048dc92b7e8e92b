#!/bin/bash
# Where a database's bytes go, per resource: one synthetic population imported into SQLite (and
# PostgreSQL unless BACKENDS=sqlite), each table family with its indexes (SQLite: `dbstat`;
# PostgreSQL: `pg_total_relation_size`), as the import leaves it (no VACUUM, as in bench/scale.sh).
# Usage: bench/storage.sh [patients]   (default 300; release build; PostgreSQL on 127.0.0.1:5432,
#   database `ikp_storage`; one JSON line per backend appended to OUT, default
#   bench/storage-<date>.jsonl; IKP=path/to/ikp LABEL=<commit> measures another build, e.g. an
#   earlier commit's)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-300}
BACKENDS=${BACKENDS:-sqlite postgres}
PG=${PG:-postgres://postgres@127.0.0.1:5432}
OUT=${OUT:-bench/storage-$(date +%F).jsonl}
LABEL=${LABEL:-$(git rev-parse --short HEAD)}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
if [ -z "${IKP:-}" ]; then
  cargo build --release --quiet
  IKP=./target/release/ikp
fi
$IKP synth --patients "$N" --out "$WORK/data" >/dev/null

# The families of the README's table: each table with its own indexes.
FAMILIES="resource_version:versions search_token:token_rows search_string:string_rows \
search_quantity:quantity_rows search_reference:reference_rows search_date:date_rows \
compartment:compartments search_number:number_rows search_uri:uri_rows resource:resource"

for B in $BACKENDS; do
  if [ "$B" = sqlite ]; then
    DB="sqlite://$WORK/storage.db"
  else
    psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS ikp_storage" -c "CREATE DATABASE ikp_storage"
    DB="$PG/ikp_storage"
  fi
  $IKP import --database-url "$DB" "$WORK/data" | tail -1
  line="{\"date\":\"$(date +%F)\",\"build\":\"$LABEL\",\"backend\":\"$B\",\"patients\":$N"
  if [ "$B" = sqlite ]; then
    sqlite3 "$WORK/storage.db" "PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null
    q() { sqlite3 "$WORK/storage.db" "$1"; }
    resources=$(q "SELECT COUNT(*) FROM resource")
    total=$(q "SELECT SUM(pgsize) FROM dbstat")
    for pair in $FAMILIES; do
      table=${pair%%:*}
      bytes=$(q "SELECT COALESCE(SUM(d.pgsize), 0) FROM dbstat d JOIN sqlite_schema s ON s.name = d.name \
                 WHERE s.tbl_name = '$table'")
      line="$line,\"${pair##*:}\":$((bytes / resources))"
    done
  else
    q() { psql "$DB" -Atc "$1"; }
    resources=$(q "SELECT COUNT(*) FROM resource")
    total=$(q "SELECT pg_database_size(current_database())")
    for pair in $FAMILIES; do
      table=${pair%%:*}
      bytes=$(q "SELECT pg_total_relation_size('$table')")
      line="$line,\"${pair##*:}\":$((bytes / resources))"
    done
  fi
  line="$line,\"resources\":$resources,\"total\":$((total / resources))}"
  echo "$line" | tee -a "$OUT"
  if [ "$B" = postgres ]; then
    psql "$PG/postgres" -qc "DROP DATABASE ikp_storage"
  fi
done
