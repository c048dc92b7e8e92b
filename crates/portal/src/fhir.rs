//! Reading FHIR JSON for people: names, codes, identifiers, references and search Bundles,
//! each written once for every screen.

use serde_json::Value;

/// The resources a search matched (not those it included), in the server's order.
pub fn matches(bundle: &Value) -> Vec<&Value> {
    entries(bundle, |mode| mode != Some("include"))
}

/// The resources a search included (`_include`, `_revinclude`).
pub fn included(bundle: &Value) -> Vec<&Value> {
    entries(bundle, |mode| mode == Some("include"))
}

fn entries(bundle: &Value, keep: impl Fn(Option<&str>) -> bool) -> Vec<&Value> {
    bundle
        .get("entry")
        .and_then(Value::as_array)
        .map(|entries| {
            entries
                .iter()
                .filter(|e| keep(e.pointer("/search/mode").and_then(Value::as_str)))
                .filter_map(|e| e.get("resource"))
                .collect()
        })
        .unwrap_or_default()
}

/// The string at a JSON pointer, or "".
pub fn text<'v>(value: &'v Value, pointer: &str) -> &'v str {
    value.pointer(pointer).and_then(Value::as_str).unwrap_or_default()
}

/// A resource's `id`.
pub fn id(resource: &Value) -> &str {
    text(resource, "/id")
}

/// A CodeableConcept (or Coding) for people: its text, else the first coding's display, else its
/// code.
pub fn concept(value: Option<&Value>) -> String {
    let Some(value) = value else { return String::new() };
    if let Some(text) = value.get("text").and_then(Value::as_str) {
        return text.to_string();
    }
    let codings = value.get("coding").and_then(Value::as_array);
    let coding =
        codings.and_then(|list| list.iter().find(|c| c.get("display").is_some()).or(list.first())).unwrap_or(value);
    coding.get("display").or_else(|| coding.get("code")).and_then(Value::as_str).unwrap_or_default().to_string()
}

/// The code of the first coding of a CodeableConcept in `system`.
pub fn code_in<'v>(value: Option<&'v Value>, system: &str) -> Option<&'v str> {
    value?
        .get("coding")?
        .as_array()?
        .iter()
        .find(|c| c.get("system").and_then(Value::as_str) == Some(system))
        .and_then(|c| c.get("code"))
        .and_then(Value::as_str)
}

/// A person's name: `text`, or the given names and the family name.
pub fn human_name(resource: &Value) -> String {
    let Some(name) = resource.get("name").and_then(|n| n.get(0)) else { return String::new() };
    if let Some(text) = name.get("text").and_then(Value::as_str) {
        return text.to_string();
    }
    let mut parts: Vec<&str> = name
        .get("given")
        .and_then(Value::as_array)
        .map(|g| g.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if let Some(family) = name.get("family").and_then(Value::as_str) {
        parts.push(family);
    }
    parts.join(" ")
}

/// What a resource is called for people: a person's name, an organisation's or place's name, a
/// condition's code.
pub fn label(resource: &Value) -> String {
    match text(resource, "/resourceType") {
        "Organization" | "Location" => text(resource, "/name").to_string(),
        "Condition" => concept(resource.get("code")),
        _ => human_name(resource),
    }
}

/// `Type/id` → [`label`], for the resources a search included (prescribers, providers...).
pub fn labels(resources: &[&Value]) -> std::collections::HashMap<String, String> {
    resources.iter().map(|r| (format!("{}/{}", text(r, "/resourceType"), id(r)), label(r))).collect()
}

/// The value of the resource's identifier in `system`.
pub fn identifier<'v>(resource: &'v Value, system: &str) -> Option<&'v str> {
    resource
        .get("identifier")?
        .as_array()?
        .iter()
        .find(|i| i.get("system").and_then(Value::as_str) == Some(system))
        .and_then(|i| i.get("value"))
        .and_then(Value::as_str)
}

/// A Reference for people: its display, else what it points at.
pub fn reference(value: Option<&Value>) -> String {
    let Some(value) = value else { return String::new() };
    value.get("display").or_else(|| value.get("reference")).and_then(Value::as_str).unwrap_or_default().to_string()
}

/// The value of the first extension with `url` (`valueX` whatever X is).
pub fn extension<'v>(resource: &'v Value, url: &str) -> Option<&'v Value> {
    let found =
        resource.get("extension")?.as_array()?.iter().find(|e| e.get("url").and_then(Value::as_str) == Some(url))?;
    found.as_object()?.iter().find(|(k, _)| k.starts_with("value")).map(|(_, v)| v)
}

/// A Quantity as `5.4 mmol/L`.
pub fn quantity(value: Option<&Value>) -> String {
    let Some(value) = value else { return String::new() };
    let number = value.get("value").map(number_text).unwrap_or_default();
    let unit = value.get("unit").or_else(|| value.get("code")).and_then(Value::as_str).unwrap_or_default();
    format!("{number} {unit}").trim().to_string()
}

/// A JSON number as written (decimals keep their digits).
pub fn number_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Whole years from a `birthDate` to `today` (both `YYYY-MM-DD`).
pub fn age(birth_date: &str, today: &str) -> Option<i32> {
    let parse = |d: &str| -> Option<(i32, u32, u32)> {
        let mut p = d.get(..10)?.split('-');
        Some((p.next()?.parse().ok()?, p.next()?.parse().ok()?, p.next()?.parse().ok()?))
    };
    let (by, bm, bd) = parse(birth_date)?;
    let (ty, tm, td) = parse(today)?;
    Some(ty - by - i32::from((tm, td) < (bm, bd)))
}

/// Today, `YYYY-MM-DD` (UTC).
pub fn today() -> String {
    let now = time::OffsetDateTime::now_utc();
    format!("{:04}-{:02}-{:02}", now.year(), u8::from(now.month()), now.day())
}

/// A value safe to put in a FHIR query (an id or a code: letters, digits, `-`, `.`).
pub fn safe_id(value: &str) -> Option<&str> {
    let ok = !value.is_empty()
        && value.len() <= 64
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    ok.then_some(value)
}

/// A Parameters resource of string parameters.
pub fn parameters(values: &[(&str, &str)]) -> Value {
    let parameter: Vec<Value> =
        values.iter().map(|(name, value)| serde_json::json!({"name": name, "valueString": value})).collect();
    serde_json::json!({"resourceType": "Parameters", "parameter": parameter})
}

/// A narrative's XHTML as plain text (tags dropped, the usual entities decoded): documents are
/// shown as text, so nothing in a narrative is ever treated as markup here.
pub fn narrative_text(xhtml: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in xhtml.chars() {
        match c {
            '<' => {
                in_tag = true;
                out.push(' ');
            }
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    let decoded = out
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&");
    decoded.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ages_count_whole_years() {
        assert_eq!(age("2016-06-20", "2026-06-19"), Some(9));
        assert_eq!(age("2016-06-20", "2026-06-20"), Some(10));
        assert_eq!(age("nonsense", "2026-06-20"), None);
    }

    #[test]
    fn names_codes_and_ids_read_for_people() {
        let patient = json!({"name": [{"family": "Kowalska", "given": ["Anna", "Maria"]}]});
        assert_eq!(human_name(&patient), "Anna Maria Kowalska");
        assert_eq!(concept(Some(&json!({"coding": [{"code": "x"}]}))), "x");
        assert_eq!(safe_id("demo-anna"), Some("demo-anna"));
        assert_eq!(safe_id("a&b=c"), None);
        assert_eq!(safe_id(""), None);
        assert_eq!(narrative_text("<div xmlns=\"x\"><p>Hb &lt; 12</p><script>x</script></div>"), "Hb < 12 x");
    }
}
