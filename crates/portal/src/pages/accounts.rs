//! `/konta`: whose account to show. The list is a plain `Patient` search with the user's token:
//! the access policy returns exactly the records the user may open (their own, their children
//! under 18, people who authorised them), so the portal needs no list of its own.

use axum::extract::Form;
use axum::response::Response;
use serde::Deserialize;
use serde_json::Value;

use crate::context::Ctx;
use crate::fhir;
use crate::session::Relation;
use crate::view::{Badge, Card, Form as PageForm, Page, Section};

/// At most this many accounts are listed (a patient has a handful).
const MAX_ACCOUNTS: usize = 50;

pub async fn page(mut ctx: Ctx) -> Response {
    if ctx.session.is_none() {
        return ctx.login_first();
    }
    let answer = ctx.get(&format!("Patient?_count={MAX_ACCOUNTS}&_elements=name,birthDate")).await;
    show(ctx, answer, None)
}

fn show(ctx: Ctx, answer: Result<Value, crate::api::ApiError>, notice: Option<crate::view::Notice>) -> Response {
    let lang = ctx.lang;
    let (patients, notice) = match &answer {
        Ok(bundle) => (fhir::matches(bundle), notice),
        Err(e) => (Vec::new(), Some(ctx.refusal(e))),
    };
    let current = ctx.account().unwrap_or_default();
    let cards = patients
        .iter()
        .map(|p| {
            let relation = relation_of(&ctx, p);
            let label = match relation {
                Relation::Own => lang.pick("Twoje konto", "Your account"),
                Relation::Child => lang.pick("Dziecko", "Child"),
                Relation::Authorised => lang.pick("Upoważnił(a) Cię", "Authorised you"),
            };
            let chosen = fhir::id(p) == current;
            Card {
                title: fhir::human_name(p),
                badge: Some(Badge { text: label.into(), tone: if chosen { "ok" } else { "info" } }),
                fields: vec![(lang.pick("Data urodzenia", "Born").into(), lang.date(fhir::text(p, "/birthDate")))],
                actions: if chosen {
                    Vec::new()
                } else {
                    vec![
                        PageForm::post("/konta", lang.pick("Pokaż to konto", "Show this account"))
                            .hidden("patient", fhir::id(p)),
                    ]
                },
                ..Card::default()
            }
        })
        .collect();
    let page = Page {
        title: lang.pick("Czyje konto", "Whose account").into(),
        intro: Some(lang.pick(
            "Możesz przeglądać swoje konto, konta swoich dzieci do 18. roku życia i konta osób, które Cię upoważniły.",
            "You can see your own account, your children's until they turn 18, and the accounts of people who authorised you.",
        ).into()),
        notice,
        sections: vec![Section {
            heading: lang.pick("Dostępne konta", "Accounts you can open").into(),
            empty: Some(lang.pick("Nie masz dostępu do żadnego konta pacjenta.", "You have access to no patient's account.").into()),
            cards,
            ..Section::default()
        }],
    };
    ctx.render(page)
}

fn relation_of(ctx: &Ctx, patient: &Value) -> Relation {
    let own =
        ctx.session.as_ref().and_then(|s| s.user.strip_prefix("Patient/")).is_some_and(|me| me == fhir::id(patient));
    if own {
        Relation::Own
    } else if fhir::age(fhir::text(patient, "/birthDate"), &fhir::today()).is_some_and(|age| age < 18) {
        Relation::Child
    } else {
        Relation::Authorised
    }
}

#[derive(Deserialize)]
pub struct Choice {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    patient: String,
}

/// `POST /konta`: show another account, once the API has shown it to this user.
pub async fn choose(mut ctx: Ctx, Form(choice): Form<Choice>) -> Response {
    if !ctx.csrf_ok(&choice.csrf) {
        return ctx.login_first();
    }
    let Some(id) = fhir::safe_id(&choice.patient) else { return ctx.redirect("/konta") };
    match ctx.get(&format!("Patient/{id}")).await {
        Ok(patient) => {
            let relation = relation_of(&ctx, &patient);
            if let Some(mut session) = ctx.session.clone() {
                session.account = id.to_string();
                session.account_name = fhir::human_name(&patient);
                session.relation = relation;
                ctx.replace(session);
            }
            ctx.redirect("/")
        }
        Err(e) => {
            let notice = Some(ctx.refusal(&e));
            let answer = ctx.get(&format!("Patient?_count={MAX_ACCOUNTS}&_elements=name,birthDate")).await;
            show(ctx, answer, notice)
        }
    }
}
