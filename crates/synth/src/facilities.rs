//! The shared part of the population: healthcare facilities (Organization + Location), their
//! staff (Practitioner + PractitionerRole) and the 16 NFZ regional branches that pay for care.
//! Sizes follow the population: one practitioner per ~50 patients, one facility per ~200.

use serde_json::Value;

use super::catalog::{self, CLINICS, WARDS};
use super::fhir::{self, coded, coding, concept, identifier, obj, reference, reference_display};
use super::identifiers;
use super::names::{self, CITIES, City, NFZ_BRANCHES};
use super::pesel::Sex;
use super::rng::{Rng, label};

pub const PATIENTS_PER_PRACTITIONER: usize = 50;
pub const PATIENTS_PER_FACILITY: usize = 200;
const MIN_FACILITIES: usize = 6;
const MIN_PRACTITIONERS: usize = 12;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FacilityKind {
    Clinic,
    Hospital,
    Pharmacy,
    Lab,
}

#[derive(Debug, Clone)]
pub struct Facility {
    pub kind: FacilityKind,
    pub city: usize,
    pub name: String,
    pub street: &'static str,
    pub house: u32,
    pub postal: u32,
    pub phone: String,
    pub regon9: String,
    pub nip: String,
    /// Part I of the ministry code (RPWDL book number, 12 digits), or the pharmacy register number.
    pub register: String,
    /// The provider's local OID node: `2.16.840.1.113883.3.4424.2.7.{local}`.
    pub local: u32,
    /// Physicians, nurses, pharmacists and diagnosticians working here (indices into practitioners).
    pub physicians: Vec<usize>,
    pub nurses: Vec<usize>,
    pub pharmacists: Vec<usize>,
    pub diagnosticians: Vec<usize>,
}

impl Facility {
    pub fn city(&self) -> &'static City {
        &CITIES[self.city.min(CITIES.len() - 1)]
    }

    pub fn local_oid(&self, suffix: &str) -> String {
        format!("urn:oid:{}.{}.{suffix}", fhir::LOCAL_ROOT, self.local)
    }

    fn address(&self) -> Value {
        let city = self.city();
        obj!({
            "use": "work",
            "type": "both",
            "line": [format!("ul. {} {}", self.street, self.house)],
            "city": city.name,
            "postalCode": names::postal_code(self.postal),
            "country": "PL"
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profession {
    Physician(&'static str),
    Nurse,
    Midwife,
    Pharmacist,
    Diagnostician,
}

#[derive(Debug, Clone)]
pub struct Practitioner {
    pub profession: Profession,
    pub sex: Sex,
    pub given: &'static str,
    pub family: String,
    pub licence: String,
    pub facility: usize,
    pub phone: String,
    pub doctorate: bool,
}

impl Practitioner {
    pub fn display(&self) -> String {
        let title = match self.profession {
            Profession::Physician(_) if self.doctorate => "dr n. med. ",
            Profession::Physician(_) => "lek. ",
            Profession::Pharmacist => "mgr farm. ",
            _ => "mgr ",
        };
        format!("{title}{} {}", self.given, self.family)
    }
}

/// Facilities, staff and payers of one population; depends only on the seed and the patient count.
#[derive(Debug, Clone)]
pub struct Layout {
    pub facilities: Vec<Facility>,
    pub practitioners: Vec<Practitioner>,
    pub clinics: Vec<usize>,
    /// Per city and facility kind (in `FacilityKind` order), the facilities there.
    local: Vec<[Vec<usize>; 4]>,
    by_kind: [Vec<usize>; 4],
}

fn kind_slot(kind: FacilityKind) -> usize {
    match kind {
        FacilityKind::Clinic => 0,
        FacilityKind::Hospital => 1,
        FacilityKind::Pharmacy => 2,
        FacilityKind::Lab => 3,
    }
}

pub fn org_id(facility: usize) -> String {
    format!("org-{:04}", facility + 1)
}

pub fn loc_id(facility: usize) -> String {
    format!("loc-{:04}", facility + 1)
}

pub fn ward_loc_id(facility: usize, ward: &str) -> String {
    format!("loc-{:04}-{ward}", facility + 1)
}

pub fn prac_id(practitioner: usize) -> String {
    format!("prac-{:05}", practitioner + 1)
}

pub fn role_id(practitioner: usize) -> String {
    format!("role-{:05}", practitioner + 1)
}

pub fn nfz_id(branch: u32) -> String {
    format!("nfz-{branch:02}")
}

pub fn mobile(rng: &mut Rng) -> String {
    const PREFIXES: &[u32] = &[50, 51, 53, 57, 60, 66, 69, 72, 73, 78, 79, 88];
    let p = rng.pick(PREFIXES, 60);
    format!("+48 {p}{} {:03} {:03}", rng.below(10), rng.below(1000), rng.below(1000))
}

pub fn landline(rng: &mut Rng, area: u32) -> String {
    format!("+48 {area:02} {:03} {:02} {:02}", rng.range(200, 899), rng.below(100), rng.below(100))
}

const CLINIC_NAMES: &[&str] = &[
    "Salus",
    "Zdrowie",
    "Medicus",
    "Rodzina",
    "Vita",
    "Eskulap",
    "Hipokrates",
    "Panaceum",
    "Promed",
    "Novamed",
    "Sanitas",
    "Familia",
    "Przyjazna",
    "Centrum",
    "Pod Lipami",
    "Na Osiedlu",
];
const CLINIC_KINDS: &[&str] = &[
    "Przychodnia Lekarzy Rodzinnych",
    "Niepubliczny Zakład Opieki Zdrowotnej",
    "Centrum Medyczne",
    "Przychodnia Podstawowej Opieki Zdrowotnej",
];
const HOSPITAL_KINDS: &[&str] =
    &["Szpital Miejski", "Wojewódzki Szpital Specjalistyczny", "Szpital Powiatowy", "Szpital Specjalistyczny"];
const PATRONS: &[&str] = &[
    "Jana Pawła II",
    "Mikołaja Kopernika",
    "Ludwika Rydygiera",
    "Stefana Żeromskiego",
    "św. Łukasza",
    "Marii Skłodowskiej-Curie",
    "Janusza Korczaka",
    "Tytusa Chałubińskiego",
    "Józefa Babińskiego",
    "św. Jadwigi Śląskiej",
];
const PHARMACY_NAMES: &[&str] = &[
    "Pod Orłem",
    "Centralna",
    "Na Zdrowie",
    "Rodzinna",
    "Pod Lwem",
    "Przy Rynku",
    "Słoneczna",
    "Miejska",
    "Familijna",
    "Galenowa",
    "Pod Złotym Moździerzem",
    "Dbam o Zdrowie",
    "Osiedlowa",
    "Pod Kasztanami",
];
const LAB_NAMES: &[&str] =
    &["Analityka", "Diagnostyka Plus", "BioLab", "Centrum Diagnostyki", "Labor", "MedLab", "Laboratoria Medyczne"];

fn weighted_city(rng: &mut Rng) -> usize {
    let weights: Vec<u32> = CITIES.iter().map(|c| c.weight).collect();
    rng.weighted(&weights)
}

impl Layout {
    pub fn new(seed: u64, patients: usize) -> Layout {
        let mut rng = Rng::stream(seed, &[label("layout")]);
        let n_facilities = patients.div_ceil(PATIENTS_PER_FACILITY).max(MIN_FACILITIES);
        let mut facilities = Vec::with_capacity(n_facilities);
        let mut regons = std::collections::HashSet::new();
        for i in 0..n_facilities {
            let kind = match i {
                0 | 1 => FacilityKind::Clinic,
                2 => FacilityKind::Hospital,
                3 | 4 => FacilityKind::Pharmacy,
                5 => FacilityKind::Lab,
                _ => [FacilityKind::Clinic, FacilityKind::Hospital, FacilityKind::Pharmacy, FacilityKind::Lab]
                    [rng.weighted(&[42, 10, 36, 12])],
            };
            // The first facilities go to the largest city so tiny populations stay in one town.
            let city = if i < MIN_FACILITIES { 0 } else { weighted_city(&mut rng) };
            let c = &CITIES[city];
            let name = match kind {
                FacilityKind::Clinic => {
                    format!("{} \"{}\"", rng.pick(CLINIC_KINDS, "Przychodnia"), rng.pick(CLINIC_NAMES, "Zdrowie"))
                }
                FacilityKind::Hospital => {
                    format!("{} im. {}", rng.pick(HOSPITAL_KINDS, "Szpital"), rng.pick(PATRONS, "Jana Pawła II"))
                }
                FacilityKind::Pharmacy => format!("Apteka \"{}\"", rng.pick(PHARMACY_NAMES, "Centralna")),
                FacilityKind::Lab => format!("Laboratorium Diagnostyczne \"{}\"", rng.pick(LAB_NAMES, "Analityka")),
            };
            let regon9 = loop {
                let r = identifiers::regon9(&mut rng);
                if regons.insert(r.clone()) {
                    break r;
                }
            };
            let register = match kind {
                FacilityKind::Pharmacy => format!("{:02}{:06}", c.branch, 100_000 + i),
                _ => format!("{:012}", 10_000 + i * 37 + rng.below(37) as usize),
            };
            facilities.push(Facility {
                kind,
                city,
                name,
                street: rng.pick(names::STREETS, "Długa"),
                house: rng.range(1, 120) as u32,
                postal: rng.range(i64::from(c.postal_from), i64::from(c.postal_to)) as u32,
                phone: landline(&mut rng, c.area),
                regon9,
                nip: identifiers::nip(&mut rng),
                register,
                local: 1000 + i as u32,
                physicians: Vec::new(),
                nurses: Vec::new(),
                pharmacists: Vec::new(),
                diagnosticians: Vec::new(),
            });
        }
        let mut layout = Layout {
            facilities,
            practitioners: Vec::new(),
            clinics: Vec::new(),
            local: vec![Default::default(); CITIES.len()],
            by_kind: Default::default(),
        };
        for (i, f) in layout.facilities.iter().enumerate() {
            layout.local[f.city][kind_slot(f.kind)].push(i);
            layout.by_kind[kind_slot(f.kind)].push(i);
        }
        layout.clinics = layout.by_kind[0].clone();
        layout.staff(&mut rng, patients);
        layout
    }

    fn staff(&mut self, rng: &mut Rng, patients: usize) {
        let mut licences = std::collections::HashSet::new();
        // Every facility gets the staff it cannot work without.
        for f in 0..self.facilities.len() {
            match self.facilities[f].kind {
                FacilityKind::Clinic => {
                    self.hire(rng, &mut licences, f, Profession::Physician("0713"));
                    self.hire(rng, &mut licences, f, Profession::Nurse);
                }
                FacilityKind::Hospital => {
                    self.hire(rng, &mut licences, f, Profession::Physician("0705"));
                    self.hire(rng, &mut licences, f, Profession::Nurse);
                }
                FacilityKind::Pharmacy => self.hire(rng, &mut licences, f, Profession::Pharmacist),
                FacilityKind::Lab => self.hire(rng, &mut licences, f, Profession::Diagnostician),
            }
        }
        let target = patients.div_ceil(PATIENTS_PER_PRACTITIONER).max(MIN_PRACTITIONERS);
        while self.practitioners.len() < target {
            let (kind, profession) = match rng.weighted(&[45, 33, 14, 8]) {
                0 if rng.chance(0.55) => {
                    let s = ["0713", "0723", "0705"][rng.weighted(&[60, 25, 15])];
                    (FacilityKind::Clinic, Profession::Physician(s))
                }
                0 => {
                    let mut specialties: Vec<&'static str> = WARDS.iter().map(|w| w.2).collect();
                    specialties.extend(CLINICS.iter().map(|c| c.2));
                    specialties.extend(["0701", "0726"]);
                    let s = rng.pick(&specialties, "0705");
                    (FacilityKind::Hospital, Profession::Physician(s))
                }
                1 => {
                    let kind = if rng.chance(0.5) { FacilityKind::Clinic } else { FacilityKind::Hospital };
                    (kind, if rng.chance(0.12) { Profession::Midwife } else { Profession::Nurse })
                }
                2 => (FacilityKind::Pharmacy, Profession::Pharmacist),
                _ => (FacilityKind::Lab, Profession::Diagnostician),
            };
            let candidates = &self.by_kind[kind_slot(kind)];
            let Some(&f) = rng.choose(candidates) else { continue };
            self.hire(rng, &mut licences, f, profession);
        }
    }

    fn hire(
        &mut self,
        rng: &mut Rng,
        licences: &mut std::collections::HashSet<String>,
        facility: usize,
        profession: Profession,
    ) {
        let female_share = match profession {
            Profession::Nurse | Profession::Midwife => 0.95,
            Profession::Pharmacist | Profession::Diagnostician => 0.8,
            Profession::Physician(_) => 0.58,
        };
        let sex = if rng.chance(female_share) { Sex::Female } else { Sex::Male };
        let birth_year = rng.range(1958, 1997) as i32;
        let given = rng.pick(names::given_names(sex, birth_year), "Anna");
        let family = names::family_name(rng.pick(names::SURNAMES, "Nowak"), sex);
        let licence = loop {
            let l = match profession {
                Profession::Physician(_) => identifiers::npwz(rng),
                Profession::Nurse => identifiers::nurse_pwz(rng, false),
                Profession::Midwife => identifiers::nurse_pwz(rng, true),
                Profession::Pharmacist | Profession::Diagnostician => identifiers::licence8(rng),
            };
            if licences.insert(l.clone()) {
                break l;
            }
        };
        let index = self.practitioners.len();
        let doctorate = matches!(profession, Profession::Physician(_)) && rng.chance(0.2);
        self.practitioners.push(Practitioner {
            profession,
            sex,
            given,
            family,
            licence,
            facility,
            phone: mobile(rng),
            doctorate,
        });
        let f = &mut self.facilities[facility];
        match profession {
            Profession::Physician(_) => f.physicians.push(index),
            Profession::Nurse | Profession::Midwife => f.nurses.push(index),
            Profession::Pharmacist => f.pharmacists.push(index),
            Profession::Diagnostician => f.diagnosticians.push(index),
        }
    }

    /// A facility of `kind` in `city` when there is one, else anywhere (always some: the first six
    /// facilities cover every kind).
    pub fn nearby(&self, rng: &mut Rng, kind: FacilityKind, city: usize) -> usize {
        let slot = kind_slot(kind);
        let local = self.local.get(city).map(|l| &l[slot]);
        match local {
            Some(l) if !l.is_empty() => rng.choose(l).copied().unwrap_or(0),
            _ => rng.choose(&self.by_kind[slot]).copied().unwrap_or(0),
        }
    }

    /// A physician at `facility`, preferring one of `specialty`.
    pub fn physician(&self, rng: &mut Rng, facility: usize, specialty: &str) -> usize {
        let f = &self.facilities[facility];
        let matching: Vec<usize> = f
            .physicians
            .iter()
            .copied()
            .filter(|&p| matches!(self.practitioners[p].profession, Profession::Physician(s) if s == specialty))
            .collect();
        rng.choose(&matching).or_else(|| rng.choose(&f.physicians)).copied().unwrap_or(0)
    }

    pub fn nurse(&self, rng: &mut Rng, facility: usize) -> usize {
        let f = &self.facilities[facility];
        rng.choose(&f.nurses).or_else(|| rng.choose(&f.physicians)).copied().unwrap_or(0)
    }

    pub fn pharmacist(&self, rng: &mut Rng, facility: usize) -> usize {
        rng.choose(&self.facilities[facility].pharmacists).copied().unwrap_or(0)
    }

    pub fn diagnostician(&self, rng: &mut Rng, facility: usize) -> usize {
        rng.choose(&self.facilities[facility].diagnosticians).copied().unwrap_or(0)
    }

    /// Every shared resource: NFZ branches, then per facility its Organization and Locations, then
    /// per practitioner the Practitioner and PractitionerRole.
    pub fn resources(&self, seed: u64) -> Vec<Value> {
        let mut out = Vec::new();
        let mut rng = Rng::stream(seed, &[label("shared-details")]);
        for (i, (region, capital)) in NFZ_BRANCHES.iter().enumerate() {
            let code = i as u32 + 1;
            let city = names::city_named(capital).unwrap_or(&CITIES[0]);
            out.push(obj!({
                "resourceType": "Organization",
                "id": nfz_id(code),
                "identifier": [identifier(fhir::NFZ_BRANCH, &format!("{code:02}"))],
                "active": true,
                "type": [coded("http://terminology.hl7.org/CodeSystem/organization-type", "pay", "Payer")],
                "name": format!("{region} Oddział Wojewódzki Narodowego Funduszu Zdrowia"),
                "alias": [format!("{region} OW NFZ")],
                "telecom": [{"system": "phone", "value": landline(&mut rng, city.area), "use": "work"}],
                "address": [{"use": "work", "city": city.name, "postalCode": names::postal_code(city.postal_from), "country": "PL"}]
            }));
        }
        for (i, f) in self.facilities.iter().enumerate() {
            out.push(self.organization(i, f));
            out.extend(self.locations(i, f));
        }
        for (i, p) in self.practitioners.iter().enumerate() {
            out.push(self.practitioner(i, p));
            out.push(self.role(i, p));
        }
        out
    }

    fn organization(&self, i: usize, f: &Facility) -> Value {
        let mut ids = Vec::new();
        if f.kind == FacilityKind::Pharmacy {
            ids.push(identifier(fhir::PHARMACY, &f.register));
        } else {
            ids.push(identifier(fhir::MEDICAL_ENTITY, &f.register));
        }
        ids.push(identifier(fhir::REGON_9, &f.regon9));
        ids.push(identifier(fhir::NIP, &f.nip));
        let email_name: String =
            f.name.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_lowercase()).take(20).collect();
        obj!({
            "resourceType": "Organization",
            "id": org_id(i),
            "identifier": ids,
            "active": true,
            "type": [coded("http://terminology.hl7.org/CodeSystem/organization-type", "prov", "Healthcare Provider")],
            "name": f.name.as_str(),
            "telecom": [
                {"system": "phone", "value": f.phone.as_str(), "use": "work"},
                {"system": "email", "value": format!("{email_name}{}@example.com", i + 1), "use": "work"}
            ],
            "address": [f.address()]
        })
    }

    fn locations(&self, i: usize, f: &Facility) -> Vec<Value> {
        let (role, role_display, cell) = match f.kind {
            FacilityKind::Clinic => ("PC", "primary care clinic", Some("0010")),
            FacilityKind::Hospital => ("GACH", "Hospitals; General Acute Care Hospital", Some("4900")),
            FacilityKind::Pharmacy => ("PHARM", "Pharmacy", None),
            FacilityKind::Lab => ("OUTLAB", "outpatient laboratory", Some("7100")),
        };
        let mut types = vec![coded(fhir::ROLE_CODE, role, role_display)];
        if let Some(cell) = cell {
            types.push(coded(fhir::CELL_TYPE, cell, catalog::cell_display(cell)));
        }
        let mut out = vec![obj!({
            "resourceType": "Location",
            "id": loc_id(i),
            "identifier": [identifier(fhir::REGON_14, &identifiers::regon14(&f.regon9, 1))],
            "status": "active",
            "name": f.name.as_str(),
            "mode": "instance",
            "type": types,
            "telecom": [{"system": "phone", "value": f.phone.as_str(), "use": "work"}],
            "address": f.address(),
            "physicalType": coded("http://terminology.hl7.org/CodeSystem/location-physical-type", "bu", "Building"),
            "managingOrganization": reference_display("Organization", &org_id(i), &f.name)
        })];
        if f.kind == FacilityKind::Hospital {
            for (n, (code, name, _)) in WARDS.iter().enumerate() {
                out.push(obj!({
                    "resourceType": "Location",
                    "id": ward_loc_id(i, code),
                    "identifier": [identifier(fhir::ORG_CELL, &format!("{}-{:03}", f.register, n + 1))],
                    "status": "active",
                    "name": format!("{name} – {}", f.name),
                    "mode": "instance",
                    "type": [coded(fhir::CELL_TYPE, code, name)],
                    "telecom": [{"system": "phone", "value": format!("{}{}", &f.phone[..f.phone.len() - 1], n), "use": "work"}],
                    "physicalType": coded("http://terminology.hl7.org/CodeSystem/location-physical-type", "wa", "Ward"),
                    "managingOrganization": reference("Organization", &org_id(i)),
                    "partOf": reference("Location", &loc_id(i))
                }));
            }
        }
        out
    }

    fn profession_coding(p: &Practitioner) -> (&'static str, Value) {
        let (system, code, display) = match p.profession {
            Profession::Physician(_) => (fhir::NPWZ_PHYSICIAN, "LEK", "Lekarz"),
            Profession::Nurse => (fhir::NPWZ_NURSE, "PIEL", "Pielęgniarka"),
            Profession::Midwife => (fhir::NPWZ_NURSE, "POL", "Położna"),
            Profession::Pharmacist => (fhir::NPWZ_PHARMACIST, "FARM", "Farmaceuta"),
            Profession::Diagnostician => (fhir::NPWZ_LAB, "DLAB", "Diagnosta laboratoryjny"),
        };
        (system, concept(fhir::PROFESSION, code, display))
    }

    fn practitioner(&self, i: usize, p: &Practitioner) -> Value {
        let (system, profession) = Self::profession_coding(p);
        let id = identifier(system, &p.licence);
        let mut qualification = vec![obj!({"identifier": [id.clone()], "code": profession})];
        if let Profession::Physician(s) = p.profession {
            qualification.push(obj!({"code": concept(fhir::SPECIALTY, s, catalog::specialty_display(s))}));
        }
        let prefix = match p.profession {
            Profession::Physician(_) if p.doctorate => vec!["dr n. med."],
            Profession::Physician(_) => vec!["lek."],
            Profession::Pharmacist => vec!["mgr farm."],
            Profession::Nurse | Profession::Midwife | Profession::Diagnostician => vec!["mgr"],
        };
        obj!({
            "resourceType": "Practitioner",
            "id": prac_id(i),
            "identifier": [id],
            "active": true,
            "name": [{"use": "official", "family": p.family.as_str(), "given": [p.given], "prefix": prefix}],
            "telecom": [{"system": "phone", "value": p.phone.as_str(), "use": "work"}],
            "gender": p.sex.fhir(),
            "qualification": qualification
        })
    }

    fn role(&self, i: usize, p: &Practitioner) -> Value {
        let f = &self.facilities[p.facility];
        let (_, profession) = Self::profession_coding(p);
        let location = match p.profession {
            Profession::Physician(s) if f.kind == FacilityKind::Hospital => {
                WARDS.iter().find(|w| w.2 == s).map_or_else(|| loc_id(p.facility), |w| ward_loc_id(p.facility, w.0))
            }
            _ => loc_id(p.facility),
        };
        let mut role = obj!({
            "resourceType": "PractitionerRole",
            "id": role_id(i),
            "active": true,
            "practitioner": reference_display("Practitioner", &prac_id(i), &p.display()),
            "organization": reference_display("Organization", &org_id(p.facility), &f.name),
            "code": [profession],
            "location": [reference("Location", &location)],
            "telecom": [{"system": "phone", "value": f.phone.as_str(), "use": "work"}],
            "availableTime": [{
                "daysOfWeek": ["mon", "tue", "wed", "thu", "fri"],
                "availableStartTime": if i.is_multiple_of(2) { "08:00:00" } else { "11:00:00" },
                "availableEndTime": if i.is_multiple_of(2) { "15:00:00" } else { "18:00:00" }
            }]
        });
        if let Profession::Physician(s) = p.profession {
            role["specialty"] = obj!([concept(fhir::SPECIALTY, s, catalog::specialty_display(s))]);
        }
        role
    }
}

/// The Coding of a facility's kind, for display in encounters.
pub fn cell_coding(code: &str) -> Value {
    coding(fhir::CELL_TYPE, code, catalog::cell_display(code))
}
