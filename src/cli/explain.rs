//! `ikp explain 'Observation?patient=123&code=...'`: prints the SQL a search runs and the database's
//! plan for it, to check that searches use the indexes.

use anyhow::anyhow;
use clap::Args;

use crate::search::parse::Parser;
use crate::search::plan::{Dialect, Planner};
use crate::store::sql::{Bind, Cell, Column, Sql};

#[derive(Debug, Clone, Args)]
pub struct ExplainArgs {
    /// A search as in a URL: `Type?param=value&...`.
    pub search: String,
    #[arg(long, env = "IKP_DATABASE_URL", default_value = super::DEFAULT_DATABASE_URL)]
    pub database_url: String,
    #[arg(long, env = "IKP_BASE_URL", default_value = "http://127.0.0.1:8080/fhir")]
    pub base_url: String,
}

pub async fn run(args: &ExplainArgs) -> anyhow::Result<()> {
    let session = crate::server::open(&args.database_url, &args.base_url).await?;
    let fhir = &session;
    let (resource_type, query) = args.search.split_once('?').unwrap_or((args.search.as_str(), ""));
    let pairs: Vec<(String, String)> =
        form_urlencoded::parse(query.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    let registry = fhir.registry.current();
    let parser = Parser { registry: &registry, base_url: &fhir.base_url, strict: true, limits: &fhir.limits };
    let parsed = parser.parse(vec![resource_type.to_string()], &pairs).map_err(|e| anyhow!("{e}"))?;
    let dialect = fhir.dialect();
    let (sql, _) = Planner::new(dialect).page(&parsed, parsed.count + 1);
    println!("{}\n", inline(&sql));
    let (prefix, columns) = match dialect {
        Dialect::Sqlite => ("EXPLAIN QUERY PLAN ", vec![Column::Int, Column::Int, Column::Int, Column::Text]),
        Dialect::Postgres => ("EXPLAIN ", vec![Column::Text]),
    };
    let explain = Sql { text: format!("{prefix}{}", sql.text), binds: sql.binds };
    let all = session.unconfined(crate::auth::scopes::Interaction::Search).map_err(|e| anyhow!("{e}"))?;
    for row in all.store().query(explain, &columns).await? {
        if let Some(line) = row.last().and_then(Cell::as_text) {
            println!("{line}");
        }
    }
    session.close().await;
    Ok(())
}

/// The SQL with its bind values written in, for reading.
fn inline(sql: &Sql) -> String {
    let mut text = sql.text.clone();
    for (i, bind) in sql.binds.iter().enumerate().rev() {
        let value = match bind {
            Bind::Int(v) => v.to_string(),
            Bind::OptInt(v) => v.map_or("NULL".into(), |v| v.to_string()),
            Bind::Real(v) => v.to_string(),
            Bind::OptReal(v) => v.map_or("NULL".into(), |v| v.to_string()),
            Bind::Text(v) => format!("'{}'", v.replace('\'', "''")),
            Bind::OptText(v) => v.as_ref().map_or("NULL".into(), |v| format!("'{}'", v.replace('\'', "''"))),
            Bind::Bool(v) => v.to_string(),
        };
        text = text.replace(&format!("${}", i + 1), &value);
    }
    text
}
