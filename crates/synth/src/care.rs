//! IPOM, the individual care plan of coordinated primary care (KOS, from October 2021): a yearly
//! CarePlan (PLCarePlan) written by the family doctor at a chronic follow-up, addressing the
//! conditions coordinated care covers, with their Goals and the planned checks.

use serde_json::Value;

use super::calendar::Day;
use super::catalog::{self, Activity, CarePlanning, Target};
use super::clinical::Visit;
use super::fhir::{self, coding, concept, decimal, identifier, obj, quantity, reference};
use super::history::{History, Res};

const CARE_PLAN_TYPE: &str = "https://ikp.example.org/fhir/CodeSystem/pl-care-plan-type";

/// Not every practice joined coordinated care, nor every patient agreed to a plan.
const P_PLAN: f64 = 0.7;

impl History<'_> {
    /// A new IPOM at this follow-up when the patient (an adult) has a condition coordinated care
    /// covers and no plan in force; the plan runs for a year.
    pub(super) fn care_plan(&mut self, day: Day, visit: &Visit, due: &[usize]) {
        let started = Day::from_ymd(2021, 10, 1).is_some_and(|kos| day >= kos);
        if !started || self.age_on(day) < 18 || self.care_plan_until.is_some_and(|until| until >= day) {
            return;
        }
        let covered: Vec<(usize, &'static CarePlanning)> = due
            .iter()
            .filter(|&&i| self.chronic[i].id.is_some())
            .filter_map(|&i| catalog::care_planning(self.chronic[i].cond.code).map(|p| (i, p)))
            .collect();
        if covered.is_empty() || !self.rng.chance(P_PLAN) {
            return;
        }
        let until = day.add_years(1).plus(-1);
        self.care_plan_until = Some(until);
        // A plan whose year ended before the reference date has been completed.
        let in_force = until >= self.end;
        let mut addresses = Vec::new();
        let mut goals = Vec::new();
        let mut activities: Vec<&Activity> = Vec::new();
        let mut titles = Vec::new();
        for &(i, planning) in &covered {
            let Some(condition) = self.chronic[i].id.clone() else { continue };
            goals.push(reference("Goal", &self.goal(i, planning, &condition, day, visit)));
            addresses.push(reference("Condition", &condition));
            titles.push(self.chronic[i].cond.display);
            for a in planning.activities {
                // Two conditions may plan the same check (hypertension and heart failure: the
                // basic metabolic panel); it is done once.
                if !activities
                    .iter()
                    .any(|b| b.description == a.description || (a.panel.is_some() && b.panel == a.panel))
                {
                    activities.push(a);
                }
            }
        }
        let id = self.next_id(Res::CarePlan);
        let clinic = &self.layout.facilities[visit.facility];
        let number = format!("IPOM-{}-{}{}", day.year(), self.number, &id[id.len() - 4..]);
        let status = if in_force { "scheduled" } else { "completed" };
        let activity: Vec<Value> = activities.iter().map(|a| activity(a, status)).collect();
        self.out.push(obj!({
            "resourceType": "CarePlan",
            "id": id.as_str(),
            "meta": fhir::profiled("PLCarePlan"),
            "identifier": [identifier(&clinic.local_oid("26.1"), &number)],
            "status": if in_force { "active" } else { "completed" },
            "intent": "plan",
            "category": [{"coding": [coding(CARE_PLAN_TYPE, "IPOM", "Indywidualny plan opieki medycznej")]}],
            "title": format!("IPOM: {}", titles.join("; ")),
            "subject": self.patient_ref(),
            "encounter": reference("Encounter", &visit.id),
            "period": {"start": day.to_string(), "end": until.to_string()},
            "created": visit.start.fhir(),
            "author": self.prac_ref(visit.practitioner),
            "addresses": addresses,
            "goal": goals,
            "activity": activity
        }));
    }

    /// The Goal for chronic condition `i`: set at its first plan, kept by the later ones.
    fn goal(&mut self, i: usize, planning: &CarePlanning, condition: &str, day: Day, visit: &Visit) -> String {
        if let Some(id) = self.chronic[i].goal.clone() {
            return id;
        }
        let id = self.next_id(Res::Goal);
        let mut goal = obj!({
            "resourceType": "Goal",
            "id": id.as_str(),
            "lifecycleStatus": "active",
            "description": {"text": planning.goal},
            "subject": self.patient_ref(),
            "startDate": day.to_string(),
            "addresses": [reference("Condition", condition)],
            "expressedBy": self.prac_ref(visit.practitioner)
        });
        if let Some(t) = &planning.target {
            goal["target"] = obj!([target(t)]);
        }
        self.out.push(goal);
        self.chronic[i].goal = Some(id.clone());
        id
    }
}

/// A Goal target: what is measured and the range to keep it in.
fn target(t: &Target) -> Value {
    // Whole numbers are written without decimals (140 mmHg), others with one (0.4 µIU/ml).
    let limit = |v: f64| {
        let scale = if (v * 10.0).round() as i64 % 10 == 0 { 0 } else { 1 };
        quantity(decimal(v, scale), t.unit.0, t.unit.1)
    };
    let mut range = serde_json::Map::new();
    if let Some(low) = t.low {
        range.insert("low".into(), limit(low));
    }
    if let Some(high) = t.high {
        range.insert("high".into(), limit(high));
    }
    obj!({"measure": concept(fhir::LOINC, t.loinc.0, t.loinc.1), "detailRange": Value::Object(range)})
}

/// A planned activity: what, how often, and (for a laboratory check) the panel's code.
fn activity(a: &Activity, status: &str) -> Value {
    let mut detail = obj!({
        "kind": a.kind,
        "status": status,
        "scheduledTiming": {"repeat": {"frequency": 1, "period": a.months, "periodUnit": "mo"}},
        "description": a.description
    });
    if let Some(panel) = a.panel.and_then(ikp_terminology::laboratory::panel) {
        detail["code"] = obj!({"coding": [coding(fhir::LOINC, panel.loinc, panel.display)], "text": panel.pl});
    }
    obj!({"detail": detail})
}
