use clap::Parser;
use ikp::cli::{Cli, Command};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn")))
        .init();
    match Cli::parse().command {
        Command::Serve(args) => ikp::server::serve(args).await,
        Command::Bench(args) => ikp::bench::run(args).await.map(drop),
    }
}
