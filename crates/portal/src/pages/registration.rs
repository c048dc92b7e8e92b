//! `/rejestracja`: central e-registration for mammography, cytology and the first cardiology
//! visit: free slots, booking, the waiting list, and the account's bookings.

use axum::extract::Form;
use axum::response::Response;
use serde_json::Value;

use super::slots::{self, SCREENINGS};
use super::systems;
use crate::context::Ctx;
use crate::fhir;
use crate::view::{Badge, Card, Notice, Page, Section};

const PATH: &str = "/rejestracja";

pub async fn page(ctx: Ctx) -> Response {
    show(ctx, None).await
}

pub async fn act(ctx: Ctx, Form(request): Form<slots::Request>) -> Response {
    let (ctx, notice) = slots::carry_out(ctx, &request).await;
    show(ctx, notice).await
}

async fn show(mut ctx: Ctx, notice: Option<Notice>) -> Response {
    let Some(account) = ctx.account() else { return ctx.login_first() };
    let mut urls = slots::slot_urls(SCREENINGS);
    urls.push(slots::bookings_url(&account));
    urls.push(format!("Task?patient={account}&code={}|waiting-list&_sort=-authored-on&_count=20", systems::CER_TASK));
    urls.push(format!("ServiceRequest?patient={account}&status=active&_count=50"));
    let answers = ctx.batch(&urls).await;
    let lang = ctx.lang;
    let n = SCREENINGS.len();
    let referrals = answers[n + 2].as_ref().map(fhir::matches).unwrap_or_default();
    let mut sections = vec![slots::bookings(lang, &answers[n], PATH)];
    let waiting = answers[n + 1].as_ref().map(fhir::matches).unwrap_or_default();
    sections.push(Section {
        heading: lang.pick("Lista oczekujących", "Waiting list").into(),
        empty: Some(lang.pick("Nie czekasz na żaden termin.", "You are not waiting for any slot.").into()),
        cards: waiting.iter().map(|t| waiting_card(lang, t)).collect(),
        ..Section::default()
    });
    sections.extend(slots::offers(lang, SCREENINGS, &answers[..n], &referrals, PATH));
    let page = Page {
        title: lang.pick("Centralna e-Rejestracja", "Central e-Registration").into(),
        intro: Some(lang.pick(
            "Zarezerwuj badanie profilaktyczne lub pierwszą wizytę u kardiologa, albo zapisz się na listę oczekujących.",
            "Book a screening test or a first cardiology visit, or join the waiting list.",
        ).into()),
        notice: notice.or_else(|| ctx.first_refusal(&answers)),
        sections,
    };
    ctx.render(page)
}

fn waiting_card(lang: crate::i18n::Lang, task: &Value) -> Card {
    let service = task
        .get("input")
        .and_then(Value::as_array)
        .and_then(|inputs| inputs.iter().find(|i| fhir::text(i, "/type/text") == "service"))
        .map(|i| fhir::concept(i.get("valueCoding")))
        .unwrap_or_default();
    let (text, tone) = match fhir::text(task, "/status") {
        "requested" | "accepted" | "ready" | "in-progress" => (lang.pick("Oczekuje", "Waiting"), "info"),
        "completed" => (lang.pick("Termin zarezerwowany", "Slot booked"), "ok"),
        "failed" => (lang.pick("Nie znaleziono terminu w czasie", "No slot found in time"), "off"),
        _ => (lang.pick("Zakończone", "Ended"), "off"),
    };
    Card {
        title: service,
        badge: Some(Badge { text: text.into(), tone }),
        fields: vec![
            (lang.pick("Zapisano", "Joined").into(), lang.date(fhir::text(task, "/authoredOn"))),
            (lang.pick("Czeka do", "Waits until").into(), lang.date(fhir::text(task, "/restriction/period/end"))),
        ],
        ..Card::default()
    }
}
