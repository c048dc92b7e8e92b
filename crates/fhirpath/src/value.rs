//! Items and collections: JSON-backed nodes and computed System values.

use super::datetime::{CalendarUnit, DateTimeValue, TimeValue};
use rust_decimal::Decimal;
use serde_json::Value as Json;
use std::str::FromStr;
use std::sync::Arc;

/// A System quantity. `unit` is a UCUM code, or a calendar keyword when `calendar` is set
/// (`1 week`), as written.
#[derive(Clone, Debug, PartialEq)]
pub struct Quantity {
    pub value: Decimal,
    pub unit: Arc<str>,
    pub calendar: bool,
}

impl Quantity {
    pub fn new(value: Decimal, unit: &str) -> Self {
        Quantity { value, unit: Arc::from(unit), calendar: false }
    }
}

/// A computed FHIRPath System value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Boolean(bool),
    String(Arc<str>),
    Integer(i64),
    Decimal(Decimal),
    Date(DateTimeValue),
    DateTime(DateTimeValue),
    Time(TimeValue),
    Quantity(Box<Quantity>),
    /// Result of `type()`: a TypeInfo with `namespace` and `name`.
    TypeInfo {
        namespace: &'static str,
        name: Arc<str>,
    },
}

impl Value {
    pub fn string(s: &str) -> Self {
        Value::String(Arc::from(s))
    }

    /// The System type name of this value.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Boolean(_) => "Boolean",
            Value::String(_) => "String",
            Value::Integer(_) => "Integer",
            Value::Decimal(_) => "Decimal",
            Value::Date(_) => "Date",
            Value::DateTime(_) => "DateTime",
            Value::Time(_) => "Time",
            Value::Quantity(_) => "Quantity",
            Value::TypeInfo { .. } => "TypeInfo",
        }
    }
}

/// A node in the input JSON. `json` is the element's value (absent when only the `_name`
/// extension part exists), `ext` the `_name` companion object of a primitive, `ty` the FHIR
/// type when known, `resource` the nearest enclosing resource.
///
/// A node with neither `json` nor `ext` but with a resource type is a *stub* produced by
/// `resolve()` for a reference that could not be resolved, but whose type is known.
#[derive(Clone, Copy, Debug)]
pub struct Node<'a> {
    pub json: Option<&'a Json>,
    pub ext: Option<&'a Json>,
    pub ty: Option<&'a str>,
    pub resource: Option<&'a Json>,
}

impl<'a> Node<'a> {
    /// A node for a resource (its type taken from `resourceType`).
    pub fn resource(json: &'a Json) -> Self {
        Node { json: Some(json), ext: None, ty: json.get("resourceType").and_then(Json::as_str), resource: Some(json) }
    }

    /// Whether this is a FHIR primitive (JSON scalar or extension-only) rather than an object.
    pub fn is_primitive(&self) -> bool {
        match self.json {
            Some(Json::Object(_)) => false,
            Some(_) => true,
            None => self.ext.is_some(),
        }
    }

    pub fn is_stub(&self) -> bool {
        self.json.is_none() && self.ext.is_none()
    }
}

/// One item of a collection.
#[derive(Clone, Debug)]
pub enum Item<'a> {
    Node(Node<'a>),
    Value(Value),
}

/// A FHIRPath collection.
pub type Collection<'a> = Vec<Item<'a>>;

impl<'a> Item<'a> {
    pub fn boolean(b: bool) -> Self {
        Item::Value(Value::Boolean(b))
    }
    pub fn integer(i: i64) -> Self {
        Item::Value(Value::Integer(i))
    }
    pub fn string(s: &str) -> Self {
        Item::Value(Value::string(s))
    }

    /// Borrowed scalar view (System-typed) of this item, if it is primitive-like.
    pub(super) fn scalar(&self) -> Option<Scalar<'_>> {
        match self {
            Item::Value(v) => Some(match v {
                Value::Boolean(b) => Scalar::Bool(*b),
                Value::String(s) => Scalar::Str(s),
                Value::Integer(i) => Scalar::Int(*i),
                Value::Decimal(d) => Scalar::Dec(*d),
                Value::Date(d) => Scalar::Date(*d),
                Value::DateTime(d) => Scalar::DateTime(*d),
                Value::Time(t) => Scalar::Time(*t),
                Value::Quantity(q) => Scalar::Qty(q.value, &q.unit, q.calendar),
                Value::TypeInfo { .. } => return None,
            }),
            Item::Node(n) => node_scalar(n),
        }
    }

    /// The string value if this is a string-like item.
    pub(super) fn as_str(&self) -> Option<&str> {
        match self.scalar()? {
            Scalar::Str(s) => Some(s),
            _ => None,
        }
    }

    pub(super) fn as_node(&self) -> Option<&Node<'a>> {
        match self {
            Item::Node(n) => Some(n),
            _ => None,
        }
    }

    /// Converts to an owned System value, if primitive-like.
    pub fn to_value(&self) -> Option<Value> {
        match self {
            Item::Value(v) => Some(v.clone()),
            Item::Node(_) => self.scalar().map(|s| s.to_value()),
        }
    }
}

/// Borrowed System-typed view of an item.
#[derive(Clone, Copy, Debug)]
pub(super) enum Scalar<'x> {
    Bool(bool),
    Str(&'x str),
    Int(i64),
    Dec(Decimal),
    Date(DateTimeValue),
    DateTime(DateTimeValue),
    Time(TimeValue),
    /// value, unit, unit-is-calendar-keyword
    Qty(Decimal, &'x str, bool),
}

impl Scalar<'_> {
    pub fn to_value(self) -> Value {
        match self {
            Scalar::Bool(b) => Value::Boolean(b),
            Scalar::Str(s) => Value::string(s),
            Scalar::Int(i) => Value::Integer(i),
            Scalar::Dec(d) => Value::Decimal(d),
            Scalar::Date(d) => Value::Date(d),
            Scalar::DateTime(d) => Value::DateTime(d),
            Scalar::Time(t) => Value::Time(t),
            Scalar::Qty(v, u, c) => Value::Quantity(Box::new(Quantity { value: v, unit: Arc::from(u), calendar: c })),
        }
    }
}

pub(super) fn parse_decimal(s: &str) -> Option<Decimal> {
    if s.contains(['e', 'E']) {
        return Decimal::from_scientific(s).ok();
    }
    Decimal::from_str(s).ok()
}

fn json_number_scalar(n: &serde_json::Number, ty: Option<&str>) -> Option<Scalar<'static>> {
    let s = n.as_str();
    let integral = !s.contains(['.', 'e', 'E']);
    match ty {
        Some("integer" | "positiveInt" | "unsignedInt" | "integer64") => {
            s.parse::<i64>().ok().map(Scalar::Int).or_else(|| parse_decimal(s).map(Scalar::Dec))
        }
        Some("decimal") => parse_decimal(s).map(Scalar::Dec),
        _ if integral => s.parse::<i64>().ok().map(Scalar::Int).or_else(|| parse_decimal(s).map(Scalar::Dec)),
        _ => parse_decimal(s).map(Scalar::Dec),
    }
}

const UCUM: &str = "http://unitsofmeasure.org";

fn is_quantity_type(t: &str) -> bool {
    matches!(t, "Quantity" | "Age" | "Count" | "Distance" | "Duration" | "MoneyQuantity" | "SimpleQuantity")
}

fn node_scalar<'x>(n: &'x Node<'_>) -> Option<Scalar<'x>> {
    let json = n.json?;
    match json {
        Json::Bool(b) => Some(Scalar::Bool(*b)),
        Json::Number(num) => json_number_scalar(num, n.ty),
        Json::String(s) => Some(match n.ty {
            Some("date") => DateTimeValue::parse_date(s).map(Scalar::Date).unwrap_or(Scalar::Str(s)),
            Some("dateTime" | "instant") => {
                DateTimeValue::parse_datetime(s).map(Scalar::DateTime).unwrap_or(Scalar::Str(s))
            }
            Some("time") => TimeValue::parse(s).map(Scalar::Time).unwrap_or(Scalar::Str(s)),
            _ => Scalar::Str(s),
        }),
        Json::Object(map) => {
            let quantity_like = match n.ty {
                Some(t) => is_quantity_type(t),
                None => map.get("value").is_some_and(Json::is_number),
            };
            if !quantity_like {
                return None;
            }
            let value = match map.get("value")? {
                Json::Number(num) => parse_decimal(num.as_str())?,
                _ => return None,
            };
            let system = map.get("system").and_then(Json::as_str);
            let code = map.get("code").and_then(Json::as_str);
            let unit = map.get("unit").and_then(Json::as_str);
            let u = match (system, code) {
                (Some(UCUM), Some(c)) => c,
                (None, Some(c)) => c,
                _ => match unit {
                    Some(u) => u,
                    None => code.unwrap_or("1"),
                },
            };
            if let (Some(UCUM) | None, Some(_)) = (system, code) {
                return Some(Scalar::Qty(value, u, false));
            }
            let cal = CalendarUnit::from_word(u).is_some();
            Some(Scalar::Qty(value, u, cal))
        }
        _ => None,
    }
}
