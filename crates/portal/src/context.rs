//! One page request: the language, the login (opened from its cookie), the API with the user's
//! token (refreshed when it is about to expire), and the frame every page is drawn in.

use axum::extract::FromRequestParts;
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::Shared;
use crate::api::{ApiError, Payload};
use crate::i18n::Lang;
use crate::oauth;
use crate::session::{self, LANGUAGE_COOKIE, Relation, SESSION_COOKIE, SessionData};
use crate::view::{Banner, Layout, NavItem, Notice, Page, UserBox};

/// Refresh the access token when it has less than this left.
const REFRESH_MARGIN_SECONDS: i64 = 60;

/// The screens, in the order of the menu: (path, Polish, English).
pub const SCREENS: &[(&str, &str, &str)] = &[
    ("/", "Pulpit", "Dashboard"),
    ("/recepty", "e-Recepty", "e-Prescriptions"),
    ("/skierowania", "e-Skierowania i e-zlecenia", "Referrals and orders"),
    ("/dokumenty", "Dokumenty", "Documents"),
    ("/wyniki", "Wyniki badań", "Test results"),
    ("/wizyty", "Wizyty", "Visits"),
    ("/szczepienia", "Szczepienia", "Vaccinations"),
    ("/rejestracja", "e-Rejestracja", "e-Registration"),
    ("/poz", "Lekarz POZ", "Primary care"),
    ("/ekuz", "EKUZ", "EHIC"),
    ("/zwolnienia", "Zwolnienia lekarskie", "Sick leave"),
    ("/ubezpieczenie", "Ubezpieczenie i składki", "Insurance"),
    ("/uprawnienia", "Upoważnienia", "Authorisations"),
    ("/historia-dostepu", "Kto widział moje dane", "Who viewed my data"),
    ("/konta", "Konta", "Accounts"),
];

pub struct Ctx {
    pub config: Shared,
    pub lang: Lang,
    /// The path of this page (for the menu and the language switch).
    pub path: String,
    pub session: Option<SessionData>,
    /// The session changed (a refreshed token, another account): the cookie is written again.
    changed: bool,
    /// The login ended (refused by the API): the cookie is removed.
    ended: bool,
}

impl FromRequestParts<Shared> for Ctx {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, config: &Shared) -> Result<Ctx, Self::Rejection> {
        let lang = Lang::from_cookie(session::cookie(&parts.headers, LANGUAGE_COOKIE));
        let session = session::cookie(&parts.headers, SESSION_COOKIE)
            .and_then(|c| session::open::<SessionData>(&config.cookie_key, SESSION_COOKIE, c))
            .filter(|s| session::now() - s.started_at < session::MAX_LOGIN_SECONDS);
        let path = parts.uri.path().to_string();
        Ok(Ctx { config: config.clone(), lang, path, session, changed: false, ended: false })
    }
}

impl Ctx {
    /// Text in the page's language.
    pub fn tr(&self, pl: &'static str, en: &'static str) -> &'static str {
        self.lang.pick(pl, en)
    }

    /// The account shown (a patient id), when someone is logged in and has chosen one.
    pub fn account(&self) -> Option<String> {
        self.session.as_ref().map(|s| s.account.clone()).filter(|a| !a.is_empty())
    }

    /// Whether the form's CSRF token is this login's.
    pub fn csrf_ok(&self, sent: &str) -> bool {
        self.session.as_ref().is_some_and(|s| !s.csrf.is_empty() && session::same_secret(&s.csrf, sent))
    }

    /// A FHIR read or search (`Patient/x`, `Observation?patient=x`), with the user's token.
    pub async fn get(&mut self, path: &str) -> Result<Value, ApiError> {
        self.call(Method::GET, path, None).await
    }

    /// A FHIR POST (an operation) with a Parameters or resource body.
    pub async fn post(&mut self, path: &str, body: Value) -> Result<Value, ApiError> {
        self.call(Method::POST, path, Some(Payload::Json(body))).await
    }

    /// Several reads in one round trip (a FHIR `batch` of GETs), each answered on its own.
    pub async fn batch(&mut self, urls: &[String]) -> Vec<Result<Value, ApiError>> {
        let entry: Vec<Value> =
            urls.iter().map(|url| serde_json::json!({"request": {"method": "GET", "url": url}})).collect();
        let bundle = serde_json::json!({"resourceType": "Bundle", "type": "batch", "entry": entry});
        let answer = match self.post("", bundle).await {
            Ok(answer) => answer,
            Err(e) => return urls.iter().map(|_| Err(e.clone())).collect(),
        };
        let entries = answer.get("entry").and_then(Value::as_array).cloned().unwrap_or_default();
        (0..urls.len())
            .map(|i| {
                let entry = entries.get(i).cloned().unwrap_or(Value::Null);
                let status = entry.pointer("/response/status").and_then(Value::as_str).unwrap_or("500");
                let code = status.get(..3).and_then(|c| c.parse::<u16>().ok()).unwrap_or(500);
                let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                let resource = entry.get("resource").cloned().unwrap_or(Value::Null);
                if status.is_success() {
                    Ok(resource)
                } else {
                    let detail = crate::fhir::text(&resource, "/issue/0/diagnostics").to_string();
                    Err(ApiError { status, detail })
                }
            })
            .collect()
    }

    async fn call(&mut self, method: Method, path: &str, payload: Option<Payload>) -> Result<Value, ApiError> {
        let token = self.fresh_token().await?;
        let target = format!("{}/{}", self.config.fhir_path, path.trim_start_matches('/'));
        let result = self.config.api.send(method, &target, Some(&format!("Bearer {token}")), payload).await;
        if let Err(e) = &result
            && e.status == StatusCode::UNAUTHORIZED
        {
            self.end();
        }
        result
    }

    /// The access token, refreshed first when it is about to expire.
    async fn fresh_token(&mut self) -> Result<String, ApiError> {
        let unauthorized = || ApiError { status: StatusCode::UNAUTHORIZED, detail: String::new() };
        let Some(current) = self.session.clone() else { return Err(unauthorized()) };
        if current.expires_at - session::now() > REFRESH_MARGIN_SECONDS {
            return Ok(current.access_token);
        }
        let Some(refresh) = current.refresh_token.as_deref() else {
            self.end();
            return Err(unauthorized());
        };
        match oauth::refresh(&self.config, refresh).await {
            Ok(tokens) => {
                let session = self.session.get_or_insert(current);
                session.access_token = tokens.access_token.clone();
                session.refresh_token = tokens.refresh_token.or(session.refresh_token.take());
                session.expires_at = session::now() + tokens.expires_in;
                self.changed = true;
                Ok(tokens.access_token)
            }
            Err(e) => {
                tracing::info!(status = %e.status, "the portal's refresh was refused; the login ends");
                self.end();
                Err(unauthorized())
            }
        }
    }

    /// Forgets the login (its cookie is removed with the response).
    pub fn end(&mut self) {
        self.session = None;
        self.ended = true;
    }

    /// Replaces the login (after a login or another account was chosen).
    pub fn replace(&mut self, session: SessionData) {
        self.session = Some(session);
        self.changed = true;
        self.ended = false;
    }

    /// A notice for an API refusal.
    pub fn refusal(&self, error: &ApiError) -> Notice {
        Notice { text: self.lang.refusal(error), tone: "error" }
    }

    /// A notice for the first refusal among a batch's answers, if any.
    pub fn first_refusal(&self, answers: &[Result<Value, ApiError>]) -> Option<Notice> {
        answers.iter().find_map(|a| a.as_ref().err()).map(|e| self.refusal(e))
    }

    /// A notice that something could not be done, in the portal's own words.
    pub fn failed(&self, text: impl Into<String>) -> Notice {
        Notice { text: text.into(), tone: "error" }
    }

    /// A notice that something was done.
    pub fn done(&self, text: impl Into<String>) -> Notice {
        Notice { text: text.into(), tone: "ok" }
    }

    /// The page in the frame, with the cookies this request changed.
    pub fn render(self, page: Page) -> Response {
        self.render_status(page, StatusCode::OK)
    }

    pub fn render_status(self, page: Page, status: StatusCode) -> Response {
        let layout = self.layout(page);
        let response = layout.render(status);
        self.with_cookies(response)
    }

    /// To another page (303, so a form is not sent again).
    pub fn redirect(self, to: &str) -> Response {
        let mut response = StatusCode::SEE_OTHER.into_response();
        if let Ok(value) = HeaderValue::from_str(to) {
            response.headers_mut().insert(LOCATION, value);
        }
        self.with_cookies(response)
    }

    /// For a page that needs a login: to the start page (which offers it), or a page that says
    /// the session ended.
    pub fn login_first(self) -> Response {
        self.redirect("/")
    }

    fn with_cookies(&self, mut response: Response) -> Response {
        let secure = self.config.secure_cookies;
        let cookie = if self.ended {
            Some(session::set_cookie(SESSION_COOKIE, "", Some(0), secure, true))
        } else if self.changed {
            self.session
                .as_ref()
                .and_then(|s| session::seal(&self.config.cookie_key, SESSION_COOKIE, s))
                .map(|sealed| session::set_cookie(SESSION_COOKIE, &sealed, None, secure, true))
        } else {
            None
        };
        if let Some(value) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
            response.headers_mut().append(SET_COOKIE, value);
        }
        response
    }

    fn layout(&self, page: Page) -> Layout {
        let lang = self.lang;
        let logged_in = self.session.is_some();
        let nav = if logged_in {
            SCREENS
                .iter()
                .map(|(href, pl, en)| NavItem { href, label: lang.pick(pl, en), current: self.path == *href })
                .collect()
        } else {
            Vec::new()
        };
        let banner = self.session.as_ref().filter(|s| !s.account.is_empty()).map(|s| {
            // (whose account, the role the user acts in, the banner's colour)
            let (whose, acting, tone) = match s.relation {
                Relation::Own => (lang.pick("Twoje konto:", "Your account:"), "", "own"),
                Relation::Child => (
                    lang.pick("Konto dziecka:", "Child's account:"),
                    lang.pick(" (działasz jako rodzic)", " (you act as a parent)"),
                    "child",
                ),
                Relation::Authorised => (
                    lang.pick("Konto osoby, która Cię upoważniła:", "Account of someone who authorised you:"),
                    lang.pick(" (działasz jako pełnomocnik)", " (you act as their proxy)"),
                    "authorised",
                ),
            };
            let text = format!("{whose} {}{acting}", s.account_name);
            Banner { text, tone, switch_label: lang.pick("Zmień konto", "Switch account") }
        });
        let user = self.session.as_ref().map(|s| UserBox {
            label: format!("{} {}", lang.pick("Zalogowano:", "Logged in:"), s.user_name),
            logout: lang.pick("Wyloguj", "Log out"),
        });
        let other = lang.other();
        let back: String = form_urlencoded::byte_serialize(self.path.as_bytes()).collect();
        Layout {
            lang: lang.code(),
            title: page.title.clone(),
            site_name: lang.pick("Internetowe Konto Pacjenta", "Internet Patient Account"),
            skip_label: lang.pick("Przejdź do treści", "Skip to content"),
            nav_label: lang.pick("Menu konta", "Account menu"),
            nav,
            banner,
            user,
            csrf: self.session.as_ref().map(|s| s.csrf.clone()).unwrap_or_default(),
            other_language: (format!("/jezyk?lang={}&back={back}", other.code()), other.name(), other.code()),
            page,
        }
    }
}
