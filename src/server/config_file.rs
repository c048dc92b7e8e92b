//! The configuration file of `ikp serve` (`--config ikp.toml`): a flat TOML table whose keys are the
//! long names of the command's flags. The keys are not listed here: they are read off the clap
//! command built from `ServeArgs`, so a new flag is a new key with nothing else to update, and the
//! values go back through clap (`cli::config`), which checks them exactly as it checks flags.

use std::path::{Path, PathBuf};

use clap::{Arg, ArgAction, Command};

/// The file's settings, each as the values its flag would be given on the command line.
#[derive(Debug, Clone)]
pub struct FileSettings {
    pub path: PathBuf,
    /// `(key, values)`, in key order; a repeatable option may have several values.
    pub entries: Vec<(String, Vec<String>)>,
}

/// What the TOML value of a key must be, from the type the flag's parser produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Boolean,
    Integer,
    String,
}

impl Kind {
    fn of(arg: &Arg) -> Kind {
        use std::any::TypeId;
        let produced = arg.get_value_parser().type_id();
        if produced == TypeId::of::<bool>() {
            Kind::Boolean
        } else if [
            TypeId::of::<u8>(),
            TypeId::of::<u16>(),
            TypeId::of::<u32>(),
            TypeId::of::<u64>(),
            TypeId::of::<usize>(),
            TypeId::of::<i32>(),
            TypeId::of::<i64>(),
        ]
        .iter()
        .any(|integer| produced == *integer)
        {
            Kind::Integer
        } else {
            Kind::String
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Boolean => "a boolean (true or false)",
            Kind::Integer => "an integer",
            Kind::String => "a string",
        }
    }
}

/// The options the file may set: every argument of `command` with a long name, except the file's
/// own (`config`) and clap's help and version.
pub fn keys(command: &Command) -> impl Iterator<Item = (&str, &Arg)> {
    command.get_arguments().filter_map(|arg| {
        let long = arg.get_long()?;
        let builtin = matches!(arg.get_action(), ArgAction::Help | ArgAction::HelpLong | ArgAction::Version);
        (!builtin && long != CONFIG_KEY).then_some((long, arg))
    })
}

/// The option naming the file, which the file cannot set.
pub const CONFIG_KEY: &str = "config";

/// Reads the file at `path` and checks its keys and value types against the options of `command`;
/// every problem found is reported, each naming the file and the key.
pub fn read(path: &Path, command: &Command) -> Result<FileSettings, Vec<String>> {
    let shown = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| vec![format!("{shown}: cannot read the file: {e}")])?;
    let table: toml::Table = text.parse().map_err(|e| vec![format!("{shown}: not valid TOML: {e}")])?;
    let mut entries = Vec::new();
    let mut errors = Vec::new();
    for (key, value) in &table {
        if key == CONFIG_KEY {
            errors.push(format!("{shown}: `{CONFIG_KEY}` names the configuration file itself and cannot be set in it"));
            continue;
        }
        let Some((_, arg)) = keys(command).find(|(long, _)| long == key) else {
            errors.push(unknown_key(&shown.to_string(), key, command));
            continue;
        };
        match values(arg, value) {
            Ok(values) => entries.push((key.clone(), values)),
            Err(problem) => errors.push(format!("{shown}: `{key}`: {problem}")),
        }
    }
    if errors.is_empty() { Ok(FileSettings { path: path.to_path_buf(), entries }) } else { Err(errors) }
}

/// The message for a key no option has, with the closest known key when one is close enough to be
/// a typo (`databse-url`, `database_url`, `listen-address`...).
fn unknown_key(file: &str, key: &str, command: &Command) -> String {
    let normalized = key.to_ascii_lowercase().replace('_', "-");
    let closest = keys(command).map(|(long, _)| (strsim::levenshtein(&normalized, long), long)).min().filter(
        |(distance, long)| {
            *distance <= (long.len() / 3).max(2) || long.starts_with(&normalized) || normalized.starts_with(long)
        },
    );
    match closest {
        Some((_, long)) => format!("{file}: unknown key `{key}`; did you mean `{long}`?"),
        None => format!("{file}: unknown key `{key}` (the keys are the long names of the flags of `ikp serve --help`)"),
    }
}

/// The command-line values of one key's TOML value, or what is wrong with it.
fn values(arg: &Arg, value: &toml::Value) -> Result<Vec<String>, String> {
    let repeatable = matches!(arg.get_action(), ArgAction::Append);
    match value {
        toml::Value::Array(items) if repeatable => items.iter().map(|item| scalar(arg, item)).collect(),
        toml::Value::Array(_) => Err(format!("expected {} (one value), found an array", expected(arg))),
        single => scalar(arg, single).map(|value| vec![value]),
    }
}

fn scalar(arg: &Arg, value: &toml::Value) -> Result<String, String> {
    let kind = Kind::of(arg);
    match (kind, value) {
        (Kind::Boolean, toml::Value::Boolean(b)) => Ok(b.to_string()),
        (Kind::Integer, toml::Value::Integer(i)) => Ok(i.to_string()),
        (Kind::String, toml::Value::String(s)) => Ok(s.clone()),
        (_, other) => {
            let list = if matches!(arg.get_action(), ArgAction::Append) { " (or an array of them)" } else { "" };
            // A secret's value stays out of the message even when it is of the wrong type.
            let show = !super::redact::is_secret_name(arg.get_long().unwrap_or_default());
            Err(format!("expected {}{list}, found {}", expected(arg), found(other, show)))
        }
    }
}

/// The expected value, naming the choices when there are few (`auth`: "on" or "off").
fn expected(arg: &Arg) -> String {
    let kind = Kind::of(arg);
    let choices: Vec<String> = match kind {
        Kind::String => arg.get_possible_values().iter().map(|v| format!("\"{}\"", v.get_name())).collect(),
        _ => Vec::new(),
    };
    if choices.is_empty() { kind.name().to_string() } else { format!("{} ({})", kind.name(), choices.join(" or ")) }
}

/// What was found instead, with the value when it is short to show (`a string "4"`).
fn found(value: &toml::Value, show: bool) -> String {
    let type_name = value.type_str();
    let article = if type_name.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" };
    let shown = match value {
        toml::Value::String(s) => format!(" {s:?}"),
        toml::Value::Integer(i) => format!(" {i}"),
        toml::Value::Float(f) => format!(" {f}"),
        toml::Value::Boolean(b) => format!(" {b}"),
        toml::Value::Datetime(d) => format!(" {d}"),
        toml::Value::Array(_) | toml::Value::Table(_) => String::new(),
    };
    let shown = if show { shown } else { String::new() };
    format!("{article} {type_name}{shown}")
}
