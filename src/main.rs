use clap::Parser;
use ikp::cli::{Cli, Command};

// glibc's allocator spends a quarter of ingest time in malloc/free under multi-threaded load
// (arena lock contention, consolidation); mimalloc does not.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    ikp::cli::logging::init(cli.log_format);
    let result = match cli.command {
        Command::Serve(args) => ikp::server::serve(args).await,
        Command::Bench(args) => ikp::bench::run(args).await.map(drop),
        Command::Fhirpath(args) => ikp::cli::fhirpath::run(&args),
        Command::Synth(args) => ikp::synth::run(&args).map(drop),
        Command::Snapshot(args) => ikp::cli::snapshot::run(&args),
        Command::Validate(args) => match ikp::cli::validate::run(&args) {
            Ok(0) => Ok(()),
            Ok(errors) => {
                eprintln!("{errors} error(s)");
                std::process::exit(1);
            }
            Err(e) => Err(e),
        },
        Command::Explain(args) => ikp::cli::explain::run(&args).await,
        Command::Client(command) => ikp::cli::auth::run_client(&command).await,
        Command::Keys(command) => ikp::cli::auth::run_keys(&command).await,
        Command::Import(args) => ikp::cli::import::run(&args).await.map(drop),
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
