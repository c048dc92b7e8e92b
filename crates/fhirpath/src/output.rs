//! Converting result collections to JSON.

use super::functions::scalar_to_string;
use super::value::{Item, Scalar, Value};
use serde_json::{Map, Number, Value as Json};

fn number(s: &str) -> Json {
    s.parse::<Number>().map(Json::Number).unwrap_or_else(|_| Json::String(s.to_string()))
}

/// One item as FHIR JSON: JSON nodes as-is (a primitive with only extensions gives its `_x`
/// object; an unresolved-reference stub gives `{"resourceType": T}`), System values in
/// their FHIR JSON form (quantities as `{value, unit, system, code}`, dates as strings).
pub fn item_to_json(it: &Item<'_>) -> Json {
    match it {
        Item::Node(n) => match (n.json, n.ext) {
            (Some(j), _) => j.clone(),
            (None, Some(e)) => e.clone(),
            (None, None) => {
                let mut m = Map::new();
                if let Some(t) = n.ty {
                    m.insert("resourceType".into(), Json::String(t.to_string()));
                }
                Json::Object(m)
            }
        },
        Item::Value(v) => match v {
            Value::Boolean(b) => Json::Bool(*b),
            Value::Integer(i) => Json::Number((*i).into()),
            Value::Decimal(d) => number(&d.to_string()),
            Value::String(s) => Json::String(s.to_string()),
            Value::Date(d) => Json::String(d.fmt_date()),
            Value::DateTime(d) => Json::String(d.fmt_datetime(false)),
            Value::Time(t) => Json::String(t.to_string()),
            Value::Quantity(q) => {
                let mut m = Map::new();
                m.insert("value".into(), number(&q.value.to_string()));
                m.insert("unit".into(), Json::String(q.unit.to_string()));
                if !q.calendar {
                    m.insert("system".into(), Json::String("http://unitsofmeasure.org".into()));
                    m.insert("code".into(), Json::String(q.unit.to_string()));
                }
                Json::Object(m)
            }
            Value::TypeInfo { namespace, name } => {
                let mut m = Map::new();
                m.insert("namespace".into(), Json::String(namespace.to_string()));
                m.insert("name".into(), Json::String(name.to_string()));
                Json::Object(m)
            }
        },
    }
}

/// A collection as a JSON array (see [`item_to_json`]).
pub fn to_json(c: &[Item<'_>]) -> Json {
    Json::Array(c.iter().map(item_to_json).collect())
}

/// FHIRPath string rendering of an item (`toString()` semantics for primitives; JSON text
/// for complex nodes).
pub fn item_to_string(it: &Item<'_>) -> String {
    match it.scalar() {
        Some(s) => scalar_to_string(s),
        None => item_to_json(it).to_string(),
    }
}

/// The System-typed literal form used by the test suite (`@2014-01`, `@T10:30:00.000`,
/// `1.5 'cm'`, `'text'` rendered bare).
pub fn item_to_literal(it: &Item<'_>) -> String {
    match it.scalar() {
        Some(Scalar::Date(d)) => format!("@{}", d.fmt_date()),
        Some(Scalar::DateTime(d)) => format!("@{}", d.fmt_datetime(false)),
        Some(Scalar::Time(t)) => format!("@T{t}"),
        Some(s) => scalar_to_string(s),
        None => item_to_json(it).to_string(),
    }
}
