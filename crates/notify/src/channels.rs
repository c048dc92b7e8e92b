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
    if !n.config.private_endpoints {
        refuse_private(endpoint).await?;
    }
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

/// Refuses an endpoint on a loopback, private, link-local or otherwise internal address, so that
/// a subscriber cannot make the server call its own network (cloud metadata, the database...).
/// The name is resolved here and again when connecting, so a name that changes its address in
/// between could still get through; deployments should also keep the nodes' egress to the
/// internet at the network level.
async fn refuse_private(endpoint: &str) -> Result<(), String> {
    let url = reqwest::Url::parse(endpoint).map_err(|e| format!("the endpoint is not a URL: {e}"))?;
    let host = url.host_str().ok_or("the endpoint has no host")?;
    let port = url.port_or_known_default().unwrap_or(443);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let addresses = tokio::net::lookup_host((host, port)).await.map_err(|e| format!("the endpoint's host: {e}"))?;
    for address in addresses {
        if internal(address.ip()) {
            return Err("the endpoint is on an internal network address, which this server does not call".into());
        }
    }
    Ok(())
}

fn internal(ip: std::net::IpAddr) -> bool {
    use std::net::IpAddr;
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                // Carrier-grade NAT, 100.64.0.0/10.
                || (a == 100 && (64..128).contains(&b))
        }
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => internal(IpAddr::V4(v4)),
            None => v6.is_loopback() || v6.is_unspecified() || v6.is_unique_local() || v6.is_unicast_link_local(),
        },
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_told_apart() {
        for internal_address in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(internal(internal_address.parse().unwrap()), "{internal_address}");
        }
        for public in ["8.8.8.8", "193.0.96.1", "2001:4860:4860::8888"] {
            assert!(!internal(public.parse().unwrap()), "{public}");
        }
    }

    #[tokio::test]
    async fn endpoints_on_internal_addresses_are_refused() {
        assert!(refuse_private("http://127.0.0.1:8080/hook").await.is_err());
        assert!(refuse_private("http://[::1]/hook").await.is_err());
        assert!(refuse_private("http://169.254.169.254/latest/meta-data").await.is_err());
        assert!(refuse_private("https://8.8.8.8/hook").await.is_ok());
    }
}
