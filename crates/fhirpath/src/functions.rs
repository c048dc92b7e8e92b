//! The FHIRPath function library.

use super::ast::{Call, Expr, Func, Name};
use super::datetime::{DateTimeValue, Precision, TimeValue};
use super::error::{Error, Result};
use super::eval::{Ctx, Scope, distinct, singleton, to_bool};
use super::model::{is_subtype, starts_upper};
use super::nav::{self, MAX_ITEMS};
use super::ops::{self, round_half_up};
use super::parser::compile_regex;
use super::value::{Collection, Item, Quantity, Scalar, Value, parse_decimal};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde_json::Value as Json;
use std::cmp::Ordering;
use std::sync::Arc;

fn b<'a>(v: bool) -> Collection<'a> {
    vec![Item::boolean(v)]
}
fn one<'a>(v: Value) -> Collection<'a> {
    vec![Item::Value(v)]
}
fn s_val(s: &str) -> Value {
    Value::String(Arc::from(s))
}

/// Arguments of one function call, with helpers to evaluate them.
struct Args<'c, 'a, 'e> {
    cx: &'c Ctx<'a, 'e>,
    c: &'c Call,
    focus: &'c [Item<'a>],
    sc: &'c Scope<'c, 'a>,
}

impl<'a> Args<'_, 'a, '_> {
    /// Evaluates argument `i` in the caller's scope.
    fn arg(&self, i: usize) -> Result<Collection<'a>> {
        match self.c.args.get(i) {
            Some(e) => self.cx.eval(e, self.focus, self.sc),
            None => Ok(Vec::new()),
        }
    }
    /// Evaluates argument `i` for one item ($this = item, $index = position).
    fn per_item(&self, i: usize, idx: usize, it: &Item<'a>) -> Result<Collection<'a>> {
        let Some(e) = self.c.args.get(i) else {
            return Ok(Vec::new());
        };
        let scope = Scope { index: Some(idx as i64), total: self.sc.total };
        self.cx.eval(e, std::slice::from_ref(it), &scope)
    }
}

/// Evaluates a function call. The function groups live in separate non-inlined functions
/// so that the stack frame on the (recursive) evaluation path stays small.
pub(super) fn call<'a>(cx: &Ctx<'a, '_>, c: &Call, focus: &[Item<'a>], sc: &Scope<'_, 'a>) -> Result<Collection<'a>> {
    let owned;
    let input: &[Item<'a>] = match &c.target {
        Some(t) => {
            owned = cx.eval(t, focus, sc)?;
            &owned
        }
        None => focus,
    };
    let a = Args { cx, c, focus, sc };
    use Func::*;
    match c.func {
        ToBoolean | ConvertsToBoolean | ToInteger | ConvertsToInteger | ToLong | ConvertsToLong | ToDecimal
        | ConvertsToDecimal | ToDate | ConvertsToDate | ToDateTime | ConvertsToDateTime | ToTime | ConvertsToTime
        | ToString | ConvertsToString | ToQuantity | ConvertsToQuantity => conversion_fn(&a, input),
        IndexOf | LastIndexOf | StartsWith | EndsWith | Contains | Substring | Upper | Lower | Trim | Length
        | ToChars | Replace | Matches | MatchesFull | ReplaceMatches | Split | Join | Encode | Decode | Escape
        | Unescape => string_fn(&a, input),
        Abs | Ceiling | Floor | Truncate | Exp | Ln | Sqrt | Round | Log | Power => math(cx, c, input, &|i| a.arg(i)),
        Children | Descendants | Trace | Now | Today | TimeOfDay | Aggregate | Extension | Resolve | HasValue
        | GetValue | MemberOf | Subsumes | SubsumedBy | ConformsTo | HtmlChecks | HtmlChecks2 | Not | Type | Sort
        | LowBoundary | HighBoundary | Precision | Comparable | ElementDefinition | Slice | CheckModifiers => {
            misc_fn(&a, input)
        }
        _ => core_fn(&a, input),
    }
}

/// Existence, filtering, subsetting, combining, iif.
#[inline(never)]
fn core_fn<'a>(a: &Args<'_, 'a, '_>, input: &[Item<'a>]) -> Result<Collection<'a>> {
    let (cx, c, focus, sc) = (a.cx, a.c, a.focus, a.sc);
    let _ = (cx, focus, sc);
    let arg = |i: usize| a.arg(i);
    let per_item = |i: usize, idx: usize, it: &Item<'a>| a.per_item(i, idx, it);
    let _ = (&arg, &per_item);
    use Func::*;
    match c.func {
        Empty => Ok(b(input.is_empty())),
        Exists => {
            if c.args.is_empty() {
                return Ok(b(!input.is_empty()));
            }
            for (i, it) in input.iter().enumerate() {
                if to_bool(&per_item(0, i, it)?)? == Some(true) {
                    return Ok(b(true));
                }
            }
            Ok(b(false))
        }
        All => {
            for (i, it) in input.iter().enumerate() {
                if to_bool(&per_item(0, i, it)?)? != Some(true) {
                    return Ok(b(false));
                }
            }
            Ok(b(true))
        }
        AllTrue | AnyTrue | AllFalse | AnyFalse => {
            let mut vals = Vec::with_capacity(input.len());
            for it in input {
                match it.scalar() {
                    Some(Scalar::Bool(v)) => vals.push(v),
                    _ => {
                        return Err(Error::eval(format!("{}() requires booleans", c.func.name())));
                    }
                }
            }
            Ok(b(match c.func {
                AllTrue => vals.iter().all(|v| *v),
                AnyTrue => vals.iter().any(|v| *v),
                AllFalse => vals.iter().all(|v| !*v),
                _ => vals.iter().any(|v| !*v),
            }))
        }
        SubsetOf => {
            let other = arg(0)?;
            Ok(b(input.iter().all(|x| other.iter().any(|y| ops::same(x, y)))))
        }
        SupersetOf => {
            let other = arg(0)?;
            Ok(b(other.iter().all(|x| input.iter().any(|y| ops::same(x, y)))))
        }
        Count => Ok(vec![Item::integer(input.len() as i64)]),
        Distinct => Ok(distinct(input.to_vec())),
        IsDistinct => Ok(b(distinct(input.to_vec()).len() == input.len())),
        Where => {
            let mut out = Vec::new();
            for (i, it) in input.iter().enumerate() {
                if to_bool(&per_item(0, i, it)?)? == Some(true) {
                    out.push(it.clone());
                }
            }
            Ok(out)
        }
        Select => {
            let mut out = Vec::new();
            for (i, it) in input.iter().enumerate() {
                out.extend(per_item(0, i, it)?);
                if out.len() > MAX_ITEMS {
                    return Err(Error::eval("select(): too many items"));
                }
            }
            Ok(out)
        }
        Repeat | RepeatAll => {
            let mut out: Collection<'a> = Vec::new();
            let mut current: Collection<'a> = input.to_vec();
            while !current.is_empty() {
                let mut next = Vec::new();
                for (i, it) in current.iter().enumerate() {
                    for x in per_item(0, i, it)? {
                        if c.func == RepeatAll || !out.iter().any(|o| ops::same(o, &x)) {
                            out.push(x.clone());
                            next.push(x);
                        }
                    }
                    if out.len() > MAX_ITEMS {
                        return Err(Error::eval("repeat(): too many items"));
                    }
                }
                current = next;
            }
            Ok(out)
        }
        OfType => {
            let ts = c.type_arg.as_ref().ok_or_else(|| Error::eval("ofType() needs a type"))?;
            let mut out = Vec::new();
            for it in input {
                if cx.is_type(it, ts, true)? {
                    out.push(it.clone());
                }
            }
            Ok(out)
        }
        Is => {
            let ts = c.type_arg.as_ref().ok_or_else(|| Error::eval("is() needs a type"))?;
            match singleton(input)? {
                None => Ok(Vec::new()),
                Some(it) => Ok(b(cx.is_type(it, ts, false)?)),
            }
        }
        As => {
            let ts = c.type_arg.as_ref().ok_or_else(|| Error::eval("as() needs a type"))?;
            match singleton(input)? {
                Some(it) if cx.is_type(it, ts, true)? => Ok(vec![it.clone()]),
                _ => Ok(Vec::new()),
            }
        }
        Single => Ok(singleton(input)?.cloned().into_iter().collect()),
        First => Ok(input.first().cloned().into_iter().collect()),
        Last => Ok(input.last().cloned().into_iter().collect()),
        Tail => Ok(input.iter().skip(1).cloned().collect()),
        Skip | Take => {
            let Some(n) = cx.singleton_integer(&arg(0)?)? else {
                return Ok(Vec::new());
            };
            let n = usize::try_from(n.max(0)).unwrap_or(0);
            Ok(if c.func == Skip {
                input.iter().skip(n).cloned().collect()
            } else {
                input.iter().take(n).cloned().collect()
            })
        }
        Intersect => {
            let other = arg(0)?;
            let mut out: Collection<'a> = Vec::new();
            for x in input {
                if other.iter().any(|y| ops::same(x, y)) && !out.iter().any(|o| ops::same(o, x)) {
                    out.push(x.clone());
                }
            }
            Ok(out)
        }
        Exclude => {
            let other = arg(0)?;
            Ok(input.iter().filter(|x| !other.iter().any(|y| ops::same(x, y))).cloned().collect())
        }
        Union => {
            let mut all = input.to_vec();
            all.extend(arg(0)?);
            Ok(distinct(all))
        }
        Combine => {
            let mut all = input.to_vec();
            all.extend(arg(0)?);
            Ok(all)
        }
        Coalesce => {
            if !input.is_empty() && c.target.is_some() {
                return Ok(input.to_vec());
            }
            for i in 0..c.args.len() {
                let v = arg(i)?;
                if !v.is_empty() {
                    return Ok(v);
                }
            }
            Ok(Vec::new())
        }
        Iif => {
            if input.len() > 1 {
                return Err(Error::eval("iif() requires at most one input item"));
            }
            let f: &[Item<'a>] = if c.target.is_some() { input } else { focus };
            let ev = |i: usize| -> Result<Collection<'a>> {
                match c.args.get(i) {
                    Some(e) => cx.eval(e, f, sc),
                    None => Ok(Vec::new()),
                }
            };
            let crit = ev(0)?;
            let cond = match singleton(&crit)? {
                None => false,
                Some(it) => match it.scalar() {
                    Some(Scalar::Bool(v)) => v,
                    _ => return Err(Error::eval("iif() criterion must be a boolean")),
                },
            };
            if cond { ev(1) } else { ev(2) }
        }
        _ => Err(Error::eval("internal: function dispatched to the wrong group")),
    }
}

/// toX() / convertsToX().
#[inline(never)]
fn conversion_fn<'a>(a: &Args<'_, 'a, '_>, input: &[Item<'a>]) -> Result<Collection<'a>> {
    let (cx, c, focus, sc) = (a.cx, a.c, a.focus, a.sc);
    let _ = (cx, focus, sc);
    let arg = |i: usize| a.arg(i);
    let per_item = |i: usize, idx: usize, it: &Item<'a>| a.per_item(i, idx, it);
    let _ = (&arg, &per_item);
    use Func::*;
    match c.func {
        ToBoolean | ConvertsToBoolean => conv(c.func == ToBoolean, input, |s| to_boolean(s).map(Value::Boolean)),
        ToInteger | ConvertsToInteger | ToLong | ConvertsToLong => {
            conv(matches!(c.func, ToInteger | ToLong), input, |s| to_integer(s).map(Value::Integer))
        }
        ToDecimal | ConvertsToDecimal => conv(c.func == ToDecimal, input, |s| to_decimal(s).map(Value::Decimal)),
        ToDate | ConvertsToDate => conv(c.func == ToDate, input, to_date),
        ToDateTime | ConvertsToDateTime => conv(c.func == ToDateTime, input, to_datetime),
        ToTime | ConvertsToTime => conv(c.func == ToTime, input, to_time),
        ToString | ConvertsToString => conv(c.func == ToString, input, |s| Some(s_val(&scalar_to_string(s)))),
        ToQuantity | ConvertsToQuantity => {
            let unit = match c.args.first() {
                Some(_) => match singleton(&arg(0)?)? {
                    Some(u) => Some(u.as_str().ok_or_else(|| Error::eval("unit must be a string"))?.to_string()),
                    None => None,
                },
                None => None,
            };
            conv(c.func == ToQuantity, input, |s| {
                let q = to_quantity(s)?;
                match &unit {
                    None => Some(Value::Quantity(Box::new(q))),
                    Some(u) => {
                        let v = ops::convert_quantity(q.value, &q.unit, q.calendar, u)?;
                        let cal = super::datetime::CalendarUnit::from_word(u).is_some();
                        Some(Value::Quantity(Box::new(Quantity {
                            value: v,
                            unit: Arc::from(u.as_str()),
                            calendar: cal,
                        })))
                    }
                }
            })
        }
        _ => Err(Error::eval("internal: function dispatched to the wrong group")),
    }
}

/// String functions.
#[inline(never)]
fn string_fn<'a>(a: &Args<'_, 'a, '_>, input: &[Item<'a>]) -> Result<Collection<'a>> {
    let (cx, c, focus, sc) = (a.cx, a.c, a.focus, a.sc);
    let _ = (cx, focus, sc);
    let arg = |i: usize| a.arg(i);
    let per_item = |i: usize, idx: usize, it: &Item<'a>| a.per_item(i, idx, it);
    let _ = (&arg, &per_item);
    use Func::*;
    match c.func {
        IndexOf | LastIndexOf | StartsWith | EndsWith | Contains => {
            let Some(s) = string_input(input)? else {
                return Ok(Vec::new());
            };
            let Some(sub) = string_arg(&arg(0)?)? else {
                return Ok(Vec::new());
            };
            Ok(match c.func {
                IndexOf => vec![Item::integer(s.find(&sub).map_or(-1, |i| char_index(&s, i)))],
                LastIndexOf => vec![Item::integer(s.rfind(&sub).map_or(-1, |i| char_index(&s, i)))],
                StartsWith => b(s.starts_with(&sub)),
                EndsWith => b(s.ends_with(&sub)),
                _ => b(s.contains(&sub)),
            })
        }
        Substring => {
            let Some(s) = string_input(input)? else {
                return Ok(Vec::new());
            };
            let Some(start) = cx.singleton_integer(&arg(0)?)? else {
                return Ok(Vec::new());
            };
            let len = if c.args.len() > 1 { cx.singleton_integer(&arg(1)?)? } else { None };
            let n = s.chars().count() as i64;
            if start < 0 || start >= n {
                return Ok(Vec::new());
            }
            let take = len.map_or(n - start, |l| l.max(0).min(n - start));
            let r: String = s.chars().skip(start as usize).take(take as usize).collect();
            Ok(one(s_val(&r)))
        }
        Upper | Lower | Trim | Length | ToChars => {
            let Some(s) = string_input(input)? else {
                return Ok(Vec::new());
            };
            Ok(match c.func {
                Upper => one(s_val(&s.to_uppercase())),
                Lower => one(s_val(&s.to_lowercase())),
                Trim => one(s_val(s.trim())),
                Length => vec![Item::integer(s.chars().count() as i64)],
                _ => s.chars().map(|ch| Item::string(ch.encode_utf8(&mut [0u8; 4]))).collect(),
            })
        }
        Replace => {
            let Some(s) = string_input(input)? else {
                return Ok(Vec::new());
            };
            let Some(pat) = string_arg(&arg(0)?)? else {
                return Ok(Vec::new());
            };
            let Some(rep) = string_arg(&arg(1)?)? else {
                return Ok(Vec::new());
            };
            Ok(one(s_val(&s.replace(&pat, &rep))))
        }
        Matches | MatchesFull => {
            let Some(s) = string_input(input)? else {
                return Ok(Vec::new());
            };
            let Some(pat) = string_arg(&arg(0)?)? else {
                return Ok(Vec::new());
            };
            let re = match &c.regex {
                Some(r) => r.clone(),
                None => compile_regex(&pat, c.func == MatchesFull).map_err(Error::eval)?,
            };
            Ok(b(re.is_match(&s)))
        }
        ReplaceMatches => {
            let Some(s) = string_input(input)? else {
                return Ok(Vec::new());
            };
            let Some(pat) = string_arg(&arg(0)?)? else {
                return Ok(Vec::new());
            };
            let Some(rep) = string_arg(&arg(1)?)? else {
                return Ok(Vec::new());
            };
            if pat.is_empty() {
                return Ok(one(s_val(&s)));
            }
            let re = match &c.regex {
                Some(r) => r.clone(),
                None => compile_regex(&pat, false).map_err(Error::eval)?,
            };
            Ok(one(s_val(&re.replace_all(&s, rep.as_str()))))
        }
        Split => {
            let Some(s) = string_input(input)? else {
                return Ok(Vec::new());
            };
            let Some(sep) = string_arg(&arg(0)?)? else {
                return Ok(Vec::new());
            };
            if sep.is_empty() {
                return Ok(s.chars().map(|ch| Item::string(ch.encode_utf8(&mut [0u8; 4]))).collect());
            }
            Ok(s.split(sep.as_str()).map(Item::string).collect())
        }
        Join => {
            let sep = if c.args.is_empty() { Some(String::new()) } else { string_arg(&arg(0)?)? };
            let sep = sep.unwrap_or_default();
            let mut parts = Vec::with_capacity(input.len());
            for it in input {
                parts.push(it.as_str().ok_or_else(|| Error::eval("join() requires strings"))?.to_string());
            }
            Ok(one(s_val(&parts.join(&sep))))
        }
        Encode | Decode | Escape | Unescape => {
            let Some(s) = string_input(input)? else {
                return Ok(Vec::new());
            };
            let Some(fmt) = string_arg(&arg(0)?)? else {
                return Ok(Vec::new());
            };
            let r = match c.func {
                Encode => super::text::encode(&s, &fmt),
                Decode => super::text::decode(&s, &fmt),
                Escape => super::text::escape(&s, &fmt),
                _ => super::text::unescape(&s, &fmt),
            };
            Ok(r.map(|x| one(s_val(&x))).unwrap_or_default())
        }
        _ => Err(Error::eval("internal: function dispatched to the wrong group")),
    }
}

/// Tree navigation, utility, FHIR-specific and boundary functions.
#[inline(never)]
fn misc_fn<'a>(a: &Args<'_, 'a, '_>, input: &[Item<'a>]) -> Result<Collection<'a>> {
    let (cx, c, focus, sc) = (a.cx, a.c, a.focus, a.sc);
    let _ = (cx, focus, sc);
    let arg = |i: usize| a.arg(i);
    let per_item = |i: usize, idx: usize, it: &Item<'a>| a.per_item(i, idx, it);
    let _ = (&arg, &per_item);
    use Func::*;
    match c.func {
        Children => {
            let mut out = Vec::new();
            for it in input {
                nav::children(cx.model, it, &mut out);
            }
            Ok(out)
        }
        Descendants => nav::descendants(cx.model, input),
        Trace => {
            let name = string_arg(&arg(0)?)?.unwrap_or_default();
            if c.args.len() > 1 {
                let mut proj = Vec::new();
                for (i, it) in input.iter().enumerate() {
                    proj.extend(per_item(1, i, it)?);
                }
                cx.trace(&name, &proj);
            } else {
                cx.trace(&name, input);
            }
            Ok(input.to_vec())
        }
        Now => Ok(one(Value::DateTime(cx.now()))),
        Today => Ok(one(Value::Date(cx.now().to_date()))),
        TimeOfDay => {
            let n = cx.now();
            Ok(one(Value::Time(TimeValue {
                hour: n.hour,
                minute: n.minute,
                second: n.second,
                millis: n.millis,
                precision: super::datetime::Precision::Millisecond,
            })))
        }
        Aggregate => {
            let mut total = if c.args.len() > 1 { arg(1)? } else { Vec::new() };
            let Some(e) = c.args.first() else {
                return Ok(total);
            };
            for (i, it) in input.iter().enumerate() {
                let scope = Scope { index: Some(i as i64), total: Some(&total) };
                let next = cx.eval(e, std::slice::from_ref(it), &scope)?;
                total = next;
            }
            Ok(total)
        }
        Extension => {
            let Some(url) = string_arg(&arg(0)?)? else {
                return Ok(Vec::new());
            };
            let name = Name::new("extension");
            let mut exts = Vec::new();
            for it in input {
                nav::member(cx.model, false, it, &name, &mut exts)?;
            }
            Ok(exts
                .into_iter()
                .filter(|e| {
                    e.as_node().and_then(|n| n.json).and_then(|j| j.get("url")).and_then(Json::as_str)
                        == Some(url.as_str())
                })
                .collect())
        }
        Resolve => {
            let mut bundles: Vec<&'a Json> = Vec::with_capacity(2);
            if let Some(r) = cx.root_resource {
                bundles.push(r);
            }
            if let Some(r) = cx.resource
                && !bundles.iter().any(|x| std::ptr::eq(*x, r))
            {
                bundles.push(r);
            }
            Ok(super::resolve::resolve(cx.model, cx.env.resolver, &cx.env.arena, &bundles, input))
        }
        HasValue => Ok(b(match input {
            [Item::Node(n)] => n.json.is_some_and(|j| !j.is_object() && !j.is_array()),
            [Item::Value(v)] => !matches!(v, Value::TypeInfo { .. }),
            _ => false,
        })),
        GetValue => Ok(match input {
            [it @ Item::Node(n)] if n.json.is_some_and(|j| !j.is_object() && !j.is_array()) => {
                it.to_value().map(one).unwrap_or_default()
            }
            _ => Vec::new(),
        }),
        MemberOf | Subsumes | SubsumedBy => {
            let Some(it) = singleton(input)? else {
                return Ok(Vec::new());
            };
            let Some(t) = cx.env.terminology else {
                return Ok(Vec::new());
            };
            let code = item_json(it);
            let r = match c.func {
                MemberOf => {
                    let Some(vs) = string_arg(&arg(0)?)? else {
                        return Ok(Vec::new());
                    };
                    t.member_of(&code, &vs)
                }
                _ => {
                    let other = arg(0)?;
                    let Some(o) = singleton(&other)? else {
                        return Ok(Vec::new());
                    };
                    let oj = item_json(o);
                    if c.func == Subsumes { t.subsumes(&code, &oj) } else { t.subsumes(&oj, &code) }
                }
            };
            Ok(r.map(b).unwrap_or_default())
        }
        ConformsTo => {
            let Some(it) = singleton(input)? else {
                return Ok(Vec::new());
            };
            let Some(url) = string_arg(&arg(0)?)? else {
                return Ok(Vec::new());
            };
            if let Some(p) = cx.env.profiles {
                let j = item_json(it);
                return match p.conforms_to(&j, &url) {
                    Ok(r) => Ok(r.map(b).unwrap_or_default()),
                    Err(e) => Err(Error::eval(e)),
                };
            }
            let Some(t) = url.strip_prefix("http://hl7.org/fhir/StructureDefinition/") else {
                return Err(Error::eval(format!("unknown profile '{url}'")));
            };
            let known = match cx.model {
                Some(m) => m.is_known_type(t),
                None => starts_upper(t),
            };
            if !known {
                return Err(Error::eval(format!("unknown profile '{url}'")));
            }
            let ty = it.as_node().and_then(|n| n.ty);
            Ok(b(ty.is_some_and(|x| is_subtype(cx.model, x, t))))
        }
        HtmlChecks | HtmlChecks2 => Ok(b(true)),
        Not => Ok(to_bool(input)?.map(|v| b(!v)).unwrap_or_default()),
        Type => Ok(input.iter().map(|it| Item::Value(type_info(it))).collect()),
        Sort => sort(cx, c, input, sc),
        LowBoundary | HighBoundary => {
            let Some(it) = singleton(input)? else {
                return Ok(Vec::new());
            };
            let p = if c.args.is_empty() { None } else { cx.singleton_integer(&arg(0)?)? };
            Ok(boundary(it, p, c.func == HighBoundary).map(one).unwrap_or_default())
        }
        Precision => {
            let Some(it) = singleton(input)? else {
                return Ok(Vec::new());
            };
            let p = match it.scalar() {
                Some(Scalar::Dec(d)) => Some(i64::from(d.scale())),
                Some(Scalar::Int(_)) => Some(0),
                Some(Scalar::Date(d) | Scalar::DateTime(d)) => Some(d.precision_digits()),
                Some(Scalar::Time(t)) => Some(t.precision_digits()),
                _ => None,
            };
            Ok(p.map(|p| vec![Item::integer(p)]).unwrap_or_default())
        }
        Comparable => {
            let Some(it) = singleton(input)? else {
                return Ok(Vec::new());
            };
            let other = arg(0)?;
            let Some(o) = singleton(&other)? else {
                return Ok(Vec::new());
            };
            match (it.scalar(), o.scalar()) {
                (Some(Scalar::Qty(_, au, ac)), Some(Scalar::Qty(_, bu, bc))) => {
                    Ok(b(ops::units_comparable(au, ac, bu, bc)))
                }
                _ => Err(Error::eval("comparable() requires quantities")),
            }
        }
        ElementDefinition | Slice => Ok(Vec::new()),
        CheckModifiers => Ok(input.to_vec()),
        _ => Err(Error::eval("internal: function dispatched to the wrong group")),
    }
}

fn item_json(it: &Item<'_>) -> Json {
    match it {
        Item::Node(n) => n.json.cloned().unwrap_or(Json::Null),
        Item::Value(_) => super::output::to_json(std::slice::from_ref(it))
            .as_array()
            .and_then(|a| a.first().cloned())
            .unwrap_or(Json::Null),
    }
}

fn type_info(it: &Item<'_>) -> Value {
    match it {
        Item::Value(v) => Value::TypeInfo { namespace: "System", name: Arc::from(v.type_name()) },
        Item::Node(n) => match n.ty {
            Some(t) => Value::TypeInfo { namespace: "FHIR", name: Arc::from(t) },
            None => Value::TypeInfo {
                namespace: "System",
                name: Arc::from(it.to_value().map(|v| v.type_name()).unwrap_or("Any")),
            },
        },
    }
}

fn char_index(s: &str, byte_idx: usize) -> i64 {
    s.get(..byte_idx).map_or(0, |p| p.chars().count() as i64)
}

/// Singleton string input (non-string → error).
fn string_input(input: &[Item<'_>]) -> Result<Option<String>> {
    match singleton(input)? {
        None => Ok(None),
        Some(it) => match it.as_str() {
            Some(s) => Ok(Some(s.to_string())),
            None => Err(Error::eval("expected a string input")),
        },
    }
}

fn string_arg(c: &[Item<'_>]) -> Result<Option<String>> {
    match singleton(c)? {
        None => Ok(None),
        Some(it) => match it.as_str() {
            Some(s) => Ok(Some(s.to_string())),
            None => Err(Error::eval("expected a string argument")),
        },
    }
}

/// Shared logic of toX()/convertsToX().
fn conv<'a>(to: bool, input: &[Item<'a>], f: impl Fn(Scalar<'_>) -> Option<Value>) -> Result<Collection<'a>> {
    let Some(it) = singleton(input)? else {
        return Ok(Vec::new());
    };
    let r = it.scalar().and_then(f);
    Ok(if to { r.map(one).unwrap_or_default() } else { b(r.is_some()) })
}

fn to_boolean(s: Scalar<'_>) -> Option<bool> {
    match s {
        Scalar::Bool(v) => Some(v),
        Scalar::Int(1) => Some(true),
        Scalar::Int(0) => Some(false),
        Scalar::Dec(d) if d == Decimal::ONE => Some(true),
        Scalar::Dec(d) if d.is_zero() => Some(false),
        Scalar::Str(s) => match s.to_ascii_lowercase().as_str() {
            "true" | "t" | "yes" | "y" | "1" | "1.0" => Some(true),
            "false" | "f" | "no" | "n" | "0" | "0.0" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

fn is_int_str(s: &str) -> bool {
    let d = s.strip_prefix(['+', '-']).unwrap_or(s);
    !d.is_empty() && d.bytes().all(|c| c.is_ascii_digit())
}

fn is_dec_str(s: &str) -> bool {
    let d = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (i, f) = match d.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (d, None),
    };
    !i.is_empty()
        && i.bytes().all(|c| c.is_ascii_digit())
        && f.is_none_or(|f| !f.is_empty() && f.bytes().all(|c| c.is_ascii_digit()))
}

fn to_integer(s: Scalar<'_>) -> Option<i64> {
    match s {
        Scalar::Int(i) => Some(i),
        Scalar::Bool(v) => Some(i64::from(v)),
        Scalar::Str(s) if is_int_str(s) => s.parse().ok(),
        _ => None,
    }
}

fn to_decimal(s: Scalar<'_>) -> Option<Decimal> {
    match s {
        Scalar::Int(i) => Some(Decimal::from(i)),
        Scalar::Dec(d) => Some(d),
        Scalar::Bool(v) => Some(if v { Decimal::new(10, 1) } else { Decimal::new(0, 1) }),
        Scalar::Str(s) if is_dec_str(s) => parse_decimal(s),
        _ => None,
    }
}

fn to_date(s: Scalar<'_>) -> Option<Value> {
    match s {
        Scalar::Date(d) => Some(Value::Date(d)),
        Scalar::DateTime(d) => Some(Value::Date(d.to_date())),
        Scalar::Str(s) => DateTimeValue::parse_date(s)
            .or_else(|| DateTimeValue::parse_datetime(s).map(|d| d.to_date()))
            .map(Value::Date),
        _ => None,
    }
}

fn to_datetime(s: Scalar<'_>) -> Option<Value> {
    match s {
        Scalar::Date(d) | Scalar::DateTime(d) => Some(Value::DateTime(d)),
        Scalar::Str(s) => DateTimeValue::parse_datetime(s).map(Value::DateTime),
        _ => None,
    }
}

fn to_time(s: Scalar<'_>) -> Option<Value> {
    match s {
        Scalar::Time(t) => Some(Value::Time(t)),
        Scalar::Str(s) => TimeValue::parse(s.strip_prefix('T').unwrap_or(s)).map(Value::Time),
        _ => None,
    }
}

fn to_quantity(s: Scalar<'_>) -> Option<Quantity> {
    match s {
        Scalar::Int(i) => Some(Quantity::new(Decimal::from(i), "1")),
        Scalar::Dec(d) => Some(Quantity::new(d, "1")),
        Scalar::Bool(v) => Some(Quantity::new(if v { Decimal::new(10, 1) } else { Decimal::new(0, 1) }, "1")),
        Scalar::Qty(v, u, c) => Some(Quantity { value: v, unit: Arc::from(u), calendar: c }),
        Scalar::Str(s) => parse_quantity_string(s),
        _ => None,
    }
}

/// Parses `'10 mg'`-style strings: number, optional whitespace, optional `'ucum'` or
/// calendar keyword.
fn parse_quantity_string(s: &str) -> Option<Quantity> {
    let s = s.trim();
    let end = s
        .char_indices()
        .find(|(i, ch)| !(ch.is_ascii_digit() || *ch == '.' || (*i == 0 && (*ch == '+' || *ch == '-'))))
        .map_or(s.len(), |(i, _)| i);
    let (num, rest) = s.split_at(end);
    if !is_dec_str(num) {
        return None;
    }
    let v = parse_decimal(num)?;
    let rest = rest.trim();
    if rest.is_empty() {
        return Some(Quantity::new(v, "1"));
    }
    if let Some(u) = rest.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')) {
        if u.is_empty() || u.contains('\'') {
            return None;
        }
        return Some(Quantity::new(v, u));
    }
    if super::datetime::CalendarUnit::from_word(rest).is_some() {
        return Some(Quantity { value: v, unit: Arc::from(rest), calendar: true });
    }
    None
}

/// FHIRPath string form of a value.
pub(super) fn scalar_to_string(s: Scalar<'_>) -> String {
    match s {
        Scalar::Bool(v) => v.to_string(),
        Scalar::Str(s) => s.to_string(),
        Scalar::Int(i) => i.to_string(),
        Scalar::Dec(d) => d.to_string(),
        Scalar::Date(d) => d.fmt_date(),
        Scalar::DateTime(d) => d.fmt_datetime(false),
        Scalar::Time(t) => t.to_string(),
        Scalar::Qty(v, u, cal) => {
            if cal {
                format!("{v} {u}")
            } else {
                format!("{v} '{u}'")
            }
        }
    }
}

fn dec_to_f64(d: Decimal) -> Option<f64> {
    d.to_f64()
}

fn f64_to_dec(f: f64) -> Option<Decimal> {
    if !f.is_finite() {
        return None;
    }
    let s = format!("{f:.14e}");
    Decimal::from_scientific(&s).ok().map(|d| d.normalize())
}

fn math<'a>(
    cx: &Ctx<'a, '_>,
    c: &Call,
    input: &[Item<'a>],
    arg: &dyn Fn(usize) -> Result<Collection<'a>>,
) -> Result<Collection<'a>> {
    use Func::*;
    let Some(it) = singleton(input)? else {
        return Ok(Vec::new());
    };
    let sc = it.scalar();
    if let (Abs, Some(Scalar::Qty(v, u, cal))) = (c.func, sc) {
        return Ok(one(Value::Quantity(Box::new(Quantity { value: v.abs(), unit: Arc::from(u), calendar: cal }))));
    }
    let (d, is_int) = match sc {
        Some(Scalar::Int(i)) => (Decimal::from(i), true),
        Some(Scalar::Dec(d)) => (d, false),
        _ => {
            return Err(Error::eval(format!("{}() requires a number", c.func.name())));
        }
    };
    let to_int = |x: Decimal| -> Result<Collection<'a>> {
        Ok(vec![Item::integer(i64::try_from(x).map_err(|_| Error::eval("integer overflow"))?)])
    };
    let float = |x: Option<f64>| -> Collection<'a> {
        x.and_then(f64_to_dec).map(|d| one(Value::Decimal(d))).unwrap_or_default()
    };
    match c.func {
        Abs => Ok(if is_int {
            vec![Item::integer(i64::try_from(d.abs()).unwrap_or(i64::MAX))]
        } else {
            one(Value::Decimal(d.abs()))
        }),
        Ceiling => to_int(d.ceil()),
        Floor => to_int(d.floor()),
        Truncate => to_int(d.trunc()),
        Round => {
            let p = if c.args.is_empty() { Some(0) } else { cx.singleton_integer(&arg(0)?)? };
            let Some(p) = p else { return Ok(Vec::new()) };
            if !(0..=28).contains(&p) {
                return Err(Error::eval("round(): invalid precision"));
            }
            Ok(one(Value::Decimal(round_half_up(d, p as u32))))
        }
        Exp => Ok(float(dec_to_f64(d).map(f64::exp))),
        Ln => Ok(float(dec_to_f64(d).filter(|x| *x > 0.0).map(f64::ln))),
        Sqrt => Ok(float(dec_to_f64(d).filter(|x| *x >= 0.0).map(f64::sqrt))),
        Log => {
            let base = arg(0)?;
            let Some(bs) = singleton(&base)? else {
                return Ok(Vec::new());
            };
            let bv = match bs.scalar() {
                Some(Scalar::Int(i)) => i as f64,
                Some(Scalar::Dec(x)) => dec_to_f64(x).unwrap_or(f64::NAN),
                _ => return Err(Error::eval("log() base must be a number")),
            };
            let x = dec_to_f64(d).unwrap_or(f64::NAN);
            if x <= 0.0 || bv <= 0.0 || bv == 1.0 {
                return Ok(Vec::new());
            }
            let r = if bv == 10.0 {
                x.log10()
            } else if bv == 2.0 {
                x.log2()
            } else {
                x.ln() / bv.ln()
            };
            Ok(float(Some(r)))
        }
        _ => {
            // power
            let e = arg(0)?;
            let Some(es) = singleton(&e)? else {
                return Ok(Vec::new());
            };
            match es.scalar() {
                Some(Scalar::Int(n)) if n >= 0 => {
                    if is_int {
                        let base = i64::try_from(d).unwrap_or(0);
                        let n = u32::try_from(n).map_err(|_| Error::eval("exponent too large"))?;
                        return Ok(base.checked_pow(n).map(|v| vec![Item::integer(v)]).unwrap_or_default());
                    }
                    let mut r = Decimal::ONE;
                    for _ in 0..n.min(1000) {
                        match r.checked_mul(d) {
                            Some(x) => r = x,
                            None => return Ok(Vec::new()),
                        }
                    }
                    Ok(one(Value::Decimal(r)))
                }
                Some(Scalar::Int(n)) => Ok(float(dec_to_f64(d).map(|x| x.powi(n.max(-1000) as i32)))),
                Some(Scalar::Dec(x)) => Ok(float(dec_to_f64(d).zip(dec_to_f64(x)).map(|(p, q)| p.powf(q)))),
                _ => Err(Error::eval("power() exponent must be a number")),
            }
        }
    }
}

fn sort<'a>(cx: &Ctx<'a, '_>, c: &Call, input: &[Item<'a>], sc: &Scope<'_, 'a>) -> Result<Collection<'a>> {
    // keys: (expression, descending)
    let keys: Vec<(&Expr, bool)> = c
        .args
        .iter()
        .map(|e| match e {
            Expr::Neg(inner) => (&**inner, true),
            e => (e, false),
        })
        .collect();
    let mut rows: Vec<(Vec<Option<Item<'a>>>, Item<'a>)> = Vec::with_capacity(input.len());
    for (i, it) in input.iter().enumerate() {
        let mut kv = Vec::with_capacity(keys.len().max(1));
        if keys.is_empty() {
            kv.push(Some(it.clone()));
        }
        for (e, _) in &keys {
            let scope = Scope { index: Some(i as i64), total: sc.total };
            let r = cx.eval(e, std::slice::from_ref(it), &scope)?;
            kv.push(singleton(&r)?.cloned());
        }
        rows.push((kv, it.clone()));
    }
    let mut err = None;
    rows.sort_by(|a, bb| {
        for (k, (x, y)) in a.0.iter().zip(&bb.0).enumerate() {
            let desc = keys.get(k).is_some_and(|k| k.1);
            let o = match (x, y) {
                (None, None) => Ordering::Equal,
                // empty keys sort last ascending (first descending)
                (None, Some(_)) => Ordering::Greater,
                (Some(_), None) => Ordering::Less,
                (Some(x), Some(y)) => match ops::compare(x, y) {
                    Ok(Some(o)) => o,
                    Ok(None) => Ordering::Equal,
                    Err(e) => {
                        err = Some(e);
                        Ordering::Equal
                    }
                },
            };
            let o = if desc { o.reverse() } else { o };
            if o != Ordering::Equal {
                return o;
            }
        }
        Ordering::Equal
    });
    if let Some(e) = err {
        return Err(e);
    }
    Ok(rows.into_iter().map(|r| r.1).collect())
}

/// lowBoundary / highBoundary.
fn boundary(it: &Item<'_>, p: Option<i64>, high: bool) -> Option<Value> {
    match it.scalar()? {
        Scalar::Int(i) => dec_boundary(Decimal::from(i), p.unwrap_or(8), high).map(Value::Decimal),
        Scalar::Dec(d) => dec_boundary(d, p.unwrap_or(8), high).map(Value::Decimal),
        Scalar::Qty(v, u, cal) => dec_boundary(v, p.unwrap_or(8), high)
            .map(|d| Value::Quantity(Box::new(Quantity { value: d, unit: Arc::from(u), calendar: cal }))),
        Scalar::Date(d) => {
            let prec = DateTimeValue::precision_from_digits(p.unwrap_or(8), true)?;
            Some(Value::Date(d.boundary(prec, high, true)))
        }
        Scalar::DateTime(d) => {
            let prec = DateTimeValue::precision_from_digits(p.unwrap_or(17), false)?;
            let mut d = d;
            if d.precision == Precision::Hour {
                d.precision = Precision::Minute;
                d.minute = 0;
            }
            Some(Value::DateTime(d.boundary(prec, high, false)))
        }
        Scalar::Time(t) => {
            let prec = match p.unwrap_or(9) {
                2 => Precision::Hour,
                4 => Precision::Minute,
                6 => Precision::Second,
                9 => Precision::Millisecond,
                _ => return None,
            };
            Some(Value::Time(t.boundary(prec, high)))
        }
        _ => None,
    }
}

fn dec_boundary(d: Decimal, p: i64, high: bool) -> Option<Decimal> {
    if !(0..=28).contains(&p) {
        return None;
    }
    let p = p as u32;
    let neg = d.is_sign_negative() && !d.is_zero();
    let mag = d.abs();
    let half = Decimal::try_new(5, d.scale() + 1).unwrap_or(Decimal::ZERO);
    // The boundary that grows the magnitude rounds, the one that shrinks it truncates.
    let grow = high != neg;
    let m = if grow { round_half_up(mag.checked_add(half)?, p) } else { mag.checked_sub(half)?.trunc_with_scale(p) };
    let mut m = m;
    if m.scale() < p {
        m.rescale(p);
    }
    if neg {
        m.set_sign_negative(true);
    }
    Some(m)
}
