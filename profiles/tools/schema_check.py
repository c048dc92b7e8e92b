"""Optional (needs `pip install jsonschema`): validates every JSON file of profiles/ against the R4 fhir.schema.json.
usage: python3 profiles/tools/schema_check.py DEFINITIONS-DIR"""
import glob, json, os, sys
from jsonschema import Draft6Validator

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
v = Draft6Validator(json.load(open(os.path.join(sys.argv[1], "fhir.schema.json"))))
bad = 0
for f in sorted(glob.glob(os.path.join(ROOT, "**", "*.json"), recursive=True)):
    if f.endswith(".expect.json") or os.path.basename(f).startswith("_"):
        continue
    errs = list(v.iter_errors(json.load(open(f))))
    if errs:
        bad += 1
        print(os.path.relpath(f, ROOT), [e.message[:120] for e in errs[:3]])
print("schema errors in", bad, "files")
sys.exit(1 if bad else 0)
