//! `/`: the start page (what IKP is, and the login) or, logged in, the account's dashboard: what
//! is active now, in one round trip.

use axum::response::Response;
use serde_json::Value;

use crate::context::Ctx;
use crate::fhir;
use crate::i18n::Lang;
use crate::view::{Card, Cell, Form, Page, Section, Table};

/// The login button (a GET to `/logowanie`, which starts the SMART flow).
pub fn login_form(lang: Lang) -> Form {
    Form { method: "get", ..Form::post("/logowanie", lang.pick("Zaloguj się", "Log in")) }
}

pub async fn page(mut ctx: Ctx) -> Response {
    if ctx.session.is_none() {
        return landing(ctx);
    }
    let Some(account) = ctx.account() else { return ctx.redirect("/konta") };
    let today = fhir::today();
    let urls = [
        format!("MedicationRequest?patient={account}&status=active&_summary=count"),
        format!("ServiceRequest?patient={account}&status=active&_summary=count"),
        format!("Appointment?patient={account}&date=ge{today}&_sort=date&_count=3"),
        format!("DocumentReference?patient={account}&_sort=-date&_count=3"),
    ];
    let answers = ctx.batch(&urls).await;
    let lang = ctx.lang;
    let count = |i: usize| match answers.get(i) {
        Some(Ok(bundle)) => bundle.get("total").and_then(Value::as_u64).map(|n| n.to_string()).unwrap_or_default(),
        _ => "—".to_string(),
    };
    let summary = vec![
        Card {
            title: lang.pick("Aktywne e-recepty", "Active e-prescriptions").into(),
            fields: vec![(lang.pick("Liczba", "Count").into(), count(0))],
            link: Some(("/recepty".into(), lang.pick("Zobacz e-recepty", "See e-prescriptions").into())),
            ..Card::default()
        },
        Card {
            title: lang.pick("Aktywne e-skierowania", "Active e-referrals").into(),
            fields: vec![(lang.pick("Liczba", "Count").into(), count(1))],
            link: Some(("/skierowania".into(), lang.pick("Zobacz e-skierowania", "See e-referrals").into())),
            ..Card::default()
        },
    ];
    let visits = answers.get(2).and_then(|a| a.as_ref().ok()).map(fhir::matches).unwrap_or_default();
    let documents = answers.get(3).and_then(|a| a.as_ref().ok()).map(fhir::matches).unwrap_or_default();
    let page = Page {
        title: lang.pick("Pulpit", "Dashboard").into(),
        notice: ctx.first_refusal(&answers),
        sections: vec![
            Section { heading: lang.pick("Na teraz", "Right now").into(), cards: summary, ..Section::default() },
            Section {
                heading: lang.pick("Najbliższe wizyty", "Upcoming visits").into(),
                empty: Some(lang.pick("Brak zaplanowanych wizyt.", "No visits booked.").into()),
                table: Some(Table {
                    caption: lang.pick("Zarezerwowane terminy", "Booked appointments").into(),
                    head: vec![lang.pick("Kiedy", "When").into(), lang.pick("Co", "What").into()],
                    rows: visits
                        .iter()
                        .map(|a| {
                            vec![
                                Cell::plain(lang.date_time(fhir::text(a, "/start"))),
                                Cell::plain(fhir::concept(a.pointer("/serviceType/0"))),
                            ]
                        })
                        .collect(),
                }),
                ..Section::default()
            },
            Section {
                heading: lang.pick("Najnowsze dokumenty", "Newest documents").into(),
                empty: Some(lang.pick("Brak dokumentów.", "No documents.").into()),
                cards: documents
                    .iter()
                    .map(|d| Card {
                        title: super::documents::kind(lang, d),
                        fields: vec![(lang.pick("Data", "Date").into(), lang.date(fhir::text(d, "/date")))],
                        link: Some((
                            format!("/dokumenty/{}", fhir::id(d)),
                            lang.pick("Otwórz dokument", "Open the document").into(),
                        )),
                        ..Card::default()
                    })
                    .collect(),
                ..Section::default()
            },
        ],
        ..Page::default()
    };
    ctx.render(page)
}

fn landing(ctx: Ctx) -> Response {
    let lang = ctx.lang;
    let demo = &ctx.config.demo_users;
    let mut sections = vec![Section {
        heading: lang.pick("Logowanie", "Log in").into(),
        intro: Some(
            lang.pick(
                "Zaloguj się, aby zobaczyć swoje e-recepty, e-skierowania, dokumenty, wyniki badań i wizyty, a także konta swoich dzieci i osób, które Cię upoważniły.",
                "Log in to see your e-prescriptions, e-referrals, documents, test results and visits, and the accounts of your children and of people who authorised you.",
            )
            .into(),
        ),
        forms: vec![login_form(lang)],
        ..Section::default()
    }];
    if !demo.is_empty() {
        sections.push(Section {
            heading: lang.pick("Konta demonstracyjne", "Demo accounts").into(),
            intro: Some(lang.pick("Hasło każdego z nich to „demo”.", "The password of each is \"demo\".").into()),
            table: Some(Table {
                caption: lang.pick("Osoby demonstracyjne (dane fikcyjne)", "Demo people (invented data)").into(),
                head: vec!["PESEL".into(), lang.pick("Kto", "Who").into()],
                rows: demo.iter().map(|(pesel, who)| vec![Cell::plain(pesel), Cell::plain(who)]).collect(),
            }),
            ..Section::default()
        });
    }
    let page = Page {
        title: lang.pick("Internetowe Konto Pacjenta", "Internet Patient Account").into(),
        intro: Some(lang.pick("Twoje dane medyczne w jednym miejscu.", "Your medical data in one place.").into()),
        sections,
        ..Page::default()
    };
    ctx.render(page)
}
