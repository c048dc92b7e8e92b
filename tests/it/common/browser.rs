//! What a script needs to drive the authorization server's HTML pages like a browser: a cookie
//! jar, form posts without following redirects, the redirect target and its query, and PKCE.

use std::sync::Arc;

use reqwest::cookie::Jar;
use reqwest::{Client, Response};

/// A browser with its own cookie jar that does not follow redirects (the tests read them).
pub fn browser() -> Client {
    with_jar(Arc::new(Jar::default()))
}

/// The browser that received `response`: a fresh jar holding the cookies it set (for tests that
/// started the flow with a throwaway client).
pub fn browser_of(response: &Response) -> Client {
    let jar = Jar::default();
    for cookie in response.headers().get_all("set-cookie") {
        if let Ok(cookie) = cookie.to_str() {
            jar.add_cookie_str(cookie, response.url());
        }
    }
    with_jar(Arc::new(jar))
}

fn with_jar(jar: Arc<Jar>) -> Client {
    Client::builder().redirect(reqwest::redirect::Policy::none()).cookie_provider(jar).build().expect("client")
}

pub fn form(pairs: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

pub async fn post_form(http: &Client, url: &str, pairs: &[(&str, &str)]) -> Response {
    http.post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(pairs))
        .send()
        .await
        .expect("post")
}

/// The `Location` of a redirect.
pub fn location(r: &Response) -> String {
    r.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string()
}

pub fn query_of(url: &str) -> Vec<(String, String)> {
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or_default();
    form_urlencoded::parse(query.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

pub fn query_param(url: &str, name: &str) -> Option<String> {
    query_of(url).into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

/// A PKCE verifier and its S256 challenge.
pub fn pkce() -> (String, String) {
    let verifier = format!("verifier-{}-{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
    let challenge = ikp::auth::jose::b64(&openssl::sha::sha256(verifier.as_bytes()));
    (verifier, challenge)
}
