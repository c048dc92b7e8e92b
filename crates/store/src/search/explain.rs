//! A search's SQL for people to read: the statement with its values written in, and the
//! database's plan for it (`ikp explain`, and the planner's snapshot tests).

use std::sync::Arc;

use super::plan::{Dialect, Planner};
use super::query::SearchQuery;
use super::registry::TypedParts;
use crate::sql::{Bind, Cell, Column, Sql};
use crate::{Store, StoreResult};

/// What a search runs, and how the database runs it.
pub struct Explained {
    /// The statement of the first page, values written in.
    pub sql: String,
    /// The database's plan, one line per step.
    pub plan: Vec<String>,
}

/// The SQL of `query`'s first page, values written in.
pub fn page_sql(dialect: Dialect, typed_parts: Arc<TypedParts>, query: &SearchQuery) -> String {
    let (sql, _) = Planner::new(dialect, typed_parts).page(query, query.count + 1);
    inline(&sql)
}

/// Plans `query`'s first page and asks the database how it would run it.
pub async fn explain(
    store: &dyn Store,
    dialect: Dialect,
    typed_parts: Arc<TypedParts>,
    query: &SearchQuery,
) -> StoreResult<Explained> {
    let (sql, _) = Planner::new(dialect, typed_parts).page(query, query.count + 1);
    let text = inline(&sql);
    let (prefix, columns) = match dialect {
        Dialect::Sqlite => ("EXPLAIN QUERY PLAN ", vec![Column::Int, Column::Int, Column::Int, Column::Text]),
        Dialect::Postgres => ("EXPLAIN ", vec![Column::Text]),
    };
    let explain = Sql { text: format!("{prefix}{}", sql.text), binds: sql.binds };
    let plan = store
        .query(explain, &columns)
        .await?
        .iter()
        .filter_map(|row| row.last().and_then(Cell::as_text).map(str::to_string))
        .collect();
    Ok(Explained { sql: text, plan })
}

/// The SQL with its bind values written in, for reading (never for running).
pub fn inline(sql: &Sql) -> String {
    let mut text = sql.text.clone();
    for (i, bind) in sql.binds.iter().enumerate().rev() {
        let value = match bind {
            Bind::Int(v) => v.to_string(),
            Bind::OptInt(v) => v.map_or("NULL".into(), |v| v.to_string()),
            Bind::Real(v) => v.to_string(),
            Bind::OptReal(v) => v.map_or("NULL".into(), |v| v.to_string()),
            Bind::Text(v) => format!("'{}'", v.replace('\'', "''")),
            Bind::OptText(v) => v.as_ref().map_or("NULL".into(), |v| format!("'{}'", v.replace('\'', "''"))),
            Bind::OptBlob(v) => v.as_ref().map_or("NULL".into(), |v| format!("<{} bytes>", v.len())),
            Bind::Bool(v) => v.to_string(),
        };
        text = text.replace(&format!("${}", i + 1), &value);
    }
    text
}
