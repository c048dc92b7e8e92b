//! Equality, equivalence, ordering and arithmetic on items.

use super::datetime::{CalendarUnit, DateTimeValue, TimeValue};
use super::error::{Error, Result};
use super::ucum;
use super::value::{Item, Quantity, Scalar, Value, parse_decimal};
use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::Value as Json;
use std::cmp::Ordering;
use std::sync::Arc;

const MAX_JSON_DEPTH: usize = 64;

pub(super) fn round_half_up(d: Decimal, dp: u32) -> Decimal {
    d.round_dp_with_strategy(dp, RoundingStrategy::MidpointAwayFromZero)
}

fn dec_of(s: &Scalar<'_>) -> Option<Decimal> {
    match s {
        Scalar::Int(i) => Some(Decimal::from(*i)),
        Scalar::Dec(d) => Some(*d),
        _ => None,
    }
}

/// Date-like view: (value, is_date_type)
fn datelike(s: &Scalar<'_>) -> Option<DateTimeValue> {
    match s {
        Scalar::Date(d) | Scalar::DateTime(d) => Some(*d),
        _ => None,
    }
}

/// Parses an untyped string into the temporal type of `like` (for untyped JSON data).
fn coerce_str(s: &str, like: &Scalar<'_>) -> Option<Scalar<'static>> {
    match like {
        Scalar::Date(_) | Scalar::DateTime(_) => DateTimeValue::parse_datetime(s).map(Scalar::DateTime),
        Scalar::Time(_) => TimeValue::parse(s).map(Scalar::Time),
        _ => None,
    }
}

/// Calendar/UCUM-aware alignment of two quantities into canonical values.
fn qty_canonical(av: Decimal, au: &str, acal: bool, bv: Decimal, bu: &str, bcal: bool) -> Option<(Decimal, Decimal)> {
    let norm = |u: &str, cal: bool| -> std::result::Result<(Option<CalendarUnit>, String), ()> {
        if cal {
            match CalendarUnit::from_word(u) {
                Some(c) => Ok((Some(c), String::new())),
                None => Err(()),
            }
        } else {
            Ok((None, u.to_string()))
        }
    };
    if !acal && !bcal && au == bu {
        return Some((av, bv));
    }
    let (ac, a_ucum) = norm(au, acal).ok()?;
    let (bc, b_ucum) = norm(bu, bcal).ok()?;
    match (ac, bc) {
        (Some(x), Some(y)) => {
            let ym = |c: CalendarUnit| match c {
                CalendarUnit::Year => Some(12),
                CalendarUnit::Month => Some(1),
                _ => None,
            };
            match (ym(x), ym(y)) {
                (Some(fx), Some(fy)) => Some((av.checked_mul(Decimal::from(fx))?, bv.checked_mul(Decimal::from(fy))?)),
                (None, None) => {
                    Some((av.checked_mul(Decimal::from(x.millis()))?, bv.checked_mul(Decimal::from(y.millis()))?))
                }
                _ => None,
            }
        }
        (Some(x), None) => {
            let u = x.ucum_equivalent()?;
            qty_canonical(av, u, false, bv, &b_ucum, false)
        }
        (None, Some(y)) => {
            let u = y.ucum_equivalent()?;
            qty_canonical(av, &a_ucum, false, bv, u, false)
        }
        (None, None) => {
            let ca = ucum::canonical(&a_ucum)?;
            let cb = ucum::canonical(&b_ucum)?;
            if ca.dims != cb.dims {
                return None;
            }
            Some((av.checked_mul(ca.factor)?, bv.checked_mul(cb.factor)?))
        }
    }
}

fn scalar_eq(a: &Scalar<'_>, b: &Scalar<'_>) -> Option<bool> {
    use Scalar::*;
    match (a, b) {
        (Bool(x), Bool(y)) => Some(x == y),
        (Str(x), Str(y)) => Some(x == y),
        (Int(x), Int(y)) => Some(x == y),
        (Int(_) | Dec(_), Int(_) | Dec(_)) => Some(dec_of(a) == dec_of(b)),
        (Date(_) | DateTime(_), Date(_) | DateTime(_)) => {
            let (x, y) = (datelike(a)?, datelike(b)?);
            x.compare(&y).map(|o| o == Ordering::Equal)
        }
        (Time(x), Time(y)) => x.compare(y).map(|o| o == Ordering::Equal),
        (Qty(av, au, ac), Qty(bv, bu, bc)) => {
            let (x, y) = qty_canonical(*av, au, *ac, *bv, bu, *bc)?;
            Some(x == y)
        }
        (Str(s), other @ (Date(_) | DateTime(_) | Time(_))) | (other @ (Date(_) | DateTime(_) | Time(_)), Str(s)) => {
            match coerce_str(s, other) {
                Some(c) => scalar_eq(&c, other),
                None => Some(false),
            }
        }
        _ => Some(false),
    }
}

fn normalize_ws_lower(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for w in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&w.to_lowercase());
    }
    out
}

fn dec_equiv(x: Decimal, y: Decimal) -> bool {
    let p = x.scale().min(y.scale());
    round_half_up(x, p) == round_half_up(y, p)
}

fn scalar_equiv(a: &Scalar<'_>, b: &Scalar<'_>) -> bool {
    use Scalar::*;
    match (a, b) {
        (Str(x), Str(y)) => x == y || normalize_ws_lower(x) == normalize_ws_lower(y),
        (Int(_) | Dec(_), Int(_) | Dec(_)) => match (dec_of(a), dec_of(b)) {
            (Some(x), Some(y)) => dec_equiv(x, y),
            _ => false,
        },
        (Date(_) | DateTime(_), Date(_) | DateTime(_)) => match (datelike(a), datelike(b)) {
            (Some(x), Some(y)) => x.equivalent(&y),
            _ => false,
        },
        (Time(x), Time(y)) => x.equivalent(y),
        (Qty(av, au, ac), Qty(bv, bu, bc)) => match qty_canonical(*av, au, *ac, *bv, bu, *bc) {
            Some((x, y)) => dec_equiv(x, y),
            None => false,
        },
        _ => scalar_eq(a, b) == Some(true),
    }
}

fn json_num(n: &serde_json::Number) -> Option<Decimal> {
    parse_decimal(n.as_str())
}

/// Deep JSON equality (numbers by value, objects ignoring key order).
fn json_eq(a: &Json, b: &Json, depth: usize, equiv: bool) -> bool {
    if depth > MAX_JSON_DEPTH {
        return false;
    }
    match (a, b) {
        (Json::Number(x), Json::Number(y)) => match (json_num(x), json_num(y)) {
            (Some(x), Some(y)) => {
                if equiv {
                    dec_equiv(x, y)
                } else {
                    x == y
                }
            }
            _ => x.as_str() == y.as_str(),
        },
        (Json::String(x), Json::String(y)) => {
            if equiv {
                x == y || normalize_ws_lower(x) == normalize_ws_lower(y)
            } else {
                x == y
            }
        }
        (Json::Array(x), Json::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_eq(p, q, depth + 1, equiv))
        }
        (Json::Object(x), Json::Object(y)) => {
            if equiv {
                // ignore id when checking equivalence
                let kx = x.keys().filter(|k| k.as_str() != "id").count();
                let ky = y.keys().filter(|k| k.as_str() != "id").count();
                kx == ky
                    && x.iter()
                        .filter(|(k, _)| k.as_str() != "id")
                        .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w, depth + 1, equiv)))
            } else {
                x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w, depth + 1, equiv)))
            }
        }
        _ => a == b,
    }
}

/// FHIRPath `=` on two items; `None` means empty (uncertain).
pub(super) fn item_eq(a: &Item<'_>, b: &Item<'_>) -> Option<bool> {
    // a primitive that only has extensions has no value to compare
    let valueless = |i: &Item<'_>| matches!(i, Item::Node(n) if n.json.is_none() && n.ext.is_some());
    if valueless(a) || valueless(b) {
        return None;
    }
    if let (Item::Node(x), Item::Node(y)) = (a, b) {
        if let (Some(p), Some(q)) = (x.json, y.json)
            && std::ptr::eq(p, q)
        {
            return Some(true);
        }
        if let (Some(p @ Json::Object(_)), Some(q @ Json::Object(_))) = (x.json, y.json) {
            return Some(json_eq(p, q, 0, false));
        }
    }
    match (a.scalar(), b.scalar()) {
        (Some(x), Some(y)) => scalar_eq(&x, &y),
        (None, None) => match (a, b) {
            (
                Item::Value(Value::TypeInfo { namespace: n1, name: a1 }),
                Item::Value(Value::TypeInfo { namespace: n2, name: a2 }),
            ) => Some(n1 == n2 && a1 == a2),
            (Item::Node(x), Item::Node(y)) => {
                Some(x.json.is_none() && y.json.is_none() && x.ty == y.ty && x.ext == y.ext)
            }
            _ => Some(false),
        },
        _ => Some(false),
    }
}

/// FHIRPath `~` on two items.
pub(super) fn item_equiv(a: &Item<'_>, b: &Item<'_>) -> bool {
    if let (Item::Node(x), Item::Node(y)) = (a, b)
        && let (Some(p @ Json::Object(_)), Some(q @ Json::Object(_))) = (x.json, y.json)
    {
        if std::ptr::eq(p, q) {
            return true;
        }
        return json_eq(p, q, 0, true);
    }
    match (a.scalar(), b.scalar()) {
        (Some(x), Some(y)) => scalar_equiv(&x, &y),
        (None, None) => item_eq(a, b) == Some(true),
        _ => false,
    }
}

/// Equality used for set operations (union, distinct, ...): uncertain counts as different.
pub(super) fn same(a: &Item<'_>, b: &Item<'_>) -> bool {
    item_eq(a, b) == Some(true)
}

/// Ordering for `<`, `>`, `<=`, `>=`. `Ok(None)` = empty (uncertain / incommensurable units).
pub(super) fn compare(a: &Item<'_>, b: &Item<'_>) -> Result<Option<Ordering>> {
    let (Some(x), Some(y)) = (a.scalar(), b.scalar()) else {
        return Err(Error::eval("cannot compare non-primitive values"));
    };
    scalar_cmp(&x, &y)
}

fn scalar_cmp(a: &Scalar<'_>, b: &Scalar<'_>) -> Result<Option<Ordering>> {
    use Scalar::*;
    Ok(match (a, b) {
        (Int(x), Int(y)) => Some(x.cmp(y)),
        (Int(_) | Dec(_), Int(_) | Dec(_)) => dec_of(a).zip(dec_of(b)).map(|(x, y)| x.cmp(&y)),
        (Str(x), Str(y)) => Some(x.cmp(y)),
        (Date(_) | DateTime(_), Date(_) | DateTime(_)) => {
            let (Some(x), Some(y)) = (datelike(a), datelike(b)) else {
                return Ok(None);
            };
            x.compare(&y)
        }
        (Time(x), Time(y)) => x.compare(y),
        (Qty(av, au, ac), Qty(bv, bu, bc)) => qty_canonical(*av, au, *ac, *bv, bu, *bc).map(|(x, y)| x.cmp(&y)),
        (Str(s), other @ (Date(_) | DateTime(_) | Time(_))) => match coerce_str(s, other) {
            Some(c) => return scalar_cmp(&c, other),
            None => return Err(Error::eval("cannot compare string with date/time")),
        },
        (other @ (Date(_) | DateTime(_) | Time(_)), Str(s)) => match coerce_str(s, other) {
            Some(c) => return scalar_cmp(other, &c),
            None => return Err(Error::eval("cannot compare string with date/time")),
        },
        (Bool(x), Bool(y)) => Some(x.cmp(y)),
        _ => return Err(Error::eval("cannot compare values of different types")),
    })
}

fn calendar_unit_for_arith(unit: &str, calendar: bool) -> Result<CalendarUnit> {
    if calendar {
        return CalendarUnit::from_word(unit).ok_or_else(|| Error::eval("invalid calendar unit"));
    }
    CalendarUnit::from_ucum_for_arithmetic(unit)
        .or_else(|| CalendarUnit::from_word(unit))
        .ok_or_else(|| Error::eval(format!("unit '{unit}' cannot be used in date/time arithmetic")))
}

fn qty_value(v: Decimal, unit: &str, cal: bool) -> Value {
    Value::Quantity(Box::new(Quantity { value: v, unit: Arc::from(unit), calendar: cal }))
}

/// Resolves a calendar keyword unit into UCUM for multiplication/division.
fn ucum_of(unit: &str, cal: bool) -> Result<String> {
    if cal {
        let c = CalendarUnit::from_word(unit).ok_or_else(|| Error::eval("invalid unit"))?;
        return c
            .ucum_equivalent()
            .map(str::to_string)
            .ok_or_else(|| Error::eval("calendar years/months cannot be multiplied"));
    }
    Ok(unit.to_string())
}

fn unit_product(a: &str, b: &str, div: bool) -> String {
    let wrap = |u: &str| {
        if u.contains(['/', '.']) { format!("({u})") } else { u.to_string() }
    };
    match (a, b, div) {
        (a, b, true) if a == b => "1".to_string(),
        ("1", b, false) => b.to_string(),
        (a, "1", _) => a.to_string(),
        ("1", b, true) => format!("/{}", wrap(b)),
        (a, b, false) => format!("{}.{}", wrap(a), wrap(b)),
        (a, b, true) => format!("{}/{}", wrap(a), wrap(b)),
    }
}

fn int_overflow() -> Error {
    Error::eval("integer overflow")
}

/// Arithmetic on two singleton items. `Ok(None)` = empty result (e.g. division by zero).
pub(super) fn arith(op: super::ast::BinOp, a: &Item<'_>, b: &Item<'_>) -> Result<Option<Value>> {
    use super::ast::BinOp::*;
    use Scalar::*;
    let (Some(x), Some(y)) = (a.scalar(), b.scalar()) else {
        return Err(Error::eval("arithmetic on non-primitive values"));
    };
    let dec_err = || Error::eval("decimal overflow");
    Ok(match (op, &x, &y) {
        (Add, Int(p), Int(q)) => Some(Value::Integer(p.checked_add(*q).ok_or_else(int_overflow)?)),
        (Sub, Int(p), Int(q)) => Some(Value::Integer(p.checked_sub(*q).ok_or_else(int_overflow)?)),
        (Mul, Int(p), Int(q)) => Some(Value::Integer(p.checked_mul(*q).ok_or_else(int_overflow)?)),
        (Div, Int(_) | Dec(_), Int(_) | Dec(_)) => {
            let (p, q) = (dec_of(&x).unwrap_or_default(), dec_of(&y).unwrap_or_default());
            if q.is_zero() { None } else { Some(Value::Decimal(p.checked_div(q).ok_or_else(dec_err)?)) }
        }
        (IntDiv, Int(p), Int(q)) => {
            if *q == 0 {
                None
            } else {
                Some(Value::Integer(p.checked_div(*q).ok_or_else(int_overflow)?))
            }
        }
        (Mod, Int(p), Int(q)) => {
            if *q == 0 {
                None
            } else {
                Some(Value::Integer(p.checked_rem(*q).ok_or_else(int_overflow)?))
            }
        }
        (Add | Sub | Mul | IntDiv | Mod, Int(_) | Dec(_), Int(_) | Dec(_)) => {
            let (p, q) = (dec_of(&x).unwrap_or_default(), dec_of(&y).unwrap_or_default());
            match op {
                Add => Some(Value::Decimal(p.checked_add(q).ok_or_else(dec_err)?)),
                Sub => Some(Value::Decimal(p.checked_sub(q).ok_or_else(dec_err)?)),
                Mul => Some(Value::Decimal(p.checked_mul(q).ok_or_else(dec_err)?)),
                IntDiv => {
                    if q.is_zero() {
                        None
                    } else {
                        let r = p.checked_div(q).ok_or_else(dec_err)?.trunc();
                        Some(Value::Integer(i64::try_from(r).map_err(|_| int_overflow())?))
                    }
                }
                _ => {
                    if q.is_zero() {
                        None
                    } else {
                        Some(Value::Decimal(p.checked_rem(q).ok_or_else(dec_err)?))
                    }
                }
            }
        }
        (Add, Str(p), Str(q)) => Some(Value::String(Arc::from(format!("{p}{q}").as_str()))),
        (Add | Sub, Qty(av, au, ac), Qty(bv, bu, bc)) => {
            let bv2 = if au == bu && ac == bc {
                *bv
            } else if *ac || *bc {
                let (ca, cb) = qty_canonical(Decimal::ONE, au, *ac, *bv, bu, *bc)
                    .ok_or_else(|| Error::eval("incompatible quantity units"))?;
                cb.checked_div(ca).ok_or_else(dec_err)?
            } else {
                let f = ucum::conversion_factor(bu, au).ok_or_else(|| Error::eval("incompatible quantity units"))?;
                bv.checked_mul(f).ok_or_else(dec_err)?
            };
            let v = if op == Add { av.checked_add(bv2) } else { av.checked_sub(bv2) }.ok_or_else(dec_err)?;
            Some(qty_value(v, au, *ac))
        }
        (Mul, Qty(av, au, ac), Qty(bv, bu, bc)) => {
            let u = unit_product(&ucum_of(au, *ac)?, &ucum_of(bu, *bc)?, false);
            Some(qty_value(av.checked_mul(*bv).ok_or_else(dec_err)?, &u, false))
        }
        (Div, Qty(av, au, ac), Qty(bv, bu, bc)) => {
            if bv.is_zero() {
                return Ok(None);
            }
            let u = unit_product(&ucum_of(au, *ac)?, &ucum_of(bu, *bc)?, true);
            Some(qty_value(av.checked_div(*bv).ok_or_else(dec_err)?, &u, false))
        }
        (Mul, Qty(av, au, ac), Int(_) | Dec(_)) | (Mul, Int(_) | Dec(_), Qty(av, au, ac)) => {
            let n = dec_of(&x).or_else(|| dec_of(&y)).unwrap_or_default();
            Some(qty_value(av.checked_mul(n).ok_or_else(dec_err)?, au, *ac))
        }
        (Div, Qty(av, au, ac), Int(_) | Dec(_)) => {
            let n = dec_of(&y).unwrap_or_default();
            if n.is_zero() {
                return Ok(None);
            }
            Some(qty_value(av.checked_div(n).ok_or_else(dec_err)?, au, *ac))
        }
        (Add | Sub, Date(d) | DateTime(d), Qty(v, u, cal)) => {
            let cu = calendar_unit_for_arith(u, *cal)?;
            let n = i64::try_from(v.trunc()).map_err(|_| int_overflow())?;
            let n = if op == Sub { -n } else { n };
            let r = d.add(n, cu).ok_or_else(|| Error::eval("date arithmetic out of range"))?;
            Some(if matches!(x, Date(_)) { Value::Date(r) } else { Value::DateTime(r) })
        }
        (Add | Sub, Time(t), Qty(v, u, cal)) => {
            let cu = calendar_unit_for_arith(u, *cal)?;
            let n = i64::try_from(v.trunc()).map_err(|_| int_overflow())?;
            let n = if op == Sub { -n } else { n };
            Some(Value::Time(t.add(n, cu).ok_or_else(|| Error::eval("invalid time arithmetic"))?))
        }
        _ => {
            return Err(Error::eval(format!(
                "operator {op:?} not defined for {} and {}",
                scalar_type(&x),
                scalar_type(&y)
            )));
        }
    })
}

pub(super) fn scalar_type(s: &Scalar<'_>) -> &'static str {
    match s {
        Scalar::Bool(_) => "Boolean",
        Scalar::Str(_) => "String",
        Scalar::Int(_) => "Integer",
        Scalar::Dec(_) => "Decimal",
        Scalar::Date(_) => "Date",
        Scalar::DateTime(_) => "DateTime",
        Scalar::Time(_) => "Time",
        Scalar::Qty(..) => "Quantity",
    }
}

/// Converts quantity `(v, unit)` to `target` unit, if commensurable.
pub(super) fn convert_quantity(v: Decimal, unit: &str, cal: bool, target: &str) -> Option<Decimal> {
    let tcal = CalendarUnit::from_word(target).is_some();
    let (ca, cb) = qty_canonical(v, unit, cal, Decimal::ONE, target, tcal)?;
    ca.checked_div(cb)
}

/// Whether two quantity units are comparable.
pub(super) fn units_comparable(au: &str, ac: bool, bu: &str, bc: bool) -> bool {
    qty_canonical(Decimal::ONE, au, ac, Decimal::ONE, bu, bc).is_some()
}
