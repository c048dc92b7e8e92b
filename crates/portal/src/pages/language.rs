//! `GET /jezyk?lang=en&back=/recepty`: the language switch (a cookie), back to the same page.

use axum::extract::Query;
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::session::{LANGUAGE_COOKIE, set_cookie};

#[derive(Deserialize)]
pub struct Switch {
    lang: Option<String>,
    back: Option<String>,
}

/// A year, so the choice outlives the login.
const ONE_YEAR: i64 = 365 * 24 * 3600;

pub async fn switch(Query(switch): Query<Switch>) -> Response {
    let lang = if switch.lang.as_deref() == Some("en") { "en" } else { "pl" };
    // Only a path of this site: never `//elsewhere` or a URL (no open redirect).
    let back = switch.back.filter(|b| b.starts_with('/') && !b.starts_with("//") && !b.contains('\\'));
    let back = back.unwrap_or_else(|| "/".to_string());
    let mut response = StatusCode::SEE_OTHER.into_response();
    let cookie = set_cookie(LANGUAGE_COOKIE, lang, Some(ONE_YEAR), false, false);
    if let (Ok(location), Ok(cookie)) = (HeaderValue::from_str(&back), HeaderValue::from_str(&cookie)) {
        response.headers_mut().insert(LOCATION, location);
        response.headers_mut().append(SET_COOKIE, cookie);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn location(lang: &str, back: &str) -> (String, String) {
        let response = switch(Query(Switch { lang: Some(lang.into()), back: Some(back.into()) })).await;
        let header = |name| response.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        (header(LOCATION), header(SET_COOKIE))
    }

    #[tokio::test]
    async fn the_switch_goes_back_only_to_this_site() {
        assert_eq!(
            location("en", "/recepty").await,
            ("/recepty".into(), "ikp_lang=en; Path=/; SameSite=Lax; Max-Age=31536000".into())
        );
        for elsewhere in ["//evil.example/", "https://evil.example/", "/\\evil.example", "evil"] {
            assert_eq!(location("pl", elsewhere).await.0, "/", "{elsewhere}");
        }
        assert!(location("xx", "/").await.1.starts_with("ikp_lang=pl;"), "an unknown language is Polish");
    }
}
