//! e-zlecenie (order for medical devices, NFZ eZWM): a `DeviceRequest` in the PLDeviceRequest
//! profile with a 4-digit access code, valid 12 months from issue, with a monthly quantity that
//! a pharmacy or medical shop realises month by month.
//!
//! Operations:
//! - `POST DeviceRequest/$issue` (body: a DeviceRequest; a practitioner or a backend service):
//!   assigns the order number ([`NUMBER`]) and access code ([`ACCESS_CODE`]), sets
//!   `status = active`, `authoredOn` (today, when missing) and the validity
//!   `occurrencePeriod` (from `authoredOn` for 12 months, when missing; longer is refused). The
//!   monthly quantity is a `parameter` with code [`PARAMETER_SYSTEM`]`|monthly-quantity` and a
//!   `valueQuantity` (required).
//! - `GET|POST DeviceRequest/$retrieve?code=1234&pesel=...`: a practitioner (pharmacist) finds
//!   the order by access code + PESEL (wrong code or PESEL: 404 revealing nothing).
//! - `POST DeviceRequest/[id]/$realize?month=YYYY-MM&quantity=N[&code=1234]`: realises part of
//!   a month's quantity. Refused (422) when the month is outside the validity period, before
//!   the current month (past months cannot be realised), after the validity has ended, already
//!   fully realised, or when the quantity would exceed the month's limit; 409 when the order is
//!   not active. The caller either may act on the order anyway or presents its access code.
//!
//! Realisations are recorded twice, in one transaction: as an entry of the extension
//! [`REALISATION`] on the DeviceRequest (sub-extensions `month`, `quantity`, `task`; the
//! authoritative tally), and as a completed `Task` (`basedOn` and `focus` = the order, `for` =
//! the patient, `owner` = who realised it, inputs `month` and `quantity`), so they are listed
//! with `Task?based-on=DeviceRequest/[id]` (also by the patient, Task being in the Patient
//! compartment). The DeviceRequest is written with `ifMatch` on the version the checks were made
//! on, so two realisations of the same month cannot both pass: the loser re-checks against the
//! new tally (and is refused when the month is exhausted).

use serde_json::{Value, json};

use super::referral::{acting_session, identifier, issuer, new_number, retrieve_by_code, subject_id, unique_code};
use crate::clock::{format_date, today};
use crate::error::{FhirError, FhirResult};
use crate::interaction::Response;
use crate::interaction::operation::{Call, Input};
use crate::outcome::{Issue, IssueType};
use crate::session::{Session, Write, WriteSet};

/// Order number (*numer zlecenia*).
pub const NUMBER: &str = "https://ikp.example.org/fhir/sid/e-order-number";
/// The 4-digit access code.
pub const ACCESS_CODE: &str = "https://ikp.example.org/fhir/sid/e-order-access-code";
/// `DeviceRequest.parameter.code` system (`monthly-quantity`).
pub const PARAMETER_SYSTEM: &str = "https://ikp.example.org/fhir/CodeSystem/e-order-parameter";
/// One realisation (sub-extensions `month`, `quantity`, `task`).
pub const REALISATION: &str = "https://ikp.example.org/fhir/StructureDefinition/e-order-realisation";

/// `DeviceRequest/$issue`.
pub async fn issue_operation(session: &Session, call: &Call) -> FhirResult<Response> {
    issue(session, &call.input).await
}

/// `DeviceRequest/$retrieve`.
pub async fn retrieve_operation(session: &Session, call: &Call) -> FhirResult<Response> {
    let (widened, found) = retrieve_by_code(session, "DeviceRequest", ACCESS_CODE, &call.input).await?;
    crate::interaction::read::read(
        &widened,
        "DeviceRequest",
        &found,
        crate::interaction::read::ReadConditions::default(),
    )
    .await
}

/// `DeviceRequest/[id]/$realize`.
pub async fn realize_operation(session: &Session, call: &Call) -> FhirResult<Response> {
    realize(session, call.id(), &call.input).await
}

fn rule(message: impl Into<String>) -> FhirError {
    FhirError::Unprocessable(vec![Issue::error(IssueType::Processing, message.into())])
}

/// `YYYY-MM` of a date or dateTime.
fn month_of(date: &str) -> Option<&str> {
    let m = date.get(..7)?;
    parse_month(m).map(|_| m)
}

/// `(year, month)` of `YYYY-MM`.
fn parse_month(text: &str) -> Option<(i32, u8)> {
    let (y, m) = text.split_once('-')?;
    if y.len() != 4 || m.len() != 2 {
        return None;
    }
    let (y, m) = (y.parse::<i32>().ok()?, m.parse::<u8>().ok()?);
    (1..=12).contains(&m).then_some((y, m))
}

/// `date` (YYYY-MM-DD) plus 12 months minus one day.
fn validity_end(start: &str) -> Option<String> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let d = time::Date::parse(start.get(..10)?, &format).ok()?;
    let year = d.year() + 1;
    let end = time::Date::from_calendar_date(year, d.month(), d.day())
        .or_else(|_| time::Date::from_calendar_date(year, time::Month::March, 1))
        .ok()?
        .previous_day()?;
    Some(format!("{:04}-{:02}-{:02}", end.year(), u8::from(end.month()), end.day()))
}

/// The monthly quantity of an order.
pub fn monthly_limit(order: &Value) -> Option<f64> {
    order["parameter"]
        .as_array()?
        .iter()
        .find(|p| {
            p.pointer("/code/coding")
                .and_then(Value::as_array)
                .is_some_and(|c| c.iter().any(|c| c["system"] == PARAMETER_SYSTEM && c["code"] == "monthly-quantity"))
        })
        .and_then(|p| p.pointer("/valueQuantity/value"))
        .and_then(Value::as_f64)
}

/// The quantity realised in `month` so far.
pub fn realised(order: &Value, month: &str) -> f64 {
    order["extension"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["url"] == REALISATION)
        .filter_map(|e| {
            let subs = e["extension"].as_array()?;
            let sub = |name: &str| subs.iter().find(|s| s["url"] == name);
            (sub("month")?["valueString"] == month).then(|| sub("quantity")?["valueDecimal"].as_f64())?
        })
        .sum()
}

async fn issue(session: &Session, input: &Input) -> FhirResult<Response> {
    let issuer = issuer(session)?;
    let mut order = input.resource("DeviceRequest")?.clone();
    if subject_id(&order).is_none() {
        return Err(FhirError::bad_request("an order needs subject = Patient/[id]"));
    }
    if monthly_limit(&order).is_none_or(|q| q <= 0.0) {
        return Err(FhirError::bad_request(format!(
            "an order needs a positive monthly quantity (parameter {PARAMETER_SYSTEM}|monthly-quantity, valueQuantity)"
        )));
    }
    let authored = order["authoredOn"].as_str().map(str::to_string).unwrap_or_else(|| format_date(today()));
    let start = order.pointer("/occurrencePeriod/start").and_then(Value::as_str).unwrap_or(&authored).to_string();
    let latest = validity_end(&authored).ok_or_else(|| FhirError::bad_request("authoredOn is not a date"))?;
    let end = order.pointer("/occurrencePeriod/end").and_then(Value::as_str).unwrap_or(&latest).to_string();
    if end.get(..10).unwrap_or(&end) > latest.as_str() || start.get(..10) > end.get(..10) {
        return Err(rule(format!("an e-order is valid for at most 12 months from issue (until {latest})")));
    }
    let mut ids: Vec<Value> = order["identifier"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|i| i["system"] != NUMBER && i["system"] != ACCESS_CODE)
        .collect();
    ids.push(json!({"system": NUMBER, "value": new_number()}));
    let patient = subject_id(&order).unwrap_or_default().to_string();
    ids.push(
        json!({"system": ACCESS_CODE, "value": unique_code(session, "DeviceRequest", ACCESS_CODE, &patient).await?}),
    );
    order["identifier"] = Value::Array(ids);
    order["status"] = json!("active");
    order["intent"] = json!("order");
    order["authoredOn"] = json!(authored);
    order["occurrencePeriod"] = json!({"start": start, "end": end});
    if let (None, Some(issuer)) = (order.get("requester"), issuer) {
        order["requester"] = json!({"reference": issuer});
    }
    if let Some(o) = order.as_object_mut() {
        o.remove("id");
        o.remove("occurrenceDateTime");
        o.remove("occurrenceTiming");
    }
    crate::interaction::create::create(session, "DeviceRequest", order, None).await
}

async fn realize(session: &Session, id: &str, input: &Input) -> FhirResult<Response> {
    let month = input.text("month")?.to_string();
    if parse_month(&month).is_none() {
        return Err(FhirError::bad_request("month must be YYYY-MM"));
    }
    let quantity = match input.params.value("quantity") {
        Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
        Some(Value::Number(n)) => n.as_f64(),
        Some(v) => v["value"].as_f64(),
        None => None,
    }
    .filter(|q| q.is_finite() && *q > 0.0)
    .ok_or_else(|| FhirError::bad_request("quantity must be a positive number"))?;
    let handle = acting_session(session, "DeviceRequest", id, ACCESS_CODE, input).await?;
    if handle.is_confined() && !handle.caller_user().is_some_and(|u| u.starts_with("Practitioner")) {
        return Err(FhirError::Forbidden("only a pharmacy's or medical shop's practitioner may realise".into()));
    }
    let mut attempt = 0;
    loop {
        let (order, version) = super::current(&handle, "DeviceRequest", id).await?;
        check(&order, &month, quantity)?;
        match write_realisation(&handle, order, id, version, &month, quantity).await {
            Err(FhirError::PreconditionFailed(_)) | Err(FhirError::Conflict(_)) if attempt < 3 => attempt += 1,
            Err(FhirError::PreconditionFailed(what)) => return Err(FhirError::Conflict(what)),
            other => return other,
        }
    }
}

/// The order's rules for realising `quantity` in `month`.
fn check(order: &Value, month: &str, quantity: f64) -> FhirResult<()> {
    if order["status"] != "active" {
        return Err(FhirError::Conflict(format!(
            "the order is {}, not active",
            order["status"].as_str().unwrap_or("without status")
        )));
    }
    let start = order.pointer("/occurrencePeriod/start").and_then(Value::as_str).and_then(month_of);
    let end_date = order.pointer("/occurrencePeriod/end").and_then(Value::as_str);
    let end = end_date.and_then(month_of);
    let (Some(start), Some(end), Some(end_date)) = (start, end, end_date) else {
        return Err(rule("the order has no validity period"));
    };
    if month < start || month > end {
        return Err(rule(format!("{month} is outside the order's validity ({start} to {end})")));
    }
    let day = format_date(today());
    if day.as_str() > end_date.get(..10).unwrap_or(end_date) {
        return Err(rule(format!("the order expired on {end_date}")));
    }
    if month < &day[..7] {
        return Err(rule(format!("{month} is past: past months cannot be realised")));
    }
    let limit = monthly_limit(order).ok_or_else(|| rule("the order has no monthly quantity"))?;
    let done = realised(order, month);
    if done >= limit {
        return Err(rule(format!("{month} is already fully realised ({done} of {limit})")));
    }
    if done + quantity > limit {
        return Err(rule(format!("{quantity} more would exceed {month}'s limit: {done} of {limit} realised")));
    }
    Ok(())
}

async fn write_realisation(
    session: &Session,
    mut order: Value,
    id: &str,
    version: i64,
    month: &str,
    quantity: f64,
) -> FhirResult<Response> {
    // The Task gets its id when stored; the order's extension names it by this until then.
    let task_url = format!("urn:uuid:{}", crate::session::prepare::new_id());
    let patient = subject_id(&order).unwrap_or_default().to_string();
    if !order["extension"].is_array() {
        order["extension"] = json!([]);
    }
    if let Some(list) = order["extension"].as_array_mut() {
        list.push(json!({"url": REALISATION, "extension": [
            {"url": "month", "valueString": month},
            {"url": "quantity", "valueDecimal": quantity},
            {"url": "task", "valueReference": {"reference": task_url}},
        ]}));
    }
    let mut task = json!({
        "resourceType": "Task",
        "status": "completed",
        "intent": "order",
        "code": {"coding": [{"system": PARAMETER_SYSTEM, "code": "realisation", "display": "Realizacja e-zlecenia"}]},
        "basedOn": [{"reference": format!("DeviceRequest/{id}")}],
        "focus": {"reference": format!("DeviceRequest/{id}")},
        "for": {"reference": format!("Patient/{patient}")},
        "authoredOn": crate::clock::instant(crate::clock::now()),
        "input": [
            {"type": {"text": "month"}, "valueString": month},
            {"type": {"text": "quantity"}, "valueDecimal": quantity},
        ],
    });
    if let Some(owner) = session.caller_user() {
        task["owner"] = json!({"reference": owner});
    }
    let mut writes = WriteSet::new();
    writes.push(Write::update("DeviceRequest", id, order, Some(version)));
    writes.push(Write::create("Task", task).with_full_url(task_url));
    let written = session.commit(writes).await?;
    let order = written.first().and_then(|w| w.content()).ok_or_else(|| FhirError::Internal("not stored".into()))?;
    Ok(Response::resource(200, order))
}

/// The access code of an order.
pub fn access_code(order: &Value) -> Option<&str> {
    identifier(order, ACCESS_CODE)
}

/// Demo e-order (stored once by `ikp serve --demo`): Jan's incontinence pants, 60 a month,
/// access code 7890, valid 2026-11-01 to 2027-10-31, with 2026-11 fully realised (one Task).
pub fn demo() -> Vec<Value> {
    let id = "demo-zlecenie-pieluchomajtki";
    vec![
        json!({
            "resourceType": "DeviceRequest",
            "id": id,
            "meta": {"profile": ["https://ikp.example.org/fhir/StructureDefinition/PLDeviceRequest"]},
            "extension": [{"url": REALISATION, "extension": [
                {"url": "month", "valueString": "2026-11"},
                {"url": "quantity", "valueDecimal": 60},
                {"url": "task", "valueReference": {"reference": "Task/demo-realizacja-zlecenia-2026-11"}},
            ]}],
            "identifier": [
                {"system": NUMBER, "value": "20261101000000000007890"},
                {"system": ACCESS_CODE, "value": "7890"},
            ],
            "status": "active",
            "intent": "order",
            "codeCodeableConcept": {"text": "Pieluchomajtki, rozmiar L, 60 szt./miesiąc"},
            "parameter": [{"code": {"coding": [{"system": PARAMETER_SYSTEM, "code": "monthly-quantity"}]},
                           "valueQuantity": {"value": 60, "unit": "szt."}}],
            "subject": {"reference": "Patient/demo-jan-kowalski"},
            "authoredOn": "2026-11-01",
            "occurrencePeriod": {"start": "2026-11-01", "end": "2027-10-31"},
            "requester": {"reference": "Practitioner/demo-piotr-nowak"},
        }),
        json!({
            "resourceType": "Task",
            "id": "demo-realizacja-zlecenia-2026-11",
            "status": "completed",
            "intent": "order",
            "code": {"coding": [{"system": PARAMETER_SYSTEM, "code": "realisation", "display": "Realizacja e-zlecenia"}]},
            "basedOn": [{"reference": format!("DeviceRequest/{id}")}],
            "focus": {"reference": format!("DeviceRequest/{id}")},
            "for": {"reference": "Patient/demo-jan-kowalski"},
            "authoredOn": "2026-11-05T10:00:00+01:00",
            "owner": {"reference": "Practitioner/demo-ewa-wisniewska"},
            "input": [
                {"type": {"text": "month"}, "valueString": "2026-11"},
                {"type": {"text": "quantity"}, "valueDecimal": 60},
            ],
        }),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validity_is_twelve_months() {
        assert_eq!(validity_end("2026-11-27").as_deref(), Some("2027-11-26"));
        assert_eq!(validity_end("2026-01-01").as_deref(), Some("2026-12-31"));
        assert_eq!(validity_end("2028-02-29").as_deref(), Some("2029-02-28"));
        assert_eq!(parse_month("2026-13"), None);
        assert_eq!(parse_month("2026-12"), Some((2026, 12)));
    }
}
