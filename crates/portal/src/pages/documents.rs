//! `/dokumenty`: the medical documents (the nine IKP kinds, by their index entries) and
//! `/dokumenty/{id}`: one opened as a readable document, from `Composition/[id]/$document`.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;

use crate::context::Ctx;
use crate::fhir;
use crate::view::{Card, Cell, Page, Section, Table};

/// The nine IKP documents by their LOINC type: what a patient calls them.
const KINDS: &[(&str, &str, &str)] = &[
    ("18842-5", "Karta informacyjna z leczenia szpitalnego", "Hospital discharge summary"),
    ("34133-9", "Informacja dla lekarza kierującego", "Letter to the referring doctor"),
    ("34105-7", "Informacja o odmowie przyjęcia do szpitala", "Notice of refused admission"),
    ("11502-2", "Wynik badania laboratoryjnego", "Laboratory result"),
    ("18748-4", "Opis badania diagnostycznego", "Diagnostic imaging report"),
    ("18776-5", "Indywidualny plan opieki medycznej (IPOM)", "Individual care plan (IPOM)"),
    ("57833-6", "Recepta", "Prescription"),
    ("57133-1", "Skierowanie", "Referral"),
    ("57832-8", "Zlecenie na wyroby medyczne", "Order for medical devices"),
];

/// A document's kind, in the page's language.
pub fn kind(lang: crate::i18n::Lang, document: &Value) -> String {
    let loinc = fhir::code_in(document.get("type"), "http://loinc.org");
    match KINDS.iter().find(|k| Some(k.0) == loinc) {
        Some(k) => lang.pick(k.1, k.2).to_string(),
        None => fhir::concept(document.get("type")),
    }
}

pub async fn page(mut ctx: Ctx) -> Response {
    let Some(account) = ctx.account() else { return ctx.login_first() };
    let answer = ctx.get(&format!("DocumentReference?patient={account}&_sort=-date&_count=100")).await;
    let lang = ctx.lang;
    let (documents, notice) = match &answer {
        Ok(bundle) => (fhir::matches(bundle), None),
        Err(e) => (Vec::new(), Some(ctx.refusal(e))),
    };
    let cards = documents
        .iter()
        .map(|d| Card {
            title: kind(lang, d),
            fields: vec![
                (lang.pick("Data", "Date").into(), lang.date(fhir::text(d, "/date"))),
                (lang.pick("Autor", "Author").into(), fhir::reference(d.pointer("/author/0"))),
                (lang.pick("Placówka", "Provider").into(), fhir::reference(d.get("custodian"))),
            ],
            link: Some((
                format!("/dokumenty/{}", fhir::id(d)),
                lang.pick("Otwórz dokument", "Open the document").into(),
            )),
            ..Card::default()
        })
        .collect();
    let page = Page {
        title: lang.pick("Dokumenty medyczne", "Medical documents").into(),
        intro: Some(
            lang.pick(
                "Karty informacyjne, wyniki, opisy badań, plany opieki i inne dokumenty z Twoich wizyt.",
                "Discharge summaries, results, imaging reports, care plans and other documents from your visits.",
            )
            .into(),
        ),
        notice,
        sections: vec![Section {
            heading: lang.pick("Wszystkie dokumenty", "All documents").into(),
            empty: Some(lang.pick("Brak dokumentów.", "No documents.").into()),
            cards,
            ..Section::default()
        }],
    };
    ctx.render(page)
}

pub async fn open(mut ctx: Ctx, Path(id): Path<String>) -> Response {
    if ctx.session.is_none() {
        return ctx.login_first();
    }
    let lang = ctx.lang;
    let answer = match fhir::safe_id(&id) {
        Some(id) => ctx.get(&format!("Composition/{id}/$document")).await,
        None => Err(crate::api::ApiError { status: StatusCode::NOT_FOUND, detail: String::new() }),
    };
    let bundle = match answer {
        Ok(bundle) => bundle,
        Err(e) => {
            let page = Page {
                title: lang.pick("Dokument", "Document").into(),
                notice: Some(ctx.refusal(&e)),
                ..Page::default()
            };
            return ctx.render_status(page, e.status);
        }
    };
    let resources: Vec<&Value> = bundle
        .get("entry")
        .and_then(Value::as_array)
        .map(|e| e.iter().filter_map(|e| e.get("resource")).collect())
        .unwrap_or_default();
    let Some(composition) = resources.iter().find(|r| fhir::text(r, "/resourceType") == "Composition") else {
        let page = Page { title: lang.pick("Dokument", "Document").into(), ..Page::default() };
        return ctx.render_status(page, StatusCode::NOT_FOUND);
    };
    let find = |reference: &str| {
        let mut parts = reference.rsplit('/');
        let (id, kind) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
        resources.iter().find(|r| fhir::id(r) == id && fhir::text(r, "/resourceType") == kind).copied()
    };
    let author = composition
        .get("author")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|r| {
                    find(fhir::text(r, "/reference"))
                        .map(fhir::human_name)
                        .filter(|n| !n.is_empty())
                        .unwrap_or_else(|| fhir::reference(Some(r)))
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    let mut sections = vec![Section {
        heading: lang.pick("O dokumencie", "About the document").into(),
        cards: vec![Card {
            title: kind(lang, composition),
            fields: vec![
                (lang.pick("Data", "Date").into(), lang.date(fhir::text(composition, "/date"))),
                (lang.pick("Autor", "Author").into(), author),
                (lang.pick("Status", "Status").into(), fhir::text(composition, "/status").into()),
            ],
            ..Card::default()
        }],
        ..Section::default()
    }];
    for part in composition.get("section").and_then(Value::as_array).into_iter().flatten() {
        let rows: Vec<Vec<Cell>> = part
            .get("entry")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|e| find(fhir::text(e, "/reference")))
            .map(|r| {
                vec![
                    Cell::plain(fhir::concept(
                        r.get("code").or_else(|| r.get("vaccineCode")).or_else(|| r.get("type")),
                    )),
                    Cell::plain(entry_value(lang, r)),
                ]
            })
            .collect();
        sections.push(Section {
            heading: fhir::text(part, "/title").to_string(),
            intro: Some(fhir::narrative_text(fhir::text(part, "/text/div"))).filter(|t| !t.is_empty()),
            table: (!rows.is_empty()).then(|| Table {
                caption: lang.pick("Dane w tej części dokumentu", "Data in this part of the document").into(),
                head: vec![lang.pick("Co", "What").into(), lang.pick("Wartość", "Value").into()],
                rows,
            }),
            ..Section::default()
        });
    }
    let page = Page { title: fhir::text(composition, "/title").to_string(), sections, ..Page::default() };
    ctx.render(page)
}

/// What an entry of a document says, in a few words.
fn entry_value(lang: crate::i18n::Lang, resource: &Value) -> String {
    if let Some(q) = resource.get("valueQuantity") {
        return fhir::quantity(Some(q));
    }
    if let Some(text) = resource.get("valueString").and_then(Value::as_str) {
        return text.to_string();
    }
    if let Some(c) = resource.get("valueCodeableConcept") {
        return fhir::concept(Some(c));
    }
    for date in ["/effectiveDateTime", "/occurrenceDateTime", "/performedDateTime", "/recordedDate", "/issued"] {
        let value = fhir::text(resource, date);
        if !value.is_empty() {
            return lang.date(value);
        }
    }
    fhir::text(resource, "/conclusion").to_string()
}
