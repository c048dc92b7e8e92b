#!/bin/bash
# Notifications under write load: create throughput (`ikp bench`, Patients) with 0, 10 and 1,000
# active subscriptions, and the delay from a change to its notification's arrival (p50/p99).
# Every subscription's topic fires on every write (resource-Patient), so the dispatcher judges
# each write against all of them; all but one filter by an identifier no Patient has (one search
# per subscription and round, as the owner), and one takes every change to a rest-hook receiver
# (bench/notification-receiver.py), which times each event. Each server is fresh, SQLite, release.
# Usage: bench/notifications.sh [binary] [seconds] [clients]
set -euo pipefail
cd "$(dirname "$0")/.."
IKP=${1:-target/release/ikp}
SECS=${2:-20}
CLIENTS=${3:-8}
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
OUT=${OUT:-$PWD/bench/notifications-$(date +%F).jsonl}
PORT=18096
HOOK=18097
BACKPORT=http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition

wait_for() { # url
  for _ in $(seq 1 150); do curl -sf -o /dev/null "$1" && return 0; sleep 0.2; done
  echo "server at $1 did not start" >&2
  return 1
}

subscription() { # filter-or-empty
  local criteria=""
  [ -n "$1" ] && criteria=",\"_criteria\":{\"extension\":[{\"url\":\"$BACKPORT/backport-filter-criteria\",\"valueString\":\"$1\"}]}"
  echo "{\"resourceType\":\"Subscription\",\"status\":\"requested\",\"reason\":\"bench\",\
\"criteria\":\"https://ikp.example.org/fhir/SubscriptionTopic/resource-Patient\"$criteria,\
\"channel\":{\"type\":\"rest-hook\",\"endpoint\":\"http://127.0.0.1:$HOOK/hook\",\"payload\":\"application/fhir+json\"}}"
}

python3 bench/notification-receiver.py $HOOK "$WORK/delays" &
for n in 0 10 1000; do
  rm -rf "$WORK/db" && mkdir -p "$WORK/db"
  "$IKP" serve --database-url "sqlite://$WORK/db/ikp.db" --listen 127.0.0.1:$PORT --auth off --demo false \
    --store-terminology false --portal false --sweep-seconds 0 >"$WORK/ikp-$n.log" 2>&1 &
  pid=$!
  wait_for http://127.0.0.1:$PORT/fhir/metadata
  if [ "$n" -gt 0 ]; then
    subscription "" | curl -sf -o /dev/null -X POST -H 'content-type: application/fhir+json' --data-binary @- \
      http://127.0.0.1:$PORT/fhir/Subscription
    # The others in transactions of 100.
    python3 - "$n" "$PORT" "$HOOK" "$BACKPORT" <<'PY'
import json, sys, urllib.request
n, port, hook, backport = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
subs = [{"resource": {"resourceType": "Subscription", "status": "requested", "reason": "bench",
         "criteria": "https://ikp.example.org/fhir/SubscriptionTopic/resource-Patient",
         "_criteria": {"extension": [{"url": f"{backport}/backport-filter-criteria",
                                      "valueString": f"Patient?identifier=urn:bench|nobody-{i}"}]},
         "channel": {"type": "rest-hook", "endpoint": f"http://127.0.0.1:{hook}/hook", "payload": "application/fhir+json"}},
         "request": {"method": "POST", "url": "Subscription"}} for i in range(n - 1)]
for start in range(0, len(subs), 100):
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": subs[start:start + 100]}
    req = urllib.request.Request(f"http://127.0.0.1:{port}/fhir", json.dumps(bundle).encode(),
                                 {"content-type": "application/fhir+json"})
    urllib.request.urlopen(req).read()
PY
    sleep 3
  fi
  : >"$WORK/delays"
  "$IKP" bench --url http://127.0.0.1:$PORT/fhir --clients "$CLIENTS" --seconds "$SECS" --phases create \
    --label "subscriptions=$n" --json "$OUT"
  sleep 5
  python3 - "$WORK/delays" "$n" "$OUT" <<'PY'
import json, sys
delays = sorted(float(line.split()[0]) for line in open(sys.argv[1]) if line.strip())
pick = lambda q: delays[min(len(delays) - 1, int(q * len(delays)))] if delays else None
summary = {"label": f"subscriptions={sys.argv[2]}", "phase": "commit-to-delivery", "events": len(delays),
           "p50_ms": pick(0.50), "p99_ms": pick(0.99), "max_ms": delays[-1] if delays else None}
print(json.dumps(summary))
open(sys.argv[3], "a").write(json.dumps(summary) + "\n")
PY
  kill $pid; wait $pid 2>/dev/null || true
done
