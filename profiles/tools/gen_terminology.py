"""Generates profiles/terminology/*.json (R4 CodeSystem / ValueSet)."""
from common import *

RES = []
META = dict(version="0.1.0", status="draft", date="2026-11-26", publisher="ikp project")


def codesystem(name, title, desc, concepts):
    RES.append({"resourceType": "CodeSystem", "id": name, "url": cs(name), "name": name.replace("-", "_"), "title": title,
                **META, "description": desc, "caseSensitive": True, "content": "complete", "valueSet": vs(name),
                "count": len(concepts), "concept": [dict(code=c, display=d) if d else dict(code=c) for c, d in concepts]})


def valueset(name, title, desc, includes):
    inc = []
    for system, concepts in includes:
        i = {"system": system}
        if concepts:
            i["concept"] = [dict(code=c, display=d) if d else dict(code=c) for c, d in concepts]
        inc.append(i)
    RES.append({"resourceType": "ValueSet", "id": name, "url": vs(name), "name": name.replace("-", "_"), "title": title,
                **META, "description": desc, "compose": {"include": inc}})


def own(name, title, desc, concepts):
    codesystem(name, title, desc, concepts)
    valueset(name, title, f"All codes of {cs(name)}.", [(cs(name), None)])

# ---- P1 / CeZ code systems identified by OID (poland.md §1.5, §3.4, §4) ----
valueset("pl-payment-level", "Payment levels (poziom odpłatności)",
    "Payment levels of P1 code system 2.16.840.1.113883.3.4424.11.1.1 [S8].",
    [(PAYMENT_LEVEL, [("B", "bezpłatny (free)"), ("R", "ryczałt (lump sum)"), ("30%", "30%"), ("50%", "50%"), ("100%", "100% (full price)")])])
valueset("pl-additional-entitlement", "Additional entitlements (uprawnienia dodatkowe, RLUD)",
    "Entitlement codes of 2.16.840.1.113883.3.4424.11.3.1 [S8]; displays other than S and C are not sourced.",
    [(ENTITLEMENT, [("S", "senior"), ("C", "ciąża (pregnancy)")] + [(c, None) for c in
      ["IB", "IW", "ZK", "AZ", "BW", "CN", "DN", "IN", "PO", "WP", "WE", "DZ"]])])
valueset("pl-availability-category", "Availability categories (kategoria dostępności, KDLEK)",
    "Drug availability categories of 2.16.840.1.113883.3.4424.11.1.25 [S8].",
    [(AVAILABILITY, [("Rp", "na receptę"), ("Rpw", "na receptę, substancja kontrolowana (narcotic/psychotropic)"),
                     ("Rpz", "na receptę do zastrzeżonego stosowania"), ("OTC", "bez recepty")])])
valueset("pl-prescription-type", "Prescription types (rodzaj recepty, RRECE)",
    "Prescription type codes of the Polish classifier 2.16.840.1.113883.3.4424.13.5.1 [S8].",
    [(RRECE, [("ZW", "zwykła (ordinary)"), ("PA", "pro auctore"), ("PF", "pro familiae")])])
DOCCLS = [("00.20", "Karta informacyjna leczenia szpitalnego (discharge summary)"), ("00.60", "Protokół operacyjny (operative protocol)"),
          ("00.65", "Informacja o odmowie przyjęcia (refusal of admission)"), ("02.10", "Skierowanie na badania/leczenie (referral for tests/treatment)"),
          ("02.11", "Skierowanie na konsultację (referral for consultation)"), ("02.12", "Wniosek o przejęcie opieki (request to take over care)"),
          ("02.81", "Zlecenie na wyroby medyczne (medical-device order)"), ("04.01", "Recepta (prescription)"),
          ("04.12", "Realizacja e-recepty (e-prescription dispensation)"), ("04.13", "Realizacja recepty papierowej (paper-prescription dispensation)"),
          ("05.00", "Konsultacja lekarska (medical consultation)"), ("05.50", "Zalecenia pielęgniarskie (nursing recommendations)"),
          ("05.70", "Inne dokumenty pielęgniarskie (other nursing documents)"), ("06.00", "Opis badania diagnostycznego (diagnostic test description)"),
          ("06.10", "Wynik badania laboratoryjnego (lab result)"), ("07.61", "Wpis do karty szczepień (vaccination-card entry)"),
          ("08.80", "Dokument anulujący (cancelling document)"), ("08.90", "Informacja dla lekarza kierującego/POZ (information for referring/POZ doctor)")]
valueset("pl-p1-document-class", "P1 document classes (klasy dokumentów P1)",
    "Subset of P1 document classes (2.16.840.1.113883.3.4424.11.1.32) published in HL7 PL PLP1DocumentTypeVS [S2]; the full P1 list is unverified.",
    [(P1_DOC_CLASS, DOCCLS)])
valueset("pl-referral-class", "Referral classes (klasy e-skierowań)",
    "P1 document classes of referrals [S2].", [(P1_DOC_CLASS, [c for c in DOCCLS if c[0] in ("02.10", "02.11", "02.12")])])
valueset("pl-medical-profession", "Medical professions (zawody medyczne)",
    "Medical professions of 2.16.840.1.113883.3.4424.11.3.18 (HL7 PL pl-medicalProfession-CS) [S4].",
    [(PROFESSION, [("LEK", "Lekarz"), ("FEL", "Felczer"), ("LEKD", "Lekarz dentysta"), ("PIEL", "Pielęgniarka"), ("POL", "Położna"),
                   ("FARM", "Farmaceuta"), ("DLAB", "Diagnosta laboratoryjny"), ("TFARM", "Technik farmaceutyczny")])])
valueset("pl-practitioner-specialty", "Physician specialties (specjalności lekarskie)",
    "All codes of 2.16.840.1.113883.3.4424.11.3.3 (77 codes 0701-0799 in HL7 PL pl-practitionerSpecialty-CS) [S4]; "
    "the SDK uses 11.3.3.1 — OID inconsistent in sources.", [(SPECIALTY, None)])
valueset("pl-cell-specialty", "Cell specialties (kod resortowy cz. VIII)",
    "All codes of 2.16.840.1.113883.3.4424.11.2.4 (359 codes in HL7 PL pl-medicalEntityCellType-CS) [S4].", [(CELL_TYPE, None)])
valueset("pl-discharge-disposition", "Hospital discharge mode (tryb wypisu)",
    "All codes of 2.16.840.1.113883.3.4424.11.3.21 [S4].", [(DISCHARGE, None)])
valueset("pl-encounter-class", "Medical-event types (typ zdarzenia medycznego)",
    "P1 medical-event types 2.16.840.1.113883.3.4424.11.1.34 (only code 4 'Porada' sourced [S8]) plus HL7 v3 ActCode encounter classes.",
    [(EVENT_TYPE, [("4", "Porada")]), ("http://terminology.hl7.org/CodeSystem/v3-ActCode", [("AMB", "ambulatory"), ("IMP", "inpatient encounter"),
      ("EMER", "emergency"), ("HH", "home health"), ("VR", "virtual")])])
valueset("pl-icd10", "ICD-10 diagnoses (rozpoznania ICD-10)",
    "All codes of ICD-10 as identified in P1 (urn:oid:2.16.840.1.113883.6.3), the system of PLCondition and of the "
    "referral reason [S2][S8]; bound with example strength (imaging conclusion codes).", [(ICD10, None)])
valueset("pl-dose-form", "Dose forms (EDQM)", "EDQM dose forms (0.4.0.127.0.16.1.1.2.1) as used in P1 CDA [S8].", [(EDQM, None)])
valueset("pl-related-person-relationship", "Guardian / parent relationship (typ opiekuna)",
    "Relationship of a legal representative or guardian to the patient [S7][S16].",
    [("http://terminology.hl7.org/CodeSystem/v3-RoleCode", [("MTH", "mother"), ("FTH", "father"), ("PRN", "parent"),
      ("GUARD", "guardian"), ("POWATT", "power of attorney")])])

# ---- our own code systems (no official P1 code system found) ----
own("pl-prescription-validity", "Prescription validity rules (okres realizacji recepty)",
    "Which realisation-period rule applies to an e-prescription [S14]: standard 30 days, antibiotic 7 days, immunological "
    "preparation or targeted import 120 days, chronic therapy up to 365 days.",
    [("standard", "30 dni (standard)"), ("antibiotic", "7 dni (antybiotyk)"), ("immunological", "120 dni (preparat immunologiczny)"),
     ("targeted-import", "120 dni (import docelowy)"), ("chronic-365", "do 365 dni (leczenie przewlekłe)")])
own("pl-prescription-status", "P1 prescription statuses (status recepty w P1)",
    "Statuses returned by P1 prescription search [S8].",
    [("WYSTAWIONA", "issued"), ("ZABLOKOWANA", "blocked"), ("ZREALIZOWANA", "dispensed"),
     ("CZESCIOWO_ZREALIZOWANA", "partially dispensed"), ("ANULOWANA", "cancelled")])
own("pl-ikp-authorization-type", "IKP authorisation types (rodzaje upoważnień w IKP)",
    "Kinds of access a patient grants in IKP [S16][S22].",
    [("proxy-read", "wgląd w dane (osoba upoważniona: read)"), ("proxy-act", "działanie w imieniu pacjenta (act: collect prescriptions, book visits)"),
     ("prescriptions-only", "apteka/farmaceuta: tylko recepty (prescriptions only)"), ("doctor-history", "lekarz/pielęgniarka/placówka: historia leczenia"),
     ("doctor-24h", "lekarz: dostęp 24-godzinny (kod SMS)"), ("parent-access", "dostęp drugiego rodzica do konta dziecka"),
     ("cross-border", "zgoda na realizację e-recepty za granicą")])
own("pl-ehic-status", "EHIC application states (status wniosku o EKUZ)", "States of an EHIC application [S17].",
    [("accepted", "przyjęty do realizacji"), ("under-review", "w trakcie rozpatrywania"), ("sent", "karta wysłana pocztą"),
     ("rejected", "odrzucony"), ("returned", "zwrot z poczty")])
codesystem("pl-task-type", "IKP task types", "Kinds of IKP workflow tasks [S15][S17].",
    [("ehic-application", "wniosek o EKUZ"), ("poz-doctor", "deklaracja wyboru lekarza POZ"), ("poz-nurse", "deklaracja wyboru pielęgniarki POZ"),
     ("poz-midwife", "deklaracja wyboru położnej POZ")])
valueset("pl-poz-declaration-type", "POZ declaration types (rodzaj deklaracji POZ)", "Primary-care declaration kinds [S15].",
    [(cs("pl-task-type"), [("poz-doctor", "deklaracja wyboru lekarza POZ"), ("poz-nurse", "deklaracja wyboru pielęgniarki POZ"),
                           ("poz-midwife", "deklaracja wyboru położnej POZ")])])
own("pl-care-plan-type", "Care plan types", "Kinds of care plans.", [("IPOM", "Indywidualny plan opieki medycznej")])
own("pl-document-type-local", "Local document types", "Document types without a P1 class (not on P1).",
    [("e-ZLA", "Zaświadczenie lekarskie o czasowej niezdolności do pracy (ZUS e-ZLA)")])

for r in RES:
    write(f"terminology/{r['resourceType']}-{r['id']}.json", r)
print(len(RES), "terminology resources")
