//! Central e-registration, shared by `/rejestracja` and `/szczepienia`: the services with their
//! rules, free slots to book (`Slot/[id]/$book`), the waiting list (`$join-waiting-list`) and
//! cancelling (`Appointment/[id]/$cancel`). A refusal names the service's rule in words.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::Value;

use super::systems;
use crate::api::ApiError;
use crate::context::Ctx;
use crate::fhir;
use crate::i18n::Lang;
use crate::view::{Card, Form, Input, Notice, Section};

/// A service of the central e-registration, with its rule as a patient reads it.
pub struct Service {
    pub code: &'static str,
    pub name: (&'static str, &'static str),
    pub rule: (&'static str, &'static str),
    pub waiting_list: bool,
}

pub const SCREENINGS: &[Service] = &[
    Service {
        code: "mammography",
        name: ("Mammografia", "Mammography"),
        rule: ("Mammografia jest dla kobiet w wieku 45–74 lat.", "Mammography is for women aged 45–74."),
        waiting_list: true,
    },
    Service {
        code: "cytology",
        name: ("Cytologia", "Cervical screening (cytology)"),
        rule: ("Cytologia jest dla kobiet w wieku 25–64 lat.", "Cervical screening is for women aged 25–64."),
        waiting_list: true,
    },
    Service {
        code: "cardiology-first",
        name: ("Pierwsza wizyta u kardiologa", "First cardiology visit"),
        rule: (
            "Potrzebne jest aktywne e-skierowanie do poradni kardiologicznej; jedno skierowanie to jedna wizyta.",
            "You need an active e-referral to a cardiology clinic; one referral is one visit.",
        ),
        waiting_list: true,
    },
];

pub const VACCINATIONS: &[Service] = &[
    Service {
        code: "covid19-vaccination",
        name: ("Szczepienie przeciw COVID-19", "COVID-19 vaccination"),
        rule: ("Szczepić można osoby od 5. roku życia.", "For anyone aged 5 or more."),
        waiting_list: false,
    },
    Service {
        code: "hpv-vaccination",
        name: ("Szczepienie przeciw HPV", "HPV vaccination"),
        rule: (
            "Dla dzieci w wieku 9–13 lat; rejestruje rodzic lub opiekun, na koncie dziecka.",
            "For children aged 9–13; a parent or guardian registers them, on the child's account.",
        ),
        waiting_list: false,
    },
];

/// The most free slots shown per service.
const SLOTS_SHOWN: usize = 6;

/// The searches for the services' free slots (with their schedules and places).
pub fn slot_urls(services: &[Service]) -> Vec<String> {
    let today = fhir::today();
    services
        .iter()
        .map(|s| {
            format!(
                "Slot?service-type={}|{}&status=free&start=ge{today}&_sort=start&_count={SLOTS_SHOWN}&_include=Slot:schedule&_include:iterate=Schedule:actor",
                systems::CER_SERVICE,
                s.code
            )
        })
        .collect()
}

/// A section per service: its rule, its free slots with a booking button, the waiting list.
pub fn offers(
    lang: Lang,
    services: &[Service],
    answers: &[Result<Value, ApiError>],
    referrals: &[&Value],
    action: &str,
) -> Vec<Section> {
    services
        .iter()
        .zip(answers)
        .map(|(service, answer)| {
            let (slots, places) = match answer {
                Ok(bundle) => (fhir::matches(bundle), places(&fhir::included(bundle))),
                Err(_) => (Vec::new(), HashMap::new()),
            };
            let name = lang.pick(service.name.0, service.name.1);
            let cards = slots
                .iter()
                .map(|slot| {
                    let place = places.get(fhir::text(slot, "/schedule/reference")).cloned().unwrap_or_default();
                    let mut book = Form::post(
                        action,
                        format!("{} {}", lang.pick("Zarezerwuj:", "Book:"), lang.date_time(fhir::text(slot, "/start"))),
                    )
                    .hidden("action", "book")
                    .hidden("slot", fhir::id(slot))
                    .hidden("service", service.code);
                    if service.code == "cardiology-first" && !referrals.is_empty() {
                        let options = referrals
                            .iter()
                            .map(|r| {
                                (
                                    fhir::id(r).to_string(),
                                    format!(
                                        "{} ({})",
                                        fhir::concept(r.get("code")),
                                        fhir::identifier(r, systems::REFERRAL_NUMBER).unwrap_or_default()
                                    ),
                                )
                            })
                            .collect();
                        book = book.input(Input::select(
                            &format!("referral-{}", fhir::id(slot)),
                            "referral",
                            lang.pick("e-Skierowanie", "e-Referral"),
                            options,
                        ));
                    }
                    Card {
                        title: lang.date_time(fhir::text(slot, "/start")),
                        fields: vec![(lang.pick("Miejsce", "Place").into(), place)],
                        actions: vec![book],
                        ..Card::default()
                    }
                })
                .collect();
            let mut forms = Vec::new();
            if service.waiting_list {
                forms.push(
                    Form::post(
                        action,
                        format!("{} {}", lang.pick("Zapisz na listę oczekujących:", "Join the waiting list:"), name),
                    )
                    .hidden("action", "wait")
                    .hidden("service", service.code),
                );
            }
            Section {
                heading: name.into(),
                intro: Some(lang.pick(service.rule.0, service.rule.1).into()),
                empty: Some(lang.pick("Brak wolnych terminów.", "No free slots.").into()),
                cards,
                forms,
                ..Section::default()
            }
        })
        .collect()
}

/// `Schedule/x` → the name of its place (the Location it is for).
fn places(included: &[&Value]) -> HashMap<String, String> {
    let locations: HashMap<String, String> = included
        .iter()
        .filter(|r| fhir::text(r, "/resourceType") == "Location")
        .map(|l| (format!("Location/{}", fhir::id(l)), fhir::text(l, "/name").to_string()))
        .collect();
    included
        .iter()
        .filter(|r| fhir::text(r, "/resourceType") == "Schedule")
        .map(|s| {
            let place = locations.get(fhir::text(s, "/actor/0/reference")).cloned().unwrap_or_default();
            (format!("Schedule/{}", fhir::id(s)), place)
        })
        .collect()
}

/// What a registration form asks for.
#[derive(Deserialize)]
pub struct Request {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    slot: String,
    #[serde(default)]
    service: String,
    #[serde(default)]
    referral: String,
    #[serde(default)]
    appointment: String,
}

/// A posted registration form, checked and carried out for the account shown: what happened, as
/// a notice (none when there is no login or the form's token is not this login's, so nothing is
/// done and the screen only says what it always says).
pub async fn carry_out(mut ctx: Ctx, request: &Request) -> (Ctx, Option<Notice>) {
    let account = ctx.account();
    match account {
        Some(account) if ctx.csrf_ok(&request.csrf) => {
            let notice = perform(&mut ctx, &account, request).await;
            (ctx, Some(notice))
        }
        _ => (ctx, None),
    }
}

/// Carries out a registration form for the account shown; what happened, as a notice.
async fn perform(ctx: &mut Ctx, account: &str, request: &Request) -> Notice {
    let lang = ctx.lang;
    let service = SCREENINGS.iter().chain(VACCINATIONS).find(|s| s.code == request.service);
    let patient = format!("Patient/{account}");
    let result = match request.action.as_str() {
        "book" => {
            let Some(slot) = fhir::safe_id(&request.slot) else { return ctx.refusal(&bad_request()) };
            let mut values = vec![("patient", patient.as_str())];
            let referral = fhir::safe_id(&request.referral).map(|r| format!("ServiceRequest/{r}"));
            if let Some(referral) = &referral {
                values.push(("referral", referral));
            }
            ctx.post(&format!("Slot/{slot}/$book"), fhir::parameters(&values)).await.map(|_| {
                lang.pick(
                    "Zarezerwowano termin. Znajdziesz go w „Twoje rezerwacje”.",
                    "The slot is booked. You will find it under \"Your bookings\".",
                )
            })
        }
        "wait" => {
            let Some(service) = service else { return ctx.refusal(&bad_request()) };
            ctx.post(&format!("Patient/{account}/$join-waiting-list"), fhir::parameters(&[("service", service.code)]))
                .await
                .map(|_| {
                    lang.pick(
                        "Zapisano na listę oczekujących. Gdy zwolni się termin, zarezerwujemy go i powiadomimy Cię.",
                        "You are on the waiting list. When a slot frees up, it is booked for you and you are told.",
                    )
                })
        }
        "cancel" => {
            let Some(appointment) = fhir::safe_id(&request.appointment) else { return ctx.refusal(&bad_request()) };
            ctx.post(&format!("Appointment/{appointment}/$cancel"), fhir::parameters(&[]))
                .await
                .map(|_| lang.pick("Rezerwacja została odwołana.", "The booking is cancelled."))
        }
        _ => Err(bad_request()),
    };
    match result {
        Ok(text) => ctx.done(text),
        Err(e) => {
            let mut notice = ctx.refusal(&e);
            if e.status == axum::http::StatusCode::UNPROCESSABLE_ENTITY
                && let Some(service) = service
            {
                notice.text = format!(
                    "{} {} {}",
                    lang.pick("Nie można zarezerwować.", "This cannot be booked."),
                    lang.pick(service.rule.0, service.rule.1),
                    lang.pick("(Odpowiedź systemu: ", "(The system said: ").to_string() + &e.detail + ")"
                );
            }
            notice
        }
    }
}

fn bad_request() -> ApiError {
    ApiError { status: axum::http::StatusCode::BAD_REQUEST, detail: String::new() }
}

/// The account's upcoming bookings, each with a cancel button.
pub fn bookings(lang: Lang, answer: &Result<Value, ApiError>, action: &str) -> Section {
    let appointments = answer.as_ref().map(fhir::matches).unwrap_or_default();
    Section {
        heading: lang.pick("Twoje rezerwacje", "Your bookings").into(),
        empty: Some(lang.pick("Brak zarezerwowanych terminów.", "Nothing booked.").into()),
        cards: appointments
            .iter()
            .map(|a| Card {
                title: fhir::concept(a.pointer("/serviceType/0")),
                fields: vec![(lang.pick("Termin", "When").into(), lang.date_time(fhir::text(a, "/start")))],
                actions: vec![
                    Form::post(action, lang.pick("Odwołaj rezerwację", "Cancel the booking"))
                        .hidden("action", "cancel")
                        .hidden("appointment", fhir::id(a))
                        .danger(),
                ],
                ..Card::default()
            })
            .collect(),
        ..Section::default()
    }
}

/// The search for the account's upcoming bookings.
pub fn bookings_url(account: &str) -> String {
    format!("Appointment?patient={account}&status=booked&date=ge{}&_sort=date&_count=50", fhir::today())
}
