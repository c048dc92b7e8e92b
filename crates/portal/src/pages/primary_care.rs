//! `/poz`: the chosen primary-care doctor, nurse and midwife (declaration Tasks), and choosing
//! (`Patient/[id]/$choose-primary-care`) among the practitioners' roles the server lists.

use std::collections::HashMap;

use axum::extract::Form;
use axum::response::Response;
use serde::Deserialize;
use serde_json::Value;

use super::systems;
use crate::context::Ctx;
use crate::fhir;
use crate::i18n::Lang;
use crate::view::{Badge, Card, Form as PageForm, Input, Notice, Page, Section};

const ROLES: &[(&str, &str, &str)] = &[
    ("poz-doctor", "Lekarz POZ", "Primary-care doctor"),
    ("poz-nurse", "Pielęgniarka POZ", "Primary-care nurse"),
    ("poz-midwife", "Położna POZ", "Primary-care midwife"),
];

pub async fn page(ctx: Ctx) -> Response {
    show(ctx, None).await
}

#[derive(Deserialize)]
pub struct Choice {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    practitioner_role: String,
    #[serde(default)]
    reason: String,
}

pub async fn choose(mut ctx: Ctx, Form(choice): Form<Choice>) -> Response {
    let Some(account) = ctx.account() else { return ctx.login_first() };
    if !ctx.csrf_ok(&choice.csrf) {
        return ctx.login_first();
    }
    let lang = ctx.lang;
    let notice = match (ROLES.iter().find(|r| r.0 == choice.role), fhir::safe_id(&choice.practitioner_role)) {
        (Some(role), Some(chosen)) => {
            let chosen = format!("PractitionerRole/{chosen}");
            let mut values = vec![("role", role.0), ("practitionerRole", chosen.as_str())];
            if let Some(reason) = fhir::safe_id(&choice.reason) {
                values.push(("reason", reason));
            }
            match ctx.post(&format!("Patient/{account}/$choose-primary-care"), fhir::parameters(&values)).await {
                Ok(_) => ctx.done(lang.pick("Deklaracja została złożona.", "The declaration is submitted.")),
                Err(e) => ctx.refusal(&e),
            }
        }
        _ => ctx.refusal(&crate::api::ApiError { status: axum::http::StatusCode::BAD_REQUEST, detail: String::new() }),
    };
    show(ctx, Some(notice)).await
}

async fn show(mut ctx: Ctx, notice: Option<Notice>) -> Response {
    let Some(account) = ctx.account() else { return ctx.login_first() };
    let urls = [
        format!("Task?patient={account}&code={}|poz-doctor,{}|poz-nurse,{}|poz-midwife&_sort=-authored-on&_count=20&_include=Task:focus", systems::TASK_TYPE, systems::TASK_TYPE, systems::TASK_TYPE),
        "PractitionerRole?active=true&_count=50&_include=PractitionerRole:practitioner&_include=PractitionerRole:organization".to_string(),
    ];
    let answers = ctx.batch(&urls).await;
    let lang = ctx.lang;
    let empty = Value::Null;
    let declarations = answers[0].as_ref().unwrap_or(&empty);
    let roles_bundle = answers[1].as_ref().unwrap_or(&empty);
    let labels = role_labels(roles_bundle);
    let cards = fhir::matches(declarations)
        .iter()
        .map(|t| {
            let role = fhir::text(t, "/code/coding/0/code");
            let role_name = ROLES.iter().find(|r| r.0 == role).map(|r| lang.pick(r.1, r.2)).unwrap_or(role);
            let ended = !fhir::text(t, "/executionPeriod/end").is_empty();
            let chosen = fhir::text(t, "/focus/reference");
            Card {
                title: role_name.into(),
                badge: Some(Badge {
                    text: if ended {
                        lang.pick("Poprzedni wybór", "Previous choice")
                    } else {
                        lang.pick("Aktualny wybór", "Current choice")
                    }
                    .into(),
                    tone: if ended { "off" } else { "ok" },
                }),
                fields: vec![
                    (lang.pick("Kto", "Who").into(), labels.get(chosen).cloned().unwrap_or_else(|| chosen.to_string())),
                    (lang.pick("Od", "Since").into(), lang.date(fhir::text(t, "/executionPeriod/start"))),
                    (lang.pick("Opłata", "Fee").into(), fee(lang, t)),
                ],
                ..Card::default()
            }
        })
        .collect();
    let options: Vec<(String, String)> = fhir::matches(roles_bundle)
        .iter()
        .map(|r| {
            (
                fhir::id(r).to_string(),
                labels.get(&format!("PractitionerRole/{}", fhir::id(r))).cloned().unwrap_or_default(),
            )
        })
        .collect();
    let form = PageForm::post("/poz", lang.pick("Złóż deklarację", "Submit the declaration"))
        .input(Input::select(
            "poz-role",
            "role",
            lang.pick("Kogo wybierasz", "Whom you choose"),
            ROLES.iter().map(|r| (r.0.to_string(), lang.pick(r.1, r.2).to_string())).collect(),
        ))
        .input(Input::select(
            "poz-practitioner",
            "practitioner_role",
            lang.pick("Osoba i placówka", "Person and facility"),
            options,
        ))
        .input(
            Input::select(
                "poz-reason",
                "reason",
                lang.pick("Powód zmiany (jeśli dotyczy)", "Reason for a change (if any)"),
                vec![
                    (String::new(), lang.pick("Bez szczególnego powodu", "No particular reason").into()),
                    ("moved".into(), lang.pick("Przeprowadzka", "I moved").into()),
                    (
                        "facility-closed".into(),
                        lang.pick("Placówka zakończyła działalność", "The facility closed").into(),
                    ),
                    (
                        "practitioner-left".into(),
                        lang.pick("Lekarz odszedł z placówki", "The practitioner left").into(),
                    ),
                    ("turned-18".into(), lang.pick("Ukończenie 18 lat", "Turned 18").into()),
                ],
            )
            .optional()
            .hint(lang.pick(
                "Dwie zmiany w roku są bezpłatne; kolejna kosztuje 80 zł, chyba że powód ją zwalnia.",
                "Two changes a year are free; another costs 80 PLN unless the reason exempts it.",
            )),
        );
    let page = Page {
        title: lang.pick("Lekarz, pielęgniarka i położna POZ", "Primary care").into(),
        notice: notice.or_else(|| ctx.first_refusal(&answers)),
        sections: vec![
            Section {
                heading: lang.pick("Twoje deklaracje", "Your declarations").into(),
                empty: Some(lang.pick("Nie złożono jeszcze deklaracji.", "No declaration yet.").into()),
                cards,
                ..Section::default()
            },
            Section {
                heading: lang.pick("Wybierz lub zmień", "Choose or change").into(),
                forms: vec![form],
                ..Section::default()
            },
        ],
        ..Page::default()
    };
    ctx.render(page)
}

fn fee(lang: Lang, task: &Value) -> String {
    let fee = task.get("input").and_then(Value::as_array).and_then(|inputs| {
        inputs
            .iter()
            .find(|i| fhir::text(i, "/type/coding/0/code") == "fee")
            .map(|i| fhir::quantity(i.get("valueMoney").or_else(|| i.get("valueQuantity"))))
    });
    fee.map(|f| if f.is_empty() { "80 PLN".to_string() } else { f })
        .unwrap_or_else(|| lang.pick("bez opłaty", "free").into())
}

/// `PractitionerRole/x` → "dr Piotr Nowak, Lekarz — Przychodnia Zdrowie".
fn role_labels(bundle: &Value) -> HashMap<String, String> {
    let included = fhir::labels(&fhir::included(bundle));
    let name_of = |reference: &str| included.get(reference).cloned().unwrap_or_default();
    fhir::matches(bundle)
        .iter()
        .map(|r| {
            let label = format!(
                "{}, {} — {}",
                name_of(fhir::text(r, "/practitioner/reference")),
                fhir::concept(r.pointer("/code/0")),
                name_of(fhir::text(r, "/organization/reference"))
            );
            (format!("PractitionerRole/{}", fhir::id(r)), label)
        })
        .collect()
}
