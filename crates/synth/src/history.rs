//! A patient's clinical history over the years before the reference date: chronic conditions
//! with yearly follow-ups and repeat prescriptions, acute illnesses, preventive check-ups,
//! specialist referrals, hospital stays, births, and the Polish vaccination schedule.
//! Events are planned first, then played in date order; a visit may schedule later events.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use ikp_terminology::laboratory;
use serde_json::Value;

use super::calendar::{At, Day};
use super::catalog::{self, CHILD_SCHEDULE, CONDITIONS, Condition, DELIVERY, Kind, Med};
use super::facilities::Layout;
use super::pesel::Sex;
use super::population::{Household, Person};
use super::rng::{Rng, label};

/// Age band used by the catalogue tables: 0–17, 18–39, 40–64, 65+.
pub fn band(age: i32) -> usize {
    match age {
        ..=17 => 0,
        18..=39 => 1,
        40..=64 => 2,
        _ => 3,
    }
}

#[derive(Debug, Clone)]
pub(super) enum Event {
    FollowUp,
    Diagnose(usize),
    Acute(&'static Condition),
    Checkup,
    Inpatient(&'static Condition),
    Delivery,
    Birth,
    Vaccinate(Vec<(&'static str, u32)>),
    Specialist { chronic: usize, clinic: &'static str, referral: String },
}

/// The positions of two laboratory panels in `keys` that measure a test in common, if any.
fn overlapping(keys: &[&str]) -> Option<(usize, usize)> {
    let panels: Vec<_> = keys.iter().map(|k| laboratory::panel(k)).collect();
    let mut pairs = (0..panels.len()).flat_map(|a| (a + 1..panels.len()).map(move |b| (a, b)));
    pairs.find(|&(a, b)| matches!((panels[a], panels[b]), (Some(x), Some(y)) if x.overlaps(y)))
}

/// A chronic condition of the patient; `id` is set once it is recorded at a visit.
#[derive(Debug, Clone)]
pub(super) struct Chronic {
    pub cond: &'static Condition,
    pub onset: Day,
    pub id: Option<String>,
    pub meds: Vec<&'static Med>,
    /// The Goal its care plans pursue, once the first plan set it.
    pub goal: Option<String>,
}

/// Kinds of per-patient resources with their id prefixes.
#[derive(Debug, Clone, Copy)]
pub(super) enum Res {
    Encounter,
    Condition,
    MedicationRequest,
    MedicationDispense,
    ServiceRequest,
    DiagnosticReport,
    Observation,
    Immunization,
    Procedure,
    AllergyIntolerance,
    DocumentReference,
    Specimen,
    ImagingStudy,
    CarePlan,
    Goal,
}

impl Res {
    fn prefix(self) -> &'static str {
        match self {
            Res::Encounter => "enc",
            Res::Condition => "cond",
            Res::MedicationRequest => "mrq",
            Res::MedicationDispense => "mdp",
            Res::ServiceRequest => "srq",
            Res::DiagnosticReport => "drp",
            Res::Observation => "obs",
            Res::Immunization => "imm",
            Res::Procedure => "proc",
            Res::AllergyIntolerance => "alg",
            Res::DocumentReference => "doc",
            Res::Specimen => "spc",
            Res::ImagingStudy => "img",
            Res::CarePlan => "cpl",
            Res::Goal => "goal",
        }
    }

    /// How many kinds there are (the last one's index plus one): one id counter each.
    const COUNT: usize = Res::Goal as usize + 1;
}

/// Builds one patient's clinical resources.
pub(super) struct History<'a> {
    pub layout: &'a Layout,
    pub home: &'a Household,
    pub person: &'a Person,
    pub patient_id: &'a str,
    pub number: usize,
    pub start: Day,
    pub end: Day,
    pub rng: Rng,
    pub out: Vec<Value>,
    counters: [u32; Res::COUNT],
    pub chronic: Vec<Chronic>,
    queue: BinaryHeap<Reverse<(i32, usize)>>,
    events: Vec<Option<Event>>,
    followup_pending: bool,
    allergy_due: Option<Day>,
    /// The last day of the care plan (IPOM) in force.
    pub care_plan_until: Option<Day>,
    /// Per laboratory test, this patient's stable deviation from the mean (in SDs).
    pub bias: Vec<f64>,
    /// Adult height (cm), BMI and systolic pressure baseline.
    pub height: f64,
    pub bmi: f64,
    pub systolic: f64,
}

impl<'a> History<'a> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        seed: u64,
        layout: &'a Layout,
        home: &'a Household,
        person: &'a Person,
        patient_id: &'a str,
        number: usize,
        start: Day,
        end: Day,
    ) -> History<'a> {
        let mut rng = Rng::stream(seed, &[label("history"), number as u64]);
        let bias = (0..laboratory::TESTS.len()).map(|_| rng.normal(0.0, 0.7)).collect();
        let height = match person.sex {
            Sex::Male => rng.normal(177.0, 7.0),
            Sex::Female => rng.normal(164.5, 6.0),
        };
        let bmi = rng.normal(26.0, 3.0);
        let systolic = rng.normal(0.0, 8.0);
        History {
            layout,
            home,
            person,
            patient_id,
            number,
            start,
            end,
            rng,
            out: Vec::new(),
            counters: [0; Res::COUNT],
            chronic: Vec::new(),
            queue: BinaryHeap::new(),
            events: Vec::new(),
            followup_pending: false,
            allergy_due: None,
            care_plan_until: None,
            bias,
            height,
            bmi,
            systolic,
        }
    }

    pub fn next_id(&mut self, kind: Res) -> String {
        let c = &mut self.counters[kind as usize];
        *c += 1;
        format!("{}-{:06}-{:04}", kind.prefix(), self.number, c)
    }

    pub fn age_on(&self, day: Day) -> i32 {
        self.person.birth.age_on(day)
    }

    /// The first day of recorded history for this patient.
    pub fn from(&self) -> Day {
        self.start.max(self.person.birth)
    }

    pub(super) fn schedule(&mut self, day: Day, event: Event) {
        if day > self.end || day < self.from() {
            return;
        }
        self.events.push(Some(event));
        self.queue.push(Reverse((day.0, self.events.len() - 1)));
    }

    /// Plans the history and plays it; returns the resources in chronological order.
    pub fn run(mut self) -> Vec<Value> {
        self.plan();
        while let Some(Reverse((day, n))) = self.queue.pop() {
            let Some(event) = self.events.get_mut(n).and_then(Option::take) else { continue };
            self.play(Day(day), event);
        }
        self.out
    }

    fn plan(&mut self) {
        let from = self.from();
        let end = self.end;
        let age_now = self.age_on(end);
        let years = from.days_until(end) as f64 / 365.25;
        let sex = self.person.sex;
        // Chronic conditions, with onset somewhere between the youngest onset age and today.
        for cond in CONDITIONS {
            let Kind::Chronic { per_mille, min_onset } = cond.kind else { continue };
            if cond.sex.is_some_and(|s| s != sex) || (age_now as u32) < min_onset {
                continue;
            }
            if !self.rng.chance(f64::from(per_mille[band(age_now)]) / 1000.0) {
                continue;
            }
            let onset_age = self.rng.range(i64::from(min_onset), i64::from(age_now)) as i32;
            let onset = self.person.birth.add_years(onset_age).plus(self.rng.range(0, 364)).min(end.plus(-1));
            self.chronic.push(Chronic { cond, onset, id: None, meds: Vec::new(), goal: None });
        }
        self.chronic.sort_by_key(|c| c.onset);
        let mut earliest_followup = None;
        for i in 0..self.chronic.len() {
            let onset = self.chronic[i].onset;
            if onset >= from {
                let d = onset.plus(self.rng.range(3, 45)).workday();
                self.schedule(d, Event::Diagnose(i));
            } else {
                earliest_followup = Some(from.plus(self.rng.range(10, 200)));
            }
        }
        if let Some(d) = earliest_followup {
            self.followup_pending = true;
            self.schedule(d.workday(), Event::FollowUp);
        }
        // Acute illnesses seen by the family doctor.
        let mut t = from;
        loop {
            let age = self.age_on(t);
            let rate = match age {
                ..=5 => 1.25,
                6..=17 => 0.55,
                18..=39 => 0.4,
                40..=64 => 0.45,
                _ => 0.55,
            };
            t = t.plus(((365.0 / rate) * (0.2 + 1.6 * self.rng.unit())) as i64 + 1);
            if t > end {
                break;
            }
            if let Some(cond) = self.pick_acute(t) {
                self.schedule(t.workday(), Event::Acute(cond));
            }
        }
        // Preventive check-ups: children's "bilans" at fixed ages, adults every few years.
        for age in [2, 4, 6, 10, 13, 16] {
            let d = self.person.birth.add_years(age).plus(self.rng.range(0, 60));
            self.schedule(d.workday(), Event::Checkup);
        }
        let mut t = from.max(self.person.birth.add_years(18)).plus(self.rng.range(0, 1000));
        while t <= end {
            let age = self.age_on(t);
            let p = if age >= 40 { 0.55 } else { 0.4 };
            if self.rng.chance(p) {
                self.schedule(t.workday(), Event::Checkup);
            }
            t = t.plus(self.rng.range(900, 1800));
        }
        // Hospital stays.
        for cond in CONDITIONS {
            let Kind::Inpatient { per_10k, .. } = cond.kind else { continue };
            if cond.sex.is_some_and(|s| s != sex) {
                continue;
            }
            let p = (f64::from(per_10k[band(age_now)]) * years / 10_000.0).min(0.8);
            if self.rng.chance(p) {
                let d = from.plus(self.rng.range(0, from.days_until(end)));
                self.schedule(d, Event::Inpatient(cond));
            }
        }
        for &birth in &self.person.births.clone() {
            self.schedule(birth, Event::Delivery);
        }
        if self.person.birth >= self.start {
            self.schedule(self.person.birth, Event::Birth);
        }
        self.plan_vaccinations();
        let p_allergy = if age_now < 18 { 0.15 } else { 0.11 };
        if self.rng.chance(p_allergy) {
            self.allergy_due = Some(from.plus(self.rng.range(0, from.days_until(end).max(1))));
        }
    }

    fn pick_acute(&mut self, day: Day) -> Option<&'static Condition> {
        let b = band(self.age_on(day));
        let year = day.year();
        let candidates: Vec<&'static Condition> = CONDITIONS
            .iter()
            .filter(|c| matches!(c.kind, Kind::Acute { .. }))
            .filter(|c| c.sex.is_none_or(|s| s == self.person.sex) && year >= c.since)
            .collect();
        let weights: Vec<u32> = candidates
            .iter()
            .map(|c| match c.kind {
                Kind::Acute { weight } => u32::from(weight[b]),
                _ => 0,
            })
            .collect();
        if weights.iter().all(|&w| w == 0) {
            return None;
        }
        candidates.get(self.rng.weighted(&weights)).copied()
    }

    fn plan_vaccinations(&mut self) {
        let birth = self.person.birth;
        let end = self.end;
        for (age_days, doses) in CHILD_SCHEDULE {
            if *age_days == 0 || self.rng.chance(0.03) {
                continue; // birth doses are given during the newborn stay; a few doses are missed
            }
            let d = birth.plus(i64::from(*age_days) + self.rng.range(0, 20)).workday();
            self.schedule(d, Event::Vaccinate(doses.to_vec()));
        }
        // HPV for 12–13-year-olds, offered from June 2023.
        if let Some(hpv_start) = Day::from_ymd(2023, 6, 1) {
            let twelve = birth.add_years(12);
            if twelve.add_years(2) > hpv_start && self.rng.chance(0.35) {
                let d = twelve.max(hpv_start).plus(self.rng.range(0, 300)).workday();
                if self.age_on(d) < 14 {
                    self.schedule(d, Event::Vaccinate(vec![("165", 1)]));
                    let second = d.plus(self.rng.range(180, 230)).workday();
                    self.schedule(second, Event::Vaccinate(vec![("165", 2)]));
                }
            }
        }
        // Seasonal influenza.
        for year in self.from().year()..=end.year() {
            let Some(season) = Day::from_ymd(year, 10, 1) else { continue };
            let age = self.age_on(season);
            let p = match age {
                ..=0 => 0.0,
                1..=17 => 0.03,
                18..=49 => 0.04,
                50..=64 => 0.09,
                _ => 0.22,
            };
            if self.rng.chance(p) {
                let d = season.plus(self.rng.range(0, 75)).workday();
                self.schedule(d, Event::Vaccinate(vec![("150", 1)]));
            }
        }
        // COVID-19: primary course in 2021, then boosters.
        let Some(campaign) = Day::from_ymd(2021, 2, 1) else { return };
        let age = self.age_on(campaign);
        if age >= 18 && self.rng.chance((0.45 + 0.004 * f64::from(age - 18)).min(0.8)) {
            let first =
                if age >= 70 { campaign.plus(self.rng.range(0, 55)) } else { campaign.plus(self.rng.range(60, 150)) }
                    .workday();
            let second = first.plus(self.rng.range(21, 42)).workday();
            self.schedule(first, Event::Vaccinate(vec![("208", 1)]));
            self.schedule(second, Event::Vaccinate(vec![("208", 2)]));
            if self.rng.chance(0.55) {
                let d = Day::from_ymd(2021, 11, 1).map(|d| d.plus(self.rng.range(0, 110)).workday());
                if let Some(d) = d {
                    self.schedule(d, Event::Vaccinate(vec![("208", 3)]));
                }
            }
            let mut dose = 4;
            for (year, old, young) in [(2022, 0.25, 0.07), (2023, 0.12, 0.03), (2024, 0.12, 0.03)] {
                let p = if age >= 60 { old } else { young };
                if self.rng.chance(p) {
                    let d = Day::from_ymd(year, 9, 15).map(|d| d.plus(self.rng.range(0, 90)).workday());
                    if let Some(d) = d {
                        self.schedule(d, Event::Vaccinate(vec![("213", dose)]));
                        dose += 1;
                    }
                }
            }
        }
        let age_now = self.age_on(end);
        if age_now >= 65 && self.rng.chance(0.06) {
            let d = self.from().max(birth.add_years(65)).plus(self.rng.range(0, 900)).workday();
            self.schedule(d, Event::Vaccinate(vec![("33", 1)]));
        }
        if age_now >= 18 && self.rng.chance(0.03) {
            let d = Day::from_ymd(end.year() - self.rng.range(1, 6) as i32, 4, 1)
                .map(|d| d.plus(self.rng.range(0, 45)).workday());
            if let Some(d) = d {
                self.schedule(d, Event::Vaccinate(vec![("77", 1)]));
            }
        }
    }

    fn play(&mut self, day: Day, event: Event) {
        match event {
            Event::FollowUp => self.follow_up(day, None),
            Event::Diagnose(i) => self.follow_up(day, Some(i)),
            Event::Acute(cond) => self.acute(day, cond),
            Event::Checkup => self.checkup(day),
            Event::Inpatient(cond) => self.inpatient(day, cond),
            Event::Delivery => {
                let cesarean = self.rng.chance(0.35);
                self.hospital_stay(day, &DELIVERY, cesarean);
            }
            Event::Birth => self.newborn(day),
            Event::Vaccinate(doses) => self.vaccination_visit(day, &doses),
            Event::Specialist { chronic, clinic, referral } => self.specialist(day, chronic, clinic, &referral),
        }
    }

    /// Records an allergy at this visit if one is due.
    pub(super) fn maybe_allergy(&mut self, day: Day, encounter: &str, practitioner: usize) {
        if self.allergy_due.is_some_and(|d| d <= day) {
            self.allergy_due = None;
            self.allergy(day, encounter, practitioner);
        }
    }

    /// Chronic follow-up (or the visit where chronic condition `diagnose` is first found).
    fn follow_up(&mut self, day: Day, diagnose: Option<usize>) {
        if diagnose.is_none() {
            self.followup_pending = false;
        }
        let due: Vec<usize> = (0..self.chronic.len())
            .filter(|&i| self.chronic[i].onset <= day && (self.chronic[i].id.is_none() || diagnose.is_none()))
            .collect();
        if due.is_empty() {
            return;
        }
        let mut visit = self.gp_visit(day, false);
        let mut newly = Vec::new();
        for &i in &due {
            if self.chronic[i].id.is_none() {
                let onset = self.chronic[i].onset;
                let id = self.condition(self.chronic[i].cond, &visit, onset, None, true);
                self.chronic[i].id = Some(id);
                let meds = self.choose_meds(self.chronic[i].cond);
                self.chronic[i].meds = meds;
                newly.push(i);
            }
            if let Some(id) = self.chronic[i].id.clone() {
                let role = if newly.contains(&i) { "AD" } else { "CM" };
                visit.diagnoses.push((id, role));
            }
        }
        let adult = self.age_on(day) >= 18;
        let hypertensive = due.iter().any(|&i| self.chronic[i].cond.code == "I10");
        if adult || hypertensive {
            let body = self.rng.chance(0.2);
            self.vitals(day, &visit, true, body, None);
        }
        let mut prescriptions = Vec::new();
        for &i in &due {
            let reason = self.chronic[i].id.clone();
            for med in self.chronic[i].meds.clone() {
                prescriptions.push((med, reason.clone()));
            }
        }
        self.prescribe(&visit, &prescriptions, "outpatient");
        let mut panels: Vec<&'static str> = Vec::new();
        for &i in &due {
            for p in self.chronic[i].cond.labs {
                if !panels.contains(p) {
                    panels.push(p);
                }
            }
        }
        let p_labs = if newly.is_empty() { 0.25 } else { 0.6 };
        // At most two panels, and never two measuring the same test (the renal panel and the
        // basic metabolic panel): one of an overlapping pair, else any, is dropped at random.
        while panels.len() > 2 || overlapping(&panels).is_some() {
            let drop = match overlapping(&panels) {
                Some((a, b)) => {
                    if self.rng.chance(0.5) {
                        a
                    } else {
                        b
                    }
                }
                None => self.rng.index(panels.len()),
            };
            panels.remove(drop);
        }
        if !panels.is_empty() && self.rng.chance(p_labs) {
            let reason = due.first().and_then(|&i| self.chronic[i].id.clone());
            self.labs(&visit, &panels, reason.as_deref(), false);
        }
        let referable: Vec<usize> = due.iter().copied().filter(|&i| self.chronic[i].cond.clinic.is_some()).collect();
        let p_referral = if newly.is_empty() { 0.1 } else { 0.45 };
        if let Some(&i) = self.rng.choose(&referable)
            && self.rng.chance(p_referral)
        {
            self.refer(day, &visit, i);
        }
        self.care_plan(day, &visit, &due);
        self.maybe_allergy(day, &visit.id.clone(), visit.practitioner);
        self.close_visit(visit);
        if !self.followup_pending {
            self.followup_pending = true;
            let next = day.plus(self.rng.range(330, 540)).workday();
            self.schedule(next, Event::FollowUp);
        }
    }

    fn choose_meds(&mut self, cond: &Condition) -> Vec<&'static Med> {
        let mut meds: Vec<&'static Med> = Vec::new();
        if cond.meds.is_empty() || self.rng.chance(0.15) {
            return meds;
        }
        let n = if cond.meds.len() > 2 && self.rng.chance(0.2) { 2 } else { 1 };
        while meds.len() < n {
            let name = self.rng.pick(cond.meds, "");
            if let Some(m) = catalog::med_named(name)
                && !meds.iter().any(|x| x.product == m.product)
            {
                meds.push(m);
            }
        }
        meds
    }

    fn acute(&mut self, day: Day, cond: &'static Condition) {
        let visit = self.gp_visit(day, false);
        let onset = day.plus(-self.rng.range(1, 5));
        let resolved = day.plus(self.rng.range(5, 18));
        let id = self.condition(cond, &visit, onset, (resolved <= self.end).then_some(resolved), false);
        let mut visit = visit;
        visit.diagnoses.push((id.clone(), "billing"));
        let feverish = cond.code.starts_with('J') || matches!(cond.code, "U07.1" | "H66.9" | "B01.9" | "N39.0");
        let temperature = (feverish && self.rng.chance(0.6)).then(|| self.rng.normal(38.1, 0.5).clamp(36.6, 40.2));
        if temperature.is_some() || self.rng.chance(0.15) {
            let pressure = self.age_on(day) >= 18 && self.rng.chance(0.4);
            self.vitals(day, &visit, pressure, false, temperature);
        }
        let age = self.age_on(day);
        let mut meds = Vec::new();
        for name in cond.meds {
            let Some(m) = catalog::med_named(name) else { continue };
            let allowed = match m.atc {
                "J05AE30" => age >= 60 && day.year() >= 2022,
                "M01AE03" | "N02BB02" => age >= 16,
                _ => true,
            };
            if allowed && (meds.is_empty() || self.rng.chance(0.4)) && self.rng.chance(0.8) {
                meds.push((m, Some(id.clone())));
            }
        }
        self.prescribe(&visit, &meds, "outpatient");
        if !cond.labs.is_empty() && self.rng.chance(0.4) {
            self.labs(&visit, cond.labs, Some(&id), true);
        }
        // An adult's lingering cough is imaged to rule out pneumonia.
        for exam in cond.procedures.iter().filter_map(|code| catalog::imaging(code)) {
            if age >= 18 && self.rng.chance(0.3) {
                self.refer_imaging(&visit, exam, &id, cond.code);
            }
        }
        self.maybe_allergy(day, &visit.id.clone(), visit.practitioner);
        self.close_visit(visit);
    }

    fn checkup(&mut self, day: Day) {
        let age = self.age_on(day);
        let mut visit = self.gp_visit(day, false);
        let reason = if age < 18 {
            ("Z00.1", "Rutynowe badanie stanu zdrowia dziecka")
        } else {
            ("Z00.0", "Ogólne badanie lekarskie")
        };
        visit.reasons.push(super::fhir::concept(super::fhir::ICD10, reason.0, reason.1));
        self.vitals(day, &visit, age >= 18, true, None);
        let panels: &[&str] = match age {
            ..=17 => &[],
            18..=39 => &["cbc", "glucose", "urine"],
            _ => {
                [&["cbc", "lipid", "urine"][..], &["lipid", "glucose"], &["cbc", "glucose", "urine"]][self.rng.index(3)]
            }
        };
        if !panels.is_empty() && self.rng.chance(0.35) {
            self.labs(&visit, panels, None, false);
        }
        if age >= 50 && self.rng.chance(0.08) {
            let at = At::new(day.plus(self.rng.range(20, 90)).workday(), 9, 0);
            if at.day <= self.end {
                let gastro = self.layout.physician(&mut self.rng, self.home.hospital, "0743");
                self.procedure("45.23", at, &visit, gastro, self.home.hospital, None);
            }
        }
        self.maybe_allergy(day, &visit.id.clone(), visit.practitioner);
        self.close_visit(visit);
    }

    fn inpatient(&mut self, day: Day, cond: &'static Condition) {
        self.hospital_stay(day, cond, false);
        if cond.code == "I21.9"
            && !self.chronic.iter().any(|c| c.cond.code == "I25.1")
            && let Some(cad) = CONDITIONS.iter().find(|c| c.code == "I25.1")
        {
            self.chronic.push(Chronic { cond: cad, onset: day, id: None, meds: Vec::new(), goal: None });
            let i = self.chronic.len() - 1;
            let when = day.plus(self.rng.range(20, 40)).workday();
            self.schedule(when, Event::Diagnose(i));
        }
    }
}
