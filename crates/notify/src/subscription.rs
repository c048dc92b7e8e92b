//! Topic-based subscriptions on R4 (Subscriptions R5 Backport IG): what a `Subscription` asks
//! for, checked before it is accepted ([`accept`]), and the notification Bundles sent for it
//! ([`notification`]): a `history` Bundle whose first entry is the subscription's status (an R4
//! `Parameters` in the IG's status profile), then the focus resources as the payload asks
//! (`empty`, `id-only`, `full-resource`).

use serde_json::{Value, json};

use crate::topics::{self, Topic};

const BACKPORT: &str = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition";
/// The most filters, headers and bytes a subscription may carry (hostile input is bounded).
const MAX_FILTERS: usize = 10;
const MAX_FILTER_PARAMETERS: usize = 10;
const MAX_HEADERS: usize = 10;
const MAX_HEADER_BYTES: usize = 1024;
const MAX_ENDPOINT_BYTES: usize = 2048;
/// The most events one notification carries, when the subscription does not say.
pub const DEFAULT_MAX_COUNT: u32 = 100;

/// The backport IG's CapabilityStatement this server instantiates.
pub const SERVER_CAPABILITIES: &str =
    "http://hl7.org/fhir/uv/subscriptions-backport/CapabilityStatement/backport-subscription-server-r4";

/// The CapabilityStatement's Subscription entry, completed: the backport profile, every national
/// topic's canonical URL and what the server serves.
pub fn describe(entry: &mut Value) {
    let topics: Vec<Value> = topics::NATIONAL
        .iter()
        .map(|t| {
            json!({"url": format!("{BACKPORT}/capabilitystatement-subscriptiontopic-canonical"), "valueCanonical": t.url()})
        })
        .collect();
    entry["extension"] = Value::Array(topics);
    entry["supportedProfile"] = json!([format!("{BACKPORT}/backport-subscription")]);
    entry["documentation"] = json!(
        "Topic-based subscriptions (Subscriptions R5 Backport IG): the national topics listed here (published as \
         Basic resources) and resource-[type] topics for any create, update or delete of a type, filtered by its \
         search parameters. Channels rest-hook, websocket ($get-ws-binding-token) and email (to the server's mail \
         outbox); payloads empty, id-only and full-resource. Notifications keep to the reach of the subscription's \
         owner, are delivered at least once and in order, and can be recovered with $events."
    );
}

/// How notifications reach the subscriber.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Channel {
    /// An HTTP(S) POST of the notification Bundle to `endpoint`, with the subscriber's headers.
    RestHook { endpoint: String, headers: Vec<(String, String)> },
    /// Over a websocket bound with a token from `$get-ws-binding-token`.
    WebSocket,
    /// An e-mail to `address` (the demo writes it to a local outbox file).
    Email { address: String },
}

impl Channel {
    /// The channel type's code.
    pub fn code(&self) -> &'static str {
        match self {
            Channel::RestHook { .. } => "rest-hook",
            Channel::WebSocket => "websocket",
            Channel::Email { .. } => "email",
        }
    }
}

/// How much of the focus resources a notification carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Content {
    Empty,
    IdOnly,
    FullResource,
}

impl Content {
    /// The IG's code (`empty`, `id-only`, `full-resource`), as `$events` takes it.
    pub fn parse(code: &str) -> Option<Content> {
        match code {
            "empty" => Some(Content::Empty),
            "id-only" => Some(Content::IdOnly),
            "full-resource" => Some(Content::FullResource),
            _ => None,
        }
    }
}

/// A subscription as accepted: its topic, its filters (`name=value` of the topic's resource
/// type's search parameters), how and how much to tell.
#[derive(Clone)]
pub struct Accepted {
    pub topic: Topic,
    pub topic_url: String,
    pub filters: Vec<(String, String)>,
    pub channel: Channel,
    pub content: Content,
    pub heartbeat_seconds: Option<u32>,
    pub timeout_seconds: Option<u32>,
    pub max_count: u32,
}

/// Checks a `Subscription` against the backport profile and the server's topics; the reason in
/// words when it cannot be accepted. `resource_types` are the types generic topics may name;
/// `has_parameter(type, name)` says whether a search parameter exists (for generic topics, whose
/// filters may be any of their type's parameters).
pub fn accept(
    subscription: &Value,
    resource_types: &[&'static str],
    has_parameter: impl Fn(&str, &str) -> bool,
) -> Result<Accepted, String> {
    let text = |pointer: &str| subscription.pointer(pointer).and_then(Value::as_str);
    let topic_url = text("/criteria").ok_or("criteria must be the canonical URL of a SubscriptionTopic")?;
    let topic = topics::by_url(topic_url, resource_types).ok_or_else(|| match topic_url.split_once('?') {
        // R4's own query criteria: said how to ask for the same with a topic.
        Some((t, _)) if !t.contains('/') => format!(
            "criteria must be a SubscriptionTopic (Subscriptions R5 Backport IG): for changes of {t} matching \
             '{topic_url}', subscribe to {} with that as a filter criteria",
            topics::generic_url(t)
        ),
        _ => format!("{topic_url} is not a topic of this server (see the SubscriptionTopic list)"),
    })?;
    let filter_texts: Vec<&str> = extensions(subscription.pointer("/_criteria"), "backport-filter-criteria")
        .filter_map(|e| e.get("valueString").and_then(Value::as_str))
        .collect();
    if filter_texts.len() > MAX_FILTERS {
        return Err(format!("at most {MAX_FILTERS} filter criteria"));
    }
    let mut filters = Vec::new();
    for criteria in filter_texts {
        let (resource_type, query) =
            criteria.split_once('?').ok_or_else(|| format!("filter '{criteria}' must be Type?name=value"))?;
        if resource_type != topic.resource_type {
            return Err(format!("filter '{criteria}' must be on {}, the topic's resource", topic.resource_type));
        }
        for (position, (name, value)) in form_urlencoded::parse(query.as_bytes()).enumerate() {
            if position >= MAX_FILTER_PARAMETERS {
                return Err(format!("a filter has at most {MAX_FILTER_PARAMETERS} parameters"));
            }
            let base = name.split(':').next().unwrap_or_default();
            let allowed = if topic.filters.is_empty() {
                has_parameter(topic.resource_type, base)
            } else {
                topic.filters.contains(&base)
            };
            if !allowed || value.is_empty() {
                return Err(format!("'{name}={value}' is not a filter this topic allows"));
            }
            filters.push((name.into_owned(), value.into_owned()));
        }
    }
    let channel = match text("/channel/type") {
        Some("rest-hook") => {
            let endpoint = text("/channel/endpoint").ok_or("a rest-hook channel needs an endpoint")?;
            let web = endpoint.starts_with("https://") || endpoint.starts_with("http://");
            if !web || endpoint.len() > MAX_ENDPOINT_BYTES {
                return Err("a rest-hook endpoint must be an http(s) URL".into());
            }
            Channel::RestHook { endpoint: endpoint.to_string(), headers: headers(subscription)? }
        }
        Some("websocket") => Channel::WebSocket,
        Some("email") => {
            let address = text("/channel/endpoint").and_then(|e| e.strip_prefix("mailto:"));
            match address {
                Some(a) if a.contains('@') && a.len() < 256 => Channel::Email { address: a.to_string() },
                _ => return Err("an email channel's endpoint must be mailto:address".into()),
            }
        }
        other => return Err(format!("channel type {other:?} is not supported: rest-hook, websocket or email")),
    };
    if let Some(payload) = text("/channel/payload")
        && !matches!(payload, "application/fhir+json" | "application/json")
    {
        return Err(format!("payload {payload} is not supported: application/fhir+json"));
    }
    let content = match extensions(subscription.pointer("/channel/_payload"), "backport-payload-content")
        .find_map(|e| e.get("valueCode").and_then(Value::as_str))
    {
        None => Content::IdOnly,
        Some(code) => Content::parse(code)
            .ok_or_else(|| format!("payload content {code} is not empty, id-only or full-resource"))?,
    };
    let number = |name: &str| {
        extensions(subscription.get("channel"), name)
            .find_map(|e| e.get("valueUnsignedInt").or_else(|| e.get("valuePositiveInt")).and_then(Value::as_u64))
            .map(|n| u32::try_from(n).unwrap_or(u32::MAX))
    };
    Ok(Accepted {
        topic,
        topic_url: topic_url.to_string(),
        filters,
        channel,
        content,
        heartbeat_seconds: number("backport-heartbeat-period"),
        timeout_seconds: number("backport-timeout"),
        max_count: number("backport-max-count").filter(|n| *n > 0).unwrap_or(DEFAULT_MAX_COUNT),
    })
}

/// The extensions of `element` whose URL is the backport IG's `name`.
fn extensions<'v>(element: Option<&'v Value>, name: &str) -> impl Iterator<Item = &'v Value> {
    let url = format!("{BACKPORT}/{name}");
    element
        .and_then(|e| e.get("extension"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(move |e| e.get("url").and_then(Value::as_str) == Some(url.as_str()))
}

/// `channel.header` as (name, value) pairs: bounded, and never a header the server sets itself.
fn headers(subscription: &Value) -> Result<Vec<(String, String)>, String> {
    let list: Vec<&str> = subscription
        .pointer("/channel/header")
        .and_then(Value::as_array)
        .map(|h| h.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if list.len() > MAX_HEADERS {
        return Err(format!("at most {MAX_HEADERS} headers"));
    }
    list.into_iter()
        .map(|header| {
            let (name, value) =
                header.split_once(':').ok_or_else(|| format!("header '{header}' must be Name: value"))?;
            let name = name.trim();
            let reserved = ["content-type", "content-length", "host", "transfer-encoding", "connection"];
            let token = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
            let value = value.trim();
            if !token
                || reserved.contains(&name.to_ascii_lowercase().as_str())
                || header.len() > MAX_HEADER_BYTES
                || value.bytes().any(|b| b < 0x20)
            {
                return Err(format!("header '{name}' cannot be sent"));
            }
            Ok((name.to_string(), value.to_string()))
        })
        .collect()
}

/// Why a notification is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Handshake,
    Heartbeat,
    EventNotification,
    QueryStatus,
    QueryEvent,
}

impl Kind {
    pub fn code(self) -> &'static str {
        match self {
            Kind::Handshake => "handshake",
            Kind::Heartbeat => "heartbeat",
            Kind::EventNotification => "event-notification",
            Kind::QueryStatus => "query-status",
            Kind::QueryEvent => "query-event",
        }
    }
}

/// One event to tell: its number in the subscription, when, and what it is about (the focus's
/// `Type/id/_history/n`, and the resource when the payload carries it and the owner may read it).
pub struct Event {
    pub number: u64,
    pub timestamp: String,
    pub focus: String,
    pub resource: Option<Value>,
}

/// Where a subscription stands, as every notification says it.
pub struct Status<'a> {
    /// The FHIR base URL.
    pub base: &'a str,
    pub subscription_id: &'a str,
    pub topic_url: &'a str,
    /// `requested`, `active`, `error` or `off`.
    pub status: &'a str,
    pub kind: Kind,
    pub events_since_start: u64,
}

/// The notification Bundle: the status first, then one entry per event's focus as `content` asks.
pub fn notification(at: &Status, events: &[Event], content: Content) -> Value {
    let Status { base, subscription_id, topic_url, status, kind, events_since_start } = *at;
    let mut parameters = vec![
        json!({"name": "subscription", "valueReference": {"reference": format!("{base}/Subscription/{subscription_id}")}}),
        json!({"name": "topic", "valueCanonical": topic_url}),
        json!({"name": "status", "valueCode": status}),
        json!({"name": "type", "valueCode": kind.code()}),
        json!({"name": "events-since-subscription-start", "valueString": events_since_start.to_string()}),
    ];
    for event in events {
        let mut part = vec![
            json!({"name": "event-number", "valueString": event.number.to_string()}),
            json!({"name": "timestamp", "valueInstant": event.timestamp}),
        ];
        if content != Content::Empty {
            part.push(json!({"name": "focus", "valueReference": {"reference": format!("{base}/{}", event.focus)}}));
        }
        parameters.push(json!({"name": "notification-event", "part": part}));
    }
    let status_entry = json!({
        "fullUrl": format!("urn:uuid:{}", uuid::Uuid::new_v4()),
        "resource": {
            "resourceType": "Parameters",
            "meta": {"profile": [format!("{BACKPORT}/backport-subscription-status-r4")]},
            "parameter": parameters,
        },
        "request": {"method": "GET", "url": format!("{base}/Subscription/{subscription_id}/$status")},
        "response": {"status": "200"},
    });
    let mut entries = vec![status_entry];
    if content != Content::Empty {
        for event in events {
            let mut entry = json!({
                "fullUrl": format!("{base}/{}", event.focus),
                "request": {"method": "GET", "url": event.focus},
                "response": {"status": "200"},
            });
            if content == Content::FullResource
                && let Some(resource) = &event.resource
            {
                entry["resource"] = resource.clone();
            }
            entries.push(entry);
        }
    }
    json!({
        "resourceType": "Bundle",
        "meta": {"profile": [format!("{BACKPORT}/backport-subscription-notification-r4")]},
        "type": "history",
        "timestamp": crate::clock::instant(crate::clock::now()),
        "entry": entries,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subscription(criteria: &str, filters: &[&str], channel: Value) -> Value {
        let extension: Vec<Value> = filters
            .iter()
            .map(|f| json!({"url": format!("{BACKPORT}/backport-filter-criteria"), "valueString": f}))
            .collect();
        json!({"resourceType": "Subscription", "status": "requested", "reason": "test", "criteria": criteria,
               "_criteria": {"extension": extension}, "channel": channel})
    }

    fn rest_hook() -> Value {
        json!({"type": "rest-hook", "endpoint": "https://ehr.example/hook", "payload": "application/fhir+json",
               "header": ["Authorization: Bearer secret"],
               "_payload": {"extension": [{"url": format!("{BACKPORT}/backport-payload-content"), "valueCode": "full-resource"}]},
               "extension": [{"url": format!("{BACKPORT}/backport-heartbeat-period"), "valueUnsignedInt": 60},
                             {"url": format!("{BACKPORT}/backport-max-count"), "valuePositiveInt": 5}]})
    }

    fn types() -> Vec<&'static str> {
        vec!["Observation", "MedicationRequest"]
    }

    #[test]
    fn a_backport_subscription_is_accepted_with_its_filters_channel_and_payload() {
        let topic = format!("{}/prescription-issued", topics::TOPIC_BASE);
        let accepted = accept(
            &subscription(&topic, &["MedicationRequest?patient=Patient/anna"], rest_hook()),
            &types(),
            |_, _| false,
        )
        .expect("accepted");
        assert_eq!(accepted.topic.resource_type, "MedicationRequest");
        assert_eq!(accepted.filters, [("patient".to_string(), "Patient/anna".to_string())]);
        assert_eq!(
            accepted.channel,
            Channel::RestHook {
                endpoint: "https://ehr.example/hook".into(),
                headers: vec![("Authorization".into(), "Bearer secret".into())]
            }
        );
        assert_eq!(
            (accepted.content, accepted.heartbeat_seconds, accepted.max_count),
            (Content::FullResource, Some(60), 5)
        );
    }

    #[test]
    fn what_a_topic_does_not_allow_is_refused_with_a_reason() {
        let topic = format!("{}/prescription-issued", topics::TOPIC_BASE);
        let refused =
            |filters: &[&str], channel: Value| accept(&subscription(&topic, filters, channel), &types(), |_, _| true);
        assert!(refused(&["MedicationRequest?code=x"], rest_hook()).is_err(), "not among the topic's filters");
        assert!(refused(&["Observation?patient=x"], rest_hook()).is_err(), "another resource type");
        assert!(refused(&["MedicationRequest?patient="], rest_hook()).is_err(), "an empty value");
        let many = format!("MedicationRequest?{}", ["patient=x"; 11].join("&"));
        assert!(refused(&[&many], rest_hook()).is_err(), "too many parameters in one filter");
        assert!(refused(&[], json!({"type": "rest-hook", "endpoint": "ftp://x"})).is_err());
        assert!(refused(&[], json!({"type": "rest-hook", "endpoint": "https://x", "header": ["Host: evil"]})).is_err());
        assert!(refused(&[], json!({"type": "rest-hook", "endpoint": "https://x", "header": ["X: a\nb"]})).is_err());
        assert!(refused(&[], json!({"type": "sms"})).is_err());
        assert!(refused(&[], json!({"type": "email", "endpoint": "anna@example.org"})).is_err(), "not mailto:");
        assert!(refused(&[], json!({"type": "email", "endpoint": "mailto:anna@example.org"})).is_ok());
        let unknown = subscription("https://ikp.example.org/fhir/SubscriptionTopic/nothing", &[], rest_hook());
        assert!(accept(&unknown, &types(), |_, _| true).is_err());
        let generic = subscription(
            &topics::generic_url("Observation"),
            &["Observation?code=http://loinc.org|4548-4"],
            rest_hook(),
        );
        assert!(
            accept(&generic, &types(), |t, p| t == "Observation" && p == "code").is_ok(),
            "any parameter of the type"
        );
        assert!(accept(&generic, &types(), |_, _| false).is_err(), "but only a real one");
    }

    #[test]
    fn a_notification_is_a_history_bundle_with_the_status_first() {
        let events = [Event {
            number: 7,
            timestamp: "2026-12-07T10:00:00Z".into(),
            focus: "MedicationRequest/rx1/_history/2".into(),
            resource: Some(json!({"resourceType": "MedicationRequest", "id": "rx1"})),
        }];
        let topic = format!("{}/prescription-issued", topics::TOPIC_BASE);
        let at = Status {
            base: "https://h/fhir",
            subscription_id: "s1",
            topic_url: &topic,
            status: "active",
            kind: Kind::EventNotification,
            events_since_start: 7,
        };
        let full = notification(&at, &events, Content::FullResource);
        assert_eq!(full["type"], "history");
        let status = &full["entry"][0]["resource"];
        assert_eq!(status["resourceType"], "Parameters");
        assert_eq!(status["parameter"][3]["valueCode"], "event-notification");
        assert_eq!(status["parameter"][5]["part"][0]["valueString"], "7");
        assert_eq!(full["entry"][1]["resource"]["id"], "rx1");
        let ids = notification(&at, &events, Content::IdOnly);
        assert!(ids["entry"][1].get("resource").is_none(), "id-only carries no resource");
        let empty = notification(&at, &events, Content::Empty);
        assert_eq!(empty["entry"].as_array().map(Vec::len), Some(1), "empty: the status only");
        assert!(
            empty["entry"][0]["resource"]["parameter"][5]["part"].as_array().is_some_and(|p| p.len() == 2),
            "no focus"
        );
    }
}
