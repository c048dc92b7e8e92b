//! `/zwolnienia`: sick-leave certificates (e-ZLA, PLSickLeave Compositions).

use axum::response::Response;

use super::systems;
use crate::context::Ctx;
use crate::fhir;
use crate::view::{Card, Page, Section};

pub async fn page(mut ctx: Ctx) -> Response {
    let Some(account) = ctx.account() else { return ctx.login_first() };
    let answer = ctx
        .get(&format!(
            "Composition?patient={account}&type={}|e-ZLA&_sort=-date&_count=50",
            systems::LOCAL_DOCUMENT_TYPE
        ))
        .await;
    let lang = ctx.lang;
    let (leaves, notice) = match &answer {
        Ok(bundle) => (fhir::matches(bundle), None),
        Err(e) => (Vec::new(), Some(ctx.refusal(e))),
    };
    let cards = leaves
        .iter()
        .map(|c| Card {
            title: fhir::text(c, "/title").to_string(),
            fields: vec![
                (lang.pick("Numer", "Number").into(), fhir::text(c, "/identifier/value").into()),
                (
                    lang.pick("Niezdolność do pracy", "Unfit for work").into(),
                    format!(
                        "{} – {}",
                        lang.date(fhir::text(c, "/event/0/period/start")),
                        lang.date(fhir::text(c, "/event/0/period/end"))
                    ),
                ),
                (lang.pick("Wystawione", "Issued").into(), lang.date(fhir::text(c, "/date"))),
            ],
            ..Card::default()
        })
        .collect();
    let page = Page {
        title: lang.pick("Zwolnienia lekarskie (e-ZLA)", "Sick leave (e-ZLA)").into(),
        notice,
        sections: vec![Section {
            heading: lang.pick("Zaświadczenia", "Certificates").into(),
            empty: Some(lang.pick("Brak zwolnień lekarskich.", "No sick-leave certificates.").into()),
            cards,
            ..Section::default()
        }],
        ..Page::default()
    };
    ctx.render(page)
}
