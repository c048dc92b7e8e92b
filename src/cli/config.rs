//! The command line with the configuration file applied, and `ikp config check`.
//!
//! Precedence is flags > environment > file > defaults. clap already settles flags against
//! environment against defaults; the file slots in by giving clap, as extra `--key=value`
//! arguments, each file setting whose option came neither from a flag nor from the environment,
//! and parsing again. So every value from the file passes the same parsers and checks (`requires`,
//! ranges, enums) as a flag would.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::error::{ContextKind, ContextValue};
use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches, Subcommand};

use super::Cli;
use crate::server::config::ServeArgs;
use crate::server::config_file::{self, FileSettings};
use crate::server::redact;

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the effective configuration of `ikp serve` (each option's value and where it came
    /// from: flag, env, file or default; secrets masked) and check it; exits 2 on errors.
    Check(ServeArgs),
}

/// Where an option's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Flag,
    /// The environment variable that set it.
    Env(String),
    File,
    /// The default, or unset when it has none.
    Default,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Flag => f.write_str("flag"),
            Source::Env(name) => write!(f, "env {name}"),
            Source::File => f.write_str("file"),
            Source::Default => f.write_str("default"),
        }
    }
}

/// One option of `ikp serve` as it ended up.
#[derive(Debug, Clone)]
pub struct Setting {
    pub key: String,
    /// The values as given (none when unset).
    pub values: Vec<String>,
    pub source: Source,
}

/// The parsed command line; for `serve` and `config check`, with the file applied and the origin
/// of every option.
pub struct Parsed {
    pub cli: Cli,
    pub file: Option<PathBuf>,
    pub settings: Vec<Setting>,
}

/// Parses the process's arguments. clap's own errors (and `--help`) exit as clap does; problems
/// in the configuration file are printed and exit with status 2, as usage errors do.
pub fn parse_or_exit() -> Parsed {
    match parse(std::env::args_os().collect()) {
        Ok(parsed) => parsed,
        Err(Failure::Clap(e)) => e.exit(),
        Err(Failure::File(errors)) => {
            for error in errors {
                eprintln!("error: {error}");
            }
            std::process::exit(2);
        }
    }
}

pub enum Failure {
    Clap(clap::Error),
    File(Vec<String>),
}

/// The subcommands that take the options of `ikp serve`, by their path.
const SERVE_PATHS: &[&[&str]] = &[&["serve"], &["config", "check"]];

pub fn parse(argv: Vec<OsString>) -> Result<Parsed, Failure> {
    let mut command = Cli::command();
    // Built, so that global options (`--log-format`) are among each subcommand's arguments.
    command.build();
    let matches = command.clone().try_get_matches_from(&argv).map_err(Failure::Clap)?;
    let Some((path, first)) = serve_matches(&matches) else {
        let cli = Cli::from_arg_matches(&matches).map_err(Failure::Clap)?;
        return Ok(Parsed { cli, file: None, settings: Vec::new() });
    };
    let serve = subcommand(&command, path);
    let file = first.get_one::<PathBuf>(config_file::CONFIG_KEY).cloned();
    let mut settings = match &file {
        Some(file) => config_file::read(file, serve).map_err(Failure::File)?,
        None => FileSettings { path: PathBuf::new(), entries: Vec::new() },
    };
    // Only what neither a flag nor the environment set is taken from the file.
    settings.entries.retain(|(key, _)| {
        config_file::keys(serve).find(|(long, _)| long == key).is_some_and(|(_, arg)| {
            !matches!(
                first.value_source(arg.get_id().as_str()),
                Some(ValueSource::CommandLine | ValueSource::EnvVariable)
            )
        })
    });
    // clap stops at the first bad value: take it out, say which key it was, and parse again, so
    // that one run reports every bad value in the file.
    let mut errors = Vec::new();
    let shown = settings.path.display().to_string();
    let last = loop {
        let mut extended = argv.clone();
        for (key, values) in &settings.entries {
            extended.extend(values.iter().map(|value| OsString::from(format!("--{key}={value}"))));
        }
        match command.clone().try_get_matches_from(&extended) {
            Ok(matches) => break matches,
            Err(e) => {
                let message = message(&e);
                match culprit(&e).filter(|key| settings.entries.iter().any(|(k, _)| k == key)) {
                    Some(key) => {
                        errors.push(format!("{shown}: `{key}`: {message}"));
                        settings.entries.retain(|(k, _)| *k != key);
                    }
                    None => {
                        errors.push(format!("{shown}: {message}"));
                        return Err(Failure::File(errors));
                    }
                }
            }
        }
    };
    if !errors.is_empty() {
        return Err(Failure::File(errors));
    }
    let cli = Cli::from_arg_matches(&last).map_err(Failure::Clap)?;
    let Some((_, merged)) = serve_matches(&last) else {
        return Err(Failure::File(vec!["the command changed while reading the configuration file".into()]));
    };
    let settings = config_file::keys(serve)
        .map(|(long, arg)| setting_of(long, arg, first, merged, &settings))
        .chain(
            // The file's own option, last: it is not a key of the file.
            serve
                .get_arguments()
                .filter(|arg| arg.get_long() == Some(config_file::CONFIG_KEY))
                .map(|arg| setting_of(config_file::CONFIG_KEY, arg, first, merged, &settings)),
        )
        .collect();
    Ok(Parsed { cli, file, settings })
}

/// Where option `long` came from (judged on the command line as given, before the file) and its
/// value in the end.
fn setting_of(long: &str, arg: &clap::Arg, first: &ArgMatches, merged: &ArgMatches, file: &FileSettings) -> Setting {
    let id = arg.get_id().as_str();
    let source = match first.value_source(id) {
        Some(ValueSource::CommandLine) => Source::Flag,
        Some(ValueSource::EnvVariable) => {
            Source::Env(arg.get_env().map(|e| e.to_string_lossy().into_owned()).unwrap_or_default())
        }
        _ if file.entries.iter().any(|(key, _)| key == long) => Source::File,
        _ => Source::Default,
    };
    let values =
        merged.get_raw(id).map(|raw| raw.map(|v| v.to_string_lossy().into_owned()).collect()).unwrap_or_default();
    Setting { key: long.to_string(), values, source }
}

/// The matches of the subcommand that takes the options of `ikp serve`, with its path.
fn serve_matches(matches: &ArgMatches) -> Option<(&'static [&'static str], &ArgMatches)> {
    SERVE_PATHS.iter().find_map(|path| {
        let mut current = matches;
        for name in *path {
            current = current.subcommand_matches(name)?;
        }
        Some((*path, current))
    })
}

fn subcommand<'a>(command: &'a clap::Command, path: &[&str]) -> &'a clap::Command {
    path.iter().fold(command, |current, name| current.find_subcommand(name).unwrap_or(current))
}

/// The long name of the option a clap error is about (`--listen <LISTEN>` → `listen`).
fn culprit(e: &clap::Error) -> Option<String> {
    let ContextValue::String(arg) = e.get(ContextKind::InvalidArg)? else { return None };
    let long = arg.strip_prefix("--")?;
    Some(long.split([' ', '=', '<']).next().unwrap_or(long).to_string())
}

/// clap's message on one line, without its "error: " prefix and the usage and help after it.
fn message(e: &clap::Error) -> String {
    let rendered = e.render().to_string();
    let text: Vec<&str> = rendered.lines().take_while(|line| !line.trim().is_empty()).map(str::trim).collect();
    let text = text.join(" ");
    text.strip_prefix("error: ").unwrap_or(&text).to_string()
}

/// The read replicas in effect, in words.
fn replicas(args: &ServeArgs) -> String {
    match args.database_read_url.len() {
        0 => "none (every read on the primary)".to_string(),
        n => format!("{n}, used while within {} ms of the primary", args.replica_max_lag_ms),
    }
}

/// `ikp config check`: prints the effective configuration and any problems; the exit status
/// (0: fine, 2: problems).
pub fn check(args: &ServeArgs, parsed: &Parsed) -> i32 {
    use std::fmt::Write as _;
    use std::io::Write as _;
    let mut out = String::new();
    match &parsed.file {
        Some(file) => writeln!(out, "# ikp serve configuration (file: {})", file.display()),
        None => writeln!(out, "# ikp serve configuration (no configuration file)"),
    }
    .ok();
    let shown: Vec<(&str, String, &Source)> = parsed
        .settings
        .iter()
        .map(|setting| {
            let value = if setting.values.is_empty() {
                "(not set)".to_string()
            } else {
                setting.values.iter().map(|v| redact::shown(&setting.key, v)).collect::<Vec<_>>().join(", ")
            };
            (setting.key.as_str(), value, &setting.source)
        })
        .collect();
    let width = shown.iter().map(|(key, _, _)| key.len()).max().unwrap_or(0);
    let value_width = shown.iter().map(|(_, value, _)| value.chars().count()).max().unwrap_or(0);
    for (key, value, source) in &shown {
        writeln!(out, "{key:width$}  {value:value_width$}  {source}").ok();
    }
    let registration = args.registration_policy();
    let on = |on: bool| if on { "on" } else { "off" };
    let tls = match args.tls() {
        Some(_) if args.hsts_max_age > 0 => format!("on (HSTS max-age {})", args.hsts_max_age),
        Some(_) => "on (no HSTS)".to_string(),
        None => "off (plain HTTP, for a reverse proxy that terminates TLS)".to_string(),
    };
    writeln!(out, "# in effect").ok();
    for (what, value) in [
        ("public base URL", redact::mask_url(&args.base_url())),
        ("authorization", on(args.enforce_auth()).to_string()),
        ("demo login", on(args.demo_enabled()).to_string()),
        ("dynamic registration", on(registration.enabled).to_string()),
        ("TLS", tls),
        ("read replicas", replicas(args)),
    ] {
        writeln!(out, "{what:width$}  {value}").ok();
    }
    let problems = args.problems();
    if problems.is_empty() {
        writeln!(out, "# ok").ok();
    }
    // A closed pipe (`ikp config check | head`) is not worth a panic.
    std::io::stdout().write_all(out.as_bytes()).ok();
    for problem in &problems {
        eprintln!("error: {problem:#}");
    }
    if problems.is_empty() { 0 } else { 2 }
}
