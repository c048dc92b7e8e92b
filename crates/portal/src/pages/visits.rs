//! `/wizyty`: visits (Encounters with their diagnoses and the provider).

use axum::response::Response;
use serde_json::Value;

use crate::context::Ctx;
use crate::fhir;
use crate::view::{Badge, Card, Page, Section};

pub async fn page(mut ctx: Ctx) -> Response {
    let Some(account) = ctx.account() else { return ctx.login_first() };
    let answer = ctx
        .get(&format!(
            "Encounter?patient={account}&_sort=-date&_count=100&_include=Encounter:service-provider&_include=Encounter:diagnosis"
        ))
        .await;
    let lang = ctx.lang;
    let (visits, included, notice) = match &answer {
        Ok(bundle) => (fhir::matches(bundle), fhir::included(bundle), None),
        Err(e) => (Vec::new(), Vec::new(), Some(ctx.refusal(e))),
    };
    let labels = fhir::labels(&included);
    let label = |reference: Option<&Value>| {
        reference
            .and_then(|r| labels.get(fhir::text(r, "/reference")).cloned())
            .filter(|l| !l.is_empty())
            .unwrap_or_else(|| fhir::reference(reference))
    };
    let cards = visits
        .iter()
        .map(|e| {
            let diagnoses: Vec<String> = e
                .get("diagnosis")
                .and_then(Value::as_array)
                .map(|d| d.iter().map(|d| label(d.get("condition"))).collect())
                .unwrap_or_default();
            let finished = fhir::text(e, "/status") == "finished";
            Card {
                title: {
                    let kind = fhir::concept(e.pointer("/type/0"));
                    if kind.is_empty() { lang.pick("Wizyta", "Visit").into() } else { kind }
                },
                badge: Some(Badge {
                    text: if finished {
                        lang.pick("Odbyta", "Finished")
                    } else {
                        lang.pick("W toku lub planowana", "Ongoing or planned")
                    }
                    .into(),
                    tone: if finished { "off" } else { "info" },
                }),
                fields: vec![
                    (lang.pick("Data", "Date").into(), lang.date_time(fhir::text(e, "/period/start"))),
                    (lang.pick("Placówka", "Provider").into(), label(e.get("serviceProvider"))),
                    (
                        lang.pick("Rozpoznanie", "Diagnosis").into(),
                        if diagnoses.is_empty() { "—".into() } else { diagnoses.join("; ") },
                    ),
                ],
                ..Card::default()
            }
        })
        .collect();
    let page = Page {
        title: lang.pick("Wizyty", "Visits").into(),
        notice,
        sections: vec![Section {
            heading: lang.pick("Historia wizyt", "Visit history").into(),
            empty: Some(lang.pick("Brak wizyt.", "No visits.").into()),
            cards,
            ..Section::default()
        }],
        ..Page::default()
    };
    ctx.render(page)
}
