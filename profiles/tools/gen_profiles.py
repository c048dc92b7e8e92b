"""Generates profiles/StructureDefinition-*.json. The JSON files are the reviewable source; this script
is only how they were first produced (keep both in sync, or edit the JSON and drop the script)."""
from common import *

P = []  # all structure definitions


def add(sd):
    P.append(sd)
    return sd

PESEL_P = f"identifier.where(system='{PESEL}').value.first()"
PESEL_OK = f"identifier.where(system = '{PESEL}' and value.matches('^[0-9]{{11}}$')).exists()"
VP_OK = "dispenseRequest.validityPeriod.start.exists() and dispenseRequest.validityPeriod.end.exists()"

# ---------------------------------------------------------------- extensions
add(extension("PLPatientIdentifierOfMother", "Mother's identifier (identyfikator matki)",
    "Identifier (usually PESEL) of the mother of a newborn that has no PESEL of its own yet "
    "(identyfikator matki noworodka). Source: HL7 PL patient-identifierOfMother [S2].",
    ["Patient"], ["Identifier"],
    extra=[E("Extension.value[x].system", min=1), E("Extension.value[x].value", min=1)]))
add(extension("PLPaymentLevel", "Payment level (poziom odpłatności)",
    "Payment level of a prescribed drug (poziom odpłatności): B, R, 30%, 50%, 100%. Exactly one per "
    "prescription (REG.WER.3222) [S8].", ["MedicationRequest"], ["Coding"],
    value_el={"binding": bind("pl-payment-level")}))
add(extension("PLAdditionalEntitlement", "Additional entitlement (uprawnienie dodatkowe)",
    "Additional entitlement of the patient applied to the prescription (uprawnienie dodatkowe, RLUD): S, C, IB, ... [S8].",
    ["MedicationRequest"], ["Coding"], value_el={"binding": bind("pl-additional-entitlement")}))
add(extension("PLAvailabilityCategory", "Availability category (kategoria dostępności leku)",
    "Availability category of the prescribed product (kategoria dostępności, KDLEK): Rp, Rpw, Rpz, OTC [S8].",
    ["MedicationRequest", "Medication"], ["Coding"], value_el={"binding": bind("pl-availability-category")}))
add(extension("PLPrescriptionStatusDetail", "Prescription status in P1 (status recepty)",
    "P1 status of the prescription that R4 MedicationRequest.status cannot carry, e.g. CZESCIOWO_ZREALIZOWANA "
    "(partially dispensed) [S8].", ["MedicationRequest"], ["Coding"],
    value_el={"binding": bind("pl-prescription-status")}))
add(extension("PLDocumentVersion", "Document version (wersja dokumentu)",
    "Version number of a medical document (wersja dokumentu), as in HL7 PL composition-version [S1].",
    ["Composition", "DocumentReference"], ["string"]))
add(extension("PLEmployerIdentifier", "Employer identifier (identyfikator płatnika składek)",
    "Identifier (NIP/REGON/PESEL) of the employer that receives the sick-leave certificate (płatnik składek) [S20].",
    ["Composition"], ["Identifier"]))
add(extension("PLFunction", "Professional function in the event (funkcja)",
    "Function of a participant in a medical event, P1 code system 2.16.840.1.113883.3.4424.11.1.80 [S8].",
    ["Encounter.participant", "Condition"], ["Coding"]))

# ---------------------------------------------------------------- Patient
pesel_slice = "Patient.identifier:pesel"
add(profile("PLPatient", "Patient", "PL Patient",
    "Patient registered in the Polish national patient account (pacjent). Identified by PESEL, or for foreigners by an "
    "identity card / passport identifier whose OID node carries the ISO 3166 numeric country code; a newborn without "
    "PESEL carries the mother's identifier; an unidentified patient has the name \"NN\" (pacjent NN).", [
    E("Patient", constraint=[
        inv("pl-pat-1", "PESEL birth date must equal Patient.birthDate (PESEL: data urodzenia niezgodna)",
            f"birthDate.exists() and birthDate.toString().length() = 10 and {PESEL_OK} implies "
            f"(birthDate.toString().substring(2,2) = {PESEL_P}.substring(0,2) and "
            f"birthDate.toString().substring(5,2).toInteger() = {PESEL_P}.substring(2,2).toInteger() mod 20 and "
            f"birthDate.toString().substring(8,2) = {PESEL_P}.substring(4,2) and "
            f"birthDate.toString().substring(0,2) = iif({PESEL_P}.substring(2,2).toInteger() > 80, '18', "
            f"iif({PESEL_P}.substring(2,2).toInteger() > 60, '22', iif({PESEL_P}.substring(2,2).toInteger() > 40, '21', "
            f"iif({PESEL_P}.substring(2,2).toInteger() > 20, '20', '19')))))"),
        inv("pl-pat-2", "PESEL sex digit (10th digit: odd male, even female) must agree with Patient.gender (PESEL: płeć niezgodna)",
            f"gender.exists() and (gender = 'male' or gender = 'female') and {PESEL_OK} implies "
            f"(({PESEL_P}.substring(9,1).toInteger() mod 2 = 0) = (gender = 'female'))"),
        inv("pl-pat-3", "Patient must have a PESEL, an ID card/passport identifier, the mother's identifier or the NN name",
            f"identifier.exists() or extension.where(url = '{sdurl('PLPatientIdentifierOfMother')}').exists() or name.where(text = 'NN').exists()"),
        inv("pl-pat-4", "A known name needs a family name; the NN name must be the only name",
            "name.where(text = 'NN').exists() implies name.count() = 1"),
    ]),
    *ext_slices("Patient", [("identifierOfMother", "PLPatientIdentifierOfMother", 0, "1")]),
    E("Patient.identifier", slicing=slicing("$this", "pattern"), mustSupport=True),
    E(pesel_slice, min=0, max="1", patternIdentifier={"system": PESEL}, short="PESEL"),
    E(pesel_slice + ".system", min=1),
    E(pesel_slice + ".value", min=1, constraint=[inv("pl-pesel",
        "PESEL must be 11 digits with a valid check digit (weights 1,3,7,9,1,3,7,9,1,3) (PESEL: nieprawidłowa suma kontrolna)",
        fpath_pesel())]),
    E("Patient.identifier:idCard", min=0, max="*",
      patternIdentifier={"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "CZ"}]}},
      short="Identity card (dowód osobisty) of a country"),
    E("Patient.identifier:idCard.system", min=1, constraint=[inv("pl-idcard",
        "ID card system must be urn:oid:2.16.840.1.113883.3.4424.1.2.{ISO 3166 numeric country}",
        "$this.matches('^urn:oid:2\\\\.16\\\\.840\\\\.1\\\\.113883\\\\.3\\\\.4424\\\\.1\\\\.2\\\\.[0-9]{3}$')")]),
    E("Patient.identifier:idCard.value", min=1),
    E("Patient.identifier:passport", min=0, max="*",
      patternIdentifier={"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "PPN"}]}},
      short="Passport (paszport) of a country"),
    E("Patient.identifier:passport.system", min=1, constraint=[inv("pl-passport",
        "Passport system must be urn:oid:2.16.840.1.113883.4.330.{ISO 3166 numeric country}",
        "$this.matches('^urn:oid:2\\\\.16\\\\.840\\\\.1\\\\.113883\\\\.4\\\\.330\\\\.[0-9]{3}$')")]),
    E("Patient.identifier:passport.value", min=1),
    E("Patient.name", min=1, slicing=slicing("text", "value"), constraint=[inv("pl-pat-name",
        "A known patient name needs a family name (nazwisko)", "(text.exists() and text = 'NN') or family.exists()")]),
    E("Patient.name:nn", min=0, max="1", short="Unidentified patient (pacjent NN)"),
    E("Patient.name:nn.text", min=1, fixedString="NN"),
    E("Patient.name:nn.family", max="0"),
    E("Patient.name:nn.given", max="0"),
    E("Patient.gender", mustSupport=True),
    E("Patient.birthDate", mustSupport=True),
    E("Patient.multipleBirth[x]", type=[{"code": "integer"}]),
    E("Patient.generalPractitioner", type=ref("PLPractitioner", "PLPractitionerRole", "PLOrganizationMedicalEntity")),
    E("Patient.managingOrganization", type=ref("PLOrganizationMedicalEntity")),
]))

add(profile("PLRelatedPerson", "RelatedPerson", "PL RelatedPerson",
    "Legal representative, legal guardian or parent of the patient (przedstawiciel ustawowy / opiekun prawny / rodzic), "
    "e.g. the parent who sees a child's IKP until age 18 [S16][S7].", [
    E("RelatedPerson.identifier", slicing=slicing("system"), min=1),
    E("RelatedPerson.identifier:pesel", min=0, max="1"),
    E("RelatedPerson.identifier:pesel.system", min=1, fixedUri=PESEL),
    E("RelatedPerson.identifier:pesel.value", min=1, constraint=[inv("pl-pesel", "PESEL must be 11 digits with a valid check digit", fpath_pesel())]),
    E("RelatedPerson.patient", type=ref("PLPatient")),
    E("RelatedPerson.relationship", min=1, binding=bind("pl-related-person-relationship", "extensible")),
    E("RelatedPerson.name", min=1),
    E("RelatedPerson.name.family", min=1),
]))

# ---------------------------------------------------------------- Practitioner
def licence_slices(root, card_min=0):
    els = [E(f"{root}.identifier", min=1, slicing=slicing("system"))]
    for name, sysu, label, rule in [
        ("npwzPhysician", NPWZ_PHYS, "physician/dentist NPWZ (numer prawa wykonywania zawodu lekarza)",
         [inv("pl-npwz-phys", "Physician NPWZ must be 7 digits", "$this.matches('^[0-9]{7}$')"),
          inv("pl-npwz-check", "Physician NPWZ check digit (first digit = (1*d2+2*d3+3*d4+4*d5+5*d6+6*d7) mod 11) does not match "
              "(algorithm unverified, hence a warning)",
              "$this.matches('^[0-9]{7}$') implies ((" + " + ".join(f"$this.substring({i},1).toInteger()*{i}" for i in range(1, 7))
              + ") mod 11) = $this.substring(0,1).toInteger()", "warning")]),
        ("pwzNurse", PWZ_NURSE, "nurse/midwife PWZ (pielęgniarka/położna)",
         inv("pl-pwz-nurse", "Nurse/midwife PWZ should be 7 digits followed by P (nurse) or A (midwife) (unverified format)",
             "$this.matches('^[0-9]{7}[PA]?$')", "warning")),
        ("npwzPharmacist", NPWZ_PHARM, "pharmacist PWZ (farmaceuta)", None),
        ("pwzLabDiagnostician", PWZ_LAB, "laboratory diagnostician PWZ (diagnosta laboratoryjny)", None),
        ("pwzPhysiotherapist", PWZ_PHYSIO, "physiotherapist PWZ (fizjoterapeuta)", None)]:
        els.append(E(f"{root}.identifier:{name}", min=0, max="1", short=label))
        els.append(E(f"{root}.identifier:{name}.system", min=1, fixedUri=sysu))
        rules = rule if isinstance(rule, list) else ([rule] if rule else [])
        els.append(E(f"{root}.identifier:{name}.value", min=1, **({"constraint": rules} if rules else {})))
    return els

add(profile("PLPractitioner", "Practitioner", "PL Practitioner",
    "Health professional (pracownik medyczny) identified by the licence number (numer prawa wykonywania zawodu, NPWZ/PWZ) "
    "from the register of the professional chamber; one slice per profession [S1][S8].", [
    E("Practitioner", constraint=[inv("pl-prac-1", "A practitioner needs at least one licence number (NPWZ/PWZ)",
        "identifier.where(system.startsWith('urn:oid:2.16.840.1.113883.3.4424.1.6.')).exists()")]),
    *licence_slices("Practitioner"),
    E("Practitioner.name", min=1),
    E("Practitioner.name.family", min=1),
    E("Practitioner.name.given", min=1),
]))

add(profile("PLPractitionerRole", "PractitionerRole", "PL PractitionerRole",
    "Role of a health professional at a Polish provider (rola pracownika medycznego): profession code (zawód medyczny), "
    "specialty and the organisation (medical entity, unit or cell) [S1].", [
    *licence_slices("PractitionerRole"),
    E("PractitionerRole.practitioner", min=1, type=ref("PLPractitioner")),
    E("PractitionerRole.organization", min=1, type=ref("PLOrganizationMedicalEntity", "PLOrganizationUnit", "PLOrganizationCell", "PLOrganizationPharmacy")),
    E("PractitionerRole.code", min=1, max="1", binding=bind("pl-medical-profession")),
    E("PractitionerRole.specialty", binding=bind("pl-practitioner-specialty", "extensible")),
]))

# ---------------------------------------------------------------- Organizations
def org(name, title, desc, slices, extra):
    els = [E("Organization.identifier", min=1, slicing=slicing("system"))]
    for sname, sysu, mn, mx, rule in slices:
        els.append(E(f"Organization.identifier:{sname}", min=mn, max=mx))
        els.append(E(f"Organization.identifier:{sname}.system", min=1, fixedUri=sysu))
        els.append(E(f"Organization.identifier:{sname}.value", min=1, **({"constraint": [rule]} if rule else {})))
    return add(profile(name, "Organization", title, desc, els + [E("Organization.name", min=1)] + extra))

REGON9_R = inv("pl-regon9", "REGON (9 digits) checksum invalid (weights 8,9,2,3,4,5,6,7) (REGON: nieprawidłowa suma kontrolna)", fpath_regon9())
REGON14_R = inv("pl-regon14", "REGON (14 digits) checksum invalid (weights 2,4,8,5,0,9,7,3,6,1,2,4,8) (REGON: nieprawidłowa suma kontrolna)", fpath_regon14())
NIP_R = inv("pl-nip", "NIP checksum invalid (weights 6,5,7,2,3,4,5,6,7) (NIP: nieprawidłowa suma kontrolna)", fpath_nip())
org("PLOrganizationMedicalEntity", "PL Organization: medical entity",
    "Medical entity (podmiot wykonujący działalność leczniczą) identified by part I of the kod resortowy "
    "(RPWDL register-book number, 12 digits), with optional REGON-9 and NIP; top of the hierarchy [S1][S2].",
    [("kodResortowyI", KR_I, 1, "1", inv("pl-kr1", "Kod resortowy part I must be 12 digits", "$this.matches('^[0-9]{12}$')")),
     ("regon9", REGON9, 0, "1", REGON9_R), ("nip", NIP, 0, "1", NIP_R)],
    [E("Organization.partOf", max="0"), E("Organization.address", min=1), E("Organization.telecom", min=1)])
org("PLOrganizationUnit", "PL Organization: organisational unit",
    "Organisational unit of a medical entity (jednostka organizacyjna; kod resortowy parts I+V) with optional REGON-14 "
    "of the local unit [S1][S10].",
    [("kodResortowyV", KR_V, 1, "1", None), ("regon14", REGON14, 0, "1", REGON14_R)],
    [E("Organization.partOf", min=1, type=ref("PLOrganizationMedicalEntity"))])
org("PLOrganizationCell", "PL Organization: organisational cell",
    "Organisational cell (komórka organizacyjna; kod resortowy parts I+VII, P1 value '{I}-{VII}') with its specialty "
    "(kod resortowy part VIII) in type [S1][S8].",
    [("kodResortowyVII", KR_VII, 1, "1", inv("pl-kr7", "Cell identifier must be '{part I 12 digits}-{part VII 3 digits}'",
        "$this.matches('^[0-9]{12}-[0-9]{3}$')"))],
    [E("Organization.partOf", min=1, type=ref("PLOrganizationMedicalEntity", "PLOrganizationUnit")),
     E("Organization.type", slicing=slicing("coding.system")),
     E("Organization.type:cellSpecialty", min=0, max="1"),
     E("Organization.type:cellSpecialty.coding.system", min=1, fixedUri=CELL_TYPE)])
org("PLOrganizationPharmacy", "PL Organization: pharmacy",
    "Pharmacy (apteka) identified in the pharmacy register (system ...2.6) [S1].",
    [("pharmacy", PHARMACY, 1, "1", None), ("nip", NIP, 0, "1", NIP_R)], [])
org("PLOrganizationNFZBranch", "PL Organization: NFZ branch",
    "Regional branch of the National Health Fund (oddział wojewódzki NFZ), codes 01-16 [S8].",
    [("nfzBranch", NFZ_BRANCH, 1, "1", inv("pl-nfz", "NFZ branch code must be 01-16",
        "$this.matches('^(0[1-9]|1[0-6])$')"))], [])

add(profile("PLLocation", "Location", "PL Location",
    "Place where care is provided (miejsce udzielania świadczeń): an organisational cell of a medical entity [S1].", [
    E("Location.identifier", slicing=slicing("system")),
    E("Location.identifier:cell", min=0, max="1"),
    E("Location.identifier:cell.system", min=1, fixedUri=KR_VII),
    E("Location.identifier:cell.value", min=1),
    E("Location.name", min=1),
    E("Location.type", binding=bind("pl-cell-specialty", "extensible")),
    E("Location.managingOrganization", min=1, type=ref("PLOrganizationMedicalEntity", "PLOrganizationUnit", "PLOrganizationCell")),
]))

# ---------------------------------------------------------------- clinical
add(profile("PLEncounter", "Encounter", "PL Encounter",
    "Visit / medical event (zdarzenie medyczne / wizyta) reported to P1; at least one diagnosis (REG.WER.10857) [S8].", [
    E("Encounter", constraint=[inv("pl-enc-1", "A finished encounter must have period.end", "status = 'finished' implies period.end.exists()")]),
    E("Encounter.identifier", min=1),
    E("Encounter.class", binding=bind("pl-encounter-class", "extensible")),
    E("Encounter.subject", min=1, type=ref("PLPatient")),
    *ext_slices("Encounter.participant", [("function", "PLFunction", 0, "1")]),
    E("Encounter.participant.individual", type=ref("PLPractitioner", "PLPractitionerRole")),
    E("Encounter.period", min=1),
    E("Encounter.period.start", min=1),
    E("Encounter.diagnosis", min=1),
    E("Encounter.diagnosis.condition", type=ref("PLCondition")),
    E("Encounter.hospitalization.dischargeDisposition", binding=bind("pl-discharge-disposition", "extensible")),
    E("Encounter.location.location", type=ref("PLLocation")),
    E("Encounter.serviceProvider", min=1, type=ref("PLOrganizationMedicalEntity", "PLOrganizationUnit", "PLOrganizationCell")),
]))

add(profile("PLCondition", "Condition", "PL Condition",
    "Diagnosis coded in ICD-10 (rozpoznanie, ICD-10) [S2][S8].", [
    E("Condition.code", min=1),
    E("Condition.code.coding", min=1, slicing=slicing("system")),
    E("Condition.code.coding:icd10", min=1, max="1"),
    E("Condition.code.coding:icd10.system", min=1, fixedUri=ICD10),
    E("Condition.code.coding:icd10.code", min=1, constraint=[inv("pl-icd10", "ICD-10 code must look like A00 or A00.0",
        "$this.matches('^[A-Z][0-9]{2}(\\\\.[0-9A-Z]{1,2})?$')")]),
    E("Condition.subject", type=ref("PLPatient")),
    E("Condition.encounter", type=ref("PLEncounter")),
    E("Condition.asserter", type=ref("PLPractitioner", "PLPractitionerRole")),
]))

# ---------------------------------------------------------------- medication
add(profile("PLMedication", "Medication", "PL Medication",
    "Medicinal product from the Polish register (Rejestr Produktów Leczniczych, RPL) with the GTIN of the package [S8].", [
    E("Medication.code", min=1),
    E("Medication.code.coding", min=1, slicing=slicing("system")),
    E("Medication.code.coding:rpl", min=0, max="1", short="RPL product id"),
    E("Medication.code.coding:rpl.system", min=1, fixedUri=RPL_PRODUCT),
    E("Medication.code.coding:rpl.code", min=1),
    E("Medication.code.coding:gtin", min=0, max="1", short="GTIN-14 of the package (EAN)"),
    E("Medication.code.coding:gtin.system", min=1, fixedUri=GTIN),
    E("Medication.code.coding:gtin.code", min=1, constraint=[inv("pl-gtin", "GTIN must be 14 digits", "$this.matches('^[0-9]{14}$')")]),
    E("Medication.form", binding=bind("pl-dose-form", "extensible")),
    *ext_slices("Medication", [("availabilityCategory", "PLAvailabilityCategory", 0, "1")]),
]))

MR = "MedicationRequest"
VP = f"{MR}.dispenseRequest.validityPeriod"
def vrule(code):
    return f"category.coding.where(system = '{cs('pl-prescription-validity')}' and code = '{code}').exists()"
add(profile("PLMedicationRequest", MR, "PL MedicationRequest (e-recepta item)",
    "One e-prescription (e-recepta) = one prescribed item; the package (pakiet recept) is groupIdentifier; exactly one payment "
    "level (poziom odpłatności), prescription type (rodzaj recepty), availability category, entitlements and the "
    "realisation period (okres realizacji) in dispenseRequest.validityPeriod [S8][S14].", [
    E(MR, constraint=[
        inv("pl-rx-1", "Standard prescription validity may not exceed 30 days (e-recepta: okres realizacji > 30 dni)",
            f"{VP_OK} and ({vrule('antibiotic')} or {vrule('immunological')} or {vrule('targeted-import')} or {vrule('chronic-365')}).not() "
            f"implies dispenseRequest.validityPeriod.end <= dispenseRequest.validityPeriod.start + 30 days"),
        inv("pl-rx-2", "Antibiotic prescription validity may not exceed 7 days (antybiotyk: okres realizacji > 7 dni)",
            f"{VP_OK} and {vrule('antibiotic')} implies dispenseRequest.validityPeriod.end <= dispenseRequest.validityPeriod.start + 7 days"),
        inv("pl-rx-3", "Immunological / targeted-import prescription validity may not exceed 120 days",
            f"{VP_OK} and ({vrule('immunological')} or {vrule('targeted-import')}) implies dispenseRequest.validityPeriod.end <= dispenseRequest.validityPeriod.start + 120 days"),
        inv("pl-rx-4", "Prescription validity may not exceed 365 days",
            f"{VP_OK} implies dispenseRequest.validityPeriod.end <= dispenseRequest.validityPeriod.start + 365 days"),
        inv("pl-rx-5", "Exactly one payment level per prescription (jeden poziom odpłatności na receptę)",
            f"extension.where(url = '{sdurl('PLPaymentLevel')}').count() = 1"),
        inv("pl-rx-6", "Prescription number must be minted under the provider node {x}.2.1",
            "identifier.where(system.matches('^urn:oid:2\\\\.16\\\\.840\\\\.1\\\\.113883\\\\.3\\\\.4424\\\\.2\\\\.7\\\\.[0-9]+\\\\.2\\\\.1$')).exists()"),
    ]),
    *ext_slices(MR, [("paymentLevel", "PLPaymentLevel", 1, "1"), ("entitlement", "PLAdditionalEntitlement", 0, "*"),
                     ("availabilityCategory", "PLAvailabilityCategory", 1, "1"), ("statusDetail", "PLPrescriptionStatusDetail", 0, "1")]),
    E(f"{MR}.identifier", min=1),
    E(f"{MR}.intent", fixedCode="order"),
    E(f"{MR}.category", min=1, slicing=slicing("coding.system", rules="closed")),
    E(f"{MR}.category:prescriptionType", min=1, max="1", binding=bind("pl-prescription-type"), short="rodzaj recepty (RRECE)"),
    E(f"{MR}.category:prescriptionType.coding.system", min=1, fixedUri=RRECE),
    E(f"{MR}.category:validityRule", min=0, max="1", binding=bind("pl-prescription-validity"), short="validity rule"),
    E(f"{MR}.category:validityRule.coding.system", min=1, fixedUri=cs("pl-prescription-validity")),
    E(f"{MR}.medication[x]", type=[{"code": "CodeableConcept"}, {"code": "Reference", "targetProfile": [sdurl("PLMedication")]}]),
    E(f"{MR}.subject", type=ref("PLPatient")),
    E(f"{MR}.authoredOn", min=1),
    E(f"{MR}.requester", min=1, type=ref("PLPractitionerRole", "PLPractitioner")),
    E(f"{MR}.groupIdentifier", min=1, short="package key (klucz pakietu recept)"),
    E(f"{MR}.groupIdentifier.system", min=1, fixedUri=PKG_KEY),
    E(f"{MR}.groupIdentifier.value", min=1),
    E(f"{MR}.dosageInstruction", min=1),
    E(f"{MR}.dispenseRequest", min=1),
    E(VP, min=1),
    E(VP + ".start", min=1),
    E(VP + ".end", min=1),
    E(f"{MR}.dispenseRequest.quantity", min=1),
    E(f"{MR}.substitution.allowed[x]", type=[{"code": "boolean"}], short="false = NZ (nie zamieniać)"),
]))

MD = "MedicationDispense"
add(profile("PLMedicationDispense", MD, "PL MedicationDispense (realizacja recepty)",
    "Dispensation of an e-prescription (realizacja recepty, P1 class 04.12) by a pharmacist in a pharmacy [S2][S13].", [
    E(f"{MD}.status", fixedCode="completed"),
    E(f"{MD}.medication[x]", type=[{"code": "Reference", "targetProfile": [sdurl("PLMedication")]}]),
    E(f"{MD}.subject", min=1, type=ref("PLPatient")),
    E(f"{MD}.performer", min=1),
    E(f"{MD}.performer.actor", type=ref("PLPractitioner", "PLPractitionerRole")),
    E(f"{MD}.location", type=ref("PLLocation")),
    E(f"{MD}.authorizingPrescription", min=1, max="1", type=ref("PLMedicationRequest")),
    E(f"{MD}.quantity", min=1),
    E(f"{MD}.whenHandedOver", min=1),
]))

# ---------------------------------------------------------------- EU MPD (ported from hl7-eu/mpd FSH, R4)
EU_REC = "http://hl7.org/fhir/5.0/StructureDefinition/extension-MedicationDispense.recorded"
add(profile("EUMedication", "Medication", "EU Medication (MPD)",
    "Medication for cross-border ePrescription/eDispensation, following HL7 Europe MPD MedicationEuMpd (Medication EU Core "
    "with SHALL-populate identifier and code) [S23].", [
    E("Medication.identifier", mustSupport=True),
    E("Medication.code", min=1, mustSupport=True),
    E("Medication.form", mustSupport=True),
    E("Medication.ingredient", mustSupport=True),
]))
add(profile("EUMedicationRequest", MR, "EU MedicationRequest (MPD)",
    "Cross-border prescription following HL7 Europe MPD MedicationRequest-eu-mpd (R4): authoredOn and requester 1..1, "
    "groupIdentifier = prescription when several items, validityPeriod, substitution.allowedBoolean; one item per prescription "
    "in MyHealth@EU [S23]. The IHE prescribedQuantity / offLabel and R5 effectiveDosePeriod / renderedDosageInstruction "
    "extensions are allowed by the open extension slicing but not profiled here.", [
    E(f"{MR}.identifier", mustSupport=True),
    E(f"{MR}.status", mustSupport=True),
    E(f"{MR}.medication[x]", type=[{"code": "CodeableConcept"}, {"code": "Reference", "targetProfile": [sdurl("EUMedication")]}], mustSupport=True),
    E(f"{MR}.subject", type=ref("Patient"), mustSupport=True),
    E(f"{MR}.authoredOn", min=1, mustSupport=True),
    E(f"{MR}.requester", min=1, mustSupport=True),
    E(f"{MR}.groupIdentifier", mustSupport=True),
    E(f"{MR}.dosageInstruction", mustSupport=True),
    E(f"{MR}.dispenseRequest.extension", slicing=slicing("url")),
    E(f"{MR}.dispenseRequest.extension:prescribedQuantity", min=0, max="1",
      short="IHE MPD prescribedQuantity: overall amount prescribed (number of packages when Medication implies a pack size)"),
    E(f"{MR}.dispenseRequest.extension:prescribedQuantity.url",
      fixedUri="https://profiles.ihe.net/PHARM/MPD/StructureDefinition/ihe-ext-medicationrequest-prescribedQuantity"),
    E(f"{MR}.dispenseRequest.extension:prescribedQuantity.value[x]", min=1, type=[{"code": "Quantity"}]),
    E(f"{MR}.dispenseRequest.validityPeriod", mustSupport=True),
    E(f"{MR}.substitution.allowed[x]", type=[{"code": "boolean"}, {"code": "CodeableConcept"}], mustSupport=True),
    E(f"{MR}.reasonCode", mustSupport=True),
]))
add(profile("EUMedicationDispense", MD, "EU MedicationDispense (MPD)",
    "Cross-border dispensation following HL7 Europe MPD MedicationDispense-eu-mpd (R4): performer.actor 1..1, quantity 1..1, "
    "authorizingPrescription only EUMedicationRequest, medicationReference only EUMedication, R5 backport extension "
    "'recorded' 1..1 [S23].", [
    E(f"{MD}.extension", slicing=slicing("url")),
    E(f"{MD}.extension:recorded", min=1, max="1", short="Date/time the dispense was recorded (R5 backport)"),
    E(f"{MD}.extension:recorded.url", fixedUri=EU_REC),
    E(f"{MD}.extension:recorded.value[x]", min=1, type=[{"code": "dateTime"}]),
    E(f"{MD}.status", mustSupport=True),
    E(f"{MD}.medication[x]", type=[{"code": "CodeableConcept"}, {"code": "Reference", "targetProfile": [sdurl("EUMedication")]}], mustSupport=True),
    E(f"{MD}.subject", mustSupport=True),
    E(f"{MD}.performer.actor", mustSupport=True),
    E(f"{MD}.performer", min=1),
    E(f"{MD}.authorizingPrescription", type=ref("EUMedicationRequest"), mustSupport=True),
    E(f"{MD}.quantity", min=1, mustSupport=True),
    E(f"{MD}.whenHandedOver", mustSupport=True),
    E(f"{MD}.substitution.wasSubstituted", mustSupport=True),
]))

# ---------------------------------------------------------------- orders
SR = "ServiceRequest"
add(profile("PLServiceRequest", SR, "PL ServiceRequest (e-skierowanie)",
    "Electronic referral (e-skierowanie; P1 classes 02.10 tests/treatment, 02.11 consultation, 02.12 take-over of care) "
    "with the ICD-9 PL service code and ICD-10 reason [S8][S2].", [
    E(f"{SR}.identifier", min=1),
    E(f"{SR}.intent", fixedCode="order"),
    E(f"{SR}.category", min=1, max="1", binding=bind("pl-referral-class")),
    E(f"{SR}.code", min=1),
    E(f"{SR}.code.coding", slicing=slicing("system")),
    E(f"{SR}.code.coding:icd9pl", min=0, max="1"),
    E(f"{SR}.code.coding:icd9pl.system", min=1, fixedUri=ICD9PL),
    E(f"{SR}.subject", type=ref("PLPatient")),
    E(f"{SR}.authoredOn", min=1),
    E(f"{SR}.requester", min=1, type=ref("PLPractitionerRole", "PLPractitioner")),
    E(f"{SR}.reasonCode", min=1),
    E(f"{SR}.reasonCode.coding", min=1),
    E(f"{SR}.reasonCode.coding.system", min=1, fixedUri=ICD10),
    E(f"{SR}.performer", type=ref("PLOrganizationMedicalEntity", "PLOrganizationUnit", "PLOrganizationCell", "PLPractitionerRole")),
]))

DR = "DeviceRequest"
add(profile("PLDeviceRequest", DR, "PL DeviceRequest (e-zlecenie)",
    "Order for medical devices (e-zlecenie na zaopatrzenie w wyroby medyczne, NFZ eZWM): valid 12 months from issue [S19].", [
    E(DR, constraint=[inv("pl-dev-1", "e-zlecenie is valid at most 12 months from issue (e-zlecenie: ważność > 12 miesięcy)",
        "occurrence.ofType(Period).end.exists() and authoredOn.exists() implies occurrence.ofType(Period).end <= authoredOn + 12 months")]),
    E(f"{DR}.identifier", min=1),
    E(f"{DR}.intent", fixedCode="order"),
    E(f"{DR}.code[x]", type=[{"code": "CodeableConcept"}]),
    E(f"{DR}.subject", type=ref("PLPatient")),
    E(f"{DR}.authoredOn", min=1),
    E(f"{DR}.requester", min=1, type=ref("PLPractitionerRole", "PLPractitioner")),
    E(f"{DR}.occurrence[x]", min=1, type=[{"code": "Period"}]),
    E(f"{DR}.insurance", type=ref("PLCoverage")),
]))

# ---------------------------------------------------------------- lab & imaging
OB = "Observation"
UCUM = "http://unitsofmeasure.org"
add(profile("PLObservationLab", OB, "PL Observation (laboratory result)",
    "Laboratory test result (wynik badania laboratoryjnego) [S5]: coded in LOINC (a laboratory's local code may be added), "
    "quantities and reference ranges in UCUM, performed by a laboratory and/or a laboratory diagnostician; a panel "
    "such as the complete blood count (morfologia) groups its members in hasMember.", [
    E(OB, constraint=[
        inv("pl-obs-1", "A final result needs a value or a dataAbsentReason",
            "status = 'final' implies (value.exists() or dataAbsentReason.exists() or hasMember.exists())"),
        inv("pl-obs-2", "A quantity result must be in UCUM: valueQuantity.system http://unitsofmeasure.org with a unit code "
            "(wynik ilościowy: jednostka UCUM)",
            f"value.ofType(Quantity).exists() implies (value.ofType(Quantity).system.exists() and "
            f"value.ofType(Quantity).system = '{UCUM}' and value.ofType(Quantity).code.exists())"),
        inv("pl-obs-3", "Reference range limits (low/high) must be UCUM quantities (system http://unitsofmeasure.org) "
            "(zakres referencyjny: jednostka UCUM)",
            f"referenceRange.all((low.exists() implies low.system = '{UCUM}') and (high.exists() implies high.system = '{UCUM}'))"),
    ]),
    E(f"{OB}.basedOn", type=ref("ServiceRequest")),
    E(f"{OB}.category", min=1, slicing=slicing("$this", "pattern")),
    E(f"{OB}.category:laboratory", min=1, max="1", patternCodeableConcept={"coding": [
        {"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]}),
    E(f"{OB}.code", min=1),
    E(f"{OB}.code.coding", slicing=slicing("system")),
    E(f"{OB}.code.coding:loinc", min=1, max="1", short="LOINC code of the test (kod LOINC badania)"),
    E(f"{OB}.code.coding:loinc.system", min=1, fixedUri=LOINC),
    E(f"{OB}.code.coding:loinc.code", min=1),
    E(f"{OB}.subject", min=1, type=ref("PLPatient")),
    E(f"{OB}.effective[x]", min=1),
    E(f"{OB}.performer", min=1, short="The laboratory and/or the laboratory diagnostician",
      type=ref("PLOrganizationMedicalEntity", "PLOrganizationCell", "PLPractitioner", "PLPractitionerRole")),
    E(f"{OB}.interpretation", binding=bind("http://hl7.org/fhir/ValueSet/observation-interpretation", "extensible")),
    E(f"{OB}.specimen", type=ref("Specimen")),
    E(f"{OB}.hasMember", type=ref("PLObservationLab")),
]))
DRP = "DiagnosticReport"
add(profile("PLDiagnosticReportLab", DRP, "PL DiagnosticReport (laboratory)",
    "Laboratory report (sprawozdanie z badania laboratoryjnego; EDM class 06.10) grouping PLObservationLab results [S2][S5]; "
    "coded in LOINC, issued by the laboratory, with the specimen.", [
    E(f"{DRP}.basedOn", type=ref("PLServiceRequest")),
    E(f"{DRP}.category", min=1, slicing=slicing("$this", "pattern")),
    E(f"{DRP}.category:lab", min=1, max="1", patternCodeableConcept={"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "LAB"}]}),
    E(f"{DRP}.code.coding", slicing=slicing("system")),
    E(f"{DRP}.code.coding:loinc", min=1, max="1", short="LOINC code of the report (kod LOINC)"),
    E(f"{DRP}.code.coding:loinc.system", min=1, fixedUri=LOINC),
    E(f"{DRP}.code.coding:loinc.code", min=1),
    E(f"{DRP}.subject", min=1, type=ref("PLPatient")),
    E(f"{DRP}.issued", min=1),
    E(f"{DRP}.performer", min=1, type=ref("PLOrganizationMedicalEntity", "PLOrganizationCell", "PLPractitioner", "PLPractitionerRole")),
    E(f"{DRP}.resultsInterpreter", type=ref("PLPractitioner", "PLPractitionerRole")),
    E(f"{DRP}.specimen", type=ref("Specimen")),
    E(f"{DRP}.result", min=1, type=ref("PLObservationLab")),
]))
add(profile("PLDiagnosticReportImaging", DRP, "PL DiagnosticReport (diagnostic description)",
    "Description of a diagnostic (imaging) test (opis badania diagnostycznego; EDM class 06.00) [S2]: the description "
    "(conclusion) by the interpreting physician, optionally coded in ICD-10, and the imaging study.", [
    E(f"{DRP}.category", min=1, slicing=slicing("$this", "pattern")),
    E(f"{DRP}.category:imaging", min=1, max="1", patternCodeableConcept={"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "RAD"}]}),
    E(f"{DRP}.code", min=1),
    E(f"{DRP}.subject", min=1, type=ref("PLPatient")),
    E(f"{DRP}.issued", min=1),
    E(f"{DRP}.resultsInterpreter", min=1, type=ref("PLPractitioner", "PLPractitionerRole")),
    E(f"{DRP}.imagingStudy", type=ref("ImagingStudy")),
    E(f"{DRP}.conclusion", min=1),
    E(f"{DRP}.conclusionCode", binding=bind("pl-icd10", "example")),
]))

IM = "Immunization"
add(profile("PLImmunization", IM, "PL Immunization (e-Karta Szczepień entry)",
    "Vaccination entry of the e-Karta Szczepień (wpis do karty szczepień, P1 class 07.61) shown in IKP [S21][S2].", [
    E(f"{IM}.vaccineCode", binding=bind("http://hl7.org/fhir/ValueSet/vaccine-code", "example")),
    E(f"{IM}.patient", type=ref("PLPatient")),
    E(f"{IM}.occurrence[x]", type=[{"code": "dateTime"}]),
    E(f"{IM}.lotNumber", min=1),
    E(f"{IM}.performer", min=1),
    E(f"{IM}.performer.actor", type=ref("PLPractitioner", "PLPractitionerRole", "PLOrganizationMedicalEntity")),
]))

# ---------------------------------------------------------------- consent
CO = "Consent"
CT = cs("pl-ikp-authorization-type")
def ctype(code):
    return f"category.coding.where(system = '{CT}' and code = '{code}').exists()"
add(profile("PLConsent", CO, "PL Consent (IKP authorisation)",
    "Authorisation granted in IKP (upoważnienie/uprawnienie w IKP): a close person may read data or act for the patient, "
    "a pharmacy or pharmacist may see prescriptions only, a doctor may be authorised for 24 hours by SMS code, a parent "
    "may grant the other parent access; always for a period [S16].", [
    E(CO, constraint=[
        inv("pl-cons-1", "24-hour doctor authorisation may last at most 24 hours (upoważnienie 24h)",
            f"{ctype('doctor-24h')} and provision.period.start.exists() and provision.period.end.exists() implies provision.period.end <= provision.period.start + 24 hours"),
        inv("pl-cons-2", "A prescriptions-only authorisation must restrict provision.class to MedicationRequest/MedicationDispense",
            f"{ctype('prescriptions-only')} implies (provision.class.exists() and provision.class.all(code = 'MedicationRequest' or code = 'MedicationDispense'))"),
    ]),
    E(f"{CO}.scope", patternCodeableConcept={"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]}),
    E(f"{CO}.category", slicing=slicing("coding.system")),
    E(f"{CO}.category:ikpAuthorization", min=1, max="1", binding=bind("pl-ikp-authorization-type")),
    E(f"{CO}.category:ikpAuthorization.coding.system", min=1, fixedUri=CT),
    E(f"{CO}.patient", min=1, type=ref("PLPatient")),
    E(f"{CO}.dateTime", min=1),
    E(f"{CO}.provision", min=1),
    E(f"{CO}.provision.type", min=1),
    E(f"{CO}.provision.period", min=1),
    E(f"{CO}.provision.period.start", min=1),
    E(f"{CO}.provision.actor", min=1),
    E(f"{CO}.provision.actor.reference", type=ref("PLPatient", "PLRelatedPerson", "PLPractitioner", "PLPractitionerRole", "PLOrganizationMedicalEntity", "PLOrganizationPharmacy", "RelatedPerson")),
]))

add(profile("PLCarePlan", "CarePlan", "PL CarePlan (IPOM)",
    "Individual care plan (indywidualny plan opieki medycznej, IPOM) of primary care with at least one activity referring to "
    "referrals, prescriptions and visits, and its goals [S8].", [
    E("CarePlan.identifier", min=1),
    E("CarePlan.identifier.system", min=1, constraint=[inv("pl-ipom-1", "IPOM id must be minted under the provider node {x}.26.1",
        "$this.matches('^urn:oid:2\\\\.16\\\\.840\\\\.1\\\\.113883\\\\.3\\\\.4424\\\\.2\\\\.7\\\\.[0-9]+\\\\.26\\\\.1$')")]),
    E("CarePlan.intent", fixedCode="plan"),
    E("CarePlan.category", min=1, max="1", patternCodeableConcept={"coding": [{"system": cs("pl-care-plan-type"), "code": "IPOM"}]}),
    E("CarePlan.subject", type=ref("PLPatient")),
    E("CarePlan.period", min=1),
    E("CarePlan.author", min=1, type=ref("PLPractitioner", "PLPractitionerRole")),
    E("CarePlan.addresses", type=ref("PLCondition")),
    E("CarePlan.goal", type=ref("Goal")),
    E("CarePlan.activity", min=1, short="An IPOM lists at least one activity"),
    E("CarePlan.activity.reference", type=ref("PLServiceRequest", "PLMedicationRequest", "PLAppointment")),
]))

# ---------------------------------------------------------------- documents
C = "Composition"
add(profile("PLComposition", C, "PL Composition (document header)",
    "Header of a Polish medical document (nagłówek dokumentu medycznego) for P1/EDM document classes 00.20 discharge summary, "
    "00.65 refusal of admission, 08.90 information for the referring doctor, 06.10 lab result, 06.00 diagnostic description [S1][S2].", [
    E(C, constraint=[inv("pl-comp-1", "Discharge summary (00.20) and refusal of admission (00.65) need the encounter",
        f"category.coding.where(system = '{P1_DOC_CLASS}' and (code = '00.20' or code = '00.65')).exists() implies encounter.exists()")]),
    *ext_slices(C, [("version", "PLDocumentVersion", 1, "1")]),
    E(f"{C}.identifier", min=1),
    E(f"{C}.identifier.system", min=1),
    E(f"{C}.identifier.value", min=1),
    E(f"{C}.type.coding", slicing=slicing("system")),
    E(f"{C}.type.coding:loinc", min=1, max="1"),
    E(f"{C}.type.coding:loinc.system", min=1, fixedUri=LOINC),
    E(f"{C}.category", min=1, max="1"),
    E(f"{C}.category.coding", slicing=slicing("system")),
    E(f"{C}.category.coding:p1Class", min=1, max="1", binding=bind("pl-p1-document-class")),
    E(f"{C}.category.coding:p1Class.system", min=1, fixedUri=P1_DOC_CLASS),
    E(f"{C}.subject", min=1, type=ref("PLPatient")),
    E(f"{C}.encounter", type=ref("PLEncounter")),
    E(f"{C}.author", type=ref("PLPractitionerRole", "PLPractitioner", "PLOrganizationMedicalEntity")),
    E(f"{C}.attester", min=1, slicing=slicing("mode")),
    E(f"{C}.attester:legalAuthenticator", min=1, max="1"),
    E(f"{C}.attester:legalAuthenticator.mode", fixedCode="legal"),
    E(f"{C}.attester:legalAuthenticator.time", min=1),
    E(f"{C}.attester:legalAuthenticator.party", min=1, type=ref("PLPractitionerRole", "PLPractitioner")),
    E(f"{C}.custodian", min=1, type=ref("PLOrganizationMedicalEntity")),
    E(f"{C}.section", min=1),
    E(f"{C}.section.text", min=1),
]))
add(profile("PLSickLeave", C, "PL sick-leave certificate (e-ZLA)",
    "Mirror of a ZUS sick-leave certificate (zaświadczenie lekarskie e-ZLA). Modelled on Composition because e-ZLA is an "
    "immutable signed certificate issued by a doctor: corrections are made by cancelling and re-issuing (status "
    "entered-in-error + a new Composition with relatesTo replaces), which matches document semantics; the period of "
    "incapacity is Composition.event.period and the diagnosis a section entry. ZUS (not P1) is the system of record [S20].", [
    E(C, constraint=[inv("pl-zla-1", "Incapacity period needs start and end", "event.period.start.exists() and event.period.end.exists()")]),
    *ext_slices(C, [("employer", "PLEmployerIdentifier", 0, "*")]),
    E(f"{C}.identifier", min=1),
    E(f"{C}.identifier.system", min=1, fixedUri=ZLA_ID),
    E(f"{C}.type", patternCodeableConcept={"coding": [{"system": cs("pl-document-type-local"), "code": "e-ZLA"}]}),
    E(f"{C}.subject", min=1, type=ref("PLPatient")),
    E(f"{C}.author", type=ref("PLPractitioner", "PLPractitionerRole")),
    E(f"{C}.event", min=1, max="1"),
    E(f"{C}.event.period", min=1),
    E(f"{C}.section", min=1),
    E(f"{C}.section.entry", type=ref("PLCondition")),
]))
B = "Bundle"
add(profile("PLDocumentBundle", B, "PL document Bundle",
    "FHIR document (dokument medyczny) whose first entry is a PLComposition [S2].", [
    E(B, constraint=[inv("pl-doc-1", "The first entry of a document must be a Composition",
        "entry.first().resource is Composition")]),
    E(f"{B}.identifier", min=1),
    E(f"{B}.identifier.system", min=1),
    E(f"{B}.identifier.value", min=1),
    E(f"{B}.type", fixedCode="document"),
    E(f"{B}.timestamp", min=1),
    E(f"{B}.entry", min=1),
    E(f"{B}.entry.fullUrl", min=1),
    E(f"{B}.entry.resource", min=1),
    E(f"{B}.entry.search", max="0"),
    E(f"{B}.entry.request", max="0"),
    E(f"{B}.entry.response", max="0"),
]))
add(profile("PLPrescriptionPackage", B, "PL prescription package (pakiet recept)",
    "Transaction that submits a package of e-prescriptions (pakiet recept): every MedicationRequest carries the same "
    "groupIdentifier (package key); items with different payment levels are separate prescriptions of the package [S8].", [
    E(B, constraint=[inv("pl-pkg-1", "All prescriptions of a package must share one groupIdentifier (klucz pakietu recept)",
        "entry.resource.ofType(MedicationRequest).all(groupIdentifier.exists()) and "
        "entry.resource.ofType(MedicationRequest).groupIdentifier.value.distinct().count() <= 1")]),
    E(f"{B}.type", fixedCode="transaction"),
    E(f"{B}.entry", min=1),
    E(f"{B}.entry.resource", min=1),
    E(f"{B}.entry.request", min=1),
]))
DOC = "DocumentReference"
add(profile("PLDocumentReference", DOC, "PL DocumentReference (EDM index entry)",
    "Index entry of a medical document stored in a provider repository and indexed in P1 EDM (XDS.b), with LOINC type and "
    "P1 document class [S2][S8].", [
    E(f"{DOC}.masterIdentifier", min=1),
    E(f"{DOC}.identifier", min=1),
    E(f"{DOC}.type", min=1),
    E(f"{DOC}.type.coding", slicing=slicing("system")),
    E(f"{DOC}.type.coding:loinc", min=0, max="1"),
    E(f"{DOC}.type.coding:loinc.system", min=1, fixedUri=LOINC),
    E(f"{DOC}.type.coding:p1Class", min=1, max="1", binding=bind("pl-p1-document-class")),
    E(f"{DOC}.type.coding:p1Class.system", min=1, fixedUri=P1_DOC_CLASS),
    E(f"{DOC}.subject", min=1, type=ref("PLPatient")),
    E(f"{DOC}.date", min=1),
    E(f"{DOC}.author", min=1, type=ref("PLPractitioner", "PLPractitionerRole", "PLOrganizationMedicalEntity")),
    E(f"{DOC}.custodian", min=1, type=ref("PLOrganizationMedicalEntity")),
    E(f"{DOC}.content.attachment.contentType", min=1),
    E(f"{DOC}.context.encounter", type=ref("PLEncounter")),
]))
CV = "Coverage"
add(profile("PLCoverage", CV, "PL Coverage (public insurance NFZ)",
    "Public health insurance in the National Health Fund (ubezpieczenie zdrowotne w NFZ); eligibility checked in eWUŚ [S1][S36].", [
    E(f"{CV}.type", min=1, patternCodeableConcept={"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "PUBLICPOL"}]}),
    E(f"{CV}.beneficiary", type=ref("PLPatient")),
    E(f"{CV}.payor", max="1", type=ref("PLOrganizationNFZBranch")),
    E(f"{CV}.payor.identifier.system", fixedUri=NFZ_BRANCH),
]))

# ---------------------------------------------------------------- e-registration
add(profile("PLSchedule", "Schedule", "PL Schedule (harmonogram)",
    "Schedule published by a provider to the central e-registration (Centralna e-Rejestracja) [S18].", [
    E("Schedule.serviceType", min=1),
    E("Schedule.actor", type=ref("PLPractitionerRole", "PLLocation", "HealthcareService")),
    E("Schedule.planningHorizon", min=1),
]))
add(profile("PLSlot", "Slot", "PL Slot (termin)",
    "Bookable time slot of the central e-registration [S18].", [
    E("Slot", constraint=[inv("pl-slot-1", "Slot end must be after start", "end > start")]),
    E("Slot.schedule", type=ref("PLSchedule")),
]))
add(profile("PLAppointment", "Appointment", "PL Appointment (wizyta, e-rejestracja)",
    "Visit booked through the central e-registration; a first cardiology visit requires an e-skierowanie [S18].", [
    E("Appointment", constraint=[
        inv("pl-appt-1", "Appointment must have the patient as participant",
            "participant.actor.where(reference.startsWith('Patient/')).exists()"),
        inv("pl-appt-2", "A first cardiology visit (cell specialty 1100) requires an e-skierowanie in basedOn",
            f"serviceType.coding.where(system = '{CELL_TYPE}' and code = '1100').exists() implies basedOn.exists()")]),
    E("Appointment.serviceType", min=1),
    E("Appointment.slot", type=ref("PLSlot")),
    E("Appointment.basedOn", type=ref("PLServiceRequest")),
    E("Appointment.start", min=1),
    E("Appointment.end", min=1),
    E("Appointment.participant.actor", type=ref("PLPatient", "PLPractitionerRole", "PLPractitioner", "PLLocation")),
]))

# ---------------------------------------------------------------- tasks
T = "Task"
add(profile("PLTaskEhic", T, "PL Task (EHIC application / wniosek o EKUZ)",
    "Application for a European Health Insurance Card (wniosek o EKUZ) submitted via IKP; states in businessStatus [S17].", [
    E(T, constraint=[inv("pl-ehic-1", "A rejected application needs statusReason (powód odmowy)",
        f"businessStatus.coding.where(code = 'rejected').exists() implies statusReason.exists()")]),
    E(f"{T}.identifier", min=1),
    E(f"{T}.identifier.system", min=1, fixedUri=EHIC_CASE),
    E(f"{T}.intent", fixedCode="order"),
    E(f"{T}.code", min=1, patternCodeableConcept={"coding": [{"system": cs("pl-task-type"), "code": "ehic-application"}]}),
    E(f"{T}.businessStatus", min=1, binding=bind("pl-ehic-status")),
    E(f"{T}.for", min=1, type=ref("PLPatient")),
    E(f"{T}.authoredOn", min=1),
    E(f"{T}.owner", type=ref("PLOrganizationNFZBranch")),
]))
add(profile("PLTaskPrimaryCareDeclaration", T, "PL Task (POZ declaration / deklaracja POZ)",
    "Declaration choosing a primary-care doctor, nurse or midwife (deklaracja wyboru lekarza/pielęgniarki/położnej POZ), "
    "forwarded to the chosen facility. 2 free changes per calendar year, then 80 zł (cross-resource rule, checked by the "
    "server, not by this profile) [S15].", [
    E(f"{T}.intent", fixedCode="order"),
    E(f"{T}.code", min=1, binding=bind("pl-poz-declaration-type")),
    E(f"{T}.for", min=1, type=ref("PLPatient")),
    E(f"{T}.requester", min=1, type=ref("PLPatient", "PLRelatedPerson")),
    E(f"{T}.owner", min=1, type=ref("PLOrganizationMedicalEntity")),
    E(f"{T}.focus", min=1, type=ref("PLPractitionerRole")),
    E(f"{T}.authoredOn", min=1),
]))

for sd in P:
    write(f"StructureDefinition-{sd['id']}.json", sd)
print(len(P), "structure definitions")
