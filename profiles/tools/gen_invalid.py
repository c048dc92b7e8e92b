"""Generates profiles/invalid/<case>.json + <case>.expect.json from the valid examples (one defect each)."""
from gen_examples import *   # noqa  (re-writes the examples, deterministic)

CASES = []


def case(name, base, prof, mutate, errors, note):
    r = copy.deepcopy(EX[base])
    r["id"] = "invalid-" + name
    if prof:
        r["meta"]["profile"] = [sdurl(prof)]
    mutate(r)
    url = r["meta"]["profile"][0]
    write(f"invalid/{name}.json", r)
    write(f"invalid/{name}.expect.json", {"profile": url, "description": note,
          "errors": [dict(expression=e, contains=c, kind=k) for e, c, k in errors]})
    CASES.append((name, note, errors))


def setk(k, v):
    return lambda r: r.__setitem__(k, v)


def delk(k):
    return lambda r: r.pop(k)

# ---- constraint kinds ----
case("cardinality-min-patient-name", ("Patient", "jan-nowak"), None, delk("name"),
     [("Patient", "Patient.name", "cardinality-min")], "PLPatient.name is 1..*; the instance has no name.")
case("cardinality-max-practitionerrole-code", ("PractitionerRole", "piotr-wisniewski-poz"), None,
     lambda r: r["code"].append(cc(PROFESSION, "LEKD", "Lekarz dentysta")),
     [("PractitionerRole.code", "PractitionerRole.code", "cardinality-max")], "PLPractitionerRole.code is 1..1; the instance has two.")
case("fixed-value-medicationrequest-intent", ("MedicationRequest", "rx-amotaks-000001"), None, setk("intent", "plan"),
     [("MedicationRequest.intent", "order", "fixed")], "PLMedicationRequest.intent is fixed to 'order'.")
case("pattern-coverage-type", ("Coverage", "nfz-jan-nowak"), None,
     setk("type", cc("http://terminology.hl7.org/CodeSystem/v3-ActCode", "EHCPOL", "extended healthcare")),
     [("Coverage.type", "PUBLICPOL", "pattern")], "PLCoverage.type must match the pattern v3-ActCode#PUBLICPOL.")
case("required-binding-payment-level", ("MedicationRequest", "rx-amotaks-000001"), None,
     lambda r: r["extension"][0]["valueCoding"].__setitem__("code", "70%"),
     [("MedicationRequest.extension[0].value", "pl-payment-level", "binding-required")],
     "PLPaymentLevel.value[x] has a required binding to ValueSet pl-payment-level; '70%' is not a payment level.")
case("closed-slicing-medicationrequest-category", ("MedicationRequest", "rx-amotaks-000001"), None,
     lambda r: r["category"].append(cc("http://terminology.hl7.org/CodeSystem/medicationrequest-category", "outpatient")),
     [("MedicationRequest.category[2]", "category", "slicing-closed")],
     "MedicationRequest.category slicing (by coding.system) is closed; a category from another system matches no slice.")
case("slice-cardinality-two-pesel", ("Patient", "jan-nowak"), None,
     lambda r: r["identifier"].append({"system": PESEL, "value": "85123100112"}),
     [("Patient.identifier", "pesel", "slice-cardinality")], "Patient.identifier:pesel is 0..1; the instance has two PESELs.")
case("invariant-consent-24h-too-long", ("Consent", "upowaznienie-lekarz-24h"), None,
     lambda r: r["provision"]["period"].__setitem__("end", "2026-11-28T09:00:00+01:00"),
     [("Consent", "24", "invariant")], "pl-cons-1: a 24-hour doctor authorisation lasting 48 hours.")
case("wrong-reference-target-medicationrequest-subject", ("MedicationRequest", "rx-amotaks-000001"), None,
     setk("subject", {"reference": "Group/oddzial-pediatryczny"}),
     [("MedicationRequest.subject", "Group", "reference-target")], "PLMedicationRequest.subject only Reference(PLPatient); refers to a Group.")
case("wrong-extension-context-mother-on-practitioner", ("Practitioner", "piotr-wisniewski"), None,
     setk("extension", [{"url": sdurl("PLPatientIdentifierOfMother"), "valueIdentifier": {"system": PESEL, "value": PESEL_ANNA}}]),
     [("Practitioner.extension[0]", "context", "extension-context")],
     "PLPatientIdentifierOfMother has context Patient; used on a Practitioner.")
# ---- business rules ----
bad = PESEL_JAN[:10] + str((int(PESEL_JAN[10]) + 1) % 10)
case("pesel-checksum", ("Patient", "jan-nowak"), None, lambda r: r["identifier"][0].__setitem__("value", bad),
     [("Patient.identifier[0].value", "PESEL", "invariant")], f"PESEL {bad}: wrong check digit (valid would be {PESEL_JAN}).")
case("pesel-birthdate-mismatch", ("Patient", "jan-nowak"), None, setk("birthDate", "1948-03-12"),
     [("Patient", "PESEL birth date", "invariant")], f"PESEL {PESEL_JAN} encodes 1948-03-02, birthDate says 1948-03-12.")
case("pesel-sex-mismatch", ("Patient", "jan-nowak"), None, setk("gender", "female"),
     [("Patient", "PESEL sex", "invariant")], f"PESEL {PESEL_JAN} has an odd 10th digit (male), gender says female.")
badnip = NIP_V[:9] + str((int(NIP_V[9]) + 1) % 10)
case("nip-checksum", ("Organization", "przychodnia-zdrowie"), None, lambda r: r["identifier"][2].__setitem__("value", badnip),
     [("Organization.identifier[2].value", "NIP", "invariant")], f"NIP {badnip}: wrong check digit (valid {NIP_V}).")
badr9 = REGON9_V[:8] + str((int(REGON9_V[8]) + 1) % 10)
case("regon9-checksum", ("Organization", "przychodnia-zdrowie"), None, lambda r: r["identifier"][1].__setitem__("value", badr9),
     [("Organization.identifier[1].value", "REGON", "invariant")], f"REGON {badr9}: wrong check digit (valid {REGON9_V}).")
badr14 = REGON14_V[:13] + str((int(REGON14_V[13]) + 1) % 10)
case("regon14-checksum", ("Organization", "przychodnia-zdrowie-poradnie"), None, lambda r: r["identifier"][1].__setitem__("value", badr14),
     [("Organization.identifier[1].value", "REGON", "invariant")], f"REGON-14 {badr14}: wrong check digit (valid {REGON14_V}).")
case("rx-validity-standard-31-days", ("MedicationRequest", "rx-metformax-000002"), None,
     lambda r: r["dispenseRequest"]["validityPeriod"].__setitem__("end", "2026-12-27"),
     [("MedicationRequest", "30 days", "invariant")], "Standard prescription valid 2026-11-26..2026-12-27 (31 days > 30).")
case("rx-validity-antibiotic-8-days", ("MedicationRequest", "rx-amotaks-000001"), None,
     lambda r: r["dispenseRequest"]["validityPeriod"].__setitem__("end", "2026-12-04"),
     [("MedicationRequest", "7 days", "invariant")], "Antibiotic prescription valid 2026-11-26..2026-12-04 (8 days > 7).")
case("rx-two-payment-levels", ("MedicationRequest", "rx-amotaks-000001"), None,
     lambda r: r["extension"].insert(1, {"url": sdurl("PLPaymentLevel"), "valueCoding": coding(PAYMENT_LEVEL, "50%")}),
     [("MedicationRequest", "payment level", "invariant")],
     "Two PLPaymentLevel extensions on one prescription (also violates the paymentLevel slice max 1).")
def diffgroup(r):
    r["entry"][1]["resource"]["groupIdentifier"]["value"] = "0000aaaa1111bbbb2222"
case("package-different-groupidentifier", ("Bundle", "pakiet-recept-1"), None, diffgroup,
     [("Bundle", "groupIdentifier", "invariant")], "Two prescriptions of one package carry different package keys.")
# ---- extra profile rules ----
case("passport-system-not-country-oid", ("Patient", "olena-shevchenko"), None,
     lambda r: r["identifier"][0].__setitem__("system", "urn:oid:2.16.840.1.113883.4.330"),
     [("Patient.identifier[0].system", "Passport", "invariant")], "Passport system lacks the ISO 3166 country node.")
case("nn-patient-with-family", ("Patient", "nn-2026-0001"), None, lambda r: r["name"][0].__setitem__("family", "Nieznany"),
     [("Patient.name[0].family", "Patient.name:nn.family", "cardinality-max")], "The NN name slice forbids family.")
case("icd10-bad-format", ("Condition", "zapalenie-oskrzeli"), None, lambda r: r["code"]["coding"][0].__setitem__("code", "J209X"),
     [("Condition.code.coding[0].code", "ICD-10", "invariant")], "ICD-10 code 'J209X' has the wrong shape.")
case("ezlecenie-validity-13-months", ("DeviceRequest", "zlecenie-pieluchomajtki"), None,
     lambda r: r["occurrencePeriod"].__setitem__("end", "2027-12-31"),
     [("DeviceRequest", "12 months", "invariant")], "e-zlecenie realisable for more than 12 months from issue.")
case("nfz-branch-17", ("Organization", "nfz-07"), None, lambda r: r["identifier"][0].__setitem__("value", "17"),
     [("Organization.identifier[0].value", "NFZ", "invariant")], "NFZ branch codes are 01-16.")
case("consent-prescriptions-only-without-class", ("Consent", "upowaznienie-apteka"), None,
     lambda r: r["provision"].pop("class"),
     [("Consent", "prescriptions-only", "invariant")], "pl-cons-2: a pharmacy authorisation must be restricted to prescriptions.")
case("ehic-rejected-without-reason", ("Task", "ekuz-anna-2026"), None,
     lambda r: (r.__setitem__("businessStatus", cc(cs("pl-ehic-status"), "rejected")), r.__setitem__("status", "rejected")),
     [("Task", "statusReason", "invariant")], "pl-ehic-1: a rejected EHIC application needs a reason.")
case("cardiology-without-referral", ("Appointment", "wizyta-kardiolog-jan"), None, delk("basedOn"),
     [("Appointment", "e-skierowanie", "invariant")], "pl-appt-2: first cardiology visit without e-skierowanie.")
case("eu-dispense-without-recorded", ("MedicationDispense", "eu-dispense-1"), None, delk("extension"),
     [("MedicationDispense", "recorded", "slice-cardinality")], "EUMedicationDispense requires the 'recorded' extension (1..1).")
case("document-bundle-first-not-composition", ("Bundle", "dokument-karta-wypisowa"), None,
     lambda r: r["entry"].reverse(), [("Bundle", "Composition", "invariant")], "pl-doc-1: the first entry of a document must be the Composition.")
# ---- lab, imaging, IPOM (issue 15) ----
LOCAL_LAB_CODES = "https://lab.przychodnia-zdrowie.example/fhir/CodeSystem/badania"
case("observation-lab-without-loinc", ("Observation", "hgb-anna"), None,
     setk("code", {"coding": [coding(LOCAL_LAB_CODES, "HGB", "Hemoglobina")], "text": "Hemoglobina"}),
     [("Observation.code", "Observation.code.coding:loinc", "slice-cardinality")],
     "PLObservationLab.code.coding:loinc is 1..1; the result is coded only in the laboratory's local code system.")
case("observation-lab-quantity-not-ucum", ("Observation", "hgb-anna"), None,
     setk("valueQuantity", {"value": 13.2, "unit": "g/dL", "system": "https://lab.przychodnia-zdrowie.example/fhir/CodeSystem/jednostki", "code": "GDL"}),
     [("Observation", "UCUM", "invariant")], "pl-obs-2: the quantity result's unit is from a local unit system, not UCUM.")
case("observation-lab-quantity-unit-only", ("Observation", "wbc-anna"), None,
     setk("valueQuantity", {"value": 6.8, "unit": "tys./µl"}),
     [("Observation", "UCUM", "invariant")], "pl-obs-2: the quantity result has a unit text only (no UCUM system and code).")
def range_not_ucum(r):
    r["referenceRange"] = [{"low": {"value": 12, "unit": "g/dl"}, "high": {"value": 16, "unit": "g/dl"}}]
case("observation-lab-range-not-ucum", ("Observation", "hgb-anna"), None, range_not_ucum,
     [("Observation", "UCUM", "invariant")], "pl-obs-3: the reference range limits carry a unit text only, not UCUM quantities.")
case("observation-lab-without-performer", ("Observation", "hgb-anna"), None, delk("performer"),
     [("Observation", "Observation.performer", "cardinality-min")],
     "PLObservationLab.performer is 1..*; the result names neither the laboratory nor the diagnostician.")
case("diagnosticreport-lab-without-result", ("DiagnosticReport", "morfologia-anna"), None, delk("result"),
     [("DiagnosticReport", "DiagnosticReport.result", "cardinality-min")], "PLDiagnosticReportLab.result is 1..*; the report has no results.")
case("diagnosticreport-lab-without-loinc", ("DiagnosticReport", "morfologia-anna"), None,
     lambda r: r["code"].__setitem__("coding", [c for c in r["code"]["coding"] if c["system"] != LOINC]),
     [("DiagnosticReport.code", "DiagnosticReport.code.coding:loinc", "slice-cardinality")],
     "PLDiagnosticReportLab.code.coding:loinc is 1..1; the report is coded only in ICD-9 PL.")
case("diagnosticreport-imaging-without-conclusion", ("DiagnosticReport", "rtg-klatki-jan"), None, delk("conclusion"),
     [("DiagnosticReport", "DiagnosticReport.conclusion", "cardinality-min")],
     "PLDiagnosticReportImaging.conclusion is 1..1; the description of the test is missing.")
case("careplan-ipom-without-activity", ("CarePlan", "ipom-jan-nowak"), None, delk("activity"),
     [("CarePlan", "CarePlan.activity", "cardinality-min")], "PLCarePlan.activity is 1..*; the IPOM lists no activity.")
case("careplan-ipom-bad-identifier-system", ("CarePlan", "ipom-jan-nowak"), None,
     lambda r: r["identifier"][0].__setitem__("system", LOCAL_ROOT + "1234.25.1"),
     [("CarePlan.identifier[0].system", "IPOM", "invariant")], "pl-ipom-1: the IPOM id is minted under {x}.25.1 instead of {x}.26.1.")

import json as _j
write("invalid/_index.json", [{"case": n, "description": d, "errors": [dict(expression=e, contains=c, kind=k) for e, c, k in errs]}
                             for n, d, errs in CASES])
print(len(CASES), "invalid cases")
