#!/bin/bash
# Trains the zstd dictionary that stored resource bodies are compressed with
# (crates/store/dict/bodies-v<N>.zdict, see crates/store/src/body.rs). The samples are bodies as
# the server stores them (`meta.versionId`/`lastUpdated` after the id): a synthetic population of
# every resource type `ikp synth` writes, and the demo seed (profiles/examples). A dictionary is
# never replaced in place: bodies written with it are read with it forever, so a new one gets the
# next version number and its own tag byte in body.rs.
# Usage: bench/train-body-dictionary.sh <output.zdict> [patients]   (needs the zstd command line)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:?output file}
PATIENTS=${2:-300}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cargo build --release --quiet
./target/release/ikp synth --patients "$PATIENTS" --out "$WORK/synth" >/dev/null
python3 - "$WORK" <<'PY'
import glob, json, os, random, sys
work = sys.argv[1]
os.makedirs(f"{work}/samples")
bodies = []
for path in sorted(glob.glob(f"{work}/synth/*.ndjson")):
    bodies += [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()]
bodies += [json.load(open(p, encoding="utf-8")) for p in sorted(glob.glob("profiles/examples/*.json"))]
random.seed(20261207)
random.shuffle(bodies)
for n, body in enumerate(bodies[:20000]):
    stored = {"resourceType": body.pop("resourceType"), "id": body.pop("id", "x")}
    stored["meta"] = {"versionId": "1", "lastUpdated": "2026-12-07T08:35:58.577Z", **body.pop("meta", {})}
    stored.update(body)
    with open(f"{work}/samples/{n}.json", "w", encoding="utf-8") as f:
        f.write(json.dumps(stored, separators=(",", ":"), ensure_ascii=False))
PY
zstd --train -q -r "$WORK/samples" --maxdict=112640 -o "$OUT"
ls -l "$OUT"
