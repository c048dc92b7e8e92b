//! `/szczepienia`: vaccinations given, what is recommended, and registration for COVID-19 and
//! HPV (9–13, by a parent on the child's account).

use axum::extract::Form;
use axum::response::Response;

use super::slots::{self, VACCINATIONS};
use crate::context::Ctx;
use crate::fhir;
use crate::view::{Card, Notice, Page, Section};

const PATH: &str = "/szczepienia";

pub async fn page(ctx: Ctx) -> Response {
    show(ctx, None).await
}

pub async fn book(ctx: Ctx, Form(request): Form<slots::Request>) -> Response {
    let (ctx, notice) = slots::carry_out(ctx, &request).await;
    show(ctx, notice).await
}

async fn show(mut ctx: Ctx, notice: Option<Notice>) -> Response {
    let Some(account) = ctx.account() else { return ctx.login_first() };
    let mut urls = vec![
        format!("Immunization?patient={account}&_sort=-date&_count=100"),
        format!("ImmunizationRecommendation?patient={account}&_count=20"),
        slots::bookings_url(&account),
    ];
    urls.extend(slots::slot_urls(VACCINATIONS));
    let answers = ctx.batch(&urls).await;
    let lang = ctx.lang;
    let given = answers[0].as_ref().map(fhir::matches).unwrap_or_default();
    let recommended = answers[1].as_ref().map(fhir::matches).unwrap_or_default();
    let mut sections = vec![
        Section {
            heading: lang.pick("Wykonane szczepienia", "Vaccinations given").into(),
            empty: Some(lang.pick("Brak zapisanych szczepień.", "No vaccinations recorded.").into()),
            cards: given
                .iter()
                .map(|i| Card {
                    title: fhir::concept(i.get("vaccineCode")),
                    fields: vec![
                        (lang.pick("Data", "Date").into(), lang.date(fhir::text(i, "/occurrenceDateTime"))),
                        (lang.pick("Seria", "Lot").into(), fhir::text(i, "/lotNumber").into()),
                    ],
                    ..Card::default()
                })
                .collect(),
            ..Section::default()
        },
        Section {
            heading: lang.pick("Zalecane szczepienia", "Recommended vaccinations").into(),
            empty: Some(lang.pick("Brak zaleceń.", "No recommendations.").into()),
            cards: recommended
                .iter()
                .flat_map(|r| r.get("recommendation").and_then(|v| v.as_array()).cloned().unwrap_or_default())
                .map(|rec| Card {
                    title: fhir::concept(rec.pointer("/vaccineCode/0").or_else(|| rec.get("targetDisease"))),
                    fields: vec![
                        (lang.pick("Status", "Status").into(), fhir::concept(rec.get("forecastStatus"))),
                        (lang.pick("Termin", "Due").into(), lang.date(fhir::text(&rec, "/dateCriterion/0/value"))),
                    ],
                    ..Card::default()
                })
                .collect(),
            ..Section::default()
        },
        slots::bookings(lang, &answers[2], PATH),
    ];
    sections.extend(slots::offers(lang, VACCINATIONS, &answers[3..], &[], PATH));
    let page = Page {
        title: lang.pick("Szczepienia", "Vaccinations").into(),
        notice: notice.or_else(|| ctx.first_refusal(&answers)),
        sections,
        ..Page::default()
    };
    ctx.render(page)
}
