//! SQL shared by both backends. Both accept `$N` placeholders, `RETURNING` and
//! `ON CONFLICT ... DO UPDATE`, so statements are written once; each backend only binds values
//! and adds what is truly its own (row locks, advisory locks, pragmas).

use std::collections::HashMap;

use super::{HistoryQuery, HistoryScope, NewVersion};

/// A value bound to a placeholder.
#[derive(Debug, Clone)]
pub enum Bind {
    Int(i64),
    OptInt(Option<i64>),
    Real(f64),
    OptReal(Option<f64>),
    Text(String),
    OptText(Option<String>),
    OptBlob(Option<Vec<u8>>),
    Bool(bool),
}

/// The kind of a result column of a generated query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    Int,
    Real,
    Text,
    /// A stored resource body (`resource_version.body`), read back as its JSON text.
    Body,
}

/// One value of a result row.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
}

impl Cell {
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Cell::Int(i) => Some(*i),
            _ => None,
        }
    }

    pub fn into_text(self) -> Option<String> {
        match self {
            Cell::Text(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_text(&self) -> Option<&str> {
        match self {
            Cell::Text(s) => Some(s),
            _ => None,
        }
    }
}

/// A query with its values bound, for either backend.
pub fn bound<DB>(sql: Sql) -> sqlx::query::Query<'static, DB, <DB as sqlx::Database>::Arguments>
where
    DB: sqlx::Database,
    i64: sqlx::Encode<'static, DB> + sqlx::Type<DB>,
    Option<i64>: sqlx::Encode<'static, DB> + sqlx::Type<DB>,
    f64: sqlx::Encode<'static, DB> + sqlx::Type<DB>,
    Option<f64>: sqlx::Encode<'static, DB> + sqlx::Type<DB>,
    String: sqlx::Encode<'static, DB> + sqlx::Type<DB>,
    Option<String>: sqlx::Encode<'static, DB> + sqlx::Type<DB>,
    Option<Vec<u8>>: sqlx::Encode<'static, DB> + sqlx::Type<DB>,
    bool: sqlx::Encode<'static, DB> + sqlx::Type<DB>,
{
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.text));
    for b in sql.binds {
        q = match b {
            Bind::Int(v) => q.bind(v),
            Bind::OptInt(v) => q.bind(v),
            Bind::Real(v) => q.bind(v),
            Bind::OptReal(v) => q.bind(v),
            Bind::Text(v) => q.bind(v),
            Bind::OptText(v) => q.bind(v),
            Bind::OptBlob(v) => q.bind(v),
            Bind::Bool(v) => q.bind(v),
        };
    }
    q
}

/// Decodes a result row into cells of the expected kinds (either backend).
pub fn cells<'r, R>(row: &'r R, columns: &[Column]) -> Result<Vec<Cell>, sqlx::Error>
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    f64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    Vec<u8>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    columns
        .iter()
        .enumerate()
        .map(|(i, column)| {
            Ok(match column {
                Column::Int => row.try_get::<Option<i64>, _>(i)?.map_or(Cell::Null, Cell::Int),
                Column::Real => row.try_get::<Option<f64>, _>(i)?.map_or(Cell::Null, Cell::Real),
                Column::Text => row.try_get::<Option<String>, _>(i)?.map_or(Cell::Null, Cell::Text),
                Column::Body => stored_body(row.try_get::<Option<Vec<u8>>, _>(i)?)?.map_or(Cell::Null, Cell::Text),
            })
        })
        .collect()
}

/// A resource body as read from `resource_version.body`: its JSON, or `None` for a tombstone.
fn stored_body(stored: Option<Vec<u8>>) -> Result<Option<String>, sqlx::Error> {
    stored.map(|bytes| crate::body::decode(&bytes)).transpose().map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

/// Decodes a row selected with [`VERSION_COLUMNS`] (either backend).
pub fn version_from_row<'r, R>(row: &'r R) -> Result<super::ResourceVersion, super::StoreError>
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    &'r str: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    Vec<u8>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Ok(super::ResourceVersion {
        resource_type: row.try_get(0)?,
        id: row.try_get(1)?,
        version: row.try_get(2)?,
        last_updated: row.try_get(3)?,
        method: super::Method::from_http(row.try_get::<&str, _>(4)?)?,
        content: stored_body(row.try_get(5)?)?,
        seq: row.try_get(6)?,
    })
}

/// Decodes a row of [`current_many`] (either backend).
pub fn current_from_row<'r, R>(row: &'r R) -> Result<((String, String), super::Current), sqlx::Error>
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    bool: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Ok((
        (row.try_get(0)?, row.try_get(1)?),
        super::Current { version: row.try_get(2)?, deleted: row.try_get(3)?, last_updated: row.try_get(4)? },
    ))
}

/// Current versions by surrogate key.
pub fn fetch_by_rid(rids: &[i64]) -> Sql {
    let mut sql = Sql::new(&format!(
        "SELECT {VERSION_COLUMNS}, r.rid FROM resource r JOIN resource_version v ON v.seq = r.seq WHERE r.rid IN ("
    ));
    sql.list(rids.iter().map(|rid| Bind::Int(*rid))).push(")");
    sql
}

/// SQL text with its bind values, in placeholder order.
#[derive(Debug, Default, Clone)]
pub struct Sql {
    pub text: String,
    pub binds: Vec<Bind>,
}

impl Sql {
    pub fn new(text: &str) -> Sql {
        Sql { text: text.to_string(), binds: Vec::new() }
    }

    /// Appends a placeholder for `value`.
    pub fn bind(&mut self, value: Bind) -> &mut Sql {
        self.binds.push(value);
        self.text.push('$');
        self.text.push_str(&self.binds.len().to_string());
        self
    }

    pub fn push(&mut self, text: &str) -> &mut Sql {
        self.text.push_str(text);
        self
    }

    /// Appends placeholders for `values`, separated by commas (the inside of an `IN (...)`).
    pub fn list(&mut self, values: impl IntoIterator<Item = Bind>) -> &mut Sql {
        for (i, value) in values.into_iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.bind(value);
        }
        self
    }

    /// Appends `(v1, v2, ...)` tuples for a multi-row VALUES clause.
    pub fn values<T>(&mut self, rows: &[T], mut row: impl FnMut(&T) -> Vec<Bind>) -> &mut Sql {
        for (i, item) in rows.iter().enumerate() {
            self.push(if i == 0 { "(" } else { ", (" });
            for (j, value) in row(item).into_iter().enumerate() {
                if j > 0 {
                    self.push(", ");
                }
                self.bind(value);
            }
            self.push(")");
        }
        self
    }
}

/// Columns selected for a [`super::ResourceVersion`], from `resource_version v`.
pub const VERSION_COLUMNS: &str = "v.res_type, v.res_id, v.version, v.last_updated, v.method, v.body, v.seq";

/// Cells of [`VERSION_COLUMNS`].
pub const VERSION_CELLS: [Column; 7] =
    [Column::Text, Column::Text, Column::Int, Column::Int, Column::Text, Column::Body, Column::Int];

/// Cells of [`read_with_compartments`]: a version and its compartments.
pub const VERSION_AND_COMPARTMENTS: [Column; 8] =
    [Column::Text, Column::Text, Column::Int, Column::Int, Column::Text, Column::Body, Column::Int, Column::Text];

/// Decodes cells selected with [`VERSION_COLUMNS`] (first seven).
pub fn version_from_cells(row: &[Cell]) -> Result<super::ResourceVersion, super::StoreError> {
    let mut cells = Cells::new("resource_version", row);
    Ok(super::ResourceVersion {
        resource_type: cells.text()?,
        id: cells.text()?,
        version: cells.int()?,
        last_updated: cells.int()?,
        method: super::Method::from_http(&cells.text()?)?,
        content: cells.optional_text(),
        seq: cells.int()?,
    })
}

/// The cells of one result row, taken in SELECT order while a row struct is built from them.
pub(crate) struct Cells<'a> {
    /// What the row was selected from, for the error when a cell is not what the schema promises.
    table: &'static str,
    cells: std::slice::Iter<'a, Cell>,
    taken: usize,
}

impl<'a> Cells<'a> {
    pub(crate) fn new(table: &'static str, row: &'a [Cell]) -> Cells<'a> {
        Cells { table, cells: row.iter(), taken: 0 }
    }

    fn next(&mut self) -> Option<&'a Cell> {
        self.taken += 1;
        self.cells.next()
    }

    /// The next cell, of a nullable text column.
    pub(crate) fn optional_text(&mut self) -> Option<String> {
        self.next().and_then(Cell::as_text).map(str::to_string)
    }

    /// The next cell, of a nullable integer column.
    pub(crate) fn optional_int(&mut self) -> Option<i64> {
        self.next().and_then(Cell::as_int)
    }

    /// The next cell, of a `NOT NULL` text column.
    pub(crate) fn text(&mut self) -> super::StoreResult<String> {
        self.optional_text().ok_or_else(|| self.missing())
    }

    /// The next cell, of a `NOT NULL` integer column.
    pub(crate) fn int(&mut self) -> super::StoreResult<i64> {
        self.optional_int().ok_or_else(|| self.missing())
    }

    /// The migrations declare the column `NOT NULL`: a NULL there means the table is not theirs.
    fn missing(&self) -> super::StoreError {
        super::StoreError::Corrupt(format!("{}: column {} of a selected row is NULL", self.table, self.taken))
    }
}

/// Separates compartments in an aggregated column (ids and types cannot contain it).
const COMPARTMENT_SEPARATOR: char = '\u{1f}';

/// The current version of a resource and its compartments, aggregated into one column.
pub fn read_with_compartments(dialect: crate::Dialect, resource_type: &str, id: &str) -> Sql {
    let aggregate = match dialect {
        crate::Dialect::Postgres => "string_agg(c.comp_type || '/' || c.comp_id, chr(31))",
        crate::Dialect::Sqlite => "group_concat(c.comp_type || '/' || c.comp_id, char(31))",
    };
    let mut sql = Sql::new(&format!(
        "SELECT {VERSION_COLUMNS}, (SELECT {aggregate} FROM compartment c WHERE c.rid = r.rid) \
         FROM resource r JOIN resource_version v ON v.seq = r.seq WHERE r.res_type = "
    ));
    sql.bind(Bind::Text(resource_type.to_string())).push(" AND r.res_id = ").bind(Bind::Text(id.to_string()));
    sql
}

/// `Type/id` compartments from an aggregated column.
pub fn split_compartments(text: &str) -> Vec<(String, String)> {
    text.split(COMPARTMENT_SEPARATOR)
        .filter_map(|c| c.split_once('/'))
        .map(|(t, id)| (t.to_string(), id.to_string()))
        .collect()
}

/// Compartments of the current versions of resources: `(type, id, comp_type, comp_id)` rows.
pub fn compartments_of_current(keys: &[(String, String)]) -> Sql {
    let mut sql = Sql::new(
        "SELECT r.res_type, r.res_id, c.comp_type, c.comp_id FROM resource r JOIN compartment c ON c.rid = r.rid WHERE ",
    );
    push_keys(&mut sql, "r.res_type", "r.res_id", keys);
    sql
}

/// Versions by `(type, id, version)`.
pub fn versions_by_key(keys: &[(String, String, i64)]) -> Sql {
    let mut sql = Sql::new(&format!(
        "SELECT {VERSION_COLUMNS} FROM resource_version v WHERE (v.res_type, v.res_id, v.version) IN (VALUES "
    ));
    for (i, (t, id, version)) in keys.iter().enumerate() {
        sql.push(if i > 0 { ", (" } else { "(" });
        sql.bind(Bind::Text(t.clone())).push(", ").bind(Bind::Text(id.clone())).push(", ").bind(Bind::Int(*version));
        sql.push(")");
    }
    sql.push(")");
    sql
}

/// The current versions of resources (tombstones included).
pub fn current_versions(keys: &[(String, String)]) -> Sql {
    let mut sql =
        Sql::new(&format!("SELECT {VERSION_COLUMNS} FROM resource r JOIN resource_version v ON v.seq = r.seq WHERE "));
    push_keys(&mut sql, "r.res_type", "r.res_id", keys);
    sql
}

/// The content of every live resource of a type.
pub fn live_contents_of_type(resource_type: &str) -> Sql {
    let mut sql = Sql::new(
        "SELECT v.body FROM resource r JOIN resource_version v ON v.seq = r.seq WHERE r.deleted = FALSE AND r.res_type = ",
    );
    sql.bind(Bind::Text(resource_type.to_string()));
    sql
}

/// `(rid, content)` of live resources (of one type, or all) after a key, in key order.
pub fn live_contents_after(after: i64, resource_type: Option<&str>, limit: usize) -> Sql {
    let mut sql = Sql::new(
        "SELECT r.rid, v.body FROM resource r JOIN resource_version v ON v.seq = r.seq WHERE r.deleted = FALSE AND r.rid > ",
    );
    sql.bind(Bind::Int(after));
    if let Some(t) = resource_type {
        sql.push(" AND r.res_type = ").bind(Bind::Text(t.to_string()));
    }
    sql.push(" ORDER BY r.rid LIMIT ").bind(Bind::Int(limit as i64));
    sql
}

/// The newest live resource of a type whose `url` search parameter is `url`.
pub fn newest_by_url(resource_type: &str, url: &str) -> Sql {
    let mut sql = Sql::new(&format!(
        "SELECT {VERSION_COLUMNS} FROM search_uri u JOIN resource r ON r.rid = u.rid \
         JOIN resource_version v ON v.seq = r.seq WHERE u.grp IS NULL AND u.param_key = "
    ));
    sql.bind(Bind::Int(crate::index::param_key(resource_type, "url")))
        .push(" AND u.value = ")
        .bind(Bind::Text(url.to_string()))
        .push(" AND r.deleted = FALSE ORDER BY r.last_updated DESC LIMIT 1");
    sql
}

/// The policy generation: the sum of its slots.
pub const POLICY_GENERATION: &str = "SELECT CAST(COALESCE(SUM(value), 0) AS BIGINT) FROM policy_generation";

/// Slots of the policy generation (see migration 0011).
const POLICY_SLOTS: u64 = 8;

/// Advances one slot of the policy generation, chosen at random so concurrent writers rarely
/// wait for the same row.
pub fn advance_policy_generation() -> Sql {
    let slot = (uuid::Uuid::new_v4().as_u128() as u64) % POLICY_SLOTS;
    let mut sql = Sql::new("UPDATE policy_generation SET value = value + 1 WHERE slot = ");
    sql.bind(Bind::Int(slot as i64));
    sql
}

pub const READ_CURRENT: &str = "SELECT v.res_type, v.res_id, v.version, v.last_updated, v.method, v.body, v.seq \
     FROM resource r JOIN resource_version v ON v.seq = r.seq WHERE r.res_type = $1 AND r.res_id = $2";

pub const READ_VERSION: &str = "SELECT v.res_type, v.res_id, v.version, v.last_updated, v.method, v.body, v.seq \
     FROM resource_version v WHERE v.res_type = $1 AND v.res_id = $2 AND v.version = $3";

/// Current state of many resources at once.
pub fn current_many(keys: &[(String, String)]) -> Sql {
    let mut sql = Sql::new("SELECT res_type, res_id, version, deleted, last_updated FROM resource WHERE ");
    push_keys(&mut sql, "res_type", "res_id", keys);
    sql
}

/// `(type_column, id_column) IN (VALUES (...), ...)`: both planners turn the list into one
/// semi-join, where a chain of ORs makes PostgreSQL plan a bitmap OR of a thousand index scans.
pub fn push_keys(sql: &mut Sql, type_column: &str, id_column: &str, keys: &[(String, String)]) {
    sql.push(&format!("({type_column}, {id_column}) IN (VALUES "));
    for (i, (t, id)) in keys.iter().enumerate() {
        sql.push(if i > 0 { ", (" } else { "(" });
        sql.bind(Bind::Text(t.clone())).push(", ").bind(Bind::Text(id.clone())).push(")");
    }
    sql.push(")");
}

pub const CURRENT_STATE: &str =
    "SELECT version, deleted, last_updated FROM resource WHERE res_type = $1 AND res_id = $2";

/// Rows per multi-row statement: well under both backends' bind-parameter limits.
pub const CHUNK: usize = 500;

/// `statements` as few texts of several statements (`;`-separated, their values in order), each
/// binding at most `max_binds` values unless one statement alone binds more. Only for SQLite,
/// which runs a text's statements one after another; every statement's placeholders must be
/// numbered in their order of appearance (as [`Sql`] numbers them), so that the values of the
/// whole text are bound in order.
pub fn joined(statements: Vec<Sql>, max_binds: usize) -> Vec<Sql> {
    let mut out: Vec<Sql> = Vec::new();
    for statement in statements {
        match out.last_mut() {
            Some(last) if last.binds.len() + statement.binds.len() <= max_binds => {
                last.text.push_str(";\n");
                last.text.push_str(&statement.text);
                last.binds.extend(statement.binds);
            }
            _ => out.push(statement),
        }
    }
    out
}

pub fn history(query: &HistoryQuery) -> Sql {
    let mut sql = Sql::new(&format!("SELECT {VERSION_COLUMNS} FROM resource_version v WHERE 1 = 1"));
    match &query.scope {
        HistoryScope::System => {}
        HistoryScope::Type(t) => {
            sql.push(" AND v.res_type = ").bind(Bind::Text(t.clone()));
        }
        HistoryScope::Instance(t, id) => {
            sql.push(" AND v.res_type = ").bind(Bind::Text(t.clone()));
            sql.push(" AND v.res_id = ").bind(Bind::Text(id.clone()));
        }
    }
    if let Some(since) = query.since {
        sql.push(" AND v.last_updated >= ").bind(Bind::Int(since));
    }
    if let Some((start, end)) = query.at {
        // Current at some moment of [start, end): written before the end, and not superseded
        // before the start.
        sql.push(" AND v.last_updated < ").bind(Bind::Int(end));
        sql.push(
            " AND NOT EXISTS (SELECT 1 FROM resource_version n WHERE n.res_type = v.res_type \
             AND n.res_id = v.res_id AND n.version = v.version + 1 AND n.last_updated <= ",
        )
        .bind(Bind::Int(start))
        .push(")");
    }
    if let Some(before) = query.before_seq {
        sql.push(" AND v.seq < ").bind(Bind::Int(before));
    }
    sql.push(" ORDER BY v.seq DESC LIMIT ").bind(Bind::Int(query.limit as i64));
    sql
}

pub fn insert_versions(versions: &[&NewVersion]) -> Sql {
    let mut sql =
        Sql::new("INSERT INTO resource_version (res_type, res_id, version, last_updated, method, body) VALUES ");
    sql.values(versions, |v| {
        vec![
            Bind::Text(v.resource_type.clone()),
            Bind::Text(v.id.clone()),
            Bind::Int(v.version),
            Bind::Int(v.last_updated),
            Bind::Text(v.method.as_http().to_string()),
            Bind::OptBlob(v.content.as_deref().map(crate::body::encode)),
        ]
    });
    sql.push(" RETURNING res_type, res_id, seq");
    sql
}

/// Upserts the current-version pointers. The `WHERE` guard refuses to move a resource backwards,
/// so a lost race surfaces as a missing row rather than a silent overwrite.
pub fn upsert_current(versions: &[&NewVersion], seqs: &HashMap<(String, String), i64>) -> Sql {
    let mut sql = Sql::new("INSERT INTO resource (res_type, res_id, version, last_updated, deleted, seq) VALUES ");
    sql.values(versions, |v| {
        vec![
            Bind::Text(v.resource_type.clone()),
            Bind::Text(v.id.clone()),
            Bind::Int(v.version),
            Bind::Int(v.last_updated),
            Bind::Bool(v.content.is_none()),
            Bind::Int(seqs.get(&(v.resource_type.clone(), v.id.clone())).copied().unwrap_or(0)),
        ]
    });
    sql.push(
        " ON CONFLICT (res_type, res_id) DO UPDATE SET version = excluded.version, \
         last_updated = excluded.last_updated, deleted = excluded.deleted, seq = excluded.seq \
         WHERE resource.version < excluded.version RETURNING res_type, res_id, rid",
    );
    sql
}

/// Tables holding a resource's search-index rows.
pub const INDEX_TABLES: &[&str] = &[
    "search_string",
    "search_token",
    "search_date",
    "search_number",
    "search_quantity",
    "search_reference",
    "search_uri",
    "compartment",
];

pub fn delete_index(table: &str, rids: &[i64]) -> Sql {
    let mut sql = Sql::new(&format!("DELETE FROM {table} WHERE rid IN ("));
    for (i, rid) in rids.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.bind(Bind::Int(*rid));
    }
    sql.push(")");
    sql
}

#[cfg(test)]
mod cells_tests {
    use super::*;

    #[test]
    fn cells_are_taken_in_order_and_null_in_a_required_column_is_corruption() {
        let row = [Cell::Text("a".into()), Cell::Null, Cell::Int(7), Cell::Null];
        let mut cells = Cells::new("auth_test", &row);
        assert_eq!(cells.text().ok(), Some("a".to_string()));
        assert_eq!(cells.optional_text(), None);
        assert_eq!(cells.int().ok(), Some(7));
        let error = cells.int().err().map(|e| e.to_string()).unwrap_or_default();
        assert!(error.contains("auth_test: column 4"), "{error}");
    }
}

#[cfg(test)]
mod joined_tests {
    use super::*;

    fn statement(text: &str, values: i64) -> Sql {
        Sql { text: text.to_string(), binds: (0..values).map(Bind::Int).collect() }
    }

    #[test]
    fn statements_are_joined_in_order_up_to_the_bind_budget() {
        let joined = joined(vec![statement("A", 2), statement("B", 3), statement("C", 4), statement("D", 9)], 6);
        let texts: Vec<&str> = joined.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(texts, ["A;\nB", "C", "D"], "a statement over the budget stands alone");
        let counts: Vec<usize> = joined.iter().map(|s| s.binds.len()).collect();
        assert_eq!(counts, [5, 4, 9]);
        assert!(matches!(joined[0].binds[2], Bind::Int(0)), "B's values follow A's");
        assert!(super::joined(Vec::new(), 6).is_empty());
    }
}
