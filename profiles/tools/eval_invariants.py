"""Optional developer check (NOT standard library): evaluates every FHIRPath invariant of the profiles on the valid
examples (must all hold) and on the invalid corpus (cases whose expect.json lists an 'invariant' error must fail one).
usage: pip install fhirpathpy; python3 profiles/tools/eval_invariants.py"""
import glob, json, os, subprocess, sys, tempfile

IKP = os.environ.get("IKP_BIN")  # e.g. target/release/ikp: use the server's own engine (`ikp fhirpath`)
if not IKP:
    from fhirpathpy import evaluate
    from fhirpathpy.models import models

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = None if IKP else models["r4"]


def ikp_eval(res, expr):
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as t:
        json.dump(res, t)
    try:
        p = subprocess.run([IKP, "fhirpath", expr, t.name], capture_output=True, text=True)
    finally:
        os.unlink(t.name)
    if p.returncode != 0:
        raise RuntimeError(p.stderr.strip()[-300:])
    return json.loads(p.stdout)
SDS = {}
for f in glob.glob(os.path.join(ROOT, "StructureDefinition-*.json")):
    sd = json.load(open(f))
    SDS[sd["url"]] = sd


def selector(sd, eid):
    """FHIRPath selecting the nodes an element id denotes (slices resolved through fixed/pattern system or type)."""
    els = {e["id"]: e for e in sd["differential"]["element"]}
    parts = eid.split(".")
    expr = []
    acc = parts[0]
    for p in parts[1:]:
        name = p.split(":")[0].replace("[x]", "")
        expr.append(name)
        acc += "." + p
        if ":" in p:
            e = els.get(acc, {})
            pat = e.get("patternIdentifier")
            if pat and "system" in pat:
                expr[-1] += f".where(system = '{pat['system']}')"
            elif pat and "type" in pat:
                expr[-1] += f".where(type.coding.code = '{pat['type']['coding'][0]['code']}')"
            elif acc + ".system" in els:
                expr[-1] += f".where(system = '{els[acc + '.system']['fixedUri']}')"
            elif acc + ".coding.system" in els:
                expr[-1] += f".where(coding.system = '{els[acc + '.coding.system']['fixedUri']}')"
            elif acc + ".url" in els:
                expr[-1] += f".where(url = '{els[acc + '.url']['fixedUri']}')"
    return ".".join(expr)


def failures(res, sd):
    out = []
    for el in sd["differential"]["element"]:
        for c in el.get("constraint", []):
            sel = selector(sd, el["id"])
            if IKP:
                try:
                    v = ikp_eval(res, c["expression"] if not sel else f"{sel}.all({c['expression']})")
                except Exception as e:  # noqa
                    out.append((c["key"], f"EVAL ERROR {e}"))
                    continue
                if v == [False] and c["severity"] == "error":
                    out.append((c["key"], c["human"]))
                elif v != [True] and c["severity"] == "error":
                    out.append((c["key"], f"NON-BOOLEAN {v}"))
                continue
            nodes = [res] if not sel else evaluate(res, sel, {}, MODEL)
            for n in nodes:
                try:
                    v = evaluate(n, c["expression"], {}, MODEL) if isinstance(n, dict) else \
                        evaluate({"v": n}, "v.select(" + c["expression"] + ")", {}, MODEL)
                except Exception as e:  # noqa
                    out.append((c["key"], f"EVAL ERROR {e}"))
                    continue
                if v and v != [True] and c["severity"] == "error" and False in v:
                    out.append((c["key"], c["human"]))
                elif v == [False] and c["severity"] == "error":
                    out.append((c["key"], c["human"]))
    return out


def contained(res):
    """resource + resources inside Bundle entries"""
    yield res
    for e in res.get("entry", []):
        if "resource" in e:
            yield from contained(e["resource"])


bad = 0
for f in sorted(glob.glob(os.path.join(ROOT, "examples", "*.json"))):
    r = json.load(open(f))
    for sub in contained(r):
        for p in sub.get("meta", {}).get("profile", []):
            if p in SDS:
                fl = failures(sub, SDS[p])
                if fl:
                    bad += 1
                    print("VALID EXAMPLE FAILS", os.path.basename(f), fl)
for f in sorted(glob.glob(os.path.join(ROOT, "invalid", "*.expect.json"))):
    exp = json.load(open(f))
    r = json.load(open(f.replace(".expect.json", ".json")))
    fl = failures(r, SDS[exp["profile"]])
    want = [e for e in exp["errors"] if e.get("kind") == "invariant"]
    if want and not fl:
        bad += 1
        print("INVALID CASE NOT DETECTED", os.path.basename(f))
    elif want:
        ok = all(any(e["contains"].lower() in h.lower() for _, h in fl) for e in want)
        print(("ok  " if ok else "MSG?"), os.path.basename(f), [k for k, _ in fl])
        bad += 0 if ok else 1
    elif fl:
        print("note", os.path.basename(f), "also fails invariants", fl)
print("problems:", bad)
sys.exit(1 if bad else 0)
