//! `/skierowania`: e-referrals (ServiceRequest) and e-orders (DeviceRequest) with their numbers,
//! access codes and state.

use axum::response::Response;
use serde_json::Value;

use super::systems;
use crate::context::Ctx;
use crate::fhir;
use crate::i18n::Lang;
use crate::view::{Badge, Card, Page, Section};

pub async fn page(mut ctx: Ctx) -> Response {
    let Some(account) = ctx.account() else { return ctx.login_first() };
    let urls = [
        format!("ServiceRequest?patient={account}&_sort=-authored&_count=100&_include=ServiceRequest:requester"),
        format!("DeviceRequest?patient={account}&_count=100&_include=DeviceRequest:requester"),
    ];
    let answers = ctx.batch(&urls).await;
    let lang = ctx.lang;
    let notice = ctx.first_refusal(&answers);
    let empty = Value::Null;
    let referrals = answers[0].as_ref().unwrap_or(&empty);
    let orders = answers[1].as_ref().unwrap_or(&empty);
    let mut people = fhir::labels(&fhir::included(referrals));
    people.extend(fhir::labels(&fhir::included(orders)));
    let who = |r: &Value| {
        people
            .get(fhir::text(r, "/requester/reference"))
            .cloned()
            .unwrap_or_else(|| fhir::reference(r.get("requester")))
    };
    let page = Page {
        title: lang.pick("e-Skierowania i e-zlecenia", "e-Referrals and e-orders").into(),
        intro: Some(
            lang.pick(
                "Kod dostępu i PESEL wystarczą, by placówka odnalazła skierowanie lub zlecenie.",
                "The access code and your PESEL are all a provider needs to find a referral or an order.",
            )
            .into(),
        ),
        notice,
        sections: vec![
            Section {
                heading: lang.pick("e-Skierowania", "e-Referrals").into(),
                empty: Some(lang.pick("Brak e-skierowań.", "No e-referrals.").into()),
                cards: fhir::matches(referrals)
                    .iter()
                    .map(|r| Card {
                        title: fhir::concept(r.get("code")),
                        badge: Some(referral_state(lang, r)),
                        fields: vec![
                            (
                                lang.pick("Kod dostępu", "Access code").into(),
                                fhir::identifier(r, systems::REFERRAL_ACCESS_CODE).unwrap_or("—").into(),
                            ),
                            (
                                lang.pick("Numer", "Number").into(),
                                fhir::identifier(r, systems::REFERRAL_NUMBER).unwrap_or("—").into(),
                            ),
                            (lang.pick("Wystawione", "Issued").into(), lang.date(fhir::text(r, "/authoredOn"))),
                            (lang.pick("Wystawił(a)", "Issued by").into(), who(r)),
                        ],
                        ..Card::default()
                    })
                    .collect(),
                ..Section::default()
            },
            Section {
                heading: lang.pick("e-Zlecenia na wyroby medyczne", "e-Orders for medical devices").into(),
                empty: Some(lang.pick("Brak e-zleceń.", "No e-orders.").into()),
                cards: fhir::matches(orders).iter().map(|o| order_card(lang, o, who(o))).collect(),
                ..Section::default()
            },
        ],
    };
    ctx.render(page)
}

fn referral_state(lang: Lang, referral: &Value) -> Badge {
    let booked =
        fhir::extension(referral, systems::REFERRAL_WORKFLOW).map(|v| fhir::text(v, "/code")) == Some("booked");
    let (text, tone) = match fhir::text(referral, "/status") {
        "active" if booked => (lang.pick("Zarezerwowane", "Booked"), "info"),
        "active" => (lang.pick("Wystawione", "Issued"), "ok"),
        "completed" => (lang.pick("Zrealizowane", "Completed"), "off"),
        "revoked" => (lang.pick("Anulowane", "Cancelled"), "off"),
        _ => (lang.pick("Nieaktywne", "Inactive"), "off"),
    };
    Badge { text: text.into(), tone }
}

fn order_card(lang: Lang, order: &Value, issued_by: String) -> Card {
    let monthly = order
        .get("parameter")
        .and_then(Value::as_array)
        .and_then(|p| {
            p.iter().find(|p| {
                fhir::code_in(p.get("code"), "https://ikp.example.org/fhir/CodeSystem/e-order-parameter")
                    == Some("monthly-quantity")
            })
        })
        .map(|p| fhir::quantity(p.get("valueQuantity")))
        .unwrap_or_default();
    let realised: Vec<String> = order
        .get("extension")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter(|e| fhir::text(e, "/url") == systems::ORDER_REALISATION)
                .map(|e| {
                    let part = |name: &str| {
                        e.get("extension").and_then(Value::as_array).and_then(|parts| {
                            parts.iter().find(|p| fhir::text(p, "/url") == name).and_then(|p| {
                                p.get("valueString")
                                    .map(fhir::number_text)
                                    .or_else(|| p.get("valueDecimal").map(fhir::number_text))
                            })
                        })
                    };
                    format!("{}: {}", part("month").unwrap_or_default(), part("quantity").unwrap_or_default())
                })
                .collect()
        })
        .unwrap_or_default();
    let (text, tone) = match fhir::text(order, "/status") {
        "active" => (lang.pick("Aktywne", "Active"), "ok"),
        "completed" => (lang.pick("Zrealizowane", "Completed"), "off"),
        "revoked" => (lang.pick("Anulowane", "Cancelled"), "off"),
        _ => (lang.pick("Nieaktywne", "Inactive"), "off"),
    };
    Card {
        title: fhir::concept(order.get("codeCodeableConcept")),
        badge: Some(Badge { text: text.into(), tone }),
        fields: vec![
            (
                lang.pick("Kod dostępu", "Access code").into(),
                fhir::identifier(order, systems::ORDER_ACCESS_CODE).unwrap_or("—").into(),
            ),
            (lang.pick("Numer", "Number").into(), fhir::identifier(order, systems::ORDER_NUMBER).unwrap_or("—").into()),
            (lang.pick("Miesięcznie", "Per month").into(), monthly),
            (
                lang.pick("Ważne", "Valid").into(),
                format!(
                    "{} – {}",
                    lang.date(fhir::text(order, "/occurrencePeriod/start")),
                    lang.date(fhir::text(order, "/occurrencePeriod/end"))
                ),
            ),
            (
                lang.pick("Zrealizowano", "Realised").into(),
                if realised.is_empty() { "—".into() } else { realised.join("; ") },
            ),
            (lang.pick("Wystawił(a)", "Issued by").into(), issued_by),
        ],
        ..Card::default()
    }
}
