//! Where the log goes and in what shape: stderr, filtered by `RUST_LOG`, as text for a person or
//! as one JSON object per line for a log collector (`--log-format json`).

use tracing_subscriber::EnvFilter;

/// The shape of the log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line: `timestamp`, `level`, `target`, `fields` (the event's, with its
    /// `message`), `span` (the current span's name and fields, e.g. a request's `request_id`) and
    /// `spans` (the whole stack, outermost first).
    Json,
}

/// Installs the global subscriber; called once, before the command runs.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        // No colour codes inside JSON strings, whatever the terminal.
        LogFormat::Json => builder.json().with_current_span(true).with_span_list(true).with_ansi(false).init(),
    }
}
