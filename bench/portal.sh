#!/bin/bash
# The patient portal's page weight and speed: a server (release build by default) with the demo
# population and `--auth on`, a demo user logged in through the real SMART flow (curl with a
# cookie jar: the portal's button, the demo login form, the code exchange), then every screen
# fetched ROUNDS times. Prints, per screen, the bytes of the page (HTML, as sent to a browser,
# gzip, and uncompressed; the stylesheet is one cacheable file of its own) and the median and
# slowest time to the whole page (asked for gzip, as browsers do); and the time of
# the login itself, from sending the login form to the first screen's HTML. One JSON line per
# screen goes to OUT.
# Usage: bench/portal.sh [binary] [rounds] [pesel]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-target/release/ikp}
ROUNDS=${2:-20}
PESEL=${3:-80051412351}
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
OUT=${OUT:-$PWD/bench/portal-$(date +%F).jsonl}
PORT=18097
B=http://127.0.0.1:$PORT
JAR=$WORK/jar

"$BIN" serve --database-url "sqlite://$WORK/ikp.db" --listen 127.0.0.1:$PORT --auth on --demo true \
  --sweep-seconds 0 >"$WORK/server.log" 2>&1 &
for _ in $(seq 1 300); do curl -sf -o /dev/null "$B/fhir/metadata" && break; sleep 0.2; done

login_form=$(curl -s -L -c "$JAR" -b "$JAR" "$B/logowanie")
request=$(echo "$login_form" | grep -o 'name="request" value="[^"]*"' | cut -d'"' -f4)
# From sending the login form to the first screen: the authorization server's redirects, the
# portal's code exchange, and the dashboard.
login=$(curl -s -L -o /dev/null -w '%{time_total} %{size_download}' -c "$JAR" -b "$JAR" \
  "$B/fhir/auth/login" -d "request=$request&pesel=$PESEL&password=demo")
login_ms=$(echo "$login" | awk '{printf "%.1f", $1 * 1000}')
echo "login to first screen: ${login_ms} ms"
printf '{"screen":"login-to-first-screen","ms_median":%s,"bytes":%s,"pesel":"%s","cores":%s}\n' \
  "$login_ms" "$(echo "$login" | cut -d' ' -f2)" "$PESEL" "$(nproc)" >>"$OUT"

printf '%-20s %8s %8s %10s %10s\n' screen gzip_B plain_B median_ms max_ms
css=$(curl -s --compressed -o /dev/null -w '%{size_download}' "$B/static/portal.css")
for screen in / /recepty /skierowania /dokumenty /wyniki /wizyty /szczepienia /rejestracja /poz /ekuz \
              /zwolnienia /ubezpieczenie /uprawnienia /historia-dostepu /konta; do
  times=()
  bytes=0
  for _ in $(seq 1 "$ROUNDS"); do
    read -r t b < <(curl -s --compressed -o /dev/null -w '%{time_total} %{size_download}\n' -b "$JAR" -c "$JAR" "$B$screen")
    times+=("$t")
    bytes=$b
  done
  plain=$(curl -s -o /dev/null -w '%{size_download}' -b "$JAR" -c "$JAR" "$B$screen")
  sorted=$(printf '%s\n' "${times[@]}" | sort -n)
  median=$(echo "$sorted" | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)] * 1000}')
  max=$(echo "$sorted" | tail -1 | awk '{printf "%.1f", $1 * 1000}')
  printf '%-20s %8s %8s %10s %10s\n' "$screen" "$bytes" "$plain" "$median" "$max"
  printf '{"screen":"%s","gzip_bytes":%s,"bytes":%s,"css_bytes":%s,"ms_median":%s,"ms_max":%s,"rounds":%s,"pesel":"%s","cores":%s}\n' \
    "$screen" "$bytes" "$plain" "$css" "$median" "$max" "$ROUNDS" "$PESEL" "$(nproc)" >>"$OUT"
done
echo "stylesheet: $css bytes (cached after the first page)"
