//! `Observation/$stats` (R4): statistics of a patient's numeric results, per code, over a
//! period. Inputs: `subject` (the patient, `Patient/[id]`, required), the codes (`code`, with
//! `system`, or `coding`; at least one), the period (`period`, or `duration` in hours back from
//! now; default: everything), `statistic` (one or more of [`STATISTICS`], comma-separated in a
//! query string) and `include` (also return the Observations the statistics were computed from).
//!
//! The answer is a Parameters resource with one `statistic` Observation per code (the code, the
//! subject, `effectivePeriod` = the period asked for, and one `component` per statistic coded in
//! `observation-statistics`, in the unit of the results) and, with `include`, the `source`
//! Observations. Results in a unit other than the code's first one are left out of the numbers
//! and counted only in `totalcount`. Reads at most [`super::MAX_SCAN`] results (newest first)
//! and says so when there were more; everything the numbers come from is audited as read.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::{MAX_SCAN, code_key, content};
use crate::clock::{instant, now};
use crate::error::{FhirError, FhirResult};
use crate::interaction::Response;
use crate::interaction::operation::Call;
use crate::interaction::search::type_query;
use crate::outcome::{Issue, IssueType, Severity, operation_outcome};
use crate::session::Session;

const STATISTICS_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/observation-statistics";

/// The statistics computed (code, display), from the R4 `observation-statistics` code system.
pub const STATISTICS: &[(&str, &str)] = &[
    ("average", "Average"),
    ("maximum", "Maximum"),
    ("minimum", "Minimum"),
    ("count", "Count"),
    ("totalcount", "Total Count"),
    ("median", "Median"),
    ("std-dev", "Standard Deviation"),
    ("sum", "Sum"),
    ("variance", "Variance"),
];

/// Most codes one call asks about.
const MAX_CODES: usize = 50;

/// `GET|POST [base]/Observation/$stats`.
pub async fn operation(session: &Session, call: &Call) -> FhirResult<Response> {
    let params = &call.input.params;
    let subject = params.text("subject").ok_or_else(|| FhirError::bad_request("$stats needs the subject"))?;
    if !subject.strip_prefix("Patient/").is_some_and(|id| !id.is_empty() && !id.contains('/')) {
        return Err(FhirError::bad_request("the subject must be Patient/[id]"));
    }
    let codes = requested_codes(params)?;
    let statistics = requested_statistics(params)?;
    let include = params.boolean("include")?.unwrap_or(false);
    let (start, end) = requested_period(params)?;

    let mut pairs = vec![("subject".to_string(), subject.to_string()), ("code".to_string(), codes.join(","))];
    if let Some(start) = &start {
        pairs.push(("date".into(), format!("ge{start}")));
    }
    if let Some(end) = &end {
        pairs.push(("date".into(), format!("le{end}")));
    }
    pairs.push(("_sort".into(), "-date".into()));
    let query = type_query(session, "Observation", &pairs, true)?;
    let page = session.page(&query, MAX_SCAN).await?;

    let mut order: Vec<String> = Vec::new();
    let mut groups: HashMap<String, Vec<Value>> = HashMap::new();
    for hit in &page.hits {
        let observation = content(hit);
        let key = code_key(&observation);
        if !groups.contains_key(&key) {
            order.push(key.clone());
        }
        groups.entry(key).or_default().push(observation);
    }
    let mut parameters = Vec::new();
    for key in &order {
        let Some(observations) = groups.get(key) else { continue };
        parameters.push(json!({"name": "statistic",
            "resource": statistic_observation(observations, subject, (&start, &end), &statistics)}));
        if include {
            parameters.extend(observations.iter().map(|o| json!({"name": "source", "resource": o})));
        }
    }
    if page.more {
        let issue = Issue {
            severity: Severity::Warning,
            code: IssueType::TooCostly,
            message: format!("more than {MAX_SCAN} Observations match: the statistics are of the newest {MAX_SCAN}"),
            expression: None,
        };
        parameters.push(json!({"name": "outcome", "resource": operation_outcome(&[issue])}));
    }
    Ok(Response::resource(200, json!({"resourceType": "Parameters", "parameter": parameters})))
}

/// The codes as `system|code` search values.
fn requested_codes(params: &crate::interaction::terminology_operations::Params) -> FhirResult<Vec<String>> {
    let system = params.text("system");
    let mut codes = Vec::new();
    for value in params.values("code") {
        let text = value.as_str().ok_or_else(|| FhirError::bad_request("code must be a string"))?;
        for code in text.split(',').map(str::trim).filter(|c| !c.is_empty()) {
            codes.push(match system {
                Some(system) => format!("{system}|{code}"),
                None => code.to_string(),
            });
        }
    }
    for coding in params.values("coding") {
        match (coding["system"].as_str(), coding["code"].as_str()) {
            (Some(system), Some(code)) => codes.push(format!("{system}|{code}")),
            (None, Some(code)) => codes.push(code.to_string()),
            _ => return Err(FhirError::bad_request("a coding needs a code")),
        }
    }
    if codes.is_empty() {
        return Err(FhirError::bad_request("$stats needs at least one code or coding"));
    }
    if codes.len() > MAX_CODES {
        return Err(FhirError::bad_request(format!("$stats takes at most {MAX_CODES} codes")));
    }
    // A comma inside a code would split the search value into codes that were not asked for.
    if codes.iter().any(|c| c.contains(',') || c.contains('\\')) {
        return Err(FhirError::bad_request("a code may not contain ',' or '\\'"));
    }
    Ok(codes)
}

fn requested_statistics(params: &crate::interaction::terminology_operations::Params) -> FhirResult<Vec<&'static str>> {
    let mut wanted = Vec::new();
    for value in params.values("statistic") {
        let text = value.as_str().ok_or_else(|| FhirError::bad_request("statistic must be a code"))?;
        for name in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let Some((code, _)) = STATISTICS.iter().find(|(c, _)| *c == name) else {
                let known: Vec<&str> = STATISTICS.iter().map(|(c, _)| *c).collect();
                return Err(FhirError::bad_request(format!(
                    "the statistic '{name}' is not computed here; known: {}",
                    known.join(", ")
                )));
            };
            if !wanted.contains(code) {
                wanted.push(*code);
            }
        }
    }
    if wanted.is_empty() {
        return Err(FhirError::bad_request("$stats needs at least one statistic"));
    }
    Ok(wanted)
}

/// The period as search dates: `period` (a Period) or `duration` (hours back from now).
fn requested_period(
    params: &crate::interaction::terminology_operations::Params,
) -> FhirResult<(Option<String>, Option<String>)> {
    if let Some(period) = params.value("period") {
        let start = period["start"].as_str().map(str::to_string);
        let end = period["end"].as_str().map(str::to_string);
        if start.is_none() && end.is_none() {
            return Err(FhirError::bad_request("period needs a start or an end"));
        }
        return Ok((start, end));
    }
    let Some(duration) = params.value("duration") else { return Ok((None, None)) };
    let hours = match duration {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse::<f64>().ok(),
        _ => None,
    }
    .filter(|h| h.is_finite() && *h > 0.0 && *h <= 24.0 * 366.0 * 200.0)
    .ok_or_else(|| FhirError::bad_request("duration must be a positive number of hours"))?;
    let start = now() - (hours * 3_600_000_000.0) as i64;
    Ok((Some(instant(start)), None))
}

/// The statistics of one code's results.
fn statistic_observation(
    observations: &[Value],
    subject: &str,
    (start, end): (&Option<String>, &Option<String>),
    statistics: &[&str],
) -> Value {
    let first = &observations[0];
    let unit = first.pointer("/valueQuantity/code").and_then(Value::as_str);
    let quantity = |value: f64| {
        let mut q = first["valueQuantity"].clone();
        if let Some(q) = q.as_object_mut() {
            q.remove("comparator");
            q.insert("value".into(), json!(round(value)));
        }
        q
    };
    let mut values: Vec<f64> = observations
        .iter()
        .filter(|o| o.pointer("/valueQuantity/code").and_then(Value::as_str) == unit)
        .filter_map(|o| o.pointer("/valueQuantity/value").and_then(Value::as_f64))
        .collect();
    values.sort_by(f64::total_cmp);
    let n = values.len() as f64;
    let sum: f64 = values.iter().sum();
    let mean = if values.is_empty() { None } else { Some(sum / n) };
    let variance =
        mean.filter(|_| values.len() > 1).map(|m| values.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1.0));
    let median = match values.len() {
        0 => None,
        len if len % 2 == 1 => Some(values[len / 2]),
        len => Some((values[len / 2 - 1] + values[len / 2]) / 2.0),
    };
    let components: Vec<Value> = statistics
        .iter()
        .filter_map(|statistic| {
            let value = match *statistic {
                "count" => json!({"value": values.len()}),
                "totalcount" => json!({"value": observations.len()}),
                "average" => quantity(mean?),
                "maximum" => quantity(*values.last()?),
                "minimum" => quantity(*values.first()?),
                "median" => quantity(median?),
                "sum" => quantity(if values.is_empty() { return None } else { sum }),
                "std-dev" => quantity(variance?.sqrt()),
                "variance" => json!({"value": round(variance?)}),
                _ => return None,
            };
            let display = STATISTICS.iter().find(|(c, _)| c == statistic).map_or("", |(_, d)| *d);
            Some(json!({
                "code": {"coding": [{"system": STATISTICS_SYSTEM, "code": statistic, "display": display}]},
                "valueQuantity": value,
            }))
        })
        .collect();
    let mut period = serde_json::Map::new();
    if let Some(start) = start {
        period.insert("start".into(), json!(start));
    }
    period.insert("end".into(), json!(end.clone().unwrap_or_else(|| instant(now()))));
    json!({
        "resourceType": "Observation",
        "status": "final",
        "code": first["code"],
        "subject": {"reference": subject},
        "effectivePeriod": period,
        "issued": instant(now()),
        "component": components,
    })
}

/// Statistics to a precision results are reported in.
fn round(value: f64) -> f64 {
    (value * 10_000.0).round() / 10_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(value: f64) -> Value {
        json!({"resourceType": "Observation", "code": {"coding": [{"system": "http://loinc.org", "code": "4548-4"}]},
               "valueQuantity": {"value": value, "unit": "%", "system": "http://unitsofmeasure.org", "code": "%"}})
    }

    #[test]
    fn statistics_of_a_series() {
        let mut series: Vec<Value> = [6.0, 7.0, 8.0, 9.0].iter().map(|v| result(*v)).collect();
        let mut other_unit = result(50.0);
        other_unit["valueQuantity"]["code"] = json!("mmol/mol");
        series.push(other_unit);
        let wanted = ["average", "maximum", "minimum", "count", "totalcount", "median", "std-dev", "sum", "variance"];
        let stats = statistic_observation(&series, "Patient/p", (&None, &None), &wanted);
        let value = |code: &str| {
            stats["component"]
                .as_array()
                .and_then(|c| c.iter().find(|c| c["code"]["coding"][0]["code"] == code))
                .map(|c| c["valueQuantity"]["value"].as_f64().unwrap_or(f64::NAN))
        };
        assert_eq!(value("average"), Some(7.5));
        assert_eq!(value("maximum"), Some(9.0));
        assert_eq!(value("minimum"), Some(6.0));
        assert_eq!(value("count"), Some(4.0));
        assert_eq!(value("totalcount"), Some(5.0));
        assert_eq!(value("median"), Some(7.5));
        assert_eq!(value("sum"), Some(30.0));
        assert_eq!(value("variance"), Some(1.6667));
        assert_eq!(value("std-dev"), Some(1.291));
        assert_eq!(stats["component"][0]["valueQuantity"]["code"], "%");
    }
}
