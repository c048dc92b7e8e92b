//! `/ubezpieczenie`: health insurance (Coverage) and the monthly health contributions (Invoice).

use axum::response::Response;

use crate::context::Ctx;
use crate::fhir;
use crate::view::{Badge, Card, Cell, Page, Section, Table};

pub async fn page(mut ctx: Ctx) -> Response {
    let Some(account) = ctx.account() else { return ctx.login_first() };
    let urls = [
        format!("Coverage?beneficiary=Patient/{account}&_include=Coverage:payor&_count=20"),
        format!("Invoice?subject=Patient/{account}&_sort=-date&_count=24"),
    ];
    let answers = ctx.batch(&urls).await;
    let lang = ctx.lang;
    let coverages = answers[0].as_ref().map(fhir::matches).unwrap_or_default();
    let payors = answers[0].as_ref().map(fhir::included).unwrap_or_default();
    let invoices = answers[1].as_ref().map(fhir::matches).unwrap_or_default();
    let payor_name = |reference: &str| {
        payors
            .iter()
            .find(|p| format!("Organization/{}", fhir::id(p)) == reference)
            .map(|p| fhir::text(p, "/name").to_string())
            .unwrap_or_else(|| reference.to_string())
    };
    let page = Page {
        title: lang.pick("Ubezpieczenie i składki", "Insurance and contributions").into(),
        notice: ctx.first_refusal(&answers),
        sections: vec![
            Section {
                heading: lang.pick("Ubezpieczenie zdrowotne", "Health insurance").into(),
                empty: Some(lang.pick("Brak informacji o ubezpieczeniu.", "No insurance information.").into()),
                cards: coverages
                    .iter()
                    .map(|c| {
                        let active = fhir::text(c, "/status") == "active";
                        Card {
                            title: payor_name(fhir::text(c, "/payor/0/reference")),
                            badge: Some(Badge {
                                text: if active {
                                    lang.pick("Ubezpieczony", "Insured")
                                } else {
                                    lang.pick("Brak ubezpieczenia", "Not insured")
                                }
                                .into(),
                                tone: if active { "ok" } else { "warn" },
                            }),
                            fields: vec![(lang.pick("Od", "Since").into(), lang.date(fhir::text(c, "/period/start")))],
                            ..Card::default()
                        }
                    })
                    .collect(),
                ..Section::default()
            },
            Section {
                heading: lang.pick("Składki zdrowotne", "Health contributions").into(),
                empty: Some(lang.pick("Brak informacji o składkach.", "No contributions recorded.").into()),
                table: Some(Table {
                    caption: lang.pick("Składki odprowadzone przez ZUS", "Contributions paid through ZUS").into(),
                    head: vec![lang.pick("Miesiąc", "Month").into(), lang.pick("Kwota", "Amount").into()],
                    rows: invoices
                        .iter()
                        .map(|i| {
                            let amount = format!(
                                "{} {}",
                                i.pointer("/totalNet/value").map(fhir::number_text).unwrap_or_default(),
                                fhir::text(i, "/totalNet/currency")
                            );
                            vec![Cell::plain(fhir::text(i, "/date").get(..7).unwrap_or_default()), Cell::plain(amount)]
                        })
                        .collect(),
                }),
                ..Section::default()
            },
        ],
        ..Page::default()
    };
    ctx.render(page)
}
