#!/usr/bin/env python3
"""Static checks of the IKP Polish R4 profiles (standard library only).

usage: python3 profiles/check.py DEFINITIONS-DIR [profiles-dir]  (the unpacked R4 definitions)

Checks: JSON well-formed; valid examples satisfy min/max/fixed/pattern of the non-sliced differential elements
(and invalid cases announcing such a defect violate them); StructureDefinition url under the canonical base and = base + '/StructureDefinition/' + id;
differential element paths exist in the R4 base snapshot (choice types [x], contentReference resolved, paths under
a typed element resolved through the R4 data-type snapshots); element id / path agreement and slice-id syntax;
slice ids are declared by a slicing on the sliced element; referenced profiles/targetProfiles/ValueSets of our
canonical exist; examples and invalid instances declare an existing profile; every invalid case has an .expect.json.
"""
import json, os, re, sys, glob

BASE = "https://ikp.example.org/fhir"
errors = []


def err(f, msg):
    errors.append(f"{os.path.basename(f)}: {msg}")


def load(f):
    try:
        with open(f, encoding="utf-8") as h:
            return json.load(h)
    except Exception as e:  # noqa
        err(f, f"invalid JSON: {e}")
        return None


def load_base(defs):
    sds = {}
    for name in ("profiles-resources.json", "profiles-types.json"):
        b = json.load(open(os.path.join(defs, name), encoding="utf-8"))
        for e in b["entry"]:
            r = e["resource"]
            if r.get("resourceType") == "StructureDefinition" and r.get("derivation") != "constraint":
                sds[r["type"]] = r
    return sds


def elements(sd):
    return {e["path"]: e for e in sd["snapshot"]["element"]}


def resolve(base, path):
    """True if path exists in the R4 base StructureDefinitions (walks data types)."""
    parts = path.split(".")
    root = parts[0]
    if root not in base:
        return False
    sd_el = elements(base[root])
    cur = root
    i = 1
    while i < len(parts):
        nxt = cur + "." + parts[i]
        if nxt in sd_el:
            cur = nxt
            i += 1
            continue
        el = sd_el.get(cur)
        if el is None:
            return False
        if "contentReference" in el:
            ref = el["contentReference"].lstrip("#")
            cur = ref
            continue
        types = [t["code"] for t in el.get("type", [])]
        # descend into the data type
        for t in types:
            if t in base and t not in ("Resource",):
                tel = elements(base[t])
                rest = t + "." + ".".join(parts[i:])
                if resolve(base, rest):
                    return True
        return False
    return True


def _children(node, name):
    """values of a JSON property (choice types: name ends with [x])"""
    if not isinstance(node, dict):
        return []
    if name.endswith("[x]"):
        pre = name[:-3]
        vals = [v for k, v in node.items() if k.startswith(pre) and k[len(pre):][:1].isupper()]
    else:
        vals = [node[name]] if name in node else []
    out = []
    for v in vals:
        out.extend(v if isinstance(v, list) else [v])
    return out


def _matches_pattern(value, pattern):
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(_matches_pattern(value.get(k), v) for k, v in pattern.items())
    if isinstance(pattern, list):
        return isinstance(value, list) and all(any(_matches_pattern(x, p) for x in value) for p in pattern)
    return value == pattern


def structural(res, sd):
    """min/max/fixed/pattern of the non-sliced differential elements, checked on an instance."""
    probs = []
    for el in sd["differential"]["element"]:
        eid = el["id"]
        if ":" in eid or "." not in eid:
            continue
        parts = eid.split(".")[1:]
        parents = [res]
        for p in parts[:-1]:
            parents = [c for n in parents for c in _children(n, p)]
        for parent in parents:
            kids = _children(parent, parts[-1])
            if el.get("min", 0) > len(kids):
                probs.append(f"{eid}: min {el['min']}, found {len(kids)}")
            if el.get("max") not in (None, "*") and len(kids) > int(el["max"]):
                probs.append(f"{eid}: max {el['max']}, found {len(kids)}")
            for k, v in el.items():
                if k.startswith("fixed") and any(x != v for x in kids):
                    probs.append(f"{eid}: fixed value {v}")
                if k.startswith("pattern") and any(not _matches_pattern(x, v) for x in kids):
                    probs.append(f"{eid}: pattern {v}")
    return probs


ID_RE = re.compile(r"^[A-Z][A-Za-z]+(\.[a-z][A-Za-z]*(\[x\])?(:[A-Za-z][A-Za-z0-9\-_]*)?)*$")


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        sys.exit(2)
    defs = sys.argv[1]
    root = sys.argv[2] if len(sys.argv) > 2 else os.path.dirname(os.path.abspath(__file__))
    base = load_base(defs)
    profiles = {}
    for f in sorted(glob.glob(os.path.join(root, "StructureDefinition-*.json"))):
        sd = load(f)
        if sd is None:
            continue
        profiles[sd.get("url")] = (f, sd)
    terminology = set()
    for f in glob.glob(os.path.join(root, "terminology", "*.json")):
        r = load(f)
        if r:
            terminology.add(r.get("url"))

    for url, (f, sd) in profiles.items():
        if sd.get("resourceType") != "StructureDefinition":
            err(f, "not a StructureDefinition")
            continue
        if not url or url != f"{BASE}/StructureDefinition/{sd.get('id')}":
            err(f, f"url {url} is not {BASE}/StructureDefinition/<id>")
        if os.path.basename(f) != f"StructureDefinition-{sd.get('id')}.json":
            err(f, "file name does not match id")
        for k, v in (("fhirVersion", "4.0.1"), ("derivation", "constraint"), ("status", "draft")):
            if sd.get(k) != v:
                err(f, f"{k} must be {v}")
        if "snapshot" in sd:
            err(f, "differential only please (no snapshot)")
        t = sd.get("type")
        if t not in base:
            err(f, f"unknown type {t}")
            continue
        if sd.get("baseDefinition") != f"http://hl7.org/fhir/StructureDefinition/{t}":
            err(f, "baseDefinition must be the R4 base of its type")
        if t == "Extension" and not sd.get("context"):
            err(f, "extension without context")
        for c in sd.get("context", []):
            if not resolve(base, c.get("expression", "")):
                err(f, f"context {c.get('expression')} is not an R4 element")
        sliced = set()
        seen = set()
        keys = set()
        for el in sd.get("differential", {}).get("element", []):
            eid, path = el.get("id", ""), el.get("path", "")
            if eid in seen:
                err(f, f"duplicate element id {eid}")
            seen.add(eid)
            if not ID_RE.match(eid):
                err(f, f"malformed element id {eid}")
            if ".".join(p.split(":")[0] for p in eid.split(".")) != path:
                err(f, f"id {eid} does not match path {path}")
            if not path.startswith(t):
                err(f, f"path {path} not under {t}")
            elif not resolve(base, path):
                err(f, f"path {path} does not exist in R4 {t}")
            if "slicing" in el:
                sliced.add(eid)
            last = eid.split(".")[-1]
            if ":" in last:
                parent = eid[: eid.rfind(":")]
                if parent not in sliced:
                    err(f, f"slice {eid} has no slicing on {parent}")
                if el.get("sliceName") != last.split(":", 1)[1]:
                    err(f, f"sliceName of {eid} does not match its id")
            for c in el.get("constraint", []):
                for k in ("key", "severity", "human", "expression"):
                    if not c.get(k):
                        err(f, f"constraint on {eid} misses {k}")
                if c.get("key") in keys and c.get("key") not in ("pl-pesel",):
                    pass
                keys.add(c.get("key"))
                if c.get("expression", "").count("(") != c.get("expression", "").count(")"):
                    err(f, f"unbalanced parentheses in {c.get('key')}")
            for ty in el.get("type", []):
                for p in ty.get("profile", []) + ty.get("targetProfile", []):
                    if p.startswith(BASE) and p not in profiles:
                        err(f, f"{eid} refers to unknown profile {p}")
            b = el.get("binding")
            if b and b.get("valueSet", "").startswith(BASE) and b["valueSet"] not in terminology:
                err(f, f"{eid} binds to missing ValueSet {b['valueSet']}")
            if "min" in el and "max" in el and el["max"] != "*" and int(el["max"]) < el["min"]:
                err(f, f"{eid} min > max")

    for kind in ("examples", "invalid"):
        for f in sorted(glob.glob(os.path.join(root, kind, "*.json"))):
            if f.endswith(".expect.json") or os.path.basename(f).startswith("_"):
                continue
            r = load(f)
            if r is None:
                continue
            profs = r.get("meta", {}).get("profile", [])
            if not profs:
                err(f, "no meta.profile")
            for p in profs:
                if p not in profiles:
                    err(f, f"declares unknown profile {p}")
                elif profiles[p][1]["type"] != r.get("resourceType"):
                    err(f, f"resourceType {r.get('resourceType')} does not match profile type")
            if kind == "examples":
                for p in profs:
                    if p in profiles:
                        for prob in structural(r, profiles[p][1]):
                            err(f, "example violates " + prob)
            if kind == "invalid":
                ef = f[:-5] + ".expect.json"
                if not os.path.exists(ef):
                    err(f, "missing .expect.json")
                else:
                    ex = load(ef)
                    if ex and (ex.get("profile") not in profiles or not ex.get("errors")):
                        err(ef, "expect file needs an existing profile and at least one error")
                    elif ex and any(e.get("kind") in ("cardinality-min", "fixed", "pattern") for e in ex["errors"]) \
                            and not structural(r, profiles[ex["profile"]][1]):
                        err(f, "structural defect announced in expect.json not found by the simple checker")
            if kind == "examples":
                base_name = os.path.basename(f)
                if not base_name.startswith(r.get("resourceType", "?") + "-"):
                    err(f, "example file name must be <Type>-<id>.json")
    used = {p for kind in ("examples",) for f in glob.glob(os.path.join(root, kind, "*.json"))
            for p in (load(f) or {}).get("meta", {}).get("profile", [])}
    for url in profiles:
        if profiles[url][1]["type"] != "Extension" and url not in used:
            err(profiles[url][0], "profile has no valid example")

    if errors:
        print("\n".join(errors))
        print(f"FAILED: {len(errors)} problem(s)")
        sys.exit(1)
    print(f"OK: {len(profiles)} StructureDefinitions, {len(terminology)} terminology resources")


if __name__ == "__main__":
    main()
