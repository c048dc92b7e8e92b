//! `/wyniki`: lab results, the newest of every test as a table with reference ranges and flags,
//! then each test's trend as a chart and a table.

use axum::response::Response;
use serde_json::Value;

use crate::chart;
use crate::context::Ctx;
use crate::fhir;
use crate::i18n::Lang;
use crate::view::{Cell, Chart, Page, Section, Table};

/// The most results one page reads (newest first): years of a patient's tests.
const MAX_RESULTS: usize = 500;

/// One test's results, newest first.
struct Test<'v> {
    code: String,
    name: String,
    results: Vec<&'v Value>,
}

pub async fn page(mut ctx: Ctx) -> Response {
    let Some(account) = ctx.account() else { return ctx.login_first() };
    let answer =
        ctx.get(&format!("Observation?patient={account}&category=laboratory&_sort=-date&_count={MAX_RESULTS}")).await;
    let lang = ctx.lang;
    let (observations, notice) = match &answer {
        Ok(bundle) => (fhir::matches(bundle), None),
        Err(e) => (Vec::new(), Some(ctx.refusal(e))),
    };
    let mut tests: Vec<Test> = Vec::new();
    for o in observations.iter().filter(|o| o.get("valueQuantity").is_some()) {
        let code = fhir::text(o, "/code/coding/0/code").to_string();
        match tests.iter_mut().find(|t| t.code == code) {
            Some(test) => test.results.push(o),
            None => tests.push(Test { code, name: fhir::concept(o.get("code")), results: vec![o] }),
        }
    }
    let head = |first: &'static str, first_en: &'static str| {
        vec![
            lang.pick(first, first_en).into(),
            lang.pick("Wynik", "Result").into(),
            lang.pick("Zakres referencyjny", "Reference range").into(),
            lang.pick("Data", "Date").into(),
        ]
    };
    let mut sections = vec![Section {
        heading: lang.pick("Najnowsze wyniki", "Newest results").into(),
        empty: Some(lang.pick("Brak wyników badań laboratoryjnych.", "No laboratory results.").into()),
        table: Some(Table {
            caption: lang.pick("Ostatni wynik każdego badania", "The newest result of each test").into(),
            head: head("Badanie", "Test"),
            rows: tests
                .iter()
                .map(|t| {
                    let o = t.results[0];
                    vec![
                        Cell::plain(&t.name),
                        value_cell(lang, o),
                        Cell::plain(range_text(o)),
                        Cell::plain(lang.date(effective(o))),
                    ]
                })
                .collect(),
        }),
        ..Section::default()
    }];
    for test in tests.iter().filter(|t| t.results.len() > 1) {
        let mut points: Vec<chart::Point> = test
            .results
            .iter()
            .filter_map(|o| Some((chart::julian_day(effective(o))?, number(o.pointer("/valueQuantity/value"))?)))
            .collect();
        points.reverse();
        let range = test.results[0]
            .pointer("/referenceRange/0")
            .and_then(|r| Some((number(r.pointer("/low/value"))?, number(r.pointer("/high/value"))?)));
        let unit = fhir::text(test.results[0], "/valueQuantity/unit");
        sections.push(Section {
            heading: test.name.clone(),
            chart: chart::trend(&points, range).map(|svg| Chart {
                svg,
                label: format!(
                    "{} {} ({}){}",
                    lang.pick("Wykres wyników:", "Chart of results:"),
                    test.name,
                    unit,
                    if range.is_some() {
                        lang.pick("; zielony pas to zakres referencyjny", "; the green band is the reference range")
                    } else {
                        ""
                    }
                ),
            }),
            table: Some(Table {
                caption: format!("{} {}", lang.pick("Wszystkie wyniki:", "All results:"), test.name),
                head: head("Lp.", "No."),
                rows: test
                    .results
                    .iter()
                    .enumerate()
                    .map(|(i, o)| {
                        vec![
                            Cell::plain((i + 1).to_string()),
                            value_cell(lang, o),
                            Cell::plain(range_text(o)),
                            Cell::plain(lang.date(effective(o))),
                        ]
                    })
                    .collect(),
            }),
            ..Section::default()
        });
    }
    let page = Page {
        title: lang.pick("Wyniki badań", "Test results").into(),
        intro: Some(
            lang.pick(
                "Wyniki poza zakresem referencyjnym są oznaczone. Omów je z lekarzem.",
                "Results outside the reference range are marked. Discuss them with your doctor.",
            )
            .into(),
        ),
        notice,
        sections,
    };
    ctx.render(page)
}

fn effective(o: &Value) -> &str {
    let when = fhir::text(o, "/effectiveDateTime");
    if when.is_empty() { fhir::text(o, "/issued") } else { when }
}

fn number(value: Option<&Value>) -> Option<f64> {
    match value? {
        Value::Number(n) => n.as_f64().or_else(|| n.to_string().parse().ok()),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn range_text(o: &Value) -> String {
    let Some(range) = o.pointer("/referenceRange/0") else { return "—".into() };
    if let Some(text) = range.get("text").and_then(Value::as_str) {
        return text.to_string();
    }
    let low = range.pointer("/low/value").map(fhir::number_text).unwrap_or_default();
    let high = range.pointer("/high/value").map(fhir::number_text).unwrap_or_default();
    let unit =
        range.pointer("/high/unit").or_else(|| range.pointer("/low/unit")).and_then(Value::as_str).unwrap_or_default();
    format!("{low} – {high} {unit}").trim().to_string()
}

/// The value, flagged when it is above or below the range (the interpretation the lab gave, or
/// the range itself).
fn value_cell(lang: Lang, o: &Value) -> Cell {
    let text = fhir::quantity(o.get("valueQuantity"));
    let interpretation = fhir::text(o, "/interpretation/0/coding/0/code");
    let value = number(o.pointer("/valueQuantity/value"));
    let low = number(o.pointer("/referenceRange/0/low/value"));
    let high = number(o.pointer("/referenceRange/0/high/value"));
    let above = matches!(interpretation, "H" | "HH" | "HU") || matches!((value, high), (Some(v), Some(h)) if v > h);
    let below = matches!(interpretation, "L" | "LL" | "LU") || matches!((value, low), (Some(v), Some(l)) if v < l);
    let flag = if above {
        Some(("high", lang.pick("powyżej normy", "above the range").to_string()))
    } else if below {
        Some(("low", lang.pick("poniżej normy", "below the range").to_string()))
    } else {
        None
    };
    Cell { text, flag }
}
