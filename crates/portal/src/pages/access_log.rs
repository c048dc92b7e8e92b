//! `/historia-dostepu`: who viewed or changed this account's data, from the audit trail
//! (`AuditEvent?patient=`), newest first.

use axum::response::Response;
use serde_json::Value;

use crate::context::Ctx;
use crate::fhir;
use crate::view::{Cell, Page, Section, Table};

/// The newest events shown.
const EVENTS_SHOWN: usize = 100;

pub async fn page(mut ctx: Ctx) -> Response {
    let Some(account) = ctx.account() else { return ctx.login_first() };
    let answer = ctx.get(&format!("AuditEvent?patient={account}&_sort=-date&_count={EVENTS_SHOWN}")).await;
    let lang = ctx.lang;
    let (events, notice) = match &answer {
        Ok(bundle) => (fhir::matches(bundle), None),
        Err(e) => (Vec::new(), Some(ctx.refusal(e))),
    };
    let rows = events
        .iter()
        .map(|e| {
            let who = e
                .get("agent")
                .and_then(Value::as_array)
                .and_then(|agents| {
                    agents.iter().find(|a| a.get("requestor").and_then(Value::as_bool) == Some(true)).or(agents.first())
                })
                .map(|a| fhir::reference(a.get("who")))
                .unwrap_or_default();
            let action = match fhir::text(e, "/action") {
                "R" => lang.pick("odczyt", "read"),
                "C" => lang.pick("utworzenie", "created"),
                "U" => lang.pick("zmiana", "changed"),
                "D" => lang.pick("usunięcie", "deleted"),
                "E" => lang.pick("operacja", "operation"),
                _ => "—",
            };
            let what: Vec<String> = e
                .get("entity")
                .and_then(Value::as_array)
                .map(|list| {
                    list.iter()
                        .map(|en| fhir::text(en, "/what/reference"))
                        .filter(|r| !r.is_empty() && !r.starts_with("Patient/"))
                        .filter_map(|r| r.split('/').next().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            let mut what = what;
            what.dedup();
            let outcome =
                if fhir::text(e, "/outcome") == "0" { lang.pick("tak", "yes") } else { lang.pick("odmowa", "refused") };
            vec![
                Cell::plain(lang.date_time(fhir::text(e, "/recorded"))),
                Cell::plain(who),
                Cell::plain(action),
                Cell::plain(if what.is_empty() { "—".to_string() } else { what.join(", ") }),
                Cell::plain(outcome),
            ]
        })
        .collect();
    let page = Page {
        title: lang.pick("Kto widział moje dane", "Who viewed my data").into(),
        intro: Some(
            lang.pick(
                "Każdy odczyt i każda zmiana danych na tym koncie są zapisywane: kto, kiedy i co.",
                "Every read and every change of this account's data is recorded: who, when and what.",
            )
            .into(),
        ),
        notice,
        sections: vec![Section {
            heading: lang.pick("Ostatnie zdarzenia", "Latest events").into(),
            empty: Some(lang.pick("Brak zdarzeń.", "No events.").into()),
            table: Some(Table {
                caption: lang.pick("Dostęp do danych, od najnowszych", "Access to the data, newest first").into(),
                head: vec![
                    lang.pick("Kiedy", "When").into(),
                    lang.pick("Kto", "Who").into(),
                    lang.pick("Co zrobił", "Action").into(),
                    lang.pick("Jakie dane", "Which data").into(),
                    lang.pick("Udane", "Allowed").into(),
                ],
                rows,
            }),
            ..Section::default()
        }],
    };
    ctx.render(page)
}
