//! `ikp explain 'Observation?patient=123&code=...'`: prints the SQL a search runs and the database's
//! plan for it, to check that searches use the indexes.

use anyhow::anyhow;
use clap::Args;

use crate::search::explain;
use crate::search::parse::Parser;

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
    let all = session.unconfined(crate::access::scopes::Interaction::Search).map_err(|e| anyhow!("{e}"))?;
    let explained = explain::explain(all.store(), fhir.dialect(), registry.typed_parts(), &parsed).await?;
    println!("{}\n", explained.sql);
    for line in explained.plan {
        println!("{line}");
    }
    session.close().await;
    Ok(())
}
