"""Generates profiles/examples/*.json (valid) and profiles/invalid/*.json + *.expect.json."""
from common import *

EX = {}


def ex(rtype, rid, prof, body):
    r = {"resourceType": rtype, "id": rid, "meta": {"profile": [sdurl(prof)]}}
    r.update(body)
    EX[(rtype, rid)] = r
    return r


def R(t, i, display=None):
    d = {"reference": f"{t}/{i}"}
    if display:
        d["display"] = display
    return d


def coding(system, code, display=None):
    c = {"system": system, "code": code}
    if display:
        c["display"] = display
    return c


def cc(system, code, display=None, text=None):
    d = {"coding": [coding(system, code, display)]}
    if text:
        d["text"] = text
    return d


ADDR_WAW = {"use": "home", "line": ["ul. Marszałkowska 10 m. 5"], "city": "Warszawa", "postalCode": "00-590", "country": "PL"}
# ---------------------------------------------------------------- identifiers with valid checksums
PESEL_ANNA = pesel(1985, 7, 12, 123, "female")   # 1985-07-12 female
PESEL_JAN = pesel(1948, 3, 2, 456, "male")       # 1948-03-02 male
PESEL_ZOFIA = pesel(2012, 5, 30, 789, "female")  # 2012-05-30 female (child)
PESEL_TOMASZ = pesel(1983, 11, 4, 321, "male")   # father
for p in (PESEL_ANNA, PESEL_JAN, PESEL_ZOFIA, PESEL_TOMASZ):
    assert pesel_ok(p)
REGON9_V = regon9("14563201")
REGON14_V = regon14(REGON9_V + "0001")
NIP_V = nip("525234567")
NIP_PH = nip("951102345")
KR1 = "000000012345"

# ---------------------------------------------------------------- organisations, practitioners
ex("Organization", "przychodnia-zdrowie", "PLOrganizationMedicalEntity", {
    "identifier": [{"system": KR_I, "value": KR1}, {"system": REGON9, "value": REGON9_V}, {"system": NIP, "value": NIP_V}],
    "active": True, "name": "Przychodnia Zdrowie Sp. z o.o.",
    "telecom": [{"system": "phone", "value": "+48 22 123 45 67"}], "address": [{"line": ["ul. Grójecka 100"], "city": "Warszawa", "postalCode": "02-101", "country": "PL"}]})
ex("Organization", "przychodnia-zdrowie-poradnie", "PLOrganizationUnit", {
    "identifier": [{"system": KR_V, "value": KR1 + "-01"}, {"system": REGON14, "value": REGON14_V}],
    "name": "Przychodnia Zdrowie - Poradnie Specjalistyczne", "partOf": R("Organization", "przychodnia-zdrowie")})
ex("Organization", "poradnia-poz", "PLOrganizationCell", {
    "identifier": [{"system": KR_VII, "value": KR1 + "-001"}],
    "type": [cc(CELL_TYPE, "0010", "Poradnia (gabinet) lekarza podstawowej opieki zdrowotnej")],
    "name": "Poradnia lekarza POZ", "partOf": R("Organization", "przychodnia-zdrowie-poradnie")})
ex("Organization", "apteka-pod-orlem", "PLOrganizationPharmacy", {
    "identifier": [{"system": PHARMACY, "value": "14.0042"}, {"system": NIP, "value": NIP_PH}],
    "name": "Apteka Pod Orłem", "address": [{"line": ["ul. Puławska 12"], "city": "Warszawa", "postalCode": "02-512", "country": "PL"}]})
ex("Organization", "nfz-07", "PLOrganizationNFZBranch", {
    "identifier": [{"system": NFZ_BRANCH, "value": "07"}], "name": "Mazowiecki Oddział Wojewódzki NFZ"})
ex("Location", "gabinet-poz-1", "PLLocation", {
    "identifier": [{"system": KR_VII, "value": KR1 + "-001"}], "status": "active", "name": "Gabinet lekarza POZ nr 1",
    "type": [cc(CELL_TYPE, "0010", "Poradnia (gabinet) lekarza podstawowej opieki zdrowotnej")],
    "managingOrganization": R("Organization", "poradnia-poz")})

NPWZ_V = "2234567"  # check digit (unverified algorithm) = (1*2+2*3+3*4+4*5+5*6+6*7) mod 11 = 2
ex("Practitioner", "piotr-wisniewski", "PLPractitioner", {
    "identifier": [{"system": NPWZ_PHYS, "value": NPWZ_V}], "active": True,
    "name": [{"family": "Wiśniewski", "given": ["Piotr"], "prefix": ["lek."]}]})
ex("Practitioner", "maria-zielinska", "PLPractitioner", {
    "identifier": [{"system": PWZ_NURSE, "value": "1234567P"}], "name": [{"family": "Zielińska", "given": ["Maria"]}]})
ex("Practitioner", "katarzyna-lewandowska", "PLPractitioner", {
    "identifier": [{"system": NPWZ_PHARM, "value": "31245"}], "name": [{"family": "Lewandowska", "given": ["Katarzyna"], "prefix": ["mgr farm."]}]})
ex("Practitioner", "ewa-dabrowska", "PLPractitioner", {
    "identifier": [{"system": PWZ_LAB, "value": "10234"}], "name": [{"family": "Dąbrowska", "given": ["Ewa"]}]})
ex("PractitionerRole", "piotr-wisniewski-poz", "PLPractitionerRole", {
    "identifier": [{"system": NPWZ_PHYS, "value": NPWZ_V}], "active": True,
    "practitioner": R("Practitioner", "piotr-wisniewski", "lek. Piotr Wiśniewski"),
    "organization": R("Organization", "poradnia-poz"),
    "code": [cc(PROFESSION, "LEK", "Lekarz")],
    "specialty": [cc(SPECIALTY, "0760", "medycyna rodzinna")]})
ex("PractitionerRole", "katarzyna-lewandowska-apteka", "PLPractitionerRole", {
    "identifier": [{"system": NPWZ_PHARM, "value": "31245"}],
    "practitioner": R("Practitioner", "katarzyna-lewandowska"), "organization": R("Organization", "apteka-pod-orlem"),
    "code": [cc(PROFESSION, "FARM", "Farmaceuta")]})

# ---------------------------------------------------------------- patients
ex("Patient", "anna-kowalska", "PLPatient", {
    "identifier": [{"system": PESEL, "value": PESEL_ANNA}], "active": True,
    "name": [{"use": "official", "family": "Kowalska", "given": ["Anna", "Maria"]}],
    "telecom": [{"system": "phone", "value": "+48 600 100 200", "use": "mobile"}],
    "gender": "female", "birthDate": "1985-07-12", "address": [ADDR_WAW],
    "generalPractitioner": [R("PractitionerRole", "piotr-wisniewski-poz")],
    "managingOrganization": R("Organization", "przychodnia-zdrowie")})
ex("Patient", "jan-nowak", "PLPatient", {
    "identifier": [{"system": PESEL, "value": PESEL_JAN}], "name": [{"family": "Nowak", "given": ["Jan"]}],
    "gender": "male", "birthDate": "1948-03-02"})
ex("Patient", "zofia-kowalska", "PLPatient", {
    "identifier": [{"system": PESEL, "value": PESEL_ZOFIA}], "name": [{"family": "Kowalska", "given": ["Zofia"]}],
    "gender": "female", "birthDate": "2012-05-30"})
ex("Patient", "noworodek-kowalska", "PLPatient", {
    "extension": [{"url": sdurl("PLPatientIdentifierOfMother"), "valueIdentifier": {"system": PESEL, "value": PESEL_ANNA}}],
    "name": [{"family": "Kowalska"}], "gender": "female", "birthDate": "2026-11-24", "multipleBirthInteger": 1})
ex("Patient", "nn-2026-0001", "PLPatient", {
    "name": [{"use": "anonymous", "text": "NN"}], "gender": "unknown"})
ex("Patient", "olena-shevchenko", "PLPatient", {
    "identifier": [{"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "PPN"}]},
                    "system": PASSPORT_PREFIX + "804", "value": "FE123456"}],
    "name": [{"family": "Shevchenko", "given": ["Olena"]}], "gender": "female", "birthDate": "1990-02-14"})
ex("Patient", "lukas-novak", "PLPatient", {
    "identifier": [{"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "CZ"}]},
                    "system": IDCARD_PREFIX + "203", "value": "205123456"}],
    "name": [{"family": "Novák", "given": ["Lukáš"]}], "gender": "male", "birthDate": "1979-09-23"})
ex("RelatedPerson", "tomasz-kowalski", "PLRelatedPerson", {
    "identifier": [{"system": PESEL, "value": PESEL_TOMASZ}], "patient": R("Patient", "zofia-kowalska"),
    "relationship": [cc("http://terminology.hl7.org/CodeSystem/v3-RoleCode", "FTH", "father")],
    "name": [{"family": "Kowalski", "given": ["Tomasz"]}], "gender": "male", "birthDate": "1983-11-04"})

# ---------------------------------------------------------------- encounter, condition
ex("Encounter", "wizyta-2026-11-26", "PLEncounter", {
    "identifier": [{"system": LOCAL_ROOT + "1234.15.1", "value": "6f1c2b1e-9a53-4a8e-b0f1-3c2d9e7a1b10"}],
    "status": "finished", "class": coding(EVENT_TYPE, "4", "Porada"),
    "subject": R("Patient", "anna-kowalska"),
    "participant": [{"extension": [{"url": sdurl("PLFunction"), "valueCoding": coding(OID + ".11.1.80", "11")}],
                     "individual": R("PractitionerRole", "piotr-wisniewski-poz")}],
    "period": {"start": "2026-11-26T09:00:00+01:00", "end": "2026-11-26T09:20:00+01:00"},
    "diagnosis": [{"condition": R("Condition", "zapalenie-oskrzeli"), "rank": 1}],
    "location": [{"location": R("Location", "gabinet-poz-1")}],
    "serviceProvider": R("Organization", "poradnia-poz")})
ex("Condition", "zapalenie-oskrzeli", "PLCondition", {
    "clinicalStatus": cc("http://terminology.hl7.org/CodeSystem/condition-clinical", "active"),
    "category": [cc("http://terminology.hl7.org/CodeSystem/condition-category", "encounter-diagnosis")],
    "code": {"coding": [coding(ICD10, "J20.9", "Ostre zapalenie oskrzeli, nieokreślone")]},
    "subject": R("Patient", "anna-kowalska"), "encounter": R("Encounter", "wizyta-2026-11-26"),
    "recordedDate": "2026-11-26", "asserter": R("PractitionerRole", "piotr-wisniewski-poz")})

# ---------------------------------------------------------------- medication
ex("Medication", "amotaks-1000", "PLMedication", {
    "code": {"coding": [coding(RPL_PRODUCT, "100071560", "Amotaks 1000 mg tabletki"), coding(GTIN, "05909990123452", "Amotaks 1000 mg, 16 tabl.")],
             "text": "Amotaks 1000 mg, 16 tabletek"},
    "form": cc(EDQM, "10219000", "Tablet"),
    "extension": [{"url": sdurl("PLAvailabilityCategory"), "valueCoding": coding(AVAILABILITY, "Rp")}],
    "ingredient": [{"itemCodeableConcept": cc(RPL_SUBSTANCE, "2110", "Amoxicillinum"), "isActive": True,
                    "strength": {"numerator": {"value": 1000, "unit": "mg", "system": "http://unitsofmeasure.org", "code": "mg"},
                                 "denominator": {"value": 1, "unit": "tabl."}}}]})
PKG = {"system": PKG_KEY, "value": "8f3a2c51d7e04b6a9c1e"}
def mr(rid, med, validity, start, end, level, extra_cat=None, entitlements=(), avail="Rp"):
    cats = [cc(RRECE, "ZW", "zwykła")]
    if validity:
        cats.append(cc(cs("pl-prescription-validity"), validity))
    ext = [{"url": sdurl("PLPaymentLevel"), "valueCoding": coding(PAYMENT_LEVEL, level)},
           {"url": sdurl("PLAvailabilityCategory"), "valueCoding": coding(AVAILABILITY, avail)}]
    ext += [{"url": sdurl("PLAdditionalEntitlement"), "valueCoding": coding(ENTITLEMENT, e)} for e in entitlements]
    return ex("MedicationRequest", rid, "PLMedicationRequest", {
        "extension": ext,
        "identifier": [{"system": LOCAL_ROOT + "1234.2.1", "value": "2026112600000000" + rid[-6:].replace("-", "0").zfill(6)[-6:]}],
        "status": "active", "intent": "order", "category": cats, **med,
        "subject": R("Patient", "anna-kowalska"), "encounter": R("Encounter", "wizyta-2026-11-26"),
        "authoredOn": start, "requester": R("PractitionerRole", "piotr-wisniewski-poz"),
        "reasonReference": [R("Condition", "zapalenie-oskrzeli")],
        "groupIdentifier": dict(PKG),
        "dosageInstruction": [{"text": "1 tabletka co 12 godzin przez 7 dni",
                               "timing": {"repeat": {"frequency": 2, "period": 1, "periodUnit": "d", "boundsDuration": {"value": 7, "unit": "d", "system": "http://unitsofmeasure.org", "code": "d"}}},
                               "doseAndRate": [{"doseQuantity": {"value": 1, "unit": "tabl."}}]}],
        "dispenseRequest": {"validityPeriod": {"start": start, "end": end},
                            "quantity": {"value": 1, "unit": "op."}},
        "substitution": {"allowedBoolean": True}})
mr("rx-amotaks-000001", {"medicationReference": R("Medication", "amotaks-1000", "Amotaks 1000 mg, 16 tabl.")},
   "antibiotic", "2026-11-26", "2026-12-03", "100%")
mr("rx-metformax-000002", {"medicationCodeableConcept": {"coding": [coding(RPL_PRODUCT, "100013451", "Metformax 500 mg tabletki")], "text": "Metformax 500, 60 tabl."}},
   None, "2026-11-26", "2026-12-26", "R", entitlements=["S"])
EX[("MedicationRequest", "rx-metformax-000002")]["dosageInstruction"][0] = {"text": "1 tabletka 2 razy dziennie", "timing": {"repeat": {"frequency": 2, "period": 1, "periodUnit": "d"}}}
ex("Bundle", "pakiet-recept-1", "PLPrescriptionPackage", {"type": "transaction", "entry": [
    {"fullUrl": f"urn:uuid:0c7a{n}e2d-1f4b-4c1a-9e0b-5b2a7d4c8e1{n}", "resource": copy.deepcopy(EX[("MedicationRequest", rid)]),
     "request": {"method": "POST", "url": "MedicationRequest"}} for n, rid in ((1, "rx-amotaks-000001"), (2, "rx-metformax-000002"))]})
for e in EX[("Bundle", "pakiet-recept-1")]["entry"]:
    del e["resource"]["id"]
ex("MedicationDispense", "realizacja-amotaks", "PLMedicationDispense", {
    "identifier": [{"system": LOCAL_ROOT + "5678.2.5", "value": "R-2026-000123"}],
    "status": "completed", "medicationReference": R("Medication", "amotaks-1000"),
    "subject": R("Patient", "anna-kowalska"),
    "performer": [{"actor": R("PractitionerRole", "katarzyna-lewandowska-apteka")}],
    "authorizingPrescription": [R("MedicationRequest", "rx-amotaks-000001")],
    "quantity": {"value": 1, "unit": "op."}, "whenPrepared": "2026-11-27T10:12:00+01:00", "whenHandedOver": "2026-11-27T10:15:00+01:00",
    "dosageInstruction": [{"text": "1 tabletka co 12 godzin przez 7 dni"}]})

# EU MPD
ex("Medication", "eu-amoxicillin", "EUMedication", {
    "identifier": [{"system": GTIN, "value": "05909990123452"}],
    "code": {"coding": [{"system": "http://www.whocc.no/atc", "code": "J01CA04", "display": "amoxicillin"}], "text": "Amotaks 1000 mg, 16 tablets"},
    "form": cc("http://standardterms.edqm.eu", "10219000", "Tablet")})
ex("MedicationRequest", "eu-rx-1", "EUMedicationRequest", {
    "identifier": [{"system": LOCAL_ROOT + "1234.2.1", "value": "2026112600000000000001"}],
    "status": "active", "intent": "order", "medicationReference": R("Medication", "eu-amoxicillin"),
    "subject": R("Patient", "anna-kowalska"), "authoredOn": "2026-11-26", "requester": R("PractitionerRole", "piotr-wisniewski-poz"),
    "dosageInstruction": [{"text": "1 tablet every 12 hours for 7 days"}],
    "dispenseRequest": {"extension": [{"url": "https://profiles.ihe.net/PHARM/MPD/StructureDefinition/ihe-ext-medicationrequest-prescribedQuantity",
                                        "valueQuantity": {"value": 1, "unit": "package"}}],
                        "validityPeriod": {"start": "2026-11-26", "end": "2026-12-03"}, "quantity": {"value": 1, "unit": "package"}},
    "substitution": {"allowedBoolean": False}})
ex("MedicationDispense", "eu-dispense-1", "EUMedicationDispense", {
    "extension": [{"url": "http://hl7.org/fhir/5.0/StructureDefinition/extension-MedicationDispense.recorded", "valueDateTime": "2026-11-28T14:05:00+02:00"}],
    "status": "completed", "medicationReference": R("Medication", "eu-amoxicillin"), "subject": R("Patient", "anna-kowalska"),
    "performer": [{"actor": {"display": "Apteekki Helsinki, pharmacist M. Virtanen"}}],
    "authorizingPrescription": [R("MedicationRequest", "eu-rx-1")], "quantity": {"value": 1, "unit": "package"},
    "whenHandedOver": "2026-11-28T14:00:00+02:00", "substitution": {"wasSubstituted": False}})

# ---------------------------------------------------------------- orders
ex("ServiceRequest", "skierowanie-kardiolog", "PLServiceRequest", {
    "identifier": [{"system": LOCAL_ROOT + "1234.4.1", "value": "2026112600000000000101"}],
    "status": "active", "intent": "order", "category": [cc(P1_DOC_CLASS, "02.11", "Skierowanie na konsultację")],
    "code": {"coding": [coding(ICD9PL, "89.00", "Porada lekarska, konsultacja, asysta")], "text": "Konsultacja kardiologiczna"},
    "subject": R("Patient", "jan-nowak"), "authoredOn": "2026-11-26T10:00:00+01:00",
    "requester": R("PractitionerRole", "piotr-wisniewski-poz"),
    "reasonCode": [{"coding": [coding(ICD10, "I10", "Samoistne (pierwotne) nadciśnienie")]}]})
ex("DeviceRequest", "zlecenie-pieluchomajtki", "PLDeviceRequest", {
    "identifier": [{"system": LOCAL_ROOT + "1234.30.1", "value": "ZWM-2026-000045"}],
    "status": "active", "intent": "order", "codeCodeableConcept": {"text": "Pieluchomajtki, rozmiar L, 60 szt./miesiąc"},
    "subject": R("Patient", "jan-nowak"), "authoredOn": "2026-11-26",
    "occurrencePeriod": {"start": "2026-12-01", "end": "2027-05-31"},
    "requester": R("PractitionerRole", "piotr-wisniewski-poz"), "insurance": [R("Coverage", "nfz-jan-nowak")]})

# ---------------------------------------------------------------- lab, imaging, immunization
UCUM = "http://unitsofmeasure.org"
LAB_CAT = [cc("http://terminology.hl7.org/CodeSystem/observation-category", "laboratory")]
INTERP = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
LAB_PERFORMERS = [R("Organization", "przychodnia-zdrowie", "Przychodnia Zdrowie Sp. z o.o. (laboratorium)"),
                  R("Practitioner", "ewa-dabrowska", "diagn. lab. Ewa Dąbrowska")]


def ucum(value, unit):
    return {"value": value, "unit": unit, "system": UCUM, "code": unit}


def lab_result(rid, loinc, display, text, value, unit, low, high):
    return ex("Observation", rid, "PLObservationLab", {
        "status": "final", "category": copy.deepcopy(LAB_CAT),
        "code": {"coding": [coding(LOINC, loinc, display)], "text": text},
        "subject": R("Patient", "anna-kowalska"), "effectiveDateTime": "2026-11-25T07:30:00+01:00",
        "issued": "2026-11-25T11:40:00+01:00", "performer": copy.deepcopy(LAB_PERFORMERS),
        "valueQuantity": ucum(value, unit),
        "interpretation": [cc(INTERP, "N", "Normal")],
        "referenceRange": [{"low": ucum(low, unit), "high": ucum(high, unit)}]})
lab_result("hgb-anna", "718-7", "Hemoglobin [Mass/volume] in Blood", "Hemoglobina", 13.2, "g/dL", 12, 16)
lab_result("wbc-anna", "6690-2", "Leukocytes [#/volume] in Blood by Automated count", "Leukocyty (WBC)", 6.8, "10*3/uL", 4, 10)
ex("Observation", "morfologia-panel-anna", "PLObservationLab", {
    "status": "final", "category": copy.deepcopy(LAB_CAT),
    "code": {"coding": [coding(LOINC, "58410-2", "CBC panel - Blood by Automated count")], "text": "Morfologia krwi"},
    "subject": R("Patient", "anna-kowalska"), "effectiveDateTime": "2026-11-25T07:30:00+01:00",
    "issued": "2026-11-25T11:40:00+01:00", "performer": copy.deepcopy(LAB_PERFORMERS),
    "hasMember": [R("Observation", "hgb-anna"), R("Observation", "wbc-anna")]})
ex("DiagnosticReport", "morfologia-anna", "PLDiagnosticReportLab", {
    "contained": [{"resourceType": "Specimen", "id": "krew-anna",
                   "accessionIdentifier": {"system": LOCAL_ROOT + "1234.50.2", "value": "P-2026-11-25-0456"},
                   "status": "available", "type": cc("http://terminology.hl7.org/CodeSystem/v2-0487", "BLD", "Whole blood"),
                   "subject": R("Patient", "anna-kowalska"),
                   "collection": {"collectedDateTime": "2026-11-25T07:30:00+01:00",
                                  "collector": R("Practitioner", "maria-zielinska")},
                   "container": [{"description": "Probówka K2EDTA 2 ml"}]}],
    "identifier": [{"system": LOCAL_ROOT + "1234.50.1", "value": "LAB-2026-0456"}],
    "status": "final", "category": [cc("http://terminology.hl7.org/CodeSystem/v2-0074", "LAB")],
    "code": {"coding": [coding(LOINC, "58410-2", "CBC panel - Blood by Automated count"),
                        coding(ICD9PL, "C53", "Morfologia krwi 8-parametrowa")], "text": "Morfologia krwi"},
    "subject": R("Patient", "anna-kowalska"), "effectiveDateTime": "2026-11-25T07:30:00+01:00", "issued": "2026-11-25T12:00:00+01:00",
    "performer": [R("Organization", "przychodnia-zdrowie")], "resultsInterpreter": [R("Practitioner", "ewa-dabrowska")],
    "specimen": [{"reference": "#krew-anna"}],
    "result": [R("Observation", "morfologia-panel-anna"), R("Observation", "hgb-anna"), R("Observation", "wbc-anna")],
    "conclusion": "Morfologia krwi w normie."})
ex("DiagnosticReport", "rtg-klatki-jan", "PLDiagnosticReportImaging", {
    "status": "final", "category": [cc("http://terminology.hl7.org/CodeSystem/v2-0074", "RAD")],
    "code": {"coding": [coding(ICD9PL, "87.440", "RTG klatki piersiowej")]},
    "subject": R("Patient", "jan-nowak"), "issued": "2026-11-20T13:00:00+01:00",
    "resultsInterpreter": [R("PractitionerRole", "piotr-wisniewski-poz")],
    "conclusion": "Płuca bez zmian ogniskowych. Sylwetka serca w normie.",
    "conclusionCode": [cc(ICD10, "Z01.6", "Badanie radiologiczne, niesklasyfikowane gdzie indziej")]})
ex("Immunization", "szczepienie-grypa-jan", "PLImmunization", {
    "status": "completed", "vaccineCode": {"text": "Vaxigrip Tetra (szczepionka przeciw grypie)"},
    "patient": R("Patient", "jan-nowak"), "occurrenceDateTime": "2026-10-15T11:00:00+02:00", "primarySource": True,
    "lotNumber": "W3C512V", "performer": [{"actor": R("Practitioner", "maria-zielinska")}]})

# ---------------------------------------------------------------- consents
def consent(rid, ctype, start, end, actor, cls=None, actor_role="DELEGATEE"):
    prov = {"type": "permit", "period": {"start": start, "end": end},
            "actor": [{"role": cc("http://terminology.hl7.org/CodeSystem/v3-RoleCode", actor_role), "reference": actor}]}
    if cls:
        prov["class"] = [{"system": "http://hl7.org/fhir/resource-types", "code": c} for c in cls]
    return ex("Consent", rid, "PLConsent", {
        "status": "active", "scope": cc("http://terminology.hl7.org/CodeSystem/consentscope", "patient-privacy"),
        "category": [cc(cs("pl-ikp-authorization-type"), ctype)], "patient": R("Patient", "anna-kowalska"),
        "dateTime": start, "performer": [R("Patient", "anna-kowalska")],
        "policyRule": cc("http://terminology.hl7.org/CodeSystem/v3-ActCode", "OPTIN"), "provision": prov})
consent("upowaznienie-jan-odczyt", "proxy-read", "2026-11-01T00:00:00+01:00", "2027-10-31T23:59:59+01:00", R("Patient", "jan-nowak"))
consent("upowaznienie-apteka", "prescriptions-only", "2026-11-26T00:00:00+01:00", "2026-12-31T23:59:59+01:00",
        R("Organization", "apteka-pod-orlem"), ["MedicationRequest", "MedicationDispense"])
consent("upowaznienie-lekarz-24h", "doctor-24h", "2026-11-26T09:00:00+01:00", "2026-11-27T09:00:00+01:00",
        R("PractitionerRole", "piotr-wisniewski-poz"))

ex("CarePlan", "ipom-jan-nowak", "PLCarePlan", {
    "contained": [{"resourceType": "Goal", "id": "cel-cisnienie", "lifecycleStatus": "active",
                   "description": {"text": "Ciśnienie tętnicze poniżej 140/90 mmHg"}, "subject": R("Patient", "jan-nowak"),
                   "target": [{"measure": cc(LOINC, "8480-6", "Systolic blood pressure"),
                               "detailQuantity": {"value": 140, "comparator": "<", "unit": "mm[Hg]", "system": UCUM, "code": "mm[Hg]"},
                               "dueDate": "2027-05-26"}]}],
    "identifier": [{"system": LOCAL_ROOT + "1234.26.1", "value": "IPOM-2026-0007"}],
    "status": "active", "intent": "plan", "category": [cc(cs("pl-care-plan-type"), "IPOM", "Indywidualny plan opieki medycznej")],
    "title": "IPOM: nadciśnienie tętnicze", "subject": R("Patient", "jan-nowak"),
    "period": {"start": "2026-11-26", "end": "2027-11-25"}, "author": R("PractitionerRole", "piotr-wisniewski-poz"),
    "goal": [{"reference": "#cel-cisnienie"}],
    "activity": [{"reference": R("ServiceRequest", "skierowanie-kardiolog")},
                 {"detail": {"kind": "Appointment", "status": "scheduled", "description": "Wizyta kontrolna u lekarza POZ co 3 miesiące"}}]})

# ---------------------------------------------------------------- documents
DOCS = {"00.20": ("34105-7", "Hospital Discharge summary", "Karta informacyjna leczenia szpitalnego"),
        "00.65": ("34105-7", "Hospital Discharge summary", "Informacja o odmowie przyjęcia do szpitala"),
        "08.90": ("34133-9", "Summary of episode note", "Informacja dla lekarza kierującego"),
        "06.10": ("11502-2", "Laboratory report", "Wynik badania laboratoryjnego"),
        "06.00": ("18748-4", "Diagnostic imaging study", "Opis badania diagnostycznego")}
def comp(rid, klass):
    loinc, ldisp, title = DOCS[klass]
    return ex("Composition", rid, "PLComposition", {
        "extension": [{"url": sdurl("PLDocumentVersion"), "valueString": "1"}],
        "identifier": {"system": LOCAL_ROOT + "1234.20.1", "value": f"DOC-2026-{rid}"},
        "status": "final", "type": {"coding": [coding(LOINC, loinc, ldisp)]},
        "category": [{"coding": [coding(P1_DOC_CLASS, klass, dict(DOCCLS_D)[klass])]}],
        "subject": R("Patient", "anna-kowalska"), "encounter": R("Encounter", "wizyta-2026-11-26"),
        "date": "2026-11-26T12:00:00+01:00", "author": [R("PractitionerRole", "piotr-wisniewski-poz")], "title": title,
        "attester": [{"mode": "legal", "time": "2026-11-26T12:05:00+01:00", "party": R("PractitionerRole", "piotr-wisniewski-poz")}],
        "custodian": R("Organization", "przychodnia-zdrowie"),
        "section": [{"title": "Rozpoznanie", "code": cc(LOINC, "29548-5", "Diagnosis Narrative"),
                     "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">J20.9 Ostre zapalenie oskrzeli</div>"},
                     "entry": [R("Condition", "zapalenie-oskrzeli")]}]})
DOCCLS_D = [("00.20", "Karta informacyjna leczenia szpitalnego"), ("00.65", "Informacja o odmowie przyjęcia"),
            ("08.90", "Informacja dla lekarza kierującego/POZ"), ("06.10", "Wynik badania laboratoryjnego"), ("06.00", "Opis badania diagnostycznego")]
for rid, k in (("karta-wypisowa", "00.20"), ("odmowa-przyjecia", "00.65"), ("informacja-dla-lekarza", "08.90"),
               ("wynik-laboratoryjny", "06.10"), ("opis-badania", "06.00")):
    comp(rid, k)
def docbundle(rid, comp_id, extra):
    c = copy.deepcopy(EX[("Composition", comp_id)])
    entries = [{"fullUrl": f"https://ikp.example.org/fhir/Composition/{comp_id}", "resource": c}]
    for t, i in extra:
        entries.append({"fullUrl": f"https://ikp.example.org/fhir/{t}/{i}", "resource": copy.deepcopy(EX[(t, i)])})
    return ex("Bundle", rid, "PLDocumentBundle", {"identifier": {"system": LOCAL_ROOT + "1234.20.2", "value": rid},
        "type": "document", "timestamp": "2026-11-26T12:05:00+01:00", "entry": entries})
docbundle("dokument-karta-wypisowa", "karta-wypisowa", [("Patient", "anna-kowalska"), ("Encounter", "wizyta-2026-11-26"),
    ("Condition", "zapalenie-oskrzeli"), ("PractitionerRole", "piotr-wisniewski-poz"), ("Organization", "przychodnia-zdrowie")])
ex("DocumentReference", "edm-karta-wypisowa", "PLDocumentReference", {
    "masterIdentifier": {"system": LOCAL_ROOT + "1234.20.1", "value": "DOC-2026-karta-wypisowa"},
    "identifier": [{"system": "urn:ietf:rfc:3986", "value": "urn:uuid:5b1e9d3c-7a2f-4e0b-8c6d-1f2a3b4c5d6e"}],
    "status": "current", "type": {"coding": [coding(LOINC, "34105-7", "Hospital Discharge summary"),
                                             coding(P1_DOC_CLASS, "00.20", "Karta informacyjna leczenia szpitalnego")]},
    "subject": R("Patient", "anna-kowalska"), "date": "2026-11-26T12:05:00+01:00",
    "author": [R("PractitionerRole", "piotr-wisniewski-poz")], "custodian": R("Organization", "przychodnia-zdrowie"),
    "content": [{"attachment": {"contentType": "application/hl7-v3+xml", "url": "https://repozytorium.przychodnia-zdrowie.example/edm/DOC-2026-karta-wypisowa", "title": "Karta informacyjna"},
                 "format": {"system": "urn:oid:1.3.6.1.4.1.19376.1.2.3", "code": "urn:ihe:iti:xds-sd:text:2008"}}],
    "context": {"encounter": [R("Encounter", "wizyta-2026-11-26")]}})
ex("Composition", "e-zla-anna", "PLSickLeave", {
    "extension": [{"url": sdurl("PLEmployerIdentifier"), "valueIdentifier": {"system": NIP, "value": NIP_V}}],
    "identifier": {"system": ZLA_ID, "value": "ZY1234567"}, "status": "final",
    "type": cc(cs("pl-document-type-local"), "e-ZLA", "Zaświadczenie lekarskie e-ZLA"),
    "subject": R("Patient", "anna-kowalska"), "date": "2026-11-26T09:25:00+01:00",
    "author": [R("PractitionerRole", "piotr-wisniewski-poz")], "title": "Zaświadczenie lekarskie o czasowej niezdolności do pracy",
    "event": [{"period": {"start": "2026-11-26", "end": "2026-12-02"}}],
    "section": [{"title": "Rozpoznanie", "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">J20.9</div>"},
                 "entry": [R("Condition", "zapalenie-oskrzeli")]}]})

ex("Coverage", "nfz-jan-nowak", "PLCoverage", {
    "status": "active", "type": cc("http://terminology.hl7.org/CodeSystem/v3-ActCode", "PUBLICPOL", "public healthcare"),
    "beneficiary": R("Patient", "jan-nowak"), "period": {"start": "2026-01-01"},
    "payor": [{"reference": "Organization/nfz-07", "identifier": {"system": NFZ_BRANCH, "value": "07"}}]})

# ---------------------------------------------------------------- e-registration
ex("Schedule", "kardiologia-2026-12", "PLSchedule", {
    "active": True, "serviceType": [cc(CELL_TYPE, "1100", "Poradnia kardiologiczna")],
    "actor": [R("Location", "gabinet-poz-1")], "planningHorizon": {"start": "2026-12-01", "end": "2026-12-31"}})
ex("Slot", "kardiologia-2026-12-10-0900", "PLSlot", {
    "schedule": R("Schedule", "kardiologia-2026-12"), "status": "busy",
    "start": "2026-12-10T09:00:00+01:00", "end": "2026-12-10T09:20:00+01:00"})
ex("Appointment", "wizyta-kardiolog-jan", "PLAppointment", {
    "status": "booked", "serviceType": [cc(CELL_TYPE, "1100", "Poradnia kardiologiczna")],
    "slot": [R("Slot", "kardiologia-2026-12-10-0900")], "basedOn": [R("ServiceRequest", "skierowanie-kardiolog")],
    "start": "2026-12-10T09:00:00+01:00", "end": "2026-12-10T09:20:00+01:00",
    "participant": [{"actor": R("Patient", "jan-nowak"), "status": "accepted"}, {"actor": R("Location", "gabinet-poz-1"), "status": "accepted"}]})

ex("Task", "ekuz-anna-2026", "PLTaskEhic", {
    "identifier": [{"system": EHIC_CASE, "value": "EKUZ/07/2026/004512"}], "status": "in-progress", "intent": "order",
    "businessStatus": cc(cs("pl-ehic-status"), "under-review", "w trakcie rozpatrywania"),
    "code": cc(cs("pl-task-type"), "ehic-application", "wniosek o EKUZ"),
    "for": R("Patient", "anna-kowalska"), "authoredOn": "2026-11-20T18:00:00+01:00", "owner": R("Organization", "nfz-07")})
ex("Task", "deklaracja-poz-anna", "PLTaskPrimaryCareDeclaration", {
    "status": "completed", "intent": "order", "code": cc(cs("pl-task-type"), "poz-doctor", "deklaracja wyboru lekarza POZ"),
    "focus": R("PractitionerRole", "piotr-wisniewski-poz"), "for": R("Patient", "anna-kowalska"),
    "requester": R("Patient", "anna-kowalska"), "owner": R("Organization", "przychodnia-zdrowie"),
    "authoredOn": "2026-01-15T20:00:00+01:00", "executionPeriod": {"start": "2026-01-15", "end": "2026-01-16"}})

for (t, i), r in EX.items():
    write(f"examples/{t}-{i}.json", r)
print(len(EX), "examples")
