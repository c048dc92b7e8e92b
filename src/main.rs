use ikp::cli::Command;
use ikp::cli::config::ConfigCommand;

// glibc's allocator spends a quarter of ingest time in malloc/free under multi-threaded load
// (arena lock contention, consolidation); mimalloc does not.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    // The configuration file is read with the command line, before anything logs.
    let parsed = ikp::cli::config::parse_or_exit();
    ikp::cli::logging::init(parsed.cli.log_format);
    let result = match &parsed.cli.command {
        Command::Serve(args) => ikp::server::serve(args.clone()).await,
        Command::Config(ConfigCommand::Check(args)) => std::process::exit(ikp::cli::config::check(args, &parsed)),
        Command::Bench(args) => ikp::bench::run(args.clone()).await.map(drop),
        Command::Fhirpath(args) => ikp::cli::fhirpath::run(args),
        Command::Synth(args) => ikp::synth::run(args).map(drop),
        Command::Snapshot(args) => ikp::cli::snapshot::run(args),
        Command::Validate(args) => match ikp::cli::validate::run(args) {
            Ok(0) => Ok(()),
            Ok(errors) => {
                eprintln!("{errors} error(s)");
                std::process::exit(1);
            }
            Err(e) => Err(e),
        },
        Command::Explain(args) => ikp::cli::explain::run(args).await,
        Command::Client(command) => ikp::cli::auth::run_client(command).await,
        Command::Keys(command) => ikp::cli::auth::run_keys(command).await,
        Command::Import(args) => ikp::cli::import::run(args).await.map(drop),
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
