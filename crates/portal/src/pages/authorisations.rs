//! `/uprawnienia`: who may see or act on this account, and granting and revoking it: a person
//! (by PESEL and surname, as in IKP), a doctor or a pharmacist, the other parent, and a one-time
//! code to read out to a doctor (`$grant-access`, `Consent/[id]/$revoke`, `$access-code`).

use std::collections::HashMap;

use axum::extract::Form;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::Value;

use super::systems;
use crate::api::ApiError;
use crate::context::Ctx;
use crate::fhir;
use crate::i18n::Lang;
use crate::view::{Badge, Card, Form as PageForm, Input, Notice, Page, Section};

const PATH: &str = "/uprawnienia";

/// The kinds of authorisation: (code, Polish, English, granted to a person rather than a
/// professional).
const CATEGORIES: &[(&str, &str, &str, bool)] = &[
    ("proxy-read", "Wgląd w moje dane", "May see my data", true),
    ("proxy-act", "Wgląd i działanie w moim imieniu", "May see my data and act for me", true),
    (
        "parent-access",
        "Dostęp drugiego rodzica do konta dziecka",
        "The other parent's access to the child's account",
        true,
    ),
    ("doctor-history", "Lekarz: dostęp do mojej historii leczenia", "A doctor: access to my medical history", false),
    ("prescriptions-only", "Farmaceuta: tylko moje recepty", "A pharmacist: my prescriptions only", false),
    (
        "doctor-24h",
        "Lekarz: dostęp na 24 godziny (kod jednorazowy)",
        "A doctor: 24 hours' access (one-time code)",
        false,
    ),
];

pub async fn page(ctx: Ctx) -> Response {
    show(ctx, None).await
}

#[derive(Deserialize)]
pub struct Request {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    consent: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    pesel: String,
    #[serde(default)]
    family: String,
    #[serde(default)]
    professional: String,
    #[serde(default)]
    end: String,
}

pub async fn act(mut ctx: Ctx, Form(request): Form<Request>) -> Response {
    let Some(account) = ctx.account() else { return ctx.login_first() };
    if !ctx.csrf_ok(&request.csrf) {
        return ctx.login_first();
    }
    let lang = ctx.lang;
    let notice = match request.action.as_str() {
        "revoke" => match fhir::safe_id(&request.consent) {
            Some(id) => match ctx.post(&format!("Consent/{id}/$revoke"), fhir::parameters(&[])).await {
                Ok(_) => ctx.done(lang.pick("Upoważnienie zostało cofnięte.", "The authorisation is revoked.")),
                Err(e) => ctx.refusal(&e),
            },
            None => ctx.refusal(&bad_request()),
        },
        "grant-person" | "grant-professional" => grant(&mut ctx, &account, &request).await,
        "code" => match ctx.post(&format!("Patient/{account}/$access-code"), fhir::parameters(&[])).await {
            Ok(answer) => {
                let code = parameter(&answer, "code");
                let expires = parameter(&answer, "expires");
                ctx.done(format!(
                    "{} {code}. {} {}. {}",
                    lang.pick("Kod jednorazowy dla lekarza:", "One-time code for a doctor:"),
                    lang.pick("Ważny do", "Valid until"),
                    lang.date_time(&expires),
                    lang.pick(
                        "Podaj go lekarzowi razem ze swoim PESEL-em; da mu dostęp do Twoich danych na 24 godziny.",
                        "Give it to the doctor with your PESEL; it gives them access to your data for 24 hours.",
                    )
                ))
            }
            Err(e) => ctx.refusal(&e),
        },
        _ => ctx.refusal(&bad_request()),
    };
    show(ctx, Some(notice)).await
}

async fn grant(ctx: &mut Ctx, account: &str, request: &Request) -> Notice {
    let lang = ctx.lang;
    let Some(category) = CATEGORIES.iter().find(|c| c.0 == request.category && c.0 != "doctor-24h") else {
        return ctx.refusal(&bad_request());
    };
    let mut values: Vec<(&str, String)> = vec![("category", category.0.to_string())];
    if request.action == "grant-person" {
        let pesel = request.pesel.trim();
        if pesel.len() != 11 || !pesel.bytes().all(|b| b.is_ascii_digit()) || request.family.trim().is_empty() {
            return ctx.failed(
                lang.pick("Podaj 11-cyfrowy PESEL i nazwisko osoby.", "Enter the person's 11-digit PESEL and surname."),
            );
        }
        values.push(("granteePesel", pesel.to_string()));
        values.push(("granteeFamily", request.family.trim().chars().take(100).collect()));
    } else {
        let Some(id) = fhir::safe_id(&request.professional) else { return ctx.refusal(&bad_request()) };
        values.push(("grantee", format!("Practitioner/{id}")));
    }
    // A date field's value (YYYY-MM-DD), or nothing.
    let end = request.end.trim();
    let is_date = end.len() == 10
        && end.bytes().enumerate().all(|(i, b)| if i == 4 || i == 7 { b == b'-' } else { b.is_ascii_digit() });
    if is_date {
        values.push(("end", end.to_string()));
    }
    let pairs: Vec<(&str, &str)> = values.iter().map(|(k, v)| (*k, v.as_str())).collect();
    match ctx.post(&format!("Patient/{account}/$grant-access"), fhir::parameters(&pairs)).await {
        Ok(_) => ctx.done(lang.pick("Upoważnienie zostało nadane.", "The authorisation is granted.")),
        // The API answers 400 and 404 alike for a person it cannot find: say so plainly.
        Err(e) if e.status == StatusCode::BAD_REQUEST || e.status == StatusCode::NOT_FOUND => ctx.failed(lang.pick(
            "Nie udało się nadać upoważnienia. Sprawdź PESEL i nazwisko albo wybraną osobę i rodzaj upoważnienia.",
            "The authorisation could not be granted. Check the PESEL and surname, or the person and kind chosen.",
        )),
        Err(e) => ctx.refusal(&e),
    }
}

fn bad_request() -> ApiError {
    ApiError { status: StatusCode::BAD_REQUEST, detail: String::new() }
}

fn parameter(parameters: &Value, name: &str) -> String {
    parameters
        .get("parameter")
        .and_then(Value::as_array)
        .and_then(|p| p.iter().find(|p| fhir::text(p, "/name") == name))
        .and_then(|p| p.as_object())
        .and_then(|p| p.iter().find(|(k, _)| k.starts_with("value")).map(|(_, v)| fhir::number_text(v)))
        .unwrap_or_default()
}

async fn show(mut ctx: Ctx, notice: Option<Notice>) -> Response {
    let Some(account) = ctx.account() else { return ctx.login_first() };
    let user = ctx.session.as_ref().map(|s| s.user.clone()).unwrap_or_default();
    let mut urls = vec![
        format!("Consent?patient={account}&_sort=-date&_count=100&_include=Consent:actor"),
        "Practitioner?_count=100".to_string(),
    ];
    let own = user == format!("Patient/{account}");
    if own {
        urls.push(format!("Consent?actor={user}&status=active&_count=100&_include=Consent:patient"));
    }
    let answers = ctx.batch(&urls).await;
    let lang = ctx.lang;
    let empty = Value::Null;
    let consents = answers[0].as_ref().unwrap_or(&empty);
    let practitioners = answers[1].as_ref().map(fhir::matches).unwrap_or_default();
    let mut names = fhir::labels(&fhir::included(consents));
    names.extend(fhir::labels(&practitioners));
    let (current, ended): (Vec<&Value>, Vec<&Value>) = fhir::matches(consents)
        .into_iter()
        .filter(|c| category_of(c) != "cross-border")
        .partition(|c| matches!(fhir::text(c, "/status"), "active" | "proposed"));
    let mut sections = vec![Section {
        heading: lang.pick("Upoważnienia do tego konta", "Authorisations on this account").into(),
        empty: Some(lang.pick("Nikt nie jest upoważniony.", "Nobody is authorised.").into()),
        cards: current.iter().map(|c| consent_card(lang, c, &names, true)).collect(),
        ..Section::default()
    }];
    if let Some(Ok(mine)) = answers.get(2) {
        let names = fhir::labels(&fhir::included(mine));
        sections.push(Section {
            heading: lang.pick("Upoważnienia, które otrzymałeś(-aś)", "Authorisations given to you").into(),
            empty: Some(lang.pick("Nikt Cię nie upoważnił.", "Nobody has authorised you.").into()),
            cards: fhir::matches(mine)
                .iter()
                .map(|c| {
                    let mut card = consent_card(lang, c, &names, false);
                    let grantor = fhir::text(c, "/patient/reference");
                    card.fields.insert(
                        0,
                        (
                            lang.pick("Od", "From").into(),
                            names.get(grantor).cloned().unwrap_or_else(|| grantor.to_string()),
                        ),
                    );
                    card
                })
                .collect(),
            ..Section::default()
        });
    }
    let person_categories =
        CATEGORIES.iter().filter(|c| c.3).map(|c| (c.0.to_string(), lang.pick(c.1, c.2).to_string())).collect();
    let professional_categories = CATEGORIES
        .iter()
        .filter(|c| !c.3 && c.0 != "doctor-24h")
        .map(|c| (c.0.to_string(), lang.pick(c.1, c.2).to_string()))
        .collect();
    let professionals = practitioners.iter().map(|p| (fhir::id(p).to_string(), fhir::human_name(p))).collect();
    let person = vec![
        Input::text("person-pesel", "pesel", "PESEL").numeric(),
        Input::text("person-family", "family", lang.pick("Nazwisko", "Surname")),
    ];
    let professional = vec![Input::select("pro-who", "professional", lang.pick("Kogo", "Whom"), professionals)];
    sections.push(Section {
        heading: lang.pick("Upoważnij osobę", "Authorise a person").into(),
        intro: Some(
            lang.pick(
                "Osobę wskazujesz PESEL-em i nazwiskiem. Drugi rodzic może dostać dostęp do konta dziecka.",
                "Name the person by PESEL and surname. The other parent can be given access to a child's account.",
            )
            .into(),
        ),
        forms: vec![grant_form(lang, "grant-person", "person", person_categories, person)],
        ..Section::default()
    });
    sections.push(Section {
        heading: lang.pick("Upoważnij lekarza lub farmaceutę", "Authorise a doctor or a pharmacist").into(),
        forms: vec![grant_form(lang, "grant-professional", "pro", professional_categories, professional)],
        ..Section::default()
    });
    sections.push(Section {
        heading: lang.pick("Kod jednorazowy dla lekarza", "One-time code for a doctor").into(),
        intro: Some(lang.pick(
            "Kod jest ważny 10 minut. Lekarz, który go wpisze z Twoim PESEL-em, zobaczy Twoje dane przez 24 godziny.",
            "The code is valid for 10 minutes. A doctor who enters it with your PESEL sees your data for 24 hours.",
        ).into()),
        forms: vec![PageForm::post(PATH, lang.pick("Wygeneruj kod", "Generate a code")).hidden("action", "code")],
        ..Section::default()
    });
    if !ended.is_empty() {
        sections.push(Section {
            heading: lang.pick("Zakończone upoważnienia", "Ended authorisations").into(),
            cards: ended.iter().map(|c| consent_card(lang, c, &names, false)).collect(),
            ..Section::default()
        });
    }
    let page = Page {
        title: lang.pick("Upoważnienia", "Authorisations").into(),
        notice: notice.or_else(|| ctx.first_refusal(&answers)),
        sections,
        ..Page::default()
    };
    ctx.render(page)
}

/// A form that grants access: the kind (`categories`), whom (`who`), and an optional end.
fn grant_form(lang: Lang, action: &str, prefix: &str, categories: Vec<(String, String)>, who: Vec<Input>) -> PageForm {
    let kind = lang.pick("Rodzaj upoważnienia", "Kind of authorisation");
    let mut form = PageForm::post(PATH, lang.pick("Nadaj upoważnienie", "Grant"))
        .hidden("action", action)
        .input(Input::select(&format!("{prefix}-category"), "category", kind, categories));
    for input in who {
        form = form.input(input);
    }
    let end = lang.pick("Ważne do (opcjonalnie)", "Valid until (optional)");
    form.input(Input::text(&format!("{prefix}-end"), "end", end).kind("date").optional())
}

fn category_of(consent: &Value) -> &str {
    fhir::code_in(consent.pointer("/category/0"), systems::AUTHORIZATION_TYPE).unwrap_or_default()
}

fn consent_card(lang: Lang, consent: &Value, names: &HashMap<String, String>, revocable: bool) -> Card {
    let category = category_of(consent);
    let kind = CATEGORIES.iter().find(|c| c.0 == category).map(|c| lang.pick(c.1, c.2)).unwrap_or(category);
    let actor = consent.pointer("/provision/actor/0/reference");
    let reference = actor.map(|a| fhir::text(a, "/reference")).unwrap_or_default();
    let grantee = names.get(reference).cloned().filter(|n| !n.is_empty()).unwrap_or_else(|| fhir::reference(actor));
    let (status, tone) = match fhir::text(consent, "/status") {
        "active" => (lang.pick("Aktywne", "Active"), "ok"),
        "proposed" => (lang.pick("Kod czeka na lekarza", "Code waiting for a doctor"), "info"),
        _ => (lang.pick("Zakończone", "Ended"), "off"),
    };
    let end = fhir::text(consent, "/provision/period/end");
    let active = fhir::text(consent, "/status") == "active";
    Card {
        title: grantee,
        badge: Some(Badge { text: status.into(), tone }),
        fields: vec![
            (lang.pick("Rodzaj", "Kind").into(), kind.into()),
            (lang.pick("Od", "From").into(), lang.date_time(fhir::text(consent, "/provision/period/start"))),
            (
                lang.pick("Do", "Until").into(),
                if end.is_empty() { lang.pick("odwołania", "revoked").into() } else { lang.date_time(end) },
            ),
        ],
        actions: if revocable && active {
            vec![
                PageForm::post(PATH, lang.pick("Cofnij upoważnienie", "Revoke"))
                    .hidden("action", "revoke")
                    .hidden("consent", fhir::id(consent))
                    .danger(),
            ]
        } else {
            Vec::new()
        },
        ..Card::default()
    }
}
