//! How notifications leave the server: an HTTP(S) POST (rest-hook), or an e-mail written to the
//! mail outbox file (an mbox a mail transfer agent, or a person trying the demo, picks up).
//! Websockets are served by the node holding the socket (`crate::websocket`).

use serde_json::Value;
use tokio::io::AsyncWriteExt;

use crate::notifier::Notifier;
use crate::subscription::{Accepted, Channel};

/// Sends one notification Bundle on the subscription's channel.
pub async fn send(n: &Notifier, accepted: &Accepted, subscription: &Value, bundle: &Value) -> Result<(), String> {
    match &accepted.channel {
        Channel::RestHook { endpoint, headers } => rest_hook(n, accepted, endpoint, headers, bundle).await,
        Channel::Email { address } => email(n, subscription, address, bundle).await,
        Channel::WebSocket => Err("websocket subscriptions are delivered on their bound socket".into()),
    }
}

async fn rest_hook(
    n: &Notifier,
    accepted: &Accepted,
    endpoint: &str,
    headers: &[(String, String)],
    bundle: &Value,
) -> Result<(), String> {
    let mut request = n.http.post(endpoint).header("content-type", "application/fhir+json").body(bundle.to_string());
    for (name, value) in headers {
        request = request.header(name.as_str(), value.as_str());
    }
    if let Some(seconds) = accepted.timeout_seconds {
        request = request.timeout(std::time::Duration::from_secs(u64::from(seconds.clamp(1, 60))));
    }
    let response = request.send().await.map_err(|e| format!("the endpoint could not be reached: {}", short(&e)))?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(format!("the endpoint answered HTTP {}", response.status().as_u16()))
    }
}

/// The error without its source chain's repetitions, for the subscription's `error`.
fn short(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "connection refused or unreachable".into()
    } else {
        e.to_string()
    }
}

async fn email(n: &Notifier, subscription: &Value, address: &str, bundle: &Value) -> Result<(), String> {
    let Some(path) = &n.config.mail_outbox else {
        return Err("this server has no mail outbox (--mail-outbox)".into());
    };
    let reason = subscription.get("reason").and_then(Value::as_str).unwrap_or("powiadomienie");
    let subject: String = reason.chars().filter(|c| !c.is_control()).take(200).collect();
    let to: String = address.chars().filter(|c| !c.is_control()).collect();
    let body = serde_json::to_string_pretty(bundle).map_err(|e| e.to_string())?;
    // mbox: a line starting "From " in the body would start a new message.
    let body = body.replace("\nFrom ", "\n>From ");
    let date = crate::clock::instant(crate::clock::now());
    let message = format!(
        "From ikp@localhost {date}\nFrom: IKP <powiadomienia@ikp.example.org>\nTo: <{to}>\nSubject: IKP: {subject}\n\
         Date: {date}\nMIME-Version: 1.0\nContent-Type: application/fhir+json; charset=utf-8\n\n{body}\n\n"
    );
    let _one_writer = n.mail.lock().await;
    let mut file = tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .await
        .map_err(|e| format!("the mail outbox cannot be opened: {e}"))?;
    file.write_all(message.as_bytes()).await.map_err(|e| format!("the mail outbox cannot be written: {e}"))?;
    file.flush().await.map_err(|e| e.to_string())
}
