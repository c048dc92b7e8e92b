//! Parsing FHIR search parameters (names with modifiers, chains, `_has`; values with prefixes,
//! escapes and OR lists) into a [`SearchQuery`]. Malformed values are always errors; unknown
//! parameters are errors under `handling=strict` and reported warnings otherwise.

use std::sync::Arc;

use super::escape::{check_escapes, split_token, split_unescaped, unescape};
use super::limits::{Limit, SearchLimits};
use super::query::{
    CodeSet, Condition, Direction, Filter, FilterKind, Include, Prefix, SearchQuery, SortBy, SortKey, StringMatch,
    Total, UriMatch,
};
use super::registry::{ParamType, Registry, SearchParam};
use super::{SearchError, SearchResult};
use crate::index::normalize::normalize;
use crate::index::{ReferenceTarget, parse_reference};
use ikp_model::model::datetime::{self, DateKind};
use ikp_model::outcome::{Issue, IssueType};

pub const DEFAULT_COUNT: usize = 50;
pub const MAX_COUNT: usize = 1000;

/// Parameters that shape the result rather than select resources.
const RESULT_PARAMETERS: &[&str] = &[
    "_count",
    "_sort",
    "_total",
    "_summary",
    "_elements",
    "_include",
    "_revinclude",
    "_cursor",
    "_format",
    "_pretty",
    "_type",
];

pub struct Parser<'a> {
    pub registry: &'a Registry,
    pub base_url: &'a str,
    pub strict: bool,
    pub limits: &'a SearchLimits,
}

fn bad(message: impl Into<String>) -> SearchError {
    SearchError::Invalid(vec![Issue::error(IssueType::Invalid, message)])
}

fn unsupported(message: impl Into<String>) -> SearchError {
    SearchError::Invalid(vec![Issue::error(IssueType::NotSupported, message)])
}

impl Parser<'_> {
    /// Parses a search over `resource_types` (empty: every type, for `_type`-less system search).
    pub fn parse(&self, resource_types: Vec<String>, pairs: &[(String, String)]) -> SearchResult<SearchQuery> {
        let param_types =
            if resource_types.is_empty() { self.registry.resource_types() } else { resource_types.clone() };
        let mut query = SearchQuery {
            resource_types,
            param_types,
            compartment: None,
            filters: Vec::new(),
            sort: Vec::new(),
            count: DEFAULT_COUNT,
            // Without `_total`, a total is given when it can be counted cheaply (see the
            // interaction); `accurate` must be asked for.
            total: Total::Estimate,
            includes: Vec::new(),
            revincludes: Vec::new(),
            cursor: None,
            ignored: Vec::new(),
        };
        let limits = self.limits;
        limits.check(Limit::Parameters, pairs.len(), "search parameters")?;
        for (name, value) in pairs {
            // No parameter name or value holds control characters (and PostgreSQL takes no NUL).
            if let Some(c) = name.chars().chain(value.chars()).find(|c| c.is_control()) {
                return Err(bad(format!("the parameter '{}' holds the control character {c:?}", name.escape_debug())));
            }
            let (base, modifier) = name.split_once(':').map_or((name.as_str(), None), |(b, m)| (b, Some(m)));
            match base {
                "_count" => {
                    query.count = value
                        .parse::<usize>()
                        .map_err(|_| bad(format!("_count must be a number, not '{value}'")))?
                        .min(MAX_COUNT)
                }
                "_total" => {
                    query.total = match value.as_str() {
                        "none" => Total::None,
                        "estimate" => Total::Estimate,
                        "accurate" => Total::Accurate,
                        other => return Err(bad(format!("_total must be none, estimate or accurate, not '{other}'"))),
                    }
                }
                "_sort" => {
                    let keys = value.split(',').filter(|k| !k.is_empty()).count();
                    limits.check(Limit::SortKeys, keys, "_sort keys")?;
                    query.sort = self.sort(&query.resource_types, value)?
                }
                "_include" | "_revinclude" => {
                    let iterate = match modifier {
                        None => false,
                        Some("iterate" | "recurse") => true,
                        Some(m) => return Err(bad(format!("unknown modifier '{m}' on {base}"))),
                    };
                    for v in value.split(',').filter(|v| !v.is_empty()) {
                        let include = self.include(v, iterate, base == "_revinclude")?;
                        if base == "_include" {
                            query.includes.push(include);
                        } else {
                            query.revincludes.push(include);
                        }
                    }
                }
                _ if RESULT_PARAMETERS.contains(&base) => {}
                _ => {
                    if value.is_empty() {
                        continue;
                    }
                    let types = query.resource_types.clone();
                    match self.filter(&types, name, value, 0) {
                        Ok(mut filter) => {
                            // A search of every type searches the rows of every type.
                            if filter.resource_types.is_empty() {
                                filter.resource_types = query.param_types.clone();
                            }
                            query.filters.push(filter)
                        }
                        Err(Unknown(message)) if !self.strict => query.ignored.push(message),
                        Err(Unknown(message)) => return Err(unsupported(message)),
                        Err(Invalid(e)) => return Err(e),
                    }
                }
            }
        }
        let includes = query.includes.len() + query.revincludes.len();
        limits.check(Limit::Includes, includes, "_include and _revinclude targets")?;
        let (conditions, has) = cost(&query.filters);
        limits.check(Limit::Conditions, conditions, "conditions")?;
        limits.check(Limit::Has, has, "_has parameters")?;
        Ok(query)
    }

    fn include(&self, value: &str, iterate: bool, reverse: bool) -> SearchResult<Include> {
        let parts: Vec<&str> = value.split(':').collect();
        let (source_type, param, target_type) = match parts.as_slice() {
            [source, "*"] => (*source, None, None),
            [source, param] => (*source, Some(*param), None),
            [source, param, target] => (*source, Some(*param), Some(*target)),
            _ => return Err(bad(format!("'{value}' is not an include (Type:parameter[:TargetType])"))),
        };
        let params = if let Some(code) = param {
            let p = self
                .registry
                .get(source_type, code)
                .ok_or_else(|| bad(format!("{source_type} has no search parameter '{code}'")))?;
            if p.kind != ParamType::Reference {
                return Err(bad(format!("{source_type}:{code} is not a reference parameter")));
            }
            vec![code.to_string()]
        } else if self.registry.params(source_type).is_empty() {
            return Err(bad(format!(
                "unknown resource type '{source_type}' in {}",
                if reverse { "_revinclude" } else { "_include" }
            )));
        } else {
            self.registry.reference_codes(source_type)
        };
        Ok(Include {
            source_type: source_type.to_string(),
            params,
            target_type: target_type.map(str::to_string),
            iterate,
        })
    }

    fn sort(&self, types: &[String], value: &str) -> SearchResult<Vec<SortKey>> {
        value
            .split(',')
            .filter(|k| !k.is_empty())
            .map(|key| {
                let (direction, code) = match key.strip_prefix('-') {
                    Some(code) => (Direction::Descending, code),
                    None => (Direction::Ascending, key),
                };
                let by = match code {
                    "_id" => SortBy::Id,
                    "_lastUpdated" => SortBy::LastUpdated,
                    _ => {
                        let param = self
                            .common_param(types, code)
                            .ok_or_else(|| bad(format!("cannot sort by unknown parameter '{code}'")))?;
                        if matches!(param.kind, ParamType::Composite | ParamType::Special) {
                            return Err(bad(format!("cannot sort by the {} parameter '{code}'", param.kind.name())));
                        }
                        SortBy::Param(param)
                    }
                };
                Ok(SortKey { by, direction })
            })
            .collect()
    }

    /// A parameter defined (with the same type) on every one of `types`.
    fn common_param(&self, types: &[String], code: &str) -> Option<Arc<SearchParam>> {
        let first = types.first().map_or("Resource", String::as_str);
        let lookup = if types.is_empty() { "Patient" } else { first };
        let param = self.registry.get(lookup, code)?.clone();
        let everywhere = types.iter().all(|t| self.registry.get(t, code).is_some_and(|p| p.kind == param.kind));
        let system_level = types.is_empty() && code.starts_with('_');
        (everywhere && (!types.is_empty() || system_level)).then_some(param)
    }

    fn filter(&self, types: &[String], name: &str, value: &str, depth: usize) -> Result<Filter, ParseError> {
        let limits = self.limits;
        if depth > limits.chain_depth {
            let found = format!("'{name}' nests chains and _has deeper");
            return Err(Invalid(limits.over_budget(Limit::ChainDepth, &found)));
        }
        check_escapes(value).map_err(|e| Invalid(bad(e)))?;
        let values = split_unescaped(value, ',').len();
        limits.check(Limit::OrValues, values, &format!("values of '{name}'")).map_err(Invalid)?;
        if let Some(rest) = name.strip_prefix("_has:") {
            return self.has(types, rest, value, depth);
        }
        // A chain: the first segment is a reference parameter (with an optional type modifier).
        if let Some((head, tail)) = name.split_once('.') {
            return self.chain(types, head, tail, value, depth);
        }
        let (code, modifier) = name.split_once(':').map_or((name, None), |(c, m)| (c, Some(m)));
        match code {
            "_id" => {
                let conditions = split_unescaped(value, ',').into_iter().map(|v| Condition::Id(unescape(v))).collect();
                return Ok(filter(types, conditions, false));
            }
            "_lastUpdated" => {
                let conditions = split_unescaped(value, ',')
                    .into_iter()
                    .map(|v| {
                        let (prefix, rest) = prefix(v);
                        let (lo, hi) = date_range(rest).map_err(Invalid)?;
                        Ok(Condition::LastUpdated { prefix, lo, hi })
                    })
                    .collect::<Result<_, ParseError>>()?;
                return Ok(filter(types, conditions, false));
            }
            "_list" => {
                return Ok(filter(types, vec![Condition::List(unescape(value))], false));
            }
            _ => {}
        }
        let param = self
            .common_param(types, code)
            .ok_or_else(|| Unknown(format!("unknown search parameter '{code}' for {}", describe(types))))?;
        if param.expression.is_none() {
            return Err(Unknown(format!("search parameter '{code}' is not supported")));
        }
        if modifier == Some("missing") {
            let missing = match value {
                "true" => true,
                "false" => false,
                other => return Err(Invalid(bad(format!("{code}:missing must be true or false, not '{other}'")))),
            };
            return Ok(Filter { resource_types: types.to_vec(), kind: FilterKind::Missing { param, missing } });
        }
        // `:not-in` is the negation of `:in`, as `:not` is of a plain token match.
        let (negated, inner_modifier) = match modifier {
            Some("not") => (true, None),
            Some("not-in") => (true, Some("in")),
            other => (false, other),
        };
        if negated && param.kind != ParamType::Token {
            return Err(Invalid(bad(format!(
                ":{} applies to token parameters; '{code}' is a {}",
                modifier.unwrap_or_default(),
                param.kind.name()
            ))));
        }
        let mut conditions = split_unescaped(value, ',')
            .into_iter()
            .map(|v| self.condition(&param, inner_modifier, v))
            .collect::<Result<Vec<_>, _>>()?;
        if !param.stored_in.is_empty() {
            // Its rows are those of the parameters it is the union of: a value matches if it
            // matches on any of them (and with `:not`, on none).
            conditions =
                conditions.iter().flat_map(|c| param.stored_in.iter().map(|code| c.on_rows_of(code))).collect();
        }
        Ok(filter(types, conditions, negated))
    }

    fn condition(&self, param: &SearchParam, modifier: Option<&str>, raw: &str) -> Result<Condition, ParseError> {
        let code = param.code.clone();
        let wrong_modifier = |m: &str| {
            Invalid(bad(format!("modifier ':{m}' is not supported on the {} parameter '{code}'", param.kind.name())))
        };
        match param.kind {
            ParamType::String => {
                let mode = match modifier {
                    None => StringMatch::StartsWith,
                    Some("exact") => StringMatch::Exact,
                    Some("contains") => StringMatch::Contains,
                    Some(m) => return Err(wrong_modifier(m)),
                };
                let value = unescape(raw);
                let value = if mode == StringMatch::Exact { value } else { normalize(&value) };
                Ok(Condition::String { param: code, value, mode })
            }
            ParamType::Token => match modifier {
                None => {
                    let (system, code_value) = split_token(raw);
                    Ok(Condition::Token { param: code, system, code: (!code_value.is_empty()).then_some(code_value) })
                }
                Some("text") => Ok(Condition::TokenText { param: code, value: normalize(&unescape(raw)) }),
                Some("of-type") => {
                    let parts = split_unescaped(raw, '|');
                    let [system, type_code, value] = parts.as_slice() else {
                        return Err(Invalid(bad(format!(
                            "{code}:of-type needs type-system|type-code|value, not '{raw}'"
                        ))));
                    };
                    Ok(Condition::Token {
                        param: format!("{code}:of-type"),
                        system: Some(format!("{}|{}", unescape(system), unescape(type_code))),
                        code: Some(unescape(value)),
                    })
                }
                Some("in") => Ok(Condition::Terminology { param: code, set: CodeSet::ValueSet(unescape(raw)) }),
                Some(m @ ("above" | "below")) => {
                    let (system, code_value) = split_token(raw);
                    let Some(system) = system.filter(|s| !s.is_empty() && !code_value.is_empty()) else {
                        return Err(Invalid(bad(format!("{code}:{m} needs system|code, not '{raw}'"))));
                    };
                    let set = if m == "below" {
                        CodeSet::Below { system, code: code_value }
                    } else {
                        CodeSet::Above { system, code: code_value }
                    };
                    Ok(Condition::Terminology { param: code, set })
                }
                Some(m) => Err(wrong_modifier(m)),
            },
            ParamType::Date => {
                if let Some(m) = modifier {
                    return Err(wrong_modifier(m));
                }
                let (prefix, rest) = prefix(raw);
                let (lo, hi) = date_range(rest).map_err(Invalid)?;
                Ok(Condition::Date { param: code, prefix, lo, hi })
            }
            ParamType::Number => {
                if let Some(m) = modifier {
                    return Err(wrong_modifier(m));
                }
                let (prefix, rest) = prefix(raw);
                let (value, lo, hi) = number(rest).map_err(Invalid)?;
                Ok(Condition::Number { param: code, prefix, value, lo, hi })
            }
            ParamType::Quantity => {
                if let Some(m) = modifier {
                    return Err(wrong_modifier(m));
                }
                quantity(code, raw).map_err(Invalid)
            }
            ParamType::Reference => self.reference(param, modifier, raw),
            ParamType::Uri => {
                let mode = match modifier {
                    None => UriMatch::Equals,
                    Some("above") => UriMatch::Above,
                    Some("below") => UriMatch::Below,
                    Some(m) => return Err(wrong_modifier(m)),
                };
                Ok(Condition::Uri { param: code, value: unescape(raw), mode })
            }
            ParamType::Composite => {
                if let Some(m) = modifier {
                    return Err(wrong_modifier(m));
                }
                let parts = split_unescaped(raw, '$');
                if parts.len() != param.components.len() {
                    return Err(Invalid(bad(format!(
                        "'{raw}' does not have the {} components of '{code}' (separated by $)",
                        param.components.len()
                    ))));
                }
                let components = parts
                    .iter()
                    .zip(&param.components)
                    .enumerate()
                    .map(|(k, (part, component))| {
                        let name = format!("{code}${k}");
                        let pseudo = SearchParam {
                            url: String::new(),
                            code: name,
                            kind: component.kind,
                            expression: None,
                            targets: Vec::new(),
                            components: Vec::new(),
                            description: String::new(),
                            stored_in: Vec::new(),
                            part_of: None,
                        };
                        self.condition(&pseudo, None, part)
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Condition::Composite { param: code, components })
            }
            ParamType::Special => {
                if code != "near" {
                    return Err(Unknown(format!("special parameter '{code}' is not supported")));
                }
                near(code, raw).map_err(Invalid)
            }
        }
    }

    fn reference(&self, param: &SearchParam, modifier: Option<&str>, raw: &str) -> Result<Condition, ParseError> {
        let code = param.code.clone();
        if modifier == Some("identifier") {
            let (system, value) = split_token(raw);
            return Ok(Condition::Token {
                param: format!("{code}:identifier"),
                system,
                code: (!value.is_empty()).then_some(value),
            });
        }
        let type_modifier = match modifier {
            None => None,
            Some(t) if t.chars().next().is_some_and(|c| c.is_ascii_uppercase()) => {
                if !param.targets.is_empty() && !param.targets.iter().any(|x| x == t) {
                    return Err(Invalid(bad(format!("'{code}' cannot refer to a {t}"))));
                }
                Some(t.to_string())
            }
            Some(m) => {
                return Err(Invalid(bad(format!(
                    "modifier ':{m}' is not supported on the reference parameter '{code}'"
                ))));
            }
        };
        let value = unescape(raw);
        if !value.contains('/') && !value.contains(':') {
            // A bare id: of the modifier's type, or of the only possible target type.
            let target_type = type_modifier.or_else(|| (param.targets.len() == 1).then(|| param.targets[0].clone()));
            return Ok(Condition::Reference { param: code, target_type, id: Some(value), version: None, url: None });
        }
        match parse_reference(&value, self.base_url) {
            Some(ReferenceTarget::Local { resource_type, id, version }) => {
                if type_modifier.as_ref().is_some_and(|t| *t != resource_type) {
                    return Err(Invalid(bad(format!(
                        "'{value}' contradicts the :{} modifier",
                        type_modifier.unwrap_or_default()
                    ))));
                }
                Ok(Condition::Reference {
                    param: code,
                    target_type: Some(resource_type),
                    id: Some(id),
                    version,
                    url: None,
                })
            }
            _ => {
                let (url, version) = match value.split_once('|') {
                    Some((u, v)) => (u.to_string(), Some(v.to_string())),
                    None => (value, None),
                };
                Ok(Condition::Reference { param: code, target_type: None, id: None, version, url: Some(url) })
            }
        }
    }

    fn chain(&self, types: &[String], head: &str, tail: &str, value: &str, depth: usize) -> Result<Filter, ParseError> {
        let (code, type_modifier) = head.split_once(':').map_or((head, None), |(c, t)| (c, Some(t)));
        let param = self
            .common_param(types, code)
            .ok_or_else(|| Unknown(format!("unknown search parameter '{code}' for {}", describe(types))))?;
        if param.kind != ParamType::Reference {
            return Err(Invalid(bad(format!("'{code}' is not a reference parameter, so it cannot be chained"))));
        }
        let candidates: Vec<String> = match type_modifier {
            Some(t) => vec![t.to_string()],
            None if !param.targets.is_empty() => param.targets.clone(),
            None => Vec::new(),
        };
        let chained = tail.split(['.', ':']).next().unwrap_or_default();
        // Only target types on which the chained parameter exists take part.
        let target_types: Vec<String> = candidates
            .into_iter()
            .filter(|t| chained.starts_with('_') || self.registry.get(t, chained).is_some())
            .collect();
        if target_types.is_empty() {
            return Err(Invalid(bad(format!(
                "cannot chain '{code}.{tail}': no target type of '{code}' has a parameter '{chained}' (name the type with {code}:Type)"
            ))));
        }
        let mut alternatives = Vec::new();
        for t in &target_types {
            let inner = self.filter(std::slice::from_ref(t), tail, value, depth + 1)?;
            alternatives.push(Condition::Chain {
                param: code.to_string(),
                target_types: vec![t.clone()],
                inner: Box::new(inner),
            });
        }
        Ok(filter(types, alternatives, false))
    }

    fn has(&self, types: &[String], rest: &str, value: &str, depth: usize) -> Result<Filter, ParseError> {
        let mut parts = rest.splitn(3, ':');
        let (Some(source_type), Some(code), Some(inner_name)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(Invalid(bad(format!("'_has:{rest}' must be _has:Type:reference:parameter"))));
        };
        let param = self
            .registry
            .get(source_type, code)
            .ok_or_else(|| Invalid(bad(format!("{source_type} has no search parameter '{code}'"))))?;
        if param.kind != ParamType::Reference {
            return Err(Invalid(bad(format!("{source_type}:{code} is not a reference parameter"))));
        }
        let inner = self.filter(&[source_type.to_string()], inner_name, value, depth + 1)?;
        let condition =
            Condition::Has { source_type: source_type.to_string(), param: code.to_string(), inner: Box::new(inner) };
        Ok(filter(types, vec![condition], false))
    }
}

/// Why a parameter could not be used.
pub enum ParseError {
    /// Not known or not supported: ignorable under lenient handling.
    Unknown(String),
    /// Known but malformed: always an error.
    Invalid(SearchError),
}
use ParseError::{Invalid, Unknown};

/// The conditions and `_has` parameters in `filters`, nested ones included.
fn cost(filters: &[Filter]) -> (usize, usize) {
    let (mut conditions, mut has) = (0, 0);
    for f in filters {
        let FilterKind::AnyOf { conditions: list, .. } = &f.kind else {
            conditions += 1;
            continue;
        };
        for c in list {
            conditions += 1;
            let inner = match c {
                Condition::Chain { inner, .. } => inner,
                Condition::Has { inner, .. } => {
                    has += 1;
                    inner
                }
                _ => continue,
            };
            let (c, h) = cost(std::slice::from_ref(inner));
            conditions += c;
            has += h;
        }
    }
    (conditions, has)
}

fn filter(types: &[String], conditions: Vec<Condition>, negated: bool) -> Filter {
    Filter { resource_types: types.to_vec(), kind: FilterKind::AnyOf { conditions, negated } }
}

fn describe(types: &[String]) -> String {
    if types.is_empty() { "all resource types".to_string() } else { types.join(", ") }
}

/// Splits a comparison prefix off a value (`ge2020` → `Ge`, `2020`).
pub fn prefix(value: &str) -> (Prefix, &str) {
    let prefixes = [
        ("eq", Prefix::Eq),
        ("ne", Prefix::Ne),
        ("gt", Prefix::Gt),
        ("lt", Prefix::Lt),
        ("ge", Prefix::Ge),
        ("le", Prefix::Le),
        ("sa", Prefix::Sa),
        ("eb", Prefix::Eb),
        ("ap", Prefix::Ap),
    ];
    for (text, p) in prefixes {
        if let Some(rest) = value.strip_prefix(text)
            && rest.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '.')
        {
            return (p, rest);
        }
    }
    (Prefix::Eq, value)
}

/// A search date as `[lo, hi)` epoch microseconds (partial dates cover their whole period).
pub fn date_range(value: &str) -> Result<(i64, i64), SearchError> {
    // Searches may give a time without a zone; the server's convention is UTC.
    let with_zone;
    let text = if !value.ends_with('Z') && value.get(10..).is_some_and(|t| !t.is_empty() && !t.contains(['+', '-'])) {
        with_zone = format!("{value}Z");
        with_zone.as_str()
    } else {
        value
    };
    let parsed = datetime::parse(text, DateKind::DateTime)
        .or_else(|_| {
            // Minute precision (`2024-01-01T10:00Z`) is allowed in searches.
            let expanded = text.get(..16).map(|head| format!("{head}:00{}", &text[16..]));
            expanded.ok_or_else(String::new).and_then(|e| datetime::parse(&e, DateKind::DateTime)).map(|mut d| {
                d.precision = datetime::Precision::Minute;
                d
            })
        })
        .map_err(|_| bad(format!("'{value}' is not a valid date")))?;
    Ok((parsed.start_micros(), parsed.end_micros()))
}

/// A search number with the precision range its written form implies (`100` → `[99.5, 100.5)`).
fn number(text: &str) -> Result<(f64, f64, f64), SearchError> {
    let value: f64 =
        text.parse().ok().filter(|v: &f64| v.is_finite()).ok_or_else(|| bad(format!("'{text}' is not a number")))?;
    let mantissa = text.split(['e', 'E']).next().unwrap_or(text);
    let exponent: i32 = text.split(['e', 'E']).nth(1).and_then(|e| e.parse().ok()).unwrap_or(0);
    let decimals = mantissa.split('.').nth(1).map_or(0, |d| d.len() as i32);
    let half = 0.5 * 10f64.powi(exponent - decimals);
    Ok((value, value - half, value + half))
}

fn quantity(code: String, raw: &str) -> Result<Condition, SearchError> {
    let parts = split_unescaped(raw, '|');
    let (number_text, system, unit) = match parts.as_slice() {
        [n] => (*n, None, None),
        [n, s, u] => (*n, Some(unescape(s)).filter(|s| !s.is_empty()), Some(unescape(u)).filter(|u| !u.is_empty())),
        _ => return Err(bad(format!("'{raw}' is not a quantity (number|system|code)"))),
    };
    let (prefix, rest) = prefix(number_text);
    let (value, lo, hi) = number(rest)?;
    let canon = match (system.as_deref(), unit.as_deref()) {
        (Some("http://unitsofmeasure.org") | None, Some(u)) => {
            ikp_fhirpath::ucum_canonical(u).map(|(factor, key)| (key, value * factor, lo * factor, hi * factor))
        }
        _ => None,
    };
    Ok(Condition::Quantity { param: code, prefix, value, lo, hi, system, code: unit, canon })
}

/// `near=latitude|longitude|distance|unit`: a bounding box (distance in km by default; `mi` too).
fn near(code: String, raw: &str) -> Result<Condition, SearchError> {
    let parts: Vec<&str> = raw.split('|').collect();
    let num = |s: Option<&&str>| s.and_then(|s| s.parse::<f64>().ok()).filter(|v| v.is_finite());
    let (Some(lat), Some(long)) = (num(parts.first()), num(parts.get(1))) else {
        return Err(bad(format!("'{raw}' is not latitude|longitude[|distance|units]")));
    };
    let distance = num(parts.get(2)).unwrap_or(5.0);
    let km = match parts.get(3).copied().unwrap_or("km") {
        "km" | "" => distance,
        "m" => distance / 1000.0,
        "mi" | "[mi_i]" => distance * 1.609_344,
        other => return Err(bad(format!("unsupported distance unit '{other}' (km, m or mi)"))),
    };
    let dlat = km / 111.32;
    let dlong = km / (111.32 * lat.to_radians().cos().abs().max(0.01));
    Ok(Condition::Near { param: code, lat: (lat - dlat, lat + dlat), long: (long - dlong, long + dlong) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_and_numbers() {
        assert_eq!(prefix("ge2020").0, Prefix::Ge);
        assert_eq!(prefix("2020").0, Prefix::Eq);
        assert_eq!(prefix("gt-5").1, "-5");
        let (v, lo, hi) = number("100").expect("number");
        assert_eq!((v, lo, hi), (100.0, 99.5, 100.5));
        let (_, lo, hi) = number("100.0").expect("number");
        assert!((lo - 99.95).abs() < 1e-9 && (hi - 100.05).abs() < 1e-9);
        assert!(number("abc").is_err());
    }

    #[test]
    fn dates() {
        let (lo, hi) = date_range("2024").expect("year");
        assert_eq!(hi - lo, 366 * 86_400_000_000);
        assert!(date_range("2024-01-01T10:00").is_ok());
        assert!(date_range("2024-01-01T10:00:00").is_ok());
        assert!(date_range("2024-13").is_err());
    }
}
