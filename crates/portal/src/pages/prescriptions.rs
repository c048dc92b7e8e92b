//! `/recepty`: e-prescriptions by package, each with its access code, dosage, status, validity,
//! prescriber, and whether it can be dispensed abroad (the patient's cross-border consent, and the
//! rules: active, valid today, not a narcotic `Rpw`).

use std::collections::HashMap;

use axum::response::Response;
use serde_json::Value;

use super::systems;
use crate::context::Ctx;
use crate::fhir;
use crate::i18n::Lang;
use crate::view::{Badge, Card, Page, Section};

pub async fn page(mut ctx: Ctx) -> Response {
    let Some(account) = ctx.account() else { return ctx.login_first() };
    let urls = [
        format!(
            "MedicationRequest?patient={account}&_sort=-authoredon&_count=100&_include=MedicationRequest:requester"
        ),
        format!("Consent?patient={account}&category={}|cross-border&status=active", systems::AUTHORIZATION_TYPE),
    ];
    let answers = ctx.batch(&urls).await;
    let lang = ctx.lang;
    let mut notice = None;
    let (prescriptions, people) = match &answers[0] {
        Ok(bundle) => (fhir::matches(bundle), fhir::labels(&fhir::included(bundle))),
        Err(e) => {
            notice = Some(ctx.refusal(e));
            (Vec::new(), HashMap::new())
        }
    };
    let countries: Vec<String> = match &answers[1] {
        Ok(bundle) => fhir::matches(bundle).iter().flat_map(|c| consent_countries(c)).collect(),
        Err(_) => Vec::new(),
    };
    let today = fhir::today();
    // Packages in the order of their newest prescription.
    let mut packages: Vec<(String, Vec<&Value>)> = Vec::new();
    for mr in &prescriptions {
        let key = fhir::text(mr, "/groupIdentifier/value").to_string();
        match packages.iter_mut().find(|(k, _)| *k == key) {
            Some((_, list)) => list.push(mr),
            None => packages.push((key, vec![mr])),
        }
    }
    let sections: Vec<Section> = packages
        .iter()
        .map(|(_, list)| {
            let first = list[0];
            let code = fhir::identifier(first, systems::RX_ACCESS_CODE).unwrap_or("—");
            Section {
                heading: format!(
                    "{} {} · {} {code}",
                    lang.pick("Recepty z", "Prescriptions of"),
                    lang.date(fhir::text(first, "/authoredOn")),
                    lang.pick("kod dostępu", "access code"),
                ),
                intro: Some(
                    lang.pick(
                        "Podaj farmaceucie kod dostępu i swój PESEL.",
                        "Give the pharmacist the access code and your PESEL.",
                    )
                    .into(),
                ),
                cards: list.iter().map(|mr| card(lang, mr, &people, &countries, &today)).collect(),
                ..Section::default()
            }
        })
        .collect();
    let mut sections = sections;
    if sections.is_empty() {
        sections.push(Section {
            heading: lang.pick("Twoje e-recepty", "Your e-prescriptions").into(),
            empty: Some(
                lang.pick("Na tym koncie nie ma e-recept.", "There are no e-prescriptions on this account.").into(),
            ),
            ..Section::default()
        });
    }
    let abroad = if countries.is_empty() {
        lang.pick("Realizacja za granicą jest wyłączona.", "Dispensing abroad is switched off.").to_string()
    } else {
        format!(
            "{} {}",
            lang.pick("Realizacja za granicą włączona w:", "Dispensing abroad is on in:"),
            countries.join(", ")
        )
    };
    let page = Page { title: lang.pick("e-Recepty", "e-Prescriptions").into(), intro: Some(abroad), notice, sections };
    ctx.render(page)
}

fn card(lang: Lang, mr: &Value, people: &HashMap<String, String>, countries: &[String], today: &str) -> Card {
    let (status, tone) = status(lang, mr);
    let medication = mr
        .pointer("/medicationReference/display")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| mr.get("contained").and_then(|c| c.get(0)).map(|m| fhir::concept(m.get("code"))))
        .unwrap_or_else(|| fhir::concept(mr.get("medicationCodeableConcept")));
    let validity = format!(
        "{} – {}",
        lang.date(fhir::text(mr, "/dispenseRequest/validityPeriod/start")),
        lang.date(fhir::text(mr, "/dispenseRequest/validityPeriod/end"))
    );
    let requester = fhir::text(mr, "/requester/reference");
    let mut fields = vec![
        (
            lang.pick("Kod dostępu", "Access code").into(),
            fhir::identifier(mr, systems::RX_ACCESS_CODE).unwrap_or("—").into(),
        ),
        (lang.pick("Dawkowanie", "Dosage").into(), fhir::text(mr, "/dosageInstruction/0/text").into()),
        (lang.pick("Ilość", "Quantity").into(), fhir::quantity(mr.pointer("/dispenseRequest/quantity"))),
        (lang.pick("Ważna", "Valid").into(), validity),
        (
            lang.pick("Wystawił(a)", "Prescriber").into(),
            people.get(requester).cloned().unwrap_or_else(|| fhir::reference(mr.get("requester"))),
        ),
        (
            lang.pick("Numer recepty", "Prescription number").into(),
            fhir::identifier(mr, systems::RX_NUMBER).unwrap_or("—").into(),
        ),
    ];
    fields.insert(1, (lang.pick("Rodzaj", "Kind").into(), kind(lang, mr)));
    fields.push((lang.pick("Za granicą", "Abroad").into(), abroad(lang, mr, countries, today)));
    Card { title: medication, badge: Some(Badge { text: status, tone }), fields, ..Card::default() }
}

/// The kind of prescription by its validity rule.
fn kind(lang: Lang, mr: &Value) -> String {
    let rule = mr
        .get("category")
        .and_then(Value::as_array)
        .and_then(|list| list.iter().find_map(|c| fhir::code_in(Some(c), systems::RX_VALIDITY)))
        .unwrap_or_default();
    match rule {
        "standard" => lang.pick("zwykła (ważna 30 dni)", "standard (valid 30 days)"),
        "antibiotic" => lang.pick("antybiotyk (ważna 7 dni)", "antibiotic (valid 7 days)"),
        "immunological" => lang.pick("lek immunologiczny (ważna 120 dni)", "immunological (valid 120 days)"),
        "targeted-import" => lang.pick("import docelowy (ważna 120 dni)", "targeted import (valid 120 days)"),
        "chronic-365" => lang.pick("na 365 dni", "365 days"),
        _ => "—",
    }
    .to_string()
}

/// The status as IKP names it (from the national status detail), and its colour.
fn status(lang: Lang, mr: &Value) -> (String, &'static str) {
    let detail = fhir::extension(mr, systems::RX_STATUS_DETAIL)
        .and_then(|v| v.get("code").or_else(|| v.pointer("/coding/0/code")))
        .and_then(Value::as_str);
    let text = match (fhir::text(mr, "/status"), detail) {
        (_, Some("WYSTAWIONA")) => (lang.pick("Wystawiona", "Issued"), "ok"),
        (_, Some("CZESCIOWO_ZREALIZOWANA")) => (lang.pick("Częściowo zrealizowana", "Partially dispensed"), "warn"),
        (_, Some("ZREALIZOWANA")) | ("completed", _) => (lang.pick("Zrealizowana", "Dispensed"), "off"),
        (_, Some("ANULOWANA")) | ("cancelled", _) => (lang.pick("Anulowana", "Cancelled"), "off"),
        ("stopped", _) => (lang.pick("Wygasła", "Expired"), "off"),
        ("active", _) => (lang.pick("Wystawiona", "Issued"), "ok"),
        _ => (lang.pick("Nieaktywna", "Inactive"), "off"),
    };
    (text.0.to_string(), text.1)
}

/// Where the prescription may be dispensed abroad now, or why not.
fn abroad(lang: Lang, mr: &Value, countries: &[String], today: &str) -> String {
    let availability =
        fhir::extension(mr, systems::RX_AVAILABILITY).map(|v| fhir::text(v, "/code")).unwrap_or_default();
    let end = fhir::text(mr, "/dispenseRequest/validityPeriod/end");
    let valid_today = end.is_empty() || end.get(..10).unwrap_or(end) >= today;
    if fhir::text(mr, "/status") != "active" || !valid_today {
        lang.pick("nie (nieaktywna)", "no (not active)").into()
    } else if availability == "Rpw" {
        lang.pick("nie (lek z kategorii Rpw)", "no (an Rpw narcotic)").into()
    } else if countries.is_empty() {
        lang.pick("nie (realizacja za granicą wyłączona)", "no (dispensing abroad is off)").into()
    } else {
        countries.join(", ")
    }
}

/// The countries a cross-border consent names.
fn consent_countries(consent: &Value) -> Vec<String> {
    consent
        .pointer("/provision/actor")
        .and_then(Value::as_array)
        .map(|actors| {
            actors
                .iter()
                .filter(|a| fhir::text(a, "/reference/identifier/system") == systems::COUNTRY)
                .map(|a| fhir::text(a, "/reference/identifier/value").to_string())
                .collect()
        })
        .unwrap_or_default()
}
