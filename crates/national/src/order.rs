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

/// `(year, month)` of `YYYY-MM`, digits only (`2027-+1` is no month: it would be a tally of its own).
fn parse_month(text: &str) -> Option<(i32, u8)> {
    let (y, m) = text.split_once('-')?;
    if y.len() != 4 || m.len() != 2 || !y.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit()) {
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

/// Quantities are decimals summed in binary: realisations of 0.1 and 0.2 reach a limit of 0.3, they
/// do not exceed it.
const TOLERANCE: f64 = 1e-9;

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
    if done + TOLERANCE >= limit {
        return Err(rule(format!("{month} is already fully realised ({done} of {limit})")));
    }
    if done + quantity > limit + TOLERANCE {
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

    // ---- helpers: orders relative to today's month ----

    /// `YYYY-MM`, `offset` months from this month.
    fn month(offset: i32) -> String {
        let t = today();
        let n = t.year() * 12 + i32::from(u8::from(t.month())) - 1 + offset;
        format!("{:04}-{:02}", n.div_euclid(12), n.rem_euclid(12) + 1)
    }

    /// The first day of the month `offset` months from this one.
    fn first_of(offset: i32) -> String {
        format!("{}-01", month(offset))
    }

    /// The last day of the month `offset` months from this one.
    fn last_of(offset: i32) -> String {
        let next = crate::clock::parse_date(&first_of(offset + 1)).unwrap();
        format_date(next.previous_day().unwrap())
    }

    /// An active order of `limit` a month, valid from `start` to `end` (inclusive).
    fn order(start: &str, end: &str, limit: f64) -> Value {
        json!({
            "resourceType": "DeviceRequest",
            "status": "active",
            "identifier": [
                {"system": NUMBER, "value": "20261101000000000007890"},
                {"system": ACCESS_CODE, "value": "7890"}
            ],
            "parameter": [
                {"code": {"text": "size"}, "valueCodeableConcept": {"text": "L"}},
                {"code": {"coding": [{"system": PARAMETER_SYSTEM, "code": "monthly-quantity"}]},
                 "valueQuantity": {"value": limit, "unit": "szt."}}
            ],
            "subject": {"reference": "Patient/p1"},
            "occurrencePeriod": {"start": start, "end": end}
        })
    }

    /// An order of 60 a month valid for the twelve months from the start of this one.
    fn current_order() -> Value {
        order(&first_of(0), &last_of(11), 60.0)
    }

    /// `order` with `quantity` realised in `month` (as `$realize` records it).
    fn realising(mut order: Value, month: &str, quantity: f64) -> Value {
        let entry = json!({"url": REALISATION, "extension": [
            {"url": "month", "valueString": month},
            {"url": "quantity", "valueDecimal": quantity},
            {"url": "task", "valueReference": {"reference": "Task/t1"}},
        ]});
        if !order["extension"].is_array() {
            order["extension"] = json!([]);
        }
        if let Some(list) = order["extension"].as_array_mut() {
            list.push(entry);
        }
        order
    }

    /// `Ok` or the HTTP status of the refusal.
    fn verdict(order: &Value, month: &str, quantity: f64) -> Result<(), u16> {
        check(order, month, quantity).map_err(|e| e.http_status())
    }

    // ---- months ----

    #[test]
    fn parse_month_reads_year_and_month() {
        assert_eq!(parse_month("2026-01"), Some((2026, 1)));
        assert_eq!(parse_month("2027-10"), Some((2027, 10)));
    }

    #[test]
    fn parse_month_takes_nothing_but_yyyy_mm() {
        for text in ["2026-00", "2026-13", "2026-1", "2026-001", "26-01", "2026-01-05", "2026/01", "", "2026"] {
            assert_eq!(parse_month(text), None, "{text}");
        }
    }

    #[test]
    fn parse_month_takes_digits_only() {
        // "2027-+1" would pass as January yet be tallied apart from "2027-01", and sorts before it.
        for text in ["2027-+1", "+202-01", "2027- 1", "-202-01"] {
            assert_eq!(parse_month(text), None, "{text}");
        }
    }

    #[test]
    fn month_of_is_the_month_of_a_date_or_datetime() {
        assert_eq!(month_of("2026-11-27"), Some("2026-11"));
        assert_eq!(month_of("2026-11-27T23:30:00+01:00"), Some("2026-11"));
        assert_eq!(month_of("2026-11"), Some("2026-11"));
        assert_eq!(month_of("2026"), None);
        assert_eq!(month_of("2026-13-01"), None);
    }

    // ---- validity ----

    #[test]
    fn an_order_is_valid_twelve_months_from_issue_last_day_inclusive() {
        assert_eq!(validity_end("2026-11-27").as_deref(), Some("2027-11-26"));
        assert_eq!(validity_end("2026-12-01").as_deref(), Some("2027-11-30"));
        assert_eq!(validity_end("2026-11-27T10:00:00+01:00").as_deref(), Some("2027-11-26"), "the date of a dateTime");
    }

    #[test]
    fn validity_from_a_month_end_ends_the_day_before_a_year_later() {
        assert_eq!(validity_end("2026-01-31").as_deref(), Some("2027-01-30"));
        assert_eq!(validity_end("2026-04-30").as_deref(), Some("2027-04-29"));
        assert_eq!(validity_end("2026-12-31").as_deref(), Some("2027-12-30"));
    }

    #[test]
    fn validity_around_the_leap_day() {
        // No 29 February a year later: the validity ends on the 28th.
        assert_eq!(validity_end("2028-02-29").as_deref(), Some("2029-02-28"));
        // From 1 March the year before a leap year, it ends on the leap day.
        assert_eq!(validity_end("2027-03-01").as_deref(), Some("2028-02-29"));
        assert_eq!(validity_end("2027-02-28").as_deref(), Some("2028-02-27"));
        assert_eq!(validity_end("2028-03-01").as_deref(), Some("2029-02-28"));
    }

    #[test]
    fn validity_end_needs_a_date() {
        for text in ["2026-02-30", "2026-11", "", "tomorrow"] {
            assert_eq!(validity_end(text), None, "{text}");
        }
    }

    // ---- the monthly quantity ----

    #[test]
    fn monthly_limit_is_the_monthly_quantity_parameter() {
        assert_eq!(monthly_limit(&order("2026-11-01", "2027-10-31", 60.0)), Some(60.0));
        let mut other = order("2026-11-01", "2027-10-31", 60.0);
        other["parameter"][1]["code"]["coding"][0]["system"] = json!("http://example.org/x");
        assert_eq!(monthly_limit(&other), None, "monthly-quantity of another system");
        assert_eq!(monthly_limit(&json!({"resourceType": "DeviceRequest"})), None);
    }

    #[test]
    fn realised_sums_the_realisations_of_that_month_only() {
        let mut o = realising(order("2026-11-01", "2027-10-31", 60.0), "2026-12", 10.0);
        o = realising(o, "2027-01", 20.0);
        o = realising(o, "2026-12", 5.5);
        o["extension"].as_array_mut().unwrap().push(json!({"url": "http://example.org/x", "valueString": "2026-12"}));
        assert_eq!(realised(&o, "2026-12"), 15.5);
        assert_eq!(realised(&o, "2027-01"), 20.0);
        assert_eq!(realised(&o, "2027-02"), 0.0);
        assert_eq!(realised(&order("2026-11-01", "2027-10-31", 60.0), "2026-12"), 0.0, "no extension");
    }

    #[test]
    fn a_month_may_be_realised_up_to_its_limit() {
        let o = realising(current_order(), &month(0), 40.0);
        assert_eq!(verdict(&o, &month(0), 20.0), Ok(()), "exactly the limit");
        assert_eq!(verdict(&current_order(), &month(0), 60.0), Ok(()), "all at once");
    }

    #[test]
    fn realising_over_the_monthly_limit_is_refused() {
        let o = realising(current_order(), &month(0), 40.0);
        assert_eq!(verdict(&o, &month(0), 21.0), Err(422));
        assert_eq!(verdict(&current_order(), &month(0), 61.0), Err(422), "more than a month at once");
    }

    #[test]
    fn a_fully_realised_month_is_refused() {
        let o = realising(current_order(), &month(0), 60.0);
        let err = check(&o, &month(0), 1.0).unwrap_err();
        assert_eq!(err.http_status(), 422);
        assert!(err.to_string().contains("fully realised"), "{err}");
    }

    #[test]
    fn the_limit_is_per_month() {
        let o = realising(current_order(), &month(0), 60.0);
        assert_eq!(verdict(&o, &month(1), 60.0), Ok(()), "next month starts afresh");
    }

    #[test]
    fn decimal_quantities_reach_the_limit_exactly() {
        let o = realising(order(&first_of(0), &last_of(11), 0.3), &month(0), 0.1);
        assert_eq!(verdict(&o, &month(0), 0.2), Ok(()), "0.1 + 0.2 is the limit of 0.3");
        assert_eq!(verdict(&o, &month(0), 0.21), Err(422));
        // 0.7 + 0.2 + 0.1 is just under 1.0 in f64, yet the month is fully realised.
        let mut full = order(&first_of(0), &last_of(11), 1.0);
        for part in [0.7, 0.2, 0.1] {
            full = realising(full, &month(0), part);
        }
        let err = check(&full, &month(0), 0.1).unwrap_err();
        assert!(err.to_string().contains("fully realised"), "{err}");
    }

    // ---- which months ----

    #[test]
    fn the_first_and_last_months_of_validity_may_be_realised() {
        assert_eq!(verdict(&current_order(), &month(0), 1.0), Ok(()));
        assert_eq!(verdict(&current_order(), &month(11), 1.0), Ok(()));
    }

    #[test]
    fn a_month_after_the_validity_is_refused() {
        assert_eq!(verdict(&current_order(), &month(12), 1.0), Err(422));
    }

    #[test]
    fn a_month_before_the_validity_is_refused() {
        // An order valid from the month after next: not yet this month or next.
        let later = order(&first_of(2), &last_of(13), 60.0);
        assert_eq!(verdict(&later, &month(1), 1.0), Err(422));
        assert_eq!(verdict(&later, &month(2), 1.0), Ok(()), "its first month, in advance");
    }

    #[test]
    fn past_months_are_refused_even_within_the_validity() {
        let o = order(&first_of(-3), &last_of(8), 60.0);
        assert_eq!(verdict(&o, &month(-1), 1.0), Err(422));
        assert_eq!(verdict(&o, &month(-3), 1.0), Err(422));
        assert_eq!(verdict(&o, &month(0), 1.0), Ok(()));
    }

    #[test]
    fn an_order_may_be_realised_on_its_last_day() {
        let o = order(&first_of(-11), &format_date(today()), 60.0);
        assert_eq!(verdict(&o, &month(0), 1.0), Ok(()));
    }

    #[test]
    fn an_expired_order_is_refused() {
        let yesterday = format_date(today() - time::Duration::days(1));
        let o = order(&first_of(-11), &yesterday, 60.0);
        assert_eq!(verdict(&o, &month(0), 1.0), Err(422));
    }

    #[test]
    fn an_order_that_is_not_active_is_a_conflict() {
        for status in ["completed", "revoked", "on-hold", "draft"] {
            let mut o = current_order();
            o["status"] = json!(status);
            assert_eq!(verdict(&o, &month(0), 1.0), Err(409), "{status}");
        }
    }

    #[test]
    fn an_order_without_a_validity_period_or_monthly_quantity_is_refused() {
        let mut no_period = current_order();
        no_period.as_object_mut().unwrap().remove("occurrencePeriod");
        assert_eq!(verdict(&no_period, &month(0), 1.0), Err(422));
        let mut no_limit = current_order();
        no_limit["parameter"] = json!([]);
        assert_eq!(verdict(&no_limit, &month(0), 1.0), Err(422));
    }

    #[test]
    fn access_code_is_the_order_access_code_identifier() {
        assert_eq!(access_code(&current_order()), Some("7890"));
        let referral_code = json!({"identifier": [{"system": crate::referral::ACCESS_CODE, "value": "1234"}]});
        assert_eq!(access_code(&referral_code), None, "a referral's code is not an order's");
    }
}
