"""Shared helpers for the generator of the IKP Polish R4 profiles (standard library only)."""
import json, os, re, copy

BASE = "https://ikp.example.org/fhir"
R4 = "http://hl7.org/fhir/StructureDefinition/"
OUT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# ---- identifier systems (poland.md section 1.5; [Sx] keys there) ----
OID = "urn:oid:2.16.840.1.113883.3.4424"
PESEL = OID + ".1.1.616"
IDCARD_PREFIX = OID + ".1.2."          # + ISO 3166 numeric country code
PASSPORT_PREFIX = "urn:oid:2.16.840.1.113883.4.330."  # + ISO 3166 numeric
NPWZ_PHARM = OID + ".1.6.1"
NPWZ_PHYS = OID + ".1.6.2"
PWZ_NURSE = OID + ".1.6.3"
PWZ_LAB = OID + ".1.6.4"
PWZ_PHYSIO = OID + ".1.6.5"
NIP = OID + ".2.1"
REGON9 = OID + ".2.2.1"
REGON14 = OID + ".2.2.2"
KR_I = OID + ".2.3.1"     # kod resortowy part I (medical entity, RPWDL book no.)
KR_V = OID + ".2.3.2"     # organisational unit (parts I+V)
KR_VII = OID + ".2.3.3"   # organisational cell (parts I+VII)
PHARMACY = OID + ".2.6"
NFZ_BRANCH = OID + ".3.1"
RPL_PRODUCT = OID + ".6.1"
RPL_SUBSTANCE = OID + ".6.3"
GTIN = "urn:oid:1.3.160"
LOCAL_ROOT = OID + ".2.7."  # provider local node {x}
# code systems
ICD10 = "urn:oid:2.16.840.1.113883.6.3"
ICD9PL = OID + ".11.2.6"
CELL_TYPE = OID + ".11.2.4"
P1_DOC_CLASS = OID + ".11.1.32"
PROFESSION = OID + ".11.3.18"
SPECIALTY = OID + ".11.3.3"
DISCHARGE = OID + ".11.3.21"
PAYMENT_LEVEL = OID + ".11.1.1"
AVAILABILITY = OID + ".11.1.25"
ENTITLEMENT = OID + ".11.3.1"
RRECE = OID + ".13.5.1"
EVENT_TYPE = OID + ".11.1.34"
CONFIDENTIALITY_P1 = OID + ".11.1.83"
EDQM = "urn:oid:0.4.0.127.0.16.1.1.2.1"
LOINC = "http://loinc.org"
# NOT sourced in poland.md -> our own namespace (documented in README as unverified)
PKG_KEY = BASE + "/sid/pl-prescription-package-key"
REFERRAL_KEY = BASE + "/sid/pl-referral-key"
EHIC_CASE = BASE + "/sid/pl-ehic-application"
ZLA_ID = BASE + "/sid/pl-zus-zla-number"


def cs(name):
    return f"{BASE}/CodeSystem/{name}"


def vs(name):
    return f"{BASE}/ValueSet/{name}"


def sdurl(name):
    return f"{BASE}/StructureDefinition/{name}"


def path_of(eid):
    # strip slice names: "Patient.identifier:pesel.system" -> "Patient.identifier.system"
    return ".".join(p.split(":")[0] for p in eid.split("."))


def E(eid, **kw):
    d = {"id": eid, "path": path_of(eid)}
    last = eid.split(".")[-1]
    if ":" in last:
        d["sliceName"] = last.split(":", 1)[1]
    d.update(kw)
    return d


def target(t):
    return t if "/" in t else (R4 + t if t[0].isupper() and not t.startswith("PL") and not t.startswith("EU") else sdurl(t))


def ref(*targets):
    return [{"code": "Reference", "targetProfile": [target(t) for t in targets]}]


def slicing(path="system", typ="value", rules="open", ordered=False):
    return {"discriminator": [{"type": typ, "path": path}], "rules": rules, "ordered": ordered}


def inv(key, human, expr, sev="error"):
    return {"key": key, "severity": sev, "human": human, "expression": expr}


def bind(v, strength="required"):
    return {"strength": strength, "valueSet": v if v.startswith("http") else vs(v)}


def ext_slices(base, items):
    """items: list of (sliceName, extensionName_or_url, min, max)."""
    els = [E(f"{base}.extension", slicing=slicing("url"))]
    for name, ext, mn, mx in items:
        url = ext if ext.startswith("http") else sdurl(ext)
        els.append(E(f"{base}.extension:{name}", min=mn, max=mx,
                     type=[{"code": "Extension", "profile": [url]}]))
    return els


def profile(name, rtype, title, description, elements, base=None):
    return {
        "resourceType": "StructureDefinition",
        "id": name,
        "url": sdurl(name),
        "version": "0.1.0",
        "name": name,
        "title": title,
        "status": "draft",
        "date": "2026-11-26",
        "publisher": "ikp project",
        "description": description,
        "fhirVersion": "4.0.1",
        "kind": "complex-type" if rtype == "Extension" else "resource",
        "abstract": False,
        "type": rtype,
        "baseDefinition": base or (R4 + rtype),
        "derivation": "constraint",
        "differential": {"element": [E(rtype)] + elements if elements and elements[0]["id"] != rtype else elements},
    }


def extension(name, title, description, contexts, value_types, extra=None, value_el=None):
    els = [E("Extension", short=title, definition=description),
           E("Extension.extension", max="0"),
           E("Extension.url", fixedUri=sdurl(name)),
           E("Extension.value[x]", min=1, type=[{"code": t} for t in value_types], **(value_el or {}))]
    els += extra or []
    sd = profile(name, "Extension", title, description, els)
    sd["context"] = [{"type": "element", "expression": c} for c in contexts]
    return sd


def write(rel, obj):
    p = os.path.join(OUT, rel)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=2)
        f.write("\n")


# ---- Polish checksums (poland.md 3.1, 3.2) ----
def pesel(y, m, d, serial, sex):
    """sex: 'male'|'female'; serial: 3-digit int; returns a valid PESEL."""
    mm = m + {18: 80, 19: 0, 20: 20, 21: 40, 22: 60}[y // 100]
    body = f"{y % 100:02d}{mm:02d}{d:02d}{serial:03d}"
    # sex digit: odd male, even female
    sd = 1 if sex == "male" else 2
    body += str(sd)
    w = [1, 3, 7, 9, 1, 3, 7, 9, 1, 3]
    s = sum(int(c) * k for c, k in zip(body, w))
    return body + str((10 - s % 10) % 10)


def pesel_ok(p):
    w = [1, 3, 7, 9, 1, 3, 7, 9, 1, 3, 1]
    return len(p) == 11 and p.isdigit() and sum(int(c) * k for c, k in zip(p, w)) % 10 == 0


def nip(first9):
    w = [6, 5, 7, 2, 3, 4, 5, 6, 7]
    r = sum(int(c) * k for c, k in zip(first9, w)) % 11
    assert r != 10, "choose other digits"
    return first9 + str(r)


def regon9(first8):
    w = [8, 9, 2, 3, 4, 5, 6, 7]
    return first8 + str(sum(int(c) * k for c, k in zip(first8, w)) % 11 % 10)


def regon14(first13):
    w = [2, 4, 8, 5, 0, 9, 7, 3, 6, 1, 2, 4, 8]
    return first13 + str(sum(int(c) * k for c, k in zip(first13, w)) % 11 % 10)


def digits_sum_expr(var, weights):
    return " + ".join(f"{var}.substring({i},1).toInteger()*{w}" if w != 1 else f"{var}.substring({i},1).toInteger()"
                      for i, w in enumerate(weights) if w != 0)


def fpath_nip(v="$this"):
    return (f"{v}.matches('^[0-9]{{10}}$') and (({digits_sum_expr(v, [6,5,7,2,3,4,5,6,7])}) mod 11)"
            f" = {v}.substring(9,1).toInteger()")


def fpath_regon9(v="$this"):
    return (f"{v}.matches('^[0-9]{{9}}$') and ((({digits_sum_expr(v, [8,9,2,3,4,5,6,7])}) mod 11) mod 10)"
            f" = {v}.substring(8,1).toInteger()")


def fpath_regon14(v="$this"):
    return (f"{v}.matches('^[0-9]{{14}}$') and ((({digits_sum_expr(v, [2,4,8,5,0,9,7,3,6,1,2,4,8])}) mod 11) mod 10)"
            f" = {v}.substring(13,1).toInteger()")


def fpath_pesel(v="$this"):
    return (f"{v}.matches('^[0-9]{{11}}$') and (({digits_sum_expr(v, [1,3,7,9,1,3,7,9,1,3,1])}) mod 10) = 0")
