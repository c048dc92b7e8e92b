#!/usr/bin/env python3
"""Builds terminology/pl-terminology.json: the Polish code systems, value sets and naming systems
the server has built in, as one FHIR R4 collection Bundle (embedded into the binary at build time).

Sources:
  * HL7 Poland's CC0 FSH (pl-fhir-terminology, pl-fhir-lab), converted by a small FSH subset reader:
    CodeSystem/ValueSet headers, `^url`/`^version`/`^status`/`^date`/`^publisher`, `* #code "display"`,
    `* $alias#code "display"` with `^designation` lines, `* include codes from system X`.
  * Code lists from docs/poland.md (P1 OIDs) authored below in AUTHORED / NAMING_SYSTEMS.
  * ICD-10 codes used by the synthetic population (crates/synth/src/catalog.rs), under their chapters.

Run from the repository root (needs only Python 3):
    python3 terminology/build.py --fsh DIR   (DIR holds the HL7 Poland FSH sources)
and commit the regenerated terminology/pl-terminology.json.
"""
import argparse
import json
import os
import re
import sys

BASE = "https://ikp.example.org/fhir"
OID = "urn:oid:2.16.840.1.113883.3.4424"
# SUSHI gives resources without ^url the IG's canonical (sushi-config.yaml).
TERMINOLOGY_CANONICAL = "http://hl7.org.pl/fhir/ig/pl-terminology"
LAB_CANONICAL = "http://hl7.org.pl/fhir/ig/pl-lab"

# Known defects in the FSH sources, corrected on the way (see poland.md "Known defects").
ALIAS_FIXES = {"http://loinc.com": "http://loinc.org"}
URL_FIXES = {
    # pl-medicalEntityCellType-VS declares the discharge-disposition URL by copy-paste.
    "pl-medicalEntityCellType-VS": "http://hl7.org.pl/fhir/ValueSet/pl-medicalEntityCellType-VS",
}
# FSH files left out: value sets over LOINC parts and external systems we do not hold.
SKIP = {"pl-base-codeSystem", "pl-base-valueSet"}

HEADER = re.compile(r"^(CodeSystem|ValueSet|Profile|Alias):\s*(.+)$")
META = re.compile(r"^(Id|Title|Description):\s*(.+)$")
CARET = re.compile(r'^\* \^(url|version|status|date|publisher|valueSet) = (?:"(.*)"|#(\S+))\s*$')
CS_CONCEPT = re.compile(r'^\* #("[^"]+"|\S+)\s+"(.*)"\s*$')
VS_CONCEPT = re.compile(r'^\* (\$[\w-]+|[a-z]+:\S+)#("[^"]+"|\S+)\s+"(.*)"\s*$')
INCLUDE_SYSTEM = re.compile(r"^\* include codes from system (\S+)\s*$")
DESIGNATION = re.compile(r'^\s+\* \^designation\[(?:\d+|=)\]\.(language|value) = (?:"(.*)"|#(\S+))\s*$')


def read_aliases(root):
    aliases = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            if name == "aliases.fsh":
                for line in open(os.path.join(dirpath, name), encoding="utf-8"):
                    m = re.match(r"^Alias:\s*(\$[\w-]+)\s*=\s*(\S+)", line)
                    if m:
                        aliases.setdefault(m.group(1), ALIAS_FIXES.get(m.group(2), m.group(2)))
    return aliases


def parse_fsh(path, aliases):
    """Yields the CodeSystems and ValueSets of one FSH file."""
    current = None
    last_concept = None
    for raw in open(path, encoding="utf-8"):
        line = raw.rstrip("\n")
        if not line.strip() or line.lstrip().startswith("//"):
            continue
        m = HEADER.match(line)
        if m:
            if current:
                yield current
            kind, name = m.group(1), m.group(2).strip()
            current = {"resourceType": kind, "name": name} if kind in ("CodeSystem", "ValueSet") else None
            last_concept = None
            continue
        if current is None:
            continue
        m = META.match(line)
        if m:
            key = {"Id": "id", "Title": "title", "Description": "description"}[m.group(1)]
            current[key] = m.group(2).strip().strip('"')
            continue
        m = CARET.match(line)
        if m:
            current[m.group(1)] = m.group(2) if m.group(2) is not None else m.group(3)
            continue
        m = DESIGNATION.match(line)
        if m and last_concept is not None:
            designations = last_concept.setdefault("designation", [])
            if m.group(1) == "language":
                designations.append({"language": m.group(3) or m.group(2)})
            elif designations:
                designations[-1]["value"] = m.group(2)
            continue
        if current["resourceType"] == "CodeSystem":
            m = CS_CONCEPT.match(line)
            if m:
                last_concept = {"code": m.group(1).strip('"'), "display": m.group(2)}
                current.setdefault("concept", []).append(last_concept)
            continue
        m = INCLUDE_SYSTEM.match(line)
        if m:
            current.setdefault("_include", []).append({"system": aliases.get(m.group(1), m.group(1))})
            continue
        m = VS_CONCEPT.match(line)
        if m:
            system = aliases.get(m.group(1), m.group(1))
            last_concept = {"code": m.group(2).strip('"'), "display": m.group(3)}
            current.setdefault("_concepts", {}).setdefault(system, []).append(last_concept)
    if current:
        yield current


def finish_code_system(cs, canonical):
    out = {"resourceType": "CodeSystem", "id": cs["id"], "url": cs.get("url", f"{canonical}/CodeSystem/{cs['id']}")}
    for key in ("version", "name", "title"):
        if key in cs:
            out[key] = cs[key]
    out["status"] = cs.get("status", "active")
    for key in ("date", "publisher", "description"):
        if key in cs:
            out[key] = cs[key]
    out["caseSensitive"] = True
    if "valueSet" in cs:
        out["valueSet"] = cs["valueSet"]
    out["content"] = "complete"
    out["count"] = len(cs.get("concept", []))
    out["concept"] = cs.get("concept", [])
    return out


def finish_value_set(vs, canonical):
    url = URL_FIXES.get(vs["id"], vs.get("url", f"{canonical}/ValueSet/{vs['id']}"))
    out = {"resourceType": "ValueSet", "id": vs["id"], "url": url}
    for key in ("version", "name", "title"):
        if key in vs:
            out[key] = vs[key]
    out["status"] = vs.get("status", "active")
    for key in ("date", "publisher", "description"):
        if key in vs:
            out[key] = vs[key]
    include = list(vs.get("_include", []))
    for system, concepts in vs.get("_concepts", {}).items():
        include.append({"system": system, "concept": concepts})
    out["compose"] = {"include": include}
    return out


def code_system(id, oid_or_url, title, description, concepts, name=None, hierarchy=None):
    url = oid_or_url if ":" in oid_or_url else f"{OID}.{oid_or_url}"
    cs = {
        "resourceType": "CodeSystem",
        "id": id,
        "url": url,
        "version": "1",
        "name": name or re.sub(r"[^A-Za-z0-9]", "", title.title()),
        "title": title,
        "status": "active",
        "publisher": "ikp project (after Centrum e-Zdrowia P1 code lists)",
        "description": description,
        "caseSensitive": True,
        "valueSet": f"{BASE}/ValueSet/{value_set_id(id)}",
        "content": "complete",
    }
    if hierarchy:
        cs["hierarchyMeaning"] = hierarchy
    cs["count"] = count_concepts(concepts)
    cs["concept"] = concepts
    return cs


def count_concepts(concepts):
    return sum(1 + count_concepts(c.get("concept", [])) for c in concepts)


def value_set_id(code_system_id):
    return code_system_id[:-3] + "-vs" if code_system_id.endswith("-cs") else code_system_id + "-vs"


def whole_system_value_set(cs):
    vs_id = value_set_id(cs["id"])
    return {
        "resourceType": "ValueSet",
        "id": vs_id,
        "url": cs.get("valueSet", f"{BASE}/ValueSet/{vs_id}"),
        "version": cs.get("version", "1"),
        "name": cs["name"] + "VS",
        "title": cs["title"],
        "status": "active",
        "description": f"All codes of {cs['title']}.",
        "compose": {"include": [{"system": cs["url"]}]},
    }


def concepts(pairs):
    return [{"code": c, "display": d} for c, d in pairs]


# P1 code lists from poland.md (sections 1.5, 2 and 3.4); OIDs under the CeZ root.
P1_DOCUMENT_CLASSES = [
    ("00.20", "Karta informacyjna leczenia szpitalnego"), ("00.60", "Protokół operacyjny"),
    ("00.65", "Odmowa przyjęcia do szpitala"), ("02.10", "Skierowanie na badania lub leczenie"),
    ("02.11", "Skierowanie na konsultację"), ("02.12", "Wniosek o przejęcie opieki"),
    ("02.81", "Zlecenie na zaopatrzenie w wyroby medyczne"), ("04.01", "Recepta"),
    ("04.12", "Dokument realizacji recepty elektronicznej"), ("04.13", "Dokument realizacji recepty papierowej"),
    ("05.00", "Konsultacja lekarska"), ("05.50", "Zalecenia pielęgniarskie"),
    ("05.70", "Inne dokumenty pielęgniarskie"), ("06.00", "Opis badania diagnostycznego"),
    ("06.10", "Wynik badania laboratoryjnego"), ("07.61", "Wpis do karty szczepień"),
    ("08.80", "Dokument anulujący"), ("08.90", "Informacja dla lekarza kierującego / POZ"),
]
NFZ_BRANCHES = [
    ("01", "Dolnośląski Oddział Wojewódzki NFZ"), ("02", "Kujawsko-Pomorski Oddział Wojewódzki NFZ"),
    ("03", "Lubelski Oddział Wojewódzki NFZ"), ("04", "Lubuski Oddział Wojewódzki NFZ"),
    ("05", "Łódzki Oddział Wojewódzki NFZ"), ("06", "Małopolski Oddział Wojewódzki NFZ"),
    ("07", "Mazowiecki Oddział Wojewódzki NFZ"), ("08", "Opolski Oddział Wojewódzki NFZ"),
    ("09", "Podkarpacki Oddział Wojewódzki NFZ"), ("10", "Podlaski Oddział Wojewódzki NFZ"),
    ("11", "Pomorski Oddział Wojewódzki NFZ"), ("12", "Śląski Oddział Wojewódzki NFZ"),
    ("13", "Świętokrzyski Oddział Wojewódzki NFZ"), ("14", "Warmińsko-Mazurski Oddział Wojewódzki NFZ"),
    ("15", "Wielkopolski Oddział Wojewódzki NFZ"), ("16", "Zachodniopomorski Oddział Wojewódzki NFZ"),
]
PAYMENT_LEVELS = [
    ("B", "bezpłatny"), ("R", "ryczałt"), ("30%", "odpłatność 30%"), ("50%", "odpłatność 50%"),
    ("100%", "odpłatność 100% (pełnopłatny)"),
]
PRESCRIPTION_TYPES = [("ZW", "recepta zwykła"), ("PA", "recepta pro auctore"), ("PF", "recepta pro familiae")]
AVAILABILITY = [
    ("Rp", "wydawany z przepisu lekarza"), ("Rpw", "wydawany z przepisu lekarza, zawierający substancje odurzające lub psychotropowe"),
    ("Rpz", "wydawany z przepisu lekarza do zastrzeżonego stosowania"), ("OTC", "wydawany bez przepisu lekarza"),
    ("Lz", "stosowany wyłącznie w lecznictwie zamkniętym"),
]
# poland.md gives the meaning of S and C only; the other codes carry no invented display.
ENTITLEMENTS = [("S", "senior (75+)"), ("C", "ciąża")] + [
    (code, code) for code in ["IB", "IW", "ZK", "AZ", "BW", "CN", "DN", "IN", "PO", "WP", "WE", "DZ"]
]
EHIC_STATUSES = [
    ("accepted", "przyjęty do realizacji"), ("in-review", "w trakcie rozpatrywania"),
    ("sent", "karta wysłana pocztą"), ("rejected", "odrzucony"), ("returned", "zwrócony przez pocztę"),
]
ICD10_CHAPTERS = [
    ("I", "A00", "B99", "Niektóre choroby zakaźne i pasożytnicze"), ("II", "C00", "D48", "Nowotwory"),
    ("III", "D50", "D89", "Choroby krwi i narządów krwiotwórczych"), ("IV", "E00", "E90", "Zaburzenia wydzielania wewnętrznego, stanu odżywienia i przemiany metabolicznej"),
    ("V", "F00", "F99", "Zaburzenia psychiczne i zaburzenia zachowania"), ("VI", "G00", "G99", "Choroby układu nerwowego"),
    ("VII", "H00", "H59", "Choroby oka i przydatków oka"), ("VIII", "H60", "H95", "Choroby ucha i wyrostka sutkowatego"),
    ("IX", "I00", "I99", "Choroby układu krążenia"), ("X", "J00", "J99", "Choroby układu oddechowego"),
    ("XI", "K00", "K93", "Choroby układu trawiennego"), ("XII", "L00", "L99", "Choroby skóry i tkanki podskórnej"),
    ("XIII", "M00", "M99", "Choroby układu mięśniowo-szkieletowego i tkanki łącznej"), ("XIV", "N00", "N99", "Choroby układu moczowo-płciowego"),
    ("XV", "O00", "O99", "Ciąża, poród i połóg"), ("XVI", "P00", "P96", "Niektóre stany rozpoczynające się w okresie okołoporodowym"),
    ("XVII", "Q00", "Q99", "Wady rozwojowe wrodzone, zniekształcenia i aberracje chromosomowe"), ("XVIII", "R00", "R99", "Objawy, cechy chorobowe oraz nieprawidłowe wyniki badań"),
    ("XIX", "S00", "T98", "Urazy, zatrucia i inne określone skutki działania czynników zewnętrznych"), ("XX", "V01", "Y98", "Zewnętrzne przyczyny zachorowania i zgonu"),
    ("XXI", "Z00", "Z99", "Czynniki wpływające na stan zdrowia i kontakt ze służbą zdrowia"), ("XXII", "U00", "U99", "Kody do celów specjalnych"),
]
NAMING_SYSTEMS = [
    ("pesel", "PESEL", "2.16.840.1.113883.3.4424.1.1.616", "Numer PESEL (11 cyfr z sumą kontrolną)"),
    ("npwz-pharmacist", "NPWZ farmaceuty", "2.16.840.1.113883.3.4424.1.6.1", "Numer prawa wykonywania zawodu farmaceuty"),
    ("npwz-physician", "NPWZ lekarza / lekarza dentysty", "2.16.840.1.113883.3.4424.1.6.2", "Numer prawa wykonywania zawodu lekarza (7 cyfr)"),
    ("npwz-nurse", "PWZ pielęgniarki / położnej", "2.16.840.1.113883.3.4424.1.6.3", "Numer prawa wykonywania zawodu pielęgniarki lub położnej"),
    ("npwz-lab", "PWZ diagnosty laboratoryjnego", "2.16.840.1.113883.3.4424.1.6.4", "Numer prawa wykonywania zawodu diagnosty laboratoryjnego"),
    ("npwz-physiotherapist", "PWZ fizjoterapeuty", "2.16.840.1.113883.3.4424.1.6.5", "Numer prawa wykonywania zawodu fizjoterapeuty"),
    ("nip", "NIP", "2.16.840.1.113883.3.4424.2.1", "Numer identyfikacji podatkowej"),
    ("regon9", "REGON (9 cyfr)", "2.16.840.1.113883.3.4424.2.2.1", "REGON podmiotu"),
    ("regon14", "REGON (14 cyfr)", "2.16.840.1.113883.3.4424.2.2.2", "REGON jednostki lokalnej"),
    ("medical-entity", "Księga rejestrowa RPWDL (cz. I kodu resortowego)", "2.16.840.1.113883.3.4424.2.3.1", "Numer księgi rejestrowej podmiotu leczniczego"),
    ("medical-entity-unit", "Jednostka organizacyjna (cz. I + V)", "2.16.840.1.113883.3.4424.2.3.2", "Kod jednostki organizacyjnej"),
    ("medical-entity-cell", "Komórka organizacyjna (cz. I + VII)", "2.16.840.1.113883.3.4424.2.3.3", "Kod komórki organizacyjnej"),
    ("pharmacy", "Apteka", "2.16.840.1.113883.3.4424.2.6", "Identyfikator apteki"),
    ("nfz-branch", "Oddział wojewódzki NFZ", "2.16.840.1.113883.3.4424.3.1", "Kod oddziału wojewódzkiego NFZ (01–16)"),
    ("rpl-product", "Produkt leczniczy (RPL)", "2.16.840.1.113883.3.4424.6.1", "Identyfikator produktu leczniczego w RPL"),
]


def icd10_code_system(repo):
    src = open(os.path.join(repo, "src/synth/catalog.rs"), encoding="utf-8").read()
    start = src.index("pub const CONDITIONS")
    end = src.index("];", start)
    codes = sorted(set(re.findall(r'\b\w+\("([A-Z]\d\d(?:\.\d+)?)", "([^"]+)"', src[start:end])))
    chapters = []
    for numeral, first, last, display in ICD10_CHAPTERS:
        chapter = {"code": numeral, "display": f"{display} ({first}-{last})", "concept": []}
        categories = {}
        for code, text in codes:
            if first <= code[:3] <= last:
                head = code[:3]
                category = categories.get(head)
                if category is None:
                    category = {"code": head, "display": text if code == head else f"{text} (kategoria {head})"}
                    categories[head] = category
                    chapter["concept"].append(category)
                if code != head:
                    category.setdefault("concept", []).append({"code": code, "display": text})
                else:
                    category["display"] = text
        if not chapter["concept"]:
            del chapter["concept"]
        chapters.append(chapter)
    cs = code_system("icd-10-pl", "http://hl7.org/fhir/sid/icd-10", "ICD-10 (wybór kodów)",
                     "Rozdziały ICD-10 i kody używane przez serwer (podzbiór; pełna lista nie jest swobodnie dostępna).",
                     chapters, name="ICD10PL", hierarchy="is-a")
    cs["content"] = "fragment"
    return cs


def icd9pl_code_system(fsh_root, aliases):
    path = os.path.join(fsh_root, "hl7-poland-lab-terminology/input/fsh/terminology/pl-lab-icd9plServiceCode-VS.fsh")
    vs = next(parse_fsh(path, aliases))
    codes = next(iter(vs["_concepts"].values()))
    seen, unique = set(), []
    for c in codes:
        if c["code"] not in seen:
            seen.add(c["code"])
            unique.append({"code": c["code"], "display": c["display"]})
    cs = code_system("icd-9-pl", "11.2.6", "ICD-9 PL (usługi laboratoryjne)",
                     "Kody ICD-9 PL z katalogu usług laboratoryjnych HL7 Poland (CC0).", unique, name="ICD9PL")
    cs["content"] = "fragment"
    lab_vs = finish_value_set({k: v for k, v in vs.items() if k != "_concepts"}, LAB_CANONICAL)
    lab_vs["compose"] = {"include": [{"system": cs["url"]}]}
    return cs, lab_vs


def naming_system(id, name, oid, description):
    return {
        "resourceType": "NamingSystem",
        "id": id,
        "name": re.sub(r"[^A-Za-z0-9]", "", name.title()) or id,
        "status": "active",
        "kind": "identifier",
        "date": "2026-11-26",
        "publisher": "ikp project (after the CeZ OID register)",
        "description": description,
        "jurisdiction": [{"coding": [{"system": "urn:iso:std:iso:3166", "code": "PL"}]}],
        "uniqueId": [
            {"type": "oid", "value": oid, "preferred": False},
            {"type": "uri", "value": f"urn:oid:{oid}", "preferred": True},
        ],
    }


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.dirname(here)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fsh", required=True,
                        help="folder holding hl7-poland-terminology and hl7-poland-lab-terminology")
    args = parser.parse_args()
    aliases = read_aliases(args.fsh)
    resources = []
    for project, canonical in (("hl7-poland-terminology", TERMINOLOGY_CANONICAL),
                               ("hl7-poland-lab-terminology", LAB_CANONICAL)):
        root = os.path.join(args.fsh, project, "input/fsh")
        for dirpath, _, files in sorted(os.walk(root)):
            for name in sorted(files):
                if not name.endswith(".fsh") or name == "aliases.fsh" or "icd9plServiceCode" in name:
                    continue
                for item in parse_fsh(os.path.join(dirpath, name), aliases):
                    if item.get("id") in SKIP or "id" not in item:
                        continue
                    if item["resourceType"] == "CodeSystem":
                        resources.append(finish_code_system(item, canonical))
                    else:
                        resources.append(finish_value_set(item, canonical))
    icd9, icd9_vs = icd9pl_code_system(args.fsh, aliases)
    icd10 = icd10_code_system(repo)
    authored = [
        code_system("p1-document-class-cs", "11.1.32", "Klasa dokumentu P1", "Klasy dokumentów systemu P1 (podzbiór opublikowany przez HL7 Poland); nazwy polskie oddane z opisów w poland.md.", concepts(P1_DOCUMENT_CLASSES), name="P1DocumentClass"),
        code_system("nfz-branch-cs", "3.1", "Oddział wojewódzki NFZ", "Kody oddziałów wojewódzkich Narodowego Funduszu Zdrowia.", concepts(NFZ_BRANCHES), name="NfzBranch"),
        code_system("payment-level-cs", "11.1.1", "Poziom odpłatności leku", "Poziom odpłatności za lek na recepcie.", concepts(PAYMENT_LEVELS), name="PaymentLevel"),
        code_system("prescription-type-cs", "13.5.1", "Rodzaj recepty", "Rodzaj recepty (RRECE).", concepts(PRESCRIPTION_TYPES), name="PrescriptionType"),
        code_system("availability-category-cs", "11.1.25", "Kategoria dostępności leku", "Kategoria dostępności produktu leczniczego (KDLEK).", concepts(AVAILABILITY), name="AvailabilityCategory"),
        code_system("entitlement-cs", "11.3.1", "Uprawnienia dodatkowe", "Dodatkowe uprawnienia pacjenta do leków refundowanych (RLUD). Znaczenie kodów innych niż S i C nie zostało zweryfikowane w źródłach projektu, więc ich nazwą jest sam kod.", concepts(ENTITLEMENTS), name="Entitlement"),
        code_system("ehic-status-cs", f"{BASE}/CodeSystem/ehic-status", "Status wniosku o EKUZ", "Stany wniosku o Europejską Kartę Ubezpieczenia Zdrowotnego.", concepts(EHIC_STATUSES), name="EhicStatus"),
        icd10,
        icd9,
    ]
    resources.extend(authored)
    resources.extend(whole_system_value_set(cs) for cs in authored)
    resources.append(icd9_vs)
    resources.append({
        "resourceType": "ValueSet", "id": "pl-vaccine-vs", "url": f"{BASE}/ValueSet/pl-vaccine-vs", "version": "1",
        "name": "PLVaccineVS", "title": "Szczepionki (CVX) z polskimi nazwami", "status": "active",
        "description": "Szczepionki Programu Szczepień Ochronnych i zalecane, kodowane CVX (polska lista kodów nie jest publicznie dostępna).",
        "compose": {"include": [{"system": "http://hl7.org/fhir/sid/cvx", "concept": vaccine_concepts(repo)}]},
    })
    resources.extend(naming_system(*n) for n in NAMING_SYSTEMS)
    ids = [(r["resourceType"], r["id"]) for r in resources]
    duplicates = {i for i in ids if ids.count(i) > 1}
    if duplicates:
        sys.exit(f"duplicate resources: {duplicates}")
    bundle = {"resourceType": "Bundle", "id": "pl-terminology", "type": "collection",
              "entry": [{"fullUrl": f"{BASE}/{r['resourceType']}/{r['id']}", "resource": r} for r in resources]}
    out = os.path.join(here, "pl-terminology.json")
    with open(out, "w", encoding="utf-8") as f:
        json.dump(bundle, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"wrote {out}: {len(resources)} resources")


def vaccine_concepts(repo):
    src = open(os.path.join(repo, "src/synth/catalog.rs"), encoding="utf-8").read()
    start = src.index("pub const VACCINES")
    end = src.index("];", start)
    return [{"code": c, "display": d, "designation": [{"language": "pl", "value": pl}]}
            for c, d, pl in re.findall(r'\("(\d+)", "([^"]+)", "([^"]+)"\)', src[start:end])]


if __name__ == "__main__":
    main()
