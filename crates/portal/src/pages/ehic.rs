//! `/ekuz`: the European Health Insurance Card: applications and their state, and applying
//! (`Patient/[id]/$apply-ehic`).

use axum::extract::Form;
use axum::response::Response;
use serde_json::Value;

use super::{CsrfOnly, systems};
use crate::context::Ctx;
use crate::fhir;
use crate::i18n::Lang;
use crate::view::{Badge, Card, Form as PageForm, Notice, Page, Section};

pub async fn page(ctx: Ctx) -> Response {
    show(ctx, None).await
}

pub async fn apply(mut ctx: Ctx, Form(form): Form<CsrfOnly>) -> Response {
    let Some(account) = ctx.account() else { return ctx.login_first() };
    if !ctx.csrf_ok(&form.csrf) {
        return ctx.login_first();
    }
    let notice = match ctx.post(&format!("Patient/{account}/$apply-ehic"), fhir::parameters(&[])).await {
        Ok(_) => ctx.done(ctx.tr("Wniosek został złożony do NFZ.", "The application has been sent to the NFZ.")),
        // One open application at a time.
        Err(e) if e.status == axum::http::StatusCode::CONFLICT => ctx.failed(ctx.tr(
            "Masz już wniosek o EKUZ, który jest rozpatrywany. Nowy złożysz, gdy ten się zakończy.",
            "You already have an EHIC application being handled. You can apply again once it is finished.",
        )),
        Err(e) => ctx.refusal(&e),
    };
    show(ctx, Some(notice)).await
}

async fn show(mut ctx: Ctx, notice: Option<Notice>) -> Response {
    let Some(account) = ctx.account() else { return ctx.login_first() };
    let answer = ctx
        .get(&format!(
            "Task?patient={account}&code={}|ehic-application&_sort=-authored-on&_count=20",
            systems::TASK_TYPE
        ))
        .await;
    let lang = ctx.lang;
    let (applications, notice) = match &answer {
        Ok(bundle) => (fhir::matches(bundle), notice),
        Err(e) => (Vec::new(), notice.or_else(|| Some(ctx.refusal(e)))),
    };
    let page = Page {
        title: lang.pick("Europejska Karta Ubezpieczenia Zdrowotnego", "European Health Insurance Card").into(),
        intro: Some(
            lang.pick(
                "EKUZ pozwala korzystać z publicznej opieki zdrowotnej w innych krajach UE i EFTA.",
                "The EHIC gives access to public healthcare in other EU and EFTA countries.",
            )
            .into(),
        ),
        notice,
        sections: vec![
            Section {
                heading: lang.pick("Twoje wnioski", "Your applications").into(),
                empty: Some(lang.pick("Nie złożono wniosku.", "No application yet.").into()),
                cards: applications.iter().map(|t| card(lang, t)).collect(),
                ..Section::default()
            },
            Section {
                heading: lang.pick("Złóż wniosek", "Apply").into(),
                forms: vec![PageForm::post("/ekuz", lang.pick("Złóż wniosek o EKUZ", "Apply for an EHIC"))],
                ..Section::default()
            },
        ],
    };
    ctx.render(page)
}

fn card(lang: Lang, task: &Value) -> Card {
    let state = fhir::text(task, "/businessStatus/coding/0/code");
    let (text, tone) = match state {
        "accepted" => (lang.pick("Przyjęty", "Received"), "info"),
        "under-review" => (lang.pick("W trakcie rozpatrywania", "Under review"), "info"),
        "sent" => (lang.pick("Karta wysłana", "Card sent"), "ok"),
        "returned" => (lang.pick("Zwrócony do uzupełnienia", "Returned for more information"), "warn"),
        "rejected" => (lang.pick("Odrzucony", "Rejected"), "off"),
        _ => (lang.pick("Nieznany", "Unknown"), "off"),
    };
    let mut fields = vec![
        (
            lang.pick("Numer sprawy", "Case number").into(),
            fhir::identifier(task, systems::EHIC_CASE).unwrap_or("—").into(),
        ),
        (lang.pick("Złożony", "Applied").into(), lang.date(fhir::text(task, "/authoredOn"))),
    ];
    let reason = fhir::concept(task.get("statusReason"));
    if !reason.is_empty() {
        fields.push((lang.pick("Uzasadnienie", "Reason").into(), reason));
    }
    Card {
        title: lang.pick("Wniosek o EKUZ", "EHIC application").into(),
        badge: Some(Badge { text: text.into(), tone }),
        fields,
        ..Card::default()
    }
}
