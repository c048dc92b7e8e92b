//! From a [`SearchQuery`] to SQL over the index tables, shared by both backends.
//!
//! Every filter becomes `rid IN (SELECT rid FROM <index table> WHERE ...)`: both SQLite and
//! PostgreSQL drive such a plan from the index lookup (`(param_key, value)` indexes, the key naming
//! the resource type and parameter: [`crate::index::param_key`]), so the
//! hot path "everything of type T for patient P with code C" is a pair of index range scans and
//! never a scan of the resource table. Chains and `_has` nest the same shape through joins on the
//! reference table; includes run one query per level for the whole page.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::cursor::{Cursor, Key, Towards};
use super::query::{
    Condition, Direction, Filter, FilterKind, Include, Prefix, SearchQuery, SortBy, SortKey, StringMatch, UriMatch,
};
use super::reach::{Reach, push_compartment_rows};
use super::registry::{ParamType, TypedParts};
use crate::index::param_key;
use crate::sql::{Bind, Column, Sql, VERSION_COLUMNS};

pub use crate::Dialect;

impl Dialect {
    /// Byte-order comparison, as SQLite does by default.
    fn bytewise(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " COLLATE \"C\"",
        }
    }
}

/// Columns of the resource a filter is evaluated against.
#[derive(Clone)]
struct Target {
    rid: String,
    id: String,
    updated: String,
    kind: String,
}

impl Target {
    /// The columns of a joined `resource` alias.
    fn of(alias: &str) -> Target {
        Target {
            rid: format!("{alias}.rid"),
            id: format!("{alias}.res_id"),
            updated: format!("{alias}.last_updated"),
            kind: format!("{alias}.res_type"),
        }
    }
}

pub struct Planner {
    pub dialect: Dialect,
    alias: AtomicUsize,
    /// The confined caller's reach, added to every query (`None`: not confined).
    reach: Option<Arc<Reach>>,
    /// Reference parameters read in a typed part of another's rows.
    typed_parts: Arc<TypedParts>,
}

/// How a statement reaches its candidates.
///
/// `Drive` lets the most selective filter produce them (`rid IN (lookup)`): best when that lookup
/// is small (a patient's rows), but the whole lookup is read and sorted before the first row
/// comes out. `Walk` reads the type in the order the page returns (the `(res_type, rid)` index,
/// or a sort key's index) and probes every filter per row, so a page stops after `_count` + 1
/// matches: best when the filters match many rows (a population). [`crate::search::run`] picks
/// one by counting the driving lookup up to a bound first. For a confined caller `Walk` means
/// that the reach (the caller's compartments) drives instead of a broad filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Drive,
    Walk,
}

/// The table and column kind holding a parameter type's rows.
pub fn table(kind: ParamType) -> &'static str {
    match kind {
        ParamType::String => "search_string",
        ParamType::Token => "search_token",
        ParamType::Date => "search_date",
        ParamType::Number | ParamType::Special => "search_number",
        ParamType::Quantity => "search_quantity",
        ParamType::Reference => "search_reference",
        ParamType::Uri => "search_uri",
        ParamType::Composite => "search_token",
    }
}

/// ` ORDER BY` of a sorted page over the keys `k0, k1...` and `rid` of `alias`: resources without
/// a value sort last in either direction, and a page towards the previous one runs backwards.
fn order_by(query: &SearchQuery, alias: &str) -> String {
    let reverse = query.cursor.as_ref().is_some_and(|c| c.towards == Towards::Previous);
    let mut text = String::from(" ORDER BY ");
    for (i, key) in query.sort.iter().enumerate() {
        let ascending = (key.direction == Direction::Ascending) != reverse;
        text.push_str(&format!(
            "({alias}.k{i} IS NULL) {}, {alias}.k{i} {}, ",
            if reverse { "DESC" } else { "ASC" },
            if ascending { "ASC" } else { "DESC" }
        ));
    }
    text.push_str(&format!("{alias}.rid {}", if reverse { "DESC" } else { "ASC" }));
    text
}

/// `column = $n` for one value, `column IN ($n, ...)` for several (a query's types).
fn push_equals_any<S: AsRef<str>>(sql: &mut Sql, column: &str, values: &[S]) {
    if let [value] = values {
        sql.push(&format!("{column} = ")).bind(Bind::Text(value.as_ref().to_string()));
        return;
    }
    sql.push(&format!("{column} IN ("));
    text_list(sql, values);
    sql.push(")");
}

/// `column = k` or `column IN (k, ...)` over the keys of the rows named `names` on each of
/// `types` (a parameter stored in the rows of several, a query's several types). With no type or
/// no name it matches nothing (`1 = 0`), never every row.
fn push_param_keys<S: AsRef<str>>(sql: &mut Sql, column: &str, types: &[String], names: &[S]) {
    push_keys(sql, column, types.iter().flat_map(|t| names.iter().map(move |n| param_key(t, n.as_ref()))).collect());
}

/// `column = k` or `column IN (k, ...)`; `1 = 0` for no key.
fn push_keys(sql: &mut Sql, column: &str, mut keys: Vec<i64>) {
    keys.sort_unstable();
    keys.dedup();
    match keys.as_slice() {
        [] => {
            sql.push("1 = 0");
        }
        [key] => {
            sql.push(&format!("{column} = ")).bind(Bind::Int(*key));
        }
        _ => {
            sql.push(&format!("{column} IN ("));
            int_list(sql, &keys);
            sql.push(")");
        }
    }
}

/// Comma-separated placeholders for `values`.
fn text_list<S: AsRef<str>>(sql: &mut Sql, values: &[S]) {
    for (i, value) in values.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.bind(Bind::Text(value.as_ref().to_string()));
    }
}

/// The largest character: appended to a prefix it bounds every string that starts with it.
const MAX_CHAR: char = '\u{10FFFF}';

impl Planner {
    /// A planner for `dialect` over rows stored as the registry says (`typed_parts`:
    /// [`super::registry::Registry::typed_parts`]).
    pub fn new(dialect: Dialect, typed_parts: Arc<TypedParts>) -> Planner {
        Planner { dialect, alias: AtomicUsize::new(0), reach: None, typed_parts }
    }

    /// A planner whose every query stays within `reach`.
    pub fn within(mut self, reach: Option<Arc<Reach>>) -> Planner {
        self.reach = reach;
        self
    }

    /// Appends the reach condition for the resource at `alias` (a joined `resource`).
    fn push_reach(&self, sql: &mut Sql, alias: &str, types: &[String], drive: bool) {
        if let Some(reach) = &self.reach {
            reach.push_condition(sql, &format!("{alias}.rid"), &format!("{alias}.res_type"), types, drive);
        }
    }

    /// What ends an `EXISTS` probe: on PostgreSQL `OFFSET 0`, which keeps the probe a per-row
    /// subplan. Otherwise its planner may turn the probe into a join and drive from it instead:
    /// - walking, it reads the whole index table in `rid` order, and the walk no longer stops
    ///   after the page;
    /// - driven, it starts from whichever lookup its statistics make look smaller. They judge
    ///   each column apart, so a code common in one parameter looks rare: at 50,000 patients
    ///   `code=4548-4` was estimated at 18 rows against 3,093, and a patient's 10 Observations
    ///   were found by probing those 3,093 (40 req/s instead of 1,900). Which lookup drives is
    ///   decided here, by [`selectivity`] and the bounded count in [`crate::search::run`].
    fn fence(&self, mode: Mode) -> &'static str {
        match (mode, self.dialect) {
            (Mode::Walk | Mode::Probe, Dialect::Postgres) => " OFFSET 0",
            _ => "",
        }
    }

    /// The key column of a probe's index-table alias `x`. A fenced probe on PostgreSQL must find
    /// its rows through the `rid` index: with a generic plan (a prepared statement run often)
    /// its statistics judge any `(param_key, value)` lookup to be about one row, so it probed a
    /// patient's 19 Observations each through all 3,093 rows of `code=4548-4` (32 ms instead of
    /// 1). `param_key + 0` is not the indexed column, so the lookup index cannot serve the probe.
    fn probe_key(&self, x: &str, mode: Mode) -> String {
        if self.fence(mode).is_empty() { format!("{x}.param_key") } else { format!("({x}.param_key + 0)") }
    }

    /// The condition on index rows at alias `x` (key column `key`) naming the rows of `names` on
    /// each of `types`, for rows of any kind. A reference parameter stored in a typed part of another's rows
    /// ([`super::registry::SearchParam::part_of`]: Observation's `patient`) is read in that
    /// one's rows that point at its type; its own rows, references by URL without a type, only
    /// `with_urls` (no condition on a target's id, no join on it can match them).
    fn push_row_keys<S: AsRef<str>>(
        &self,
        sql: &mut Sql,
        x: &str,
        key: &str,
        types: &[String],
        names: &[S],
        with_urls: bool,
    ) {
        let mut whole: Vec<i64> = Vec::new();
        let mut typed: std::collections::BTreeMap<&str, Vec<i64>> = std::collections::BTreeMap::new();
        for t in types {
            for name in names.iter().map(AsRef::as_ref) {
                match self.typed_parts.get(t, name) {
                    Some(part) => {
                        if with_urls {
                            whole.push(param_key(t, name));
                        }
                        typed.entry(part.target_type.as_str()).or_default().push(param_key(t, &part.code));
                    }
                    None => whole.push(param_key(t, name)),
                }
            }
        }
        // Rows named whole need no part of them named again.
        for keys in typed.values_mut() {
            keys.retain(|k| !whole.contains(k));
        }
        typed.retain(|_, keys| !keys.is_empty());
        if typed.is_empty() {
            push_keys(sql, key, whole);
            return;
        }
        sql.push("(");
        let mut first = whole.is_empty();
        if !first {
            push_keys(sql, key, whole);
        }
        for (target_type, keys) in typed {
            if !first {
                sql.push(" OR ");
            }
            first = false;
            sql.push("(");
            push_keys(sql, key, keys);
            sql.push(&format!(" AND {x}.target_type = ")).bind(Bind::Text(target_type.to_string()));
            sql.push(")");
        }
        sql.push(")");
    }

    fn next_alias(&self, stem: &str) -> String {
        let n = self.alias.fetch_add(1, Ordering::Relaxed) + 1;
        format!("{stem}{n}")
    }

    /// The filter that drives `query` under [`Access::Drive`]: the most selective one that can.
    fn driver(query: &SearchQuery) -> Option<usize> {
        if query.compartment.is_some() {
            return None;
        }
        query.filters.iter().enumerate().filter_map(|(i, f)| selectivity(f).map(|rank| (rank, i))).min().map(|(_, i)| i)
    }

    /// `r.res_type IN (...) AND r.deleted = FALSE AND <filters>` over `resource r`.
    fn where_clause(&self, sql: &mut Sql, query: &SearchQuery, access: Access) {
        self.where_clause_as(sql, query, access, false);
    }

    /// As [`Planner::where_clause`]; `joined`: `r` is looked up from rows read before it (a
    /// sort key's index), so nothing of `r` may drive.
    fn where_clause_as(&self, sql: &mut Sql, query: &SearchQuery, access: Access, joined: bool) {
        sql.push("r.deleted = FALSE");
        // The most selective lookup drives the query (`rid IN (...)`); every other filter is
        // probed per candidate through the index tables' `rid` indexes (`EXISTS`). Neither
        // database can otherwise tell that "this patient" is far more selective than "since 2020",
        // and SQLite would materialise every filter's full match list.
        // Walking, no filter drives: each is probed per row read in order.
        let driver = match access {
            Access::Drive => Planner::driver(query),
            Access::Walk => None,
        };
        let driven = query.compartment.is_some() || driver.is_some();
        // Without another driver, a confined caller's compartments produce the candidates; an
        // `_id` lookup is better still (the primary key) and must keep the type column usable.
        let by_id = query.filters.iter().any(|f| {
            matches!(&f.kind, FilterKind::AnyOf { conditions, negated: false }
                if !conditions.is_empty() && conditions.iter().all(|c| matches!(c, Condition::Id(_))))
        });
        let reach_drives = !driven && !by_id && self.reach.is_some();
        // SQLite must not start from the type index instead (it has no statistics to know
        // better): `+` hides the column from its planner.
        let type_column = if (driven || reach_drives || joined) && self.dialect == Dialect::Sqlite {
            "+r.res_type"
        } else {
            "r.res_type"
        };
        types_condition(sql, type_column, &query.resource_types);
        self.push_reach(sql, "r", &query.resource_types, reach_drives);
        if let Some((comp_type, comp_ids)) = &query.compartment {
            sql.push(" AND r.rid IN (SELECT c.rid FROM compartment c WHERE ");
            let types = (!query.resource_types.is_empty()).then_some(query.resource_types.as_slice());
            push_compartment_rows(sql, "c", comp_type, comp_ids, types);
            sql.push(")");
        }
        let target = Target::of("r");
        for (i, filter) in query.filters.iter().enumerate() {
            sql.push(" AND ");
            let mode = match (access, Some(i) == driver) {
                (_, true) => Mode::Drive,
                (Access::Drive, false) => Mode::Probe,
                (Access::Walk, false) => Mode::Walk,
            };
            self.filter_as(sql, filter, &target, mode);
        }
    }

    fn filter(&self, sql: &mut Sql, filter: &Filter, target: &Target) {
        self.filter_as(sql, filter, target, Mode::Drive);
    }

    fn filter_as(&self, sql: &mut Sql, filter: &Filter, target: &Target, mode: Mode) {
        match &filter.kind {
            FilterKind::Missing { param, missing } => {
                let x = self.next_alias("m");
                let table = table(param.kind);
                sql.push(&format!(
                    "{}EXISTS (SELECT 1 FROM {table} {x} WHERE {x}.rid = {} AND ",
                    if *missing { "NOT " } else { "" },
                    target.rid
                ));
                self.push_row_keys(
                    sql,
                    &x,
                    &format!("{x}.param_key"),
                    &filter.resource_types,
                    &param.row_codes(),
                    true,
                );
                sql.push(")");
            }
            FilterKind::AnyOf { conditions, negated } => {
                if *negated {
                    sql.push("NOT ");
                }
                sql.push("(");
                // Conditions on the same index table share one subquery.
                let mut first = true;
                for table_name in [
                    "search_string",
                    "search_token",
                    "search_date",
                    "search_number",
                    "search_quantity",
                    "search_reference",
                    "search_uri",
                ] {
                    let simple: Vec<&Condition> =
                        conditions.iter().filter(|c| simple_table(c) == Some(table_name)).collect();
                    if simple.is_empty() {
                        continue;
                    }
                    if !first {
                        sql.push(" OR ");
                    }
                    first = false;
                    let x = self.next_alias("x");
                    match mode {
                        Mode::Drive => {
                            sql.push(&format!("{} IN (", target.rid));
                            self.lookup(sql, table_name, &simple, &filter.resource_types, &x);
                            sql.push(")");
                        }
                        Mode::Probe | Mode::Walk => {
                            sql.push(&format!(
                                "EXISTS (SELECT 1 FROM {table_name} {x} WHERE {x}.rid = {} AND ",
                                target.rid
                            ));
                            let key = self.probe_key(&x, mode);
                            self.any_predicate(sql, &simple, &filter.resource_types, &x, &key);
                            sql.push(&format!(" AND {x}.grp IS NULL{})", self.fence(mode)));
                        }
                    }
                }
                for c in conditions.iter().filter(|c| simple_table(c).is_none()) {
                    if !first {
                        sql.push(" OR ");
                    }
                    first = false;
                    self.special(sql, c, &filter.resource_types, target, mode);
                }
                if first {
                    sql.push("1 = 0");
                }
                sql.push(")");
            }
        }
    }

    /// `SELECT x.rid FROM <table> x WHERE <any of conditions>`: the index rows of `types` that
    /// match (one per matching value, so a resource may come more than once).
    fn lookup(&self, sql: &mut Sql, table_name: &str, conditions: &[&Condition], types: &[String], x: &str) {
        sql.push(&format!("SELECT {x}.rid FROM {table_name} {x} WHERE "));
        self.any_predicate(sql, conditions, types, x, &format!("{x}.param_key"));
        sql.push(&format!(" AND {x}.grp IS NULL"));
    }

    /// `((c1) OR (c2) ...)` over the index-table alias `x`, holding rows of `types`.
    fn any_predicate(&self, sql: &mut Sql, conditions: &[&Condition], types: &[String], x: &str, key: &str) {
        sql.push("(");
        for (i, c) in conditions.iter().enumerate() {
            if i > 0 {
                sql.push(" OR ");
            }
            sql.push("(");
            self.predicate(sql, c, types, x, key);
            sql.push(")");
        }
        sql.push(")");
    }

    /// `SELECT ref.rid FROM ...`: the resources of `types` whose `param` refers to a resource
    /// of `target_types` matching `inner` (a chain's candidates).
    fn chain_lookup(&self, sql: &mut Sql, param: &str, target_types: &[String], inner: &Filter, types: &[String]) {
        let x = self.next_alias("ref");
        let t = self.next_alias("t");
        sql.push(&format!(
            "SELECT {x}.rid FROM search_reference {x} JOIN resource {t} ON {t}.res_type = {x}.target_type \
             AND {t}.res_id = {x}.target_id AND {t}.deleted = FALSE WHERE {x}.grp IS NULL AND "
        ));
        self.push_row_keys(sql, &x, &format!("{x}.param_key"), types, &[param], false);
        types_condition(sql, &format!("{x}.target_type"), target_types);
        sql.push(" AND ");
        self.filter(sql, inner, &Target::of(&t));
        self.push_reach(sql, &t, target_types, false);
    }

    /// `SELECT ref.target_id FROM ...`: the ids that resources of `source_type` matching `inner`
    /// refer to through `param`, as a resource of `types` (`_has`'s candidates).
    fn has_lookup(&self, sql: &mut Sql, source_type: &str, param: &str, inner: &Filter, types: &[String]) {
        let x = self.next_alias("ref");
        let s = self.next_alias("s");
        sql.push(&format!(
            "SELECT {x}.target_id FROM search_reference {x} JOIN resource {s} ON {s}.rid = {x}.rid \
             WHERE {x}.grp IS NULL AND "
        ));
        self.push_row_keys(sql, &x, &format!("{x}.param_key"), &[source_type.to_string()], &[param], false);
        types_condition(sql, &format!("{x}.target_type"), types);
        sql.push(" AND ");
        self.filter(sql, inner, &Target::of(&s));
        self.push_reach(sql, &s, &[source_type.to_string()], false);
    }

    /// Conditions that are not a single-table lookup.
    fn special(&self, sql: &mut Sql, c: &Condition, types: &[String], target: &Target, mode: Mode) {
        match c {
            Condition::Id(id) => {
                sql.push(&format!("{} = ", target.id)).bind(Bind::Text(id.clone()));
            }
            Condition::Absent { param, kind } => {
                let x = self.next_alias("a");
                sql.push(&format!("{} NOT IN (SELECT {x}.rid FROM {} {x} WHERE ", target.rid, table(*kind)));
                self.push_row_keys(sql, &x, &format!("{x}.param_key"), types, &[param], true);
                sql.push(")");
            }
            Condition::Types(types) => {
                sql.push("(1 = 1");
                types_condition(sql, &target.kind, types);
                sql.push(")");
            }
            Condition::LastUpdated { prefix, lo, hi } => {
                // A stored instant is the range [t, t + 1 ms).
                let col = &target.updated;
                range_predicate(sql, *prefix, col, &format!("({col} + 1000)"), *lo, *hi);
            }
            Condition::Chain { param, target_types, inner } if mode == Mode::Walk => {
                // Per row read: does its reference lead to a match? (`search_reference_rid`)
                let x = self.next_alias("ref");
                let t = self.next_alias("t");
                sql.push(&format!(
                    "EXISTS (SELECT 1 FROM search_reference {x} JOIN resource {t} ON {t}.res_type = {x}.target_type \
                     AND {t}.res_id = {x}.target_id AND {t}.deleted = FALSE WHERE {x}.rid = {} AND {x}.grp IS NULL \
                     AND ",
                    target.rid
                ));
                self.push_row_keys(sql, &x, &format!("{x}.param_key"), types, &[param], false);
                types_condition(sql, &format!("{x}.target_type"), target_types);
                sql.push(" AND ");
                self.filter_as(sql, inner, &Target::of(&t), Mode::Walk);
                self.push_reach(sql, &t, target_types, false);
                sql.push(self.fence(mode)).push(")");
            }
            Condition::Has { source_type, param, inner } if mode == Mode::Walk => {
                // Per row read: is it referenced by a match? (`search_reference_lookup`, by key and target)
                let x = self.next_alias("ref");
                let s = self.next_alias("s");
                sql.push(&format!(
                    "EXISTS (SELECT 1 FROM search_reference {x} JOIN resource {s} ON {s}.rid = {x}.rid \
                     WHERE {x}.target_type = {} AND {x}.target_id = {} AND ",
                    target.kind, target.id
                ));
                self.push_row_keys(
                    sql,
                    &x,
                    &format!("{x}.param_key"),
                    std::slice::from_ref(source_type),
                    &[param],
                    false,
                );
                sql.push(&format!(" AND {x}.grp IS NULL"));
                types_condition(sql, &format!("{x}.target_type"), types);
                sql.push(" AND ");
                self.filter_as(sql, inner, &Target::of(&s), Mode::Walk);
                self.push_reach(sql, &s, std::slice::from_ref(source_type), false);
                sql.push(self.fence(mode)).push(")");
            }
            Condition::Chain { param, target_types, inner } => {
                sql.push(&format!("{} IN (", target.rid));
                self.chain_lookup(sql, param, target_types, inner, types);
                sql.push(")");
            }
            Condition::Has { source_type, param, inner } => {
                sql.push(&format!("{} IN (", target.id));
                self.has_lookup(sql, source_type, param, inner, types);
                sql.push(")");
            }
            Condition::Composite { components, .. } => {
                let aliases: Vec<String> = components.iter().map(|_| self.next_alias("c")).collect();
                let mut from = String::new();
                for (k, (c, a)) in components.iter().zip(&aliases).enumerate() {
                    let table = simple_table(c).unwrap_or("search_token");
                    if k == 0 {
                        from.push_str(&format!("{table} {a}"));
                    } else {
                        let first = &aliases[0];
                        from.push_str(&format!(" JOIN {table} {a} ON {a}.rid = {first}.rid AND {a}.grp = {first}.grp"));
                    }
                }
                // Each component's predicate names its rows (`code$k`) on `types`.
                sql.push(&format!("{} IN (SELECT {}.rid FROM {from} WHERE 1 = 1", target.rid, aliases[0]));
                for (c, a) in components.iter().zip(&aliases) {
                    sql.push(" AND (");
                    self.predicate(sql, c, types, a, &format!("{a}.param_key"));
                    sql.push(")");
                }
                sql.push(")");
            }
            Condition::Near { param, lat, long } => {
                let a = self.next_alias("lat");
                let b = self.next_alias("long");
                sql.push(&format!(
                    "{} IN (SELECT {a}.rid FROM search_number {a} JOIN search_number {b} ON {b}.rid = {a}.rid WHERE ",
                    target.rid
                ));
                push_param_keys(sql, &format!("{a}.param_key"), types, &[format!("{param}:latitude")]);
                sql.push(" AND ");
                push_param_keys(sql, &format!("{b}.param_key"), types, &[format!("{param}:longitude")]);
                sql.push(&format!(" AND {a}.lo >= ")).bind(Bind::Real(lat.0));
                sql.push(&format!(" AND {a}.lo <= ")).bind(Bind::Real(lat.1));
                sql.push(&format!(" AND {b}.lo >= ")).bind(Bind::Real(long.0));
                sql.push(&format!(" AND {b}.lo <= ")).bind(Bind::Real(long.1));
                sql.push(")");
            }
            Condition::List(list_id) => {
                let l = self.next_alias("l");
                let t = self.next_alias("t");
                let list = self.next_alias("list");
                sql.push(&format!(
                    "{} IN (SELECT {t}.rid FROM search_reference {l} JOIN resource {t} ON {t}.res_type = {l}.target_type \
                     AND {t}.res_id = {l}.target_id JOIN resource {list} ON {list}.rid = {l}.rid \
                     WHERE {list}.res_type = 'List' AND {list}.deleted = FALSE AND {l}.param_key = {} AND {list}.res_id = ",
                    target.rid,
                    param_key("List", "item")
                ));
                sql.bind(Bind::Text(list_id.clone()));
                self.push_reach(sql, &list, &["List".to_string()], false);
                sql.push(")");
            }
            _ => {
                sql.push("1 = 0");
            }
        }
    }

    /// A single-row predicate on an index-table alias `x`, holding rows of `types`.
    fn predicate(&self, sql: &mut Sql, c: &Condition, types: &[String], x: &str, key: &str) {
        let param = |sql: &mut Sql, p: &str| push_param_keys(sql, key, types, &[p]);
        match c {
            Condition::String { param: p, value, mode } => {
                param(sql, p);
                match mode {
                    StringMatch::Exact => {
                        sql.push(&format!(" AND {x}.exact = ")).bind(Bind::Text(value.clone()));
                    }
                    StringMatch::StartsWith => self.starts_with(sql, &format!("{x}.norm"), value),
                    StringMatch::Contains => {
                        sql.push(&format!(" AND {x}.norm LIKE ")).bind(Bind::Text(format!("%{}%", like_escape(value))));
                        sql.push(" ESCAPE '\\'");
                    }
                }
            }
            Condition::TokenText { param: p, value } => {
                param(sql, &format!("{p}:text"));
                self.starts_with(sql, &format!("{x}.norm"), value);
            }
            Condition::Token { param: p, system, code } => {
                param(sql, p);
                if let Some(code) = code {
                    sql.push(&format!(" AND {x}.code = ")).bind(Bind::Text(code.clone()));
                }
                match system.as_deref() {
                    None => {}
                    Some("") => {
                        sql.push(&format!(" AND {x}.system IS NULL"));
                    }
                    Some(s) => {
                        sql.push(&format!(" AND {x}.system = ")).bind(Bind::Text(s.to_string()));
                    }
                }
            }
            Condition::Codes { param: p, codes } => {
                param(sql, p);
                sql.push(" AND (");
                let groups: Vec<&(String, Vec<String>)> = codes.iter().filter(|(_, c)| !c.is_empty()).collect();
                if groups.is_empty() {
                    sql.push("1 = 0");
                }
                for (i, (system, list)) in groups.into_iter().enumerate() {
                    if i > 0 {
                        sql.push(" OR ");
                    }
                    sql.push(&format!("({x}.system = ")).bind(Bind::Text(system.clone()));
                    sql.push(&format!(" AND {x}.code IN ("));
                    text_list(sql, list);
                    sql.push("))");
                }
                sql.push(")");
            }
            Condition::Date { param: p, prefix, lo, hi } => {
                param(sql, p);
                sql.push(" AND ");
                range_predicate(sql, *prefix, &format!("{x}.lo"), &format!("{x}.hi"), *lo, *hi);
            }
            Condition::Number { param: p, prefix, value, lo, hi } => {
                param(sql, p);
                sql.push(" AND ");
                number_predicate(sql, *prefix, &format!("{x}.lo"), &format!("{x}.hi"), *value, *lo, *hi);
            }
            Condition::Quantity { param: p, prefix, value, lo, hi, system, code, canon } => {
                param(sql, p);
                sql.push(" AND ((");
                number_predicate(sql, *prefix, &format!("{x}.lo"), &format!("{x}.hi"), *value, *lo, *hi);
                if let Some(code) = code {
                    sql.push(&format!(" AND {x}.code = ")).bind(Bind::Text(code.clone()));
                }
                if let Some(system) = system {
                    sql.push(&format!(" AND {x}.system = ")).bind(Bind::Text(system.clone()));
                }
                sql.push(")");
                if let Some((key, value, lo, hi)) = canon {
                    // The same quantity in another unit of the same dimension (1 g = 1000 mg).
                    sql.push(&format!(" OR ({x}.canon_code = ")).bind(Bind::Text(key.clone())).push(" AND ");
                    number_predicate(
                        sql,
                        *prefix,
                        &format!("{x}.canon_lo"),
                        &format!("{x}.canon_hi"),
                        *value,
                        *lo,
                        *hi,
                    );
                    sql.push(")");
                }
                sql.push(")");
            }
            Condition::Reference { param: p, target_type, id, version, url } => {
                self.push_row_keys(sql, x, key, types, &[p], id.is_none());
                if let Some(t) = target_type {
                    sql.push(&format!(" AND {x}.target_type = ")).bind(Bind::Text(t.clone()));
                }
                if let Some(id) = id {
                    sql.push(&format!(" AND {x}.target_id = ")).bind(Bind::Text(id.clone()));
                }
                if let Some(url) = url {
                    sql.push(&format!(" AND {x}.url = ")).bind(Bind::Text(url.clone()));
                }
                if let Some(v) = version {
                    sql.push(&format!(" AND {x}.version = ")).bind(Bind::Text(v.clone()));
                }
            }
            Condition::Uri { param: p, value, mode } => {
                param(sql, p);
                match mode {
                    UriMatch::Equals => {
                        sql.push(&format!(" AND {x}.value = ")).bind(Bind::Text(value.clone()));
                    }
                    UriMatch::Below => self.starts_with(sql, &format!("{x}.value"), value),
                    UriMatch::Above => {
                        sql.push(" AND ").bind(Bind::Text(value.clone()));
                        sql.push(&format!(" >= {x}.value AND ")).bind(Bind::Text(value.clone()));
                        sql.push(&format!(" < {x}.value || ")).bind(Bind::Text(MAX_CHAR.to_string()));
                    }
                }
            }
            _ => {
                sql.push("1 = 0");
            }
        }
    }

    /// Prefix match as an index range: `col >= v AND col < v || U+10FFFF` (byte order).
    fn starts_with(&self, sql: &mut Sql, col: &str, value: &str) {
        let collate = self.dialect.bytewise();
        sql.push(&format!(" AND {col}{collate} >= ")).bind(Bind::Text(value.to_string()));
        sql.push(&format!(" AND {col}{collate} < ")).bind(Bind::Text(format!("{value}{MAX_CHAR}")));
    }

    /// The SQL expression of a sort key, and its column kind.
    fn sort_expression(&self, by: &SortBy, direction: Direction, types: &[String], sql: &mut Sql) -> Column {
        let collate = self.dialect.bytewise();
        match by {
            SortBy::Id => {
                sql.push(&format!("r.res_id{collate}"));
                Column::Text
            }
            SortBy::LastUpdated => {
                sql.push("r.last_updated");
                Column::Int
            }
            SortBy::Param(param) => {
                let asc = direction == Direction::Ascending;
                let (column, kind) = match param.kind {
                    ParamType::Date => (if asc { "MIN(s.lo)" } else { "MAX(s.hi)" }, Column::Int),
                    ParamType::String => (if asc { "MIN(s.norm)" } else { "MAX(s.norm)" }, Column::Text),
                    ParamType::Token => (if asc { "MIN(s.code)" } else { "MAX(s.code)" }, Column::Text),
                    ParamType::Number | ParamType::Quantity => {
                        (if asc { "MIN(s.lo)" } else { "MAX(s.hi)" }, Column::Real)
                    }
                    ParamType::Reference => (if asc { "MIN(s.target_id)" } else { "MAX(s.target_id)" }, Column::Text),
                    ParamType::Uri => (if asc { "MIN(s.value)" } else { "MAX(s.value)" }, Column::Text),
                    ParamType::Composite | ParamType::Special => ("NULL", Column::Text),
                };
                sql.push(&format!(
                    "(SELECT {column} FROM {} s WHERE s.rid = r.rid AND s.grp IS NULL AND ",
                    table(param.kind)
                ));
                self.push_row_keys(sql, "s", "s.param_key", types, &param.row_codes(), false);
                sql.push(")");
                kind
            }
        }
    }

    /// The page query: `rid` and sort keys of up to `limit` rows after (or before) the cursor,
    /// driven by the most selective filter.
    pub fn page(&self, query: &SearchQuery, limit: usize) -> (Sql, Vec<Column>) {
        self.page_as(query, limit, Access::Drive)
    }

    /// The page query under `access`, in one statement over `resource r`.
    pub fn page_as(&self, query: &SearchQuery, limit: usize, access: Access) -> (Sql, Vec<Column>) {
        let towards = query.cursor.as_ref().map_or(Towards::Next, |c| c.towards);
        let reverse = towards == Towards::Previous;
        let mut sql = Sql::new("");
        if query.sort.is_empty() {
            sql.push("SELECT r.rid FROM resource r WHERE ");
            self.where_clause(&mut sql, query, access);
            if let Some(c) = &query.cursor {
                sql.push(if reverse { " AND r.rid < " } else { " AND r.rid > " }).bind(Bind::Int(c.rid));
            }
            sql.push(if reverse { " ORDER BY r.rid DESC LIMIT " } else { " ORDER BY r.rid ASC LIMIT " });
            sql.bind(Bind::Int(limit as i64));
            return (sql, vec![Column::Int]);
        }
        let mut columns = vec![Column::Int];
        sql.push("SELECT q.rid");
        for i in 0..query.sort.len() {
            sql.push(&format!(", q.k{i}"));
        }
        sql.push(" FROM (SELECT r.rid AS rid");
        for (i, key) in query.sort.iter().enumerate() {
            sql.push(", ");
            columns.push(self.sort_expression(&key.by, key.direction, &query.param_types, &mut sql));
            sql.push(&format!(" AS k{i}"));
        }
        sql.push(" FROM resource r WHERE ");
        self.where_clause(&mut sql, query, access);
        sql.push(") q");
        if let Some(c) = &query.cursor {
            sql.push(" WHERE ");
            keyset(&mut sql, query, c, &columns);
        }
        sql.push(&order_by(query, "q"));
        sql.push(" LIMIT ").bind(Bind::Int(limit as i64));
        (sql, columns)
    }

    /// The statements of a page under `access`, each returning rows (keys and current version)
    /// that follow those of the one before: run in turn until the page is full. One statement,
    /// except for a walk along a sort key's index, which reads the resources without a value
    /// (they sort last) in a second statement.
    pub fn page_segments(&self, query: &SearchQuery, limit: usize, access: Access) -> Vec<(Sql, Vec<Column>)> {
        if access == Access::Walk
            && let Some(walk) = self.sort_walk(query)
        {
            let mut segments = Vec::with_capacity(2);
            if !walk.in_missing {
                segments.push(with_versions(self.walk_values(query, &walk, limit), &walk.order()));
            }
            if !walk.needs_value {
                segments.push(with_versions(self.walk_missing(query, &walk, limit), " ORDER BY p.rid ASC"));
            }
            return segments;
        }
        // A sorted page that cannot walk an index must read every match to sort them: let the
        // most selective filter produce them, unless a confined caller's reach does (`Walk`).
        let access = if query.sort.is_empty() || self.reach.is_some() { access } else { Access::Drive };
        let page = self.page_as(query, limit, access);
        let order = if query.sort.is_empty() {
            let reverse = query.cursor.as_ref().is_some_and(|c| c.towards == Towards::Previous);
            (if reverse { " ORDER BY p.rid DESC" } else { " ORDER BY p.rid ASC" }).to_string()
        } else {
            order_by(query, "p")
        };
        vec![with_versions(page, &order)]
    }

    /// Whether `query`'s page can walk its sort key's index: one date key, one type, no
    /// compartment, not confined (a confined caller's compartments drive instead), going
    /// forward (a previous page is planned the ordinary way).
    fn sort_walk(&self, query: &SearchQuery) -> Option<SortWalk> {
        if self.reach.is_some() || query.compartment.is_some() || query.resource_types.len() != 1 {
            return None;
        }
        let [SortKey { by: SortBy::Param(param), direction }] = query.sort.as_slice() else { return None };
        if param.kind != ParamType::Date || !param.stored_in.is_empty() {
            return None;
        }
        // Going up, a range on the key's own parameter (`date=ge2025&_sort=date`) would make the
        // walk read every earlier date before the first match: its own lookup drives instead.
        let own_filter = query.filters.iter().any(|f| {
            matches!(&f.kind, FilterKind::AnyOf { conditions, .. }
                if conditions.iter().any(|c| matches!(c, Condition::Date { param: p, .. } if *p == param.code)))
        });
        // A filter of only dates of the key's own parameter needs a value: nothing is missing.
        let needs_value = query.filters.iter().any(|f| {
            matches!(&f.kind, FilterKind::AnyOf { conditions, negated: false }
                if conditions.iter().all(|c| matches!(c, Condition::Date { param: p, .. } if *p == param.code)))
        });
        if *direction == Direction::Ascending && own_filter {
            return None;
        }
        let in_missing = match &query.cursor {
            None => false,
            Some(c) if c.towards == Towards::Previous => return None,
            Some(c) => match c.keys.first() {
                Some(Key::Null) | None => true,
                Some(Key::Int(_)) => false,
                Some(_) => return None,
            },
        };
        Some(SortWalk {
            key: param_key(query.resource_types.first()?, &param.code),
            ascending: *direction == Direction::Ascending,
            in_missing,
            needs_value,
        })
    }

    /// The resources with a value for the walked date key, read along the date index in the
    /// page's order: each resource once, at its sort value (the earliest start going up, the
    /// latest end going down), stopping after `limit` rows.
    fn walk_values(&self, query: &SearchQuery, walk: &SortWalk, limit: usize) -> (Sql, Vec<Column>) {
        let (column, extreme, cmp) = if walk.ascending { ("lo", "MIN", ">") } else { ("hi", "MAX", "<") };
        let mut sql = Sql::new(&format!("SELECT DISTINCT s.rid AS rid, s.{column} AS k0 FROM search_date s "));
        // SQLite must read the date index first and look each resource up, not the other way.
        sql.push(match self.dialect {
            Dialect::Sqlite => "CROSS JOIN resource r WHERE r.rid = s.rid AND s.param_key = ",
            Dialect::Postgres => "JOIN resource r ON r.rid = s.rid WHERE s.param_key = ",
        });
        sql.bind(Bind::Int(walk.key)).push(" AND s.grp IS NULL");
        sql.push(&format!(
            " AND s.{column} = (SELECT {extreme}(m.{column}) FROM search_date m WHERE m.rid = s.rid \
             AND m.grp IS NULL AND m.param_key = "
        ));
        sql.bind(Bind::Int(walk.key)).push(")");
        if let Some(c) = &query.cursor
            && let Some(Key::Int(value)) = c.keys.first()
        {
            // At or beyond the boundary value (an index range), and past the boundary row.
            sql.push(&format!(" AND s.{column} {cmp}= ")).bind(Bind::Int(*value));
            sql.push(&format!(" AND (s.{column} {cmp} ")).bind(Bind::Int(*value));
            sql.push(" OR s.rid > ").bind(Bind::Int(c.rid)).push(")");
        }
        sql.push(" AND ");
        self.where_clause_as(&mut sql, query, Access::Walk, true);
        sql.push(&format!(" ORDER BY s.{column} {}, s.rid ASC LIMIT ", if walk.ascending { "ASC" } else { "DESC" }));
        sql.bind(Bind::Int(limit as i64));
        (sql, vec![Column::Int, Column::Int])
    }

    /// The resources without a value for the walked key (they sort last), in key order.
    fn walk_missing(&self, query: &SearchQuery, walk: &SortWalk, limit: usize) -> (Sql, Vec<Column>) {
        let mut sql = Sql::new("SELECT r.rid AS rid, CAST(NULL AS BIGINT) AS k0 FROM resource r WHERE ");
        self.where_clause(&mut sql, query, Access::Walk);
        sql.push(
            " AND NOT EXISTS (SELECT 1 FROM search_date m WHERE m.rid = r.rid AND m.grp IS NULL AND m.param_key = ",
        );
        sql.bind(Bind::Int(walk.key)).push(")");
        if let Some(c) = &query.cursor
            && walk.in_missing
        {
            sql.push(" AND r.rid > ").bind(Bind::Int(c.rid));
        }
        sql.push(" ORDER BY r.rid ASC LIMIT ").bind(Bind::Int(limit as i64));
        (sql, vec![Column::Int, Column::Int])
    }

    /// How many resources match `query` (exactly).
    pub fn count(&self, query: &SearchQuery) -> Sql {
        let mut sql = Sql::new("SELECT COUNT(*) FROM resource r WHERE ");
        self.where_clause(&mut sql, query, Access::Drive);
        sql
    }

    /// How many resources match `query`, counting no further than `bound` (a result of `bound`
    /// means "at least that many"): the statement stops at the bound's row.
    pub fn count_up_to(&self, query: &SearchQuery, bound: usize, access: Access) -> Sql {
        // SQLite reads an `IN (lookup)` in full before the first row; the lookup's rows are
        // streamed instead, each resource checked as it comes, so the count stops at the bound
        // after reading about as many index rows. (PostgreSQL runs the `IN` form as a hash join
        // of the whole lookup: see [`Planner::driver_matches_up_to`].)
        if access == Access::Drive
            && self.dialect == Dialect::Sqlite
            && let Some(sql) = self.streamed_count(query, bound, true)
        {
            return sql;
        }
        let mut sql = Sql::new("SELECT COUNT(*) FROM (SELECT r.rid FROM resource r WHERE ");
        self.where_clause(&mut sql, query, access);
        sql.push(" LIMIT ").bind(Bind::Int(bound as i64)).push(") b");
        sql
    }

    /// How many rows of the driving lookup belong to resources that match `query`, counting no
    /// further than `bound`, and how many resources those rows are: `(rows, resources)`, and
    /// when `rows` stayed under the bound, `resources` is the exact count. PostgreSQL cannot stop
    /// a `DISTINCT` early (it sorts or hashes every row first), but it counts these rows as they
    /// come, and distinct resources among no more than `bound` rows cost nothing; one statement
    /// either way. `None` when no single lookup drives the query.
    pub fn driver_matches_up_to(&self, query: &SearchQuery, bound: usize) -> Option<Sql> {
        self.streamed_count(query, bound, false)
    }

    /// `SELECT COUNT(*)` of the resources the driving lookup's rows match, up to `bound`
    /// (`distinct`), or `SELECT COUNT(*), COUNT(DISTINCT rid)` of up to `bound` of those rows.
    fn streamed_count(&self, query: &SearchQuery, bound: usize, distinct: bool) -> Option<Sql> {
        let (lookup, by_id) = self.driver_lookup(query)?;
        let mut sql = Sql::new(if distinct {
            "SELECT COUNT(*) FROM (SELECT DISTINCT r.rid FROM ("
        } else {
            "SELECT COUNT(*), COUNT(DISTINCT b.rid) FROM (SELECT r.rid FROM ("
        });
        sql.binds = lookup.binds;
        sql.push(&lookup.text);
        if by_id {
            // `_has` gives ids: each is looked up by (type, id).
            sql.push(") d CROSS JOIN resource r WHERE r.res_id = d.target_id");
            types_condition(&mut sql, "r.res_type", &query.resource_types);
            sql.push(" AND ");
        } else {
            sql.push(") d CROSS JOIN resource r WHERE r.rid = d.rid AND ");
        }
        self.where_clause_as(&mut sql, query, Access::Walk, true);
        sql.push(" LIMIT ").bind(Bind::Int(bound as i64)).push(") b");
        Some(sql)
    }

    /// How many index rows the filter that would drive `query` matches, counting no further
    /// than `bound`: what [`Access`] is chosen by. `None` when no single lookup drives it.
    pub fn driver_probe(&self, query: &SearchQuery, bound: usize) -> Option<Sql> {
        let (lookup, _) = self.driver_lookup(query)?;
        let mut sql = Sql::new("SELECT COUNT(*) FROM (");
        sql.binds = lookup.binds;
        sql.push(&lookup.text);
        sql.push(" LIMIT ").bind(Bind::Int(bound as i64)).push(") p");
        Some(sql)
    }

    /// The single lookup of the filter that would drive `query` (`SELECT rid ...`, or for
    /// `_has`, `true` with the referenced ids), if it is one.
    fn driver_lookup(&self, query: &SearchQuery) -> Option<(Sql, bool)> {
        let filter = query.filters.get(Planner::driver(query)?)?;
        let FilterKind::AnyOf { conditions, negated: false } = &filter.kind else { return None };
        let mut sql = Sql::new("");
        let mut by_id = false;
        let tables: Vec<Option<&str>> = conditions.iter().map(simple_table).collect();
        match (conditions.as_slice(), tables.first()) {
            ([Condition::Chain { param, target_types, inner }], _) => {
                self.chain_lookup(&mut sql, param, target_types, inner, &filter.resource_types);
            }
            ([Condition::Has { source_type, param, inner }], _) => {
                self.has_lookup(&mut sql, source_type, param, inner, &filter.resource_types);
                by_id = true;
            }
            (_, Some(Some(table_name))) if tables.iter().all(|t| t == &Some(*table_name)) => {
                let all: Vec<&Condition> = conditions.iter().collect();
                let x = self.next_alias("x");
                self.lookup(&mut sql, table_name, &all, &filter.resource_types, &x);
            }
            _ => return None,
        }
        Some((sql, by_id))
    }

    /// Whether the filter that would drive `query` names a few resources by what identifies
    /// them: the resources it refers to by id (`patient=123`, `subject=Patient/123`: the rows of
    /// a few resources' references), or a business identifier with its system
    /// (`identifier=urn:oid:...|80010112357`, a PESEL lookup). Such a filter drives without its
    /// lookup being counted first: one statement less on the hottest paths, a patient's own data
    /// and finding a patient. Should many share one identifier, driving reads them all, which
    /// costs time in proportion to them and nothing else.
    pub fn driver_names_few(query: &SearchQuery) -> bool {
        let Some(filter) = Planner::driver(query).and_then(|i| query.filters.get(i)) else { return false };
        let names_few = |c: &Condition| match c {
            Condition::Reference { id, .. } => id.is_some(),
            Condition::Token { param, system: Some(_), code: Some(_) } => param == "identifier",
            _ => false,
        };
        matches!(&filter.kind, FilterKind::AnyOf { conditions, negated: false } if conditions.iter().all(names_few))
    }

    /// Whether `query` has a filter that would drive it (otherwise its type, compartment or
    /// the caller's reach produce the candidates).
    pub fn has_driver(query: &SearchQuery) -> bool {
        Planner::driver(query).is_some()
    }

    /// Matching resources' keys (for conditional interactions), at most `limit`.
    pub fn ids(&self, query: &SearchQuery, limit: usize) -> Sql {
        let mut sql = Sql::new("SELECT r.res_id FROM resource r WHERE ");
        self.where_clause(&mut sql, query, Access::Drive);
        sql.push(" ORDER BY r.rid LIMIT ").bind(Bind::Int(limit as i64));
        sql
    }

    /// The reference rows at `x` that `include` follows (never by URL: it joins on targets).
    fn push_include_keys(&self, sql: &mut Sql, include: &Include) {
        let source = std::slice::from_ref(&include.source_type);
        self.push_row_keys(sql, "x", "x.param_key", source, &include.params, false);
    }

    /// Resources that resources `rids` reference through `include`.
    pub fn include(&self, include: &Include, rids: &[i64], limit: usize) -> Sql {
        let mut sql = Sql::new(
            "SELECT DISTINCT t.rid FROM search_reference x JOIN resource t ON t.res_type = x.target_type \
             AND t.res_id = x.target_id AND t.deleted = FALSE WHERE x.grp IS NULL AND ",
        );
        self.push_include_keys(&mut sql, include);
        if let Some(t) = &include.target_type {
            sql.push(" AND x.target_type = ").bind(Bind::Text(t.clone()));
        }
        sql.push(" AND x.rid IN (");
        int_list(&mut sql, rids);
        sql.push(")");
        let target_types: Vec<String> = include.target_type.iter().cloned().collect();
        self.push_reach(&mut sql, "t", &target_types, false);
        sql.push(" LIMIT ").bind(Bind::Int(limit as i64));
        sql
    }

    /// Resources that reference any of `targets` (type, id) through `include`.
    pub fn revinclude(&self, include: &Include, targets: &[(String, String)], limit: usize) -> Sql {
        let mut sql = Sql::new(
            "SELECT DISTINCT x.rid FROM search_reference x JOIN resource s ON s.rid = x.rid AND s.deleted = FALSE \
             WHERE x.grp IS NULL AND ",
        );
        self.push_include_keys(&mut sql, include);
        sql.push(" AND (");
        let mut types: Vec<&str> = targets.iter().map(|(t, _)| t.as_str()).collect();
        types.sort_unstable();
        types.dedup();
        for (i, t) in types.iter().enumerate() {
            if i > 0 {
                sql.push(" OR ");
            }
            sql.push("(x.target_type = ").bind(Bind::Text(t.to_string())).push(" AND x.target_id IN (");
            for (j, (_, id)) in targets.iter().filter(|(tt, _)| tt == t).enumerate() {
                if j > 0 {
                    sql.push(", ");
                }
                sql.bind(Bind::Text(id.clone()));
            }
            sql.push("))");
        }
        sql.push(")");
        self.push_reach(&mut sql, "s", std::slice::from_ref(&include.source_type), false);
        sql.push(" LIMIT ").bind(Bind::Int(limit as i64));
        sql
    }
}

/// A page read along a date sort key's index (`search_date_lookup` going up,
/// `search_date_sort_hi` going down).
struct SortWalk {
    /// The key of the sort parameter's rows on the one type searched.
    key: i64,
    ascending: bool,
    /// The cursor is past every resource with a value: only those without one are left.
    in_missing: bool,
    /// A filter matches only resources with a value, so none without one need be read.
    needs_value: bool,
}

impl SortWalk {
    fn order(&self) -> String {
        format!(" ORDER BY p.k0 {}, p.rid ASC", if self.ascending { "ASC" } else { "DESC" })
    }
}

/// `page` with each row's current version: joined to the stored versions and put in `order`
/// again (a join does not keep the order of its input).
fn with_versions((page, mut columns): (Sql, Vec<Column>), order: &str) -> (Sql, Vec<Column>) {
    let mut sql = Sql::new(&format!(
        "SELECT p.*, {VERSION_COLUMNS} FROM ({}) p JOIN resource pr ON pr.rid = p.rid \
         JOIN resource_version v ON v.seq = pr.seq",
        page.text
    ));
    sql.binds = page.binds;
    sql.push(order);
    columns.extend(crate::sql::VERSION_CELLS);
    (sql, columns)
}

/// How a filter takes part in a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `rid IN (lookup)`: the lookup produces the candidates.
    Drive,
    /// `EXISTS (... WHERE rid = candidate ...)`: checked per candidate.
    Probe,
    /// As `Probe`, and chains and `_has` too are probed per candidate (with their own filters),
    /// so nothing is read in full before the first row.
    Walk,
}

/// How well a filter narrows the result, lower is better; `None` when it cannot drive a query
/// (negations, `:missing`, conditions on the resource row itself).
fn selectivity(filter: &Filter) -> Option<u8> {
    let FilterKind::AnyOf { conditions, negated: false } = &filter.kind else { return None };
    conditions
        .iter()
        .map(|c| match c {
            Condition::Token { code: Some(_), .. }
            | Condition::Reference { id: Some(_), .. }
            | Condition::Reference { url: Some(_), .. } => Some(0),
            Condition::String { mode: StringMatch::Exact, .. } | Condition::Uri { mode: UriMatch::Equals, .. } => {
                Some(1)
            }
            Condition::String { .. }
            | Condition::TokenText { .. }
            | Condition::Composite { .. }
            | Condition::Codes { .. }
            | Condition::Near { .. } => Some(2),
            Condition::Chain { .. } | Condition::Has { .. } | Condition::List(_) => Some(3),
            Condition::Token { .. } | Condition::Reference { .. } | Condition::Uri { .. } => Some(4),
            Condition::Date { .. } | Condition::Number { .. } | Condition::Quantity { .. } => Some(5),
            Condition::Id(_)
            | Condition::LastUpdated { .. }
            | Condition::Types(_)
            | Condition::Absent { .. }
            | Condition::Terminology { .. } => None,
        })
        .try_fold(0u8, |worst, rank| rank.map(|r| worst.max(r)))
}

/// The index table a condition is a plain row lookup in, if it is one.
fn simple_table(c: &Condition) -> Option<&'static str> {
    Some(match c {
        Condition::String { .. } | Condition::TokenText { .. } => "search_string",
        Condition::Token { .. } | Condition::Codes { .. } => "search_token",
        Condition::Date { .. } => "search_date",
        Condition::Number { .. } => "search_number",
        Condition::Quantity { .. } => "search_quantity",
        Condition::Reference { .. } => "search_reference",
        Condition::Uri { .. } => "search_uri",
        _ => return None,
    })
}

fn types_condition(sql: &mut Sql, column: &str, types: &[String]) {
    if !types.is_empty() {
        sql.push(" AND ");
        push_equals_any(sql, column, types);
    }
}

fn int_list(sql: &mut Sql, values: &[i64]) {
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.bind(Bind::Int(*v));
    }
}

fn like_escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

/// Range semantics of FHIR date prefixes: the target `[tlo, thi)` against the search `[lo, hi)`.
fn range_predicate(sql: &mut Sql, prefix: Prefix, tlo: &str, thi: &str, lo: i64, hi: i64) {
    let contained = |sql: &mut Sql| {
        sql.push(&format!("({tlo} >= "))
            .bind(Bind::Int(lo))
            .push(&format!(" AND {thi} <= "))
            .bind(Bind::Int(hi))
            .push(")");
    };
    match prefix {
        Prefix::Eq => contained(sql),
        Prefix::Ne => {
            sql.push("NOT ");
            contained(sql);
        }
        Prefix::Gt => {
            sql.push(&format!("{thi} > ")).bind(Bind::Int(hi));
        }
        Prefix::Lt => {
            sql.push(&format!("{tlo} < ")).bind(Bind::Int(lo));
        }
        // Each alternative of `ge` ends after `lo` and each of `le` starts before `hi`: said
        // once more on its own, that bound is an index range (the end index, the start index)
        // instead of a read of every date of the parameter.
        Prefix::Ge => {
            sql.push(&format!("({thi} > ")).bind(Bind::Int(hi)).push(" OR ");
            contained(sql);
            sql.push(&format!(") AND {thi} > ")).bind(Bind::Int(lo));
        }
        Prefix::Le => {
            sql.push(&format!("({tlo} < ")).bind(Bind::Int(lo)).push(" OR ");
            contained(sql);
            sql.push(&format!(") AND {tlo} < ")).bind(Bind::Int(hi));
        }
        Prefix::Sa => {
            sql.push(&format!("{tlo} >= ")).bind(Bind::Int(hi));
        }
        Prefix::Eb => {
            sql.push(&format!("{thi} <= ")).bind(Bind::Int(lo));
        }
        Prefix::Ap => {
            // Within 10% of the distance to now, at least a day.
            let now = ikp_model::clock::now();
            let span = ((now - lo).abs() / 10).max(86_400_000_000);
            sql.push(&format!("({tlo} < ")).bind(Bind::Int(hi.saturating_add(span)));
            sql.push(&format!(" AND {thi} > ")).bind(Bind::Int(lo.saturating_sub(span))).push(")");
        }
    }
}

/// Number semantics: `eq` within the precision range of the search value; the ordering prefixes on
/// the exact value; `ap` within 10%.
fn number_predicate(sql: &mut Sql, prefix: Prefix, tlo: &str, thi: &str, value: f64, lo: f64, hi: f64) {
    let within = |sql: &mut Sql| {
        sql.push(&format!("({tlo} >= "))
            .bind(Bind::Real(lo))
            .push(&format!(" AND {thi} < "))
            .bind(Bind::Real(hi))
            .push(")");
    };
    match prefix {
        Prefix::Eq => within(sql),
        Prefix::Ne => {
            sql.push("NOT ");
            within(sql);
        }
        Prefix::Gt | Prefix::Sa => {
            sql.push(&format!("{thi} > ")).bind(Bind::Real(value));
        }
        Prefix::Lt | Prefix::Eb => {
            sql.push(&format!("{tlo} < ")).bind(Bind::Real(value));
        }
        Prefix::Ge => {
            sql.push(&format!("{thi} >= ")).bind(Bind::Real(value));
        }
        Prefix::Le => {
            sql.push(&format!("{tlo} <= ")).bind(Bind::Real(value));
        }
        Prefix::Ap => {
            let margin = (value.abs() * 0.1).max(hi - lo);
            sql.push(&format!("({tlo} <= ")).bind(Bind::Real(value + margin));
            sql.push(&format!(" AND {thi} >= ")).bind(Bind::Real(value - margin)).push(")");
        }
    }
}

/// Rows strictly after (or before) the cursor's boundary row in the query's sort order.
fn keyset(sql: &mut Sql, query: &SearchQuery, cursor: &Cursor, columns: &[Column]) {
    let reverse = cursor.towards == Towards::Previous;
    // after := k0 beyond OR (k0 equal AND (k1 beyond OR (... rid beyond)))
    let mut open = 0;
    for (i, key) in query.sort.iter().enumerate() {
        let column = format!("q.k{i}");
        let ascending = key.direction == Direction::Ascending;
        let boundary = cursor.keys.get(i).cloned().unwrap_or(Key::Null);
        let bind = |sql: &mut Sql| {
            match (&boundary, columns.get(i + 1)) {
                (Key::Int(v), _) => sql.bind(Bind::Int(*v)),
                (Key::Real(v), _) => sql.bind(Bind::Real(*v)),
                (Key::Text(v), _) => sql.bind(Bind::Text(v.clone())),
                (Key::Null, _) => sql.push("NULL"),
            };
        };
        sql.push("(");
        match (&boundary, reverse) {
            // Past a value: a later value, or no value (nulls come last).
            (Key::Null, false) => {
                sql.push("1 = 0");
            }
            (Key::Null, true) => {
                sql.push(&format!("{column} IS NOT NULL"));
            }
            (_, false) => {
                sql.push(&format!("{column} IS NULL OR {column} {} ", if ascending { ">" } else { "<" }));
                bind(sql);
            }
            (_, true) => {
                sql.push(&format!("{column} IS NOT NULL AND {column} {} ", if ascending { "<" } else { ">" }));
                bind(sql);
            }
        }
        sql.push(" OR (");
        match boundary {
            Key::Null => {
                sql.push(&format!("{column} IS NULL"));
            }
            _ => {
                sql.push(&format!("{column} = "));
                bind(sql);
            }
        }
        sql.push(" AND ");
        open += 2;
    }
    sql.push(if reverse { "q.rid < " } else { "q.rid > " }).bind(Bind::Int(cursor.rid));
    for _ in 0..open {
        sql.push(")");
    }
}
