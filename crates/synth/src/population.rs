//! People and households: adults living alone or in couples, families with children under 18
//! (who get RelatedPerson resources for their parents or guardians), elderly singles and couples.
//! Each household is drawn from its own random stream, so households are independent.

use std::collections::HashSet;

use serde_json::Value;

use super::calendar::Day;
use super::facilities::{self, FacilityKind, Layout, Profession};
use super::fhir::{self, coded, coding, obj, reference, reference_display};
use super::names::{self, CITIES};
use super::pesel::{self, Sex};
use super::rng::{Rng, label};

/// Relationship of a child to an adult of the household (v3-RoleCode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    Mother,
    Father,
    Guardian,
}

impl Relation {
    pub fn code(self) -> (&'static str, &'static str) {
        match self {
            Relation::Mother => ("MTH", "mother"),
            Relation::Father => ("FTH", "father"),
            Relation::Guardian => ("GUARD", "guardian"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Person {
    pub sex: Sex,
    pub birth: Day,
    pub given: Vec<&'static str>,
    pub family: String,
    pub pesel: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    /// v3-MaritalStatus code.
    pub marital: &'static str,
    /// For a child: the adults of the household responsible for them (member index, relation).
    pub carers: Vec<(usize, Relation)>,
    /// For a mother: her children's birth dates.
    pub births: Vec<Day>,
}

impl Person {
    pub fn display(&self) -> String {
        format!("{} {}", self.given.join(" "), self.family)
    }
}

#[derive(Debug, Clone)]
pub struct Household {
    pub index: usize,
    pub members: Vec<Person>,
    pub city: usize,
    pub street: &'static str,
    pub house: u32,
    pub flat: Option<u32>,
    pub postal: u32,
    pub clinic: usize,
    pub hospital: usize,
    pub pharmacy: usize,
    pub lab: usize,
    /// The family doctor and, when the clinic has one, the children's paediatrician.
    pub gp: usize,
    pub pediatrician: usize,
}

impl Household {
    pub fn address(&self) -> Value {
        let line = match self.flat {
            Some(flat) => format!("ul. {} {}/{flat}", self.street, self.house),
            None => format!("ul. {} {}", self.street, self.house),
        };
        obj!({
            "use": "home",
            "type": "physical",
            "line": [line],
            "city": CITIES[self.city.min(CITIES.len() - 1)].name,
            "postalCode": names::postal_code(self.postal),
            "country": "PL"
        })
    }

    pub fn branch(&self) -> u32 {
        CITIES[self.city.min(CITIES.len() - 1)].branch
    }
}

/// Draws households; keeps the set of PESELs handed out so every person's number is unique.
pub struct Census {
    seed: u64,
    end: Day,
    pesels: HashSet<u64>,
}

#[derive(Clone, Copy)]
enum Shape {
    Single,
    Couple,
    Family,
    SingleParent,
    ElderlySingle,
    ElderlyCouple,
    Young,
    ThreeGenerations,
    Guardians,
}

impl Census {
    pub fn new(seed: u64, end: Day) -> Census {
        Census { seed, end, pesels: HashSet::new() }
    }

    pub fn household(&mut self, layout: &Layout, index: usize) -> Household {
        let mut rng = Rng::stream(self.seed, &[label("household"), index as u64]);
        let shapes = [
            (Shape::Single, 15),
            (Shape::Couple, 14),
            (Shape::Family, 21),
            (Shape::SingleParent, 6),
            (Shape::ElderlySingle, 15),
            (Shape::ElderlyCouple, 13),
            (Shape::Young, 8),
            (Shape::ThreeGenerations, 5),
            (Shape::Guardians, 3),
        ];
        let weights: Vec<u32> = shapes.iter().map(|s| s.1).collect();
        let shape = shapes[rng.weighted(&weights)].0;
        let surname = rng.pick(names::SURNAMES, "Nowak");
        let mut members = Vec::new();
        match shape {
            Shape::Single => {
                let sex = if rng.chance(0.5) { Sex::Male } else { Sex::Female };
                let age = rng.range(25, 64) as i32;
                let marital = if rng.chance(0.35) { "D" } else { "S" };
                members.push(self.person(&mut rng, sex, age, surname, marital));
            }
            Shape::Young => {
                let sex = if rng.chance(0.5) { Sex::Male } else { Sex::Female };
                let age = rng.range(18, 30) as i32;
                members.push(self.person(&mut rng, sex, age, surname, "S"));
            }
            Shape::Couple => {
                let age = rng.range(25, 64) as i32;
                self.couple(&mut rng, &mut members, age, surname);
            }
            Shape::ElderlySingle => {
                let sex = if rng.chance(0.7) { Sex::Female } else { Sex::Male };
                let age = rng.range(65, 96) as i32;
                let marital = if rng.chance(0.8) { "W" } else { "S" };
                members.push(self.person(&mut rng, sex, age, surname, marital));
            }
            Shape::ElderlyCouple => {
                let age = rng.range(63, 90) as i32;
                self.couple(&mut rng, &mut members, age, surname);
            }
            Shape::Family | Shape::ThreeGenerations => {
                let mother_age = rng.range(24, 50) as i32;
                self.couple(&mut rng, &mut members, mother_age, surname);
                if matches!(shape, Shape::ThreeGenerations) {
                    let sex = if rng.chance(0.7) { Sex::Female } else { Sex::Male };
                    let age = (mother_age + rng.range(24, 32) as i32).min(98);
                    members.push(self.person(&mut rng, sex, age, surname, "W"));
                }
                let kids = rng.weighted(&[0, 50, 40, 10]);
                self.children(
                    &mut rng,
                    &mut members,
                    kids,
                    mother_age,
                    surname,
                    &[(1, Relation::Mother), (0, Relation::Father)],
                );
            }
            Shape::SingleParent => {
                let mother = rng.chance(0.85);
                let sex = if mother { Sex::Female } else { Sex::Male };
                let age = rng.range(24, 50) as i32;
                let marital = if rng.chance(0.6) { "D" } else { "S" };
                members.push(self.person(&mut rng, sex, age, surname, marital));
                let kids = rng.weighted(&[0, 65, 35]);
                let relation = if mother { Relation::Mother } else { Relation::Father };
                self.children(&mut rng, &mut members, kids, age, surname, &[(0, relation)]);
            }
            Shape::Guardians => {
                let age = rng.range(58, 75) as i32;
                let guardians = if rng.chance(0.6) {
                    self.couple(&mut rng, &mut members, age, surname);
                    vec![(1, Relation::Guardian), (0, Relation::Guardian)]
                } else {
                    members.push(self.person(&mut rng, Sex::Female, age, surname, "W"));
                    vec![(0, Relation::Guardian)]
                };
                let child_age = rng.range(3, 17) as i32;
                let sex = if rng.chance(0.5) { Sex::Male } else { Sex::Female };
                let mut child = self.person(&mut rng, sex, child_age, surname, "S");
                child.carers = guardians;
                members.push(child);
            }
        }
        let clinic = rng.choose(&layout.clinics).copied().unwrap_or(0);
        let city = layout.facilities[clinic].city;
        let c = &CITIES[city];
        let gp = layout.physician(&mut rng, clinic, "0713");
        let pediatrician = {
            let p = layout.physician(&mut rng, clinic, "0723");
            if layout.practitioners[p].profession == Profession::Physician("0723") { p } else { gp }
        };
        Household {
            index,
            members,
            city,
            street: rng.pick(names::STREETS, "Długa"),
            house: rng.range(1, 160) as u32,
            flat: rng.chance(0.7).then(|| rng.range(1, 120) as u32),
            postal: rng.range(i64::from(c.postal_from), i64::from(c.postal_to)) as u32,
            clinic,
            hospital: layout.nearby(&mut rng, FacilityKind::Hospital, city),
            pharmacy: layout.nearby(&mut rng, FacilityKind::Pharmacy, city),
            lab: layout.nearby(&mut rng, FacilityKind::Lab, city),
            gp,
            pediatrician,
        }
    }

    /// A married couple: the woman (member 0 of the pair's first slot is the man) aged `age`.
    fn couple(&mut self, rng: &mut Rng, members: &mut Vec<Person>, age: i32, surname: &'static str) {
        let husband_age = (age + rng.normal(2.5, 2.5).round() as i32).clamp(age - 5, age + 12).max(19);
        members.push(self.person(rng, Sex::Male, husband_age, surname, "M"));
        let mut wife = self.person(rng, Sex::Female, age, surname, "M");
        if rng.chance(0.07) {
            let maiden = names::family_name(rng.pick(names::SURNAMES, "Kowalski"), Sex::Female);
            wife.family = format!("{maiden}-{}", wife.family);
        }
        members.push(wife);
    }

    fn children(
        &mut self,
        rng: &mut Rng,
        members: &mut Vec<Person>,
        count: usize,
        mother_age: i32,
        surname: &'static str,
        carers: &[(usize, Relation)],
    ) {
        let first = members.len();
        let youngest = (mother_age - 42).max(0);
        let oldest = (mother_age - 20).min(17);
        for _ in 0..count {
            if oldest < youngest {
                break;
            }
            let age = rng.range(i64::from(youngest), i64::from(oldest)) as i32;
            let sex = if rng.chance(0.51) { Sex::Male } else { Sex::Female };
            let mut child = self.person(rng, sex, age, surname, "S");
            child.carers = carers.to_vec();
            members.push(child);
        }
        // Mothers remember their children's births (for the delivery stays in their history).
        for &(i, relation) in carers {
            if relation == Relation::Mother {
                let births: Vec<Day> = members[first..].iter().map(|c| c.birth).collect();
                if let Some(m) = members.get_mut(i) {
                    m.births.extend(births);
                }
            }
        }
    }

    fn person(&mut self, rng: &mut Rng, sex: Sex, age: i32, surname: &'static str, marital: &'static str) -> Person {
        let latest = self.end.add_years(-age);
        let birth = latest.plus(-rng.range(0, 364));
        let pool = names::given_names(sex, birth.year());
        let mut given = vec![rng.pick(pool, "Anna")];
        if rng.chance(0.35) {
            let second = rng.pick(pool, "Maria");
            if second != given[0] {
                given.push(second);
            }
        }
        let family = names::family_name(surname, sex);
        let mut serial = rng.below(5000) as u32;
        let mut pesel = pesel::encode(birth, serial, sex).unwrap_or_default();
        // A birth date and sex have 5000 serials; take the next free one (a PESEL is unique).
        for _ in 0..5000 {
            if self.pesels.insert(pesel.parse::<u64>().unwrap_or(0)) {
                break;
            }
            serial = (serial + 1) % 5000;
            pesel = pesel::encode(birth, serial, sex).unwrap_or_default();
        }
        let phone = (age >= 13 || rng.chance(0.05)).then(|| facilities::mobile(rng));
        let email = (age >= 16 && rng.chance(0.55)).then(|| {
            let ascii = |s: &str| -> String {
                s.chars()
                    .map(|c| match c {
                        'ą' => 'a',
                        'ć' => 'c',
                        'ę' => 'e',
                        'ł' | 'Ł' => 'l',
                        'ń' => 'n',
                        'ó' => 'o',
                        'ś' | 'Ś' => 's',
                        'ź' | 'ż' | 'Ż' | 'Ź' => 'z',
                        c => c.to_ascii_lowercase(),
                    })
                    .filter(|c| c.is_ascii_alphanumeric())
                    .collect()
            };
            format!("{}.{}{}@example.com", ascii(given[0]), ascii(&family), rng.below(100))
        });
        Person { sex, birth, given, family, pesel, phone, email, marital, carers: Vec::new(), births: Vec::new() }
    }
}

/// The Patient resource of a household member.
pub fn patient(layout: &Layout, home: &Household, person: &Person, id: &str, number: usize, end: Day) -> Value {
    let clinic = &layout.facilities[home.clinic];
    let doctor = if person.birth.age_on(end) < 18 { home.pediatrician } else { home.gp };
    let mut telecom = Vec::new();
    if let Some(phone) = &person.phone {
        telecom.push(obj!({"system": "phone", "value": phone.as_str(), "use": "mobile", "rank": 1}));
    }
    if let Some(email) = &person.email {
        telecom.push(obj!({"system": "email", "value": email.as_str(), "use": "home"}));
    }
    let marital_display = match person.marital {
        "M" => "Married",
        "W" => "Widowed",
        "D" => "Divorced",
        _ => "Never Married",
    };
    let mut p = obj!({
        "resourceType": "Patient",
        "id": id,
        "identifier": [
            {"use": "official", "system": fhir::PESEL, "value": person.pesel.as_str()},
            {"use": "secondary", "system": clinic.local_oid("17.1"), "value": format!("{number}")}
        ],
        "active": true,
        "name": [{"use": "official", "family": person.family.as_str(), "given": person.given.clone()}],
        "telecom": telecom,
        "gender": person.sex.fhir(),
        "birthDate": person.birth.to_string(),
        "address": [home.address()],
        "maritalStatus": coded("http://terminology.hl7.org/CodeSystem/v3-MaritalStatus", person.marital, marital_display),
        "communication": [{"language": {"coding": [coding("urn:ietf:bcp:47", "pl", "polski")], "text": "polski"}, "preferred": true}],
        "generalPractitioner": [
            reference_display("Practitioner", &facilities::prac_id(doctor), &layout.practitioners[doctor].display()),
            reference_display("Organization", &facilities::org_id(home.clinic), &clinic.name)
        ],
        "managingOrganization": reference("Organization", &facilities::org_id(home.clinic))
    });
    if telecom_is_empty(&p)
        && let Some(obj) = p.as_object_mut()
    {
        obj.remove("telecom");
    }
    p
}

fn telecom_is_empty(p: &Value) -> bool {
    p.get("telecom").and_then(Value::as_array).is_some_and(Vec::is_empty)
}

/// The RelatedPerson resources for a child's parents or guardians.
pub fn related_persons(home: &Household, child: &Person, patient_id: &str, number: usize) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for (n, &(member, relation)) in child.carers.iter().enumerate() {
        let Some(adult) = home.members.get(member) else { continue };
        let id = format!("rp-{number:06}-{}", n + 1);
        let (code, display) = relation.code();
        let mut rp = obj!({
            "resourceType": "RelatedPerson",
            "id": id.as_str(),
            "identifier": [{"use": "official", "system": fhir::PESEL, "value": adult.pesel.as_str()}],
            "active": true,
            "patient": reference("Patient", patient_id),
            "relationship": [{"coding": [coding(fhir::ROLE_CODE, code, display)]}],
            "name": [{"use": "official", "family": adult.family.as_str(), "given": adult.given.clone()}],
            "gender": adult.sex.fhir(),
            "birthDate": adult.birth.to_string(),
            "address": [home.address()],
            "period": {"start": child.birth.to_string()}
        });
        if let Some(phone) = &adult.phone {
            rp["telecom"] = obj!([{"system": "phone", "value": phone.as_str(), "use": "mobile"}]);
        }
        out.push((id, rp));
    }
    out
}

/// Public health insurance (NFZ): an adult is insured in their own right, a child as a family
/// member of the first parent or guardian (the RelatedPerson is the subscriber).
pub fn coverage(home: &Household, person: &Person, patient_id: &str, number: usize, subscriber: Option<&str>) -> Value {
    let branch = home.branch();
    let (region, _) =
        names::NFZ_BRANCHES.get((branch as usize).saturating_sub(1)).copied().unwrap_or(("Mazowiecki", "Warszawa"));
    let (subscriber_ref, subscriber_id, relationship) = match subscriber {
        Some(rp) => {
            let pesel = person.carers.first().and_then(|&(m, _)| home.members.get(m)).map_or("", |a| a.pesel.as_str());
            (reference("RelatedPerson", rp), pesel.to_string(), ("child", "Child"))
        }
        None => (reference("Patient", patient_id), person.pesel.clone(), ("self", "Self")),
    };
    let start = Day::from_ymd(2003, 4, 1).map_or(person.birth, |nfz| nfz.max(person.birth));
    obj!({
        "resourceType": "Coverage",
        "id": format!("cov-{number:06}"),
        "status": "active",
        "type": coded(fhir::ACT_CODE, "PUBLICPOL", "public healthcare"),
        "subscriber": subscriber_ref,
        "subscriberId": subscriber_id,
        "beneficiary": reference("Patient", patient_id),
        "relationship": coded("http://terminology.hl7.org/CodeSystem/subscriber-relationship", relationship.0, relationship.1),
        "period": {"start": start.to_string()},
        "payor": [reference_display("Organization", &facilities::nfz_id(branch), &format!("{region} Oddział Wojewódzki NFZ"))],
        "class": [{
            "type": coded("http://terminology.hl7.org/CodeSystem/coverage-class", "plan", "Plan"),
            "value": "NFZ",
            "name": "Powszechne ubezpieczenie zdrowotne"
        }]
    })
}
