//! The configuration file of `ikp serve` and `ikp config check`, through the real binary: flags
//! win over the environment, which wins over the file, which wins over the defaults; mistakes in
//! the file are named by key; secrets never reach the output.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;

use clap::CommandFactory;

use crate::common::process::run;

struct Row {
    value: String,
    source: String,
}

/// `ikp config check`'s table: option → (value, source); columns are separated by two spaces or
/// more (values hold single spaces at most: `(not set)`, `a, b`).
fn table(stdout: &str) -> BTreeMap<String, Row> {
    let mut rows = BTreeMap::new();
    for line in stdout.lines().take_while(|line| *line != "# in effect").filter(|line| !line.starts_with('#')) {
        let columns: Vec<&str> = line.split("  ").map(str::trim).filter(|c| !c.is_empty()).collect();
        assert_eq!(columns.len(), 3, "a row is key, value and source: {line:?}");
        rows.insert(columns[0].to_string(), Row { value: columns[1].to_string(), source: columns[2].to_string() });
    }
    rows
}

/// The "in effect" section: what the options add up to (base URL, authorization, TLS...).
fn in_effect(stdout: &str) -> BTreeMap<String, String> {
    stdout
        .lines()
        .skip_while(|line| *line != "# in effect")
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.split_once("  ").map(|(what, value)| (what.to_string(), value.trim().to_string())))
        .collect()
}

fn text_of(output: &Output) -> (String, String) {
    (String::from_utf8_lossy(&output.stdout).into_owned(), String::from_utf8_lossy(&output.stderr).into_owned())
}

fn check(dir: &Path, toml: &str, flags: &[&str], envs: &[(&str, &str)]) -> Output {
    std::fs::write(dir.join("ikp.toml"), toml).unwrap();
    let mut args = vec!["config", "check", "--config", "ikp.toml"];
    args.extend_from_slice(flags);
    run(dir, &args, envs)
}

#[test]
fn flags_win_over_environment_over_file_over_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let toml = r#"
        listen = "127.0.0.2:9000"
        export-workers = 2
        export-file-size = 500
        statement-timeout = 5
        search-limit = ["has=2", "includes=4"]
        store-terminology = false
        auth = "on"
    "#;
    let output = check(
        dir.path(),
        toml,
        &["--export-file-size", "700"],
        &[("IKP_EXPORT_WORKERS", "3"), ("IKP_EXPORT_FILE_SIZE", "600")],
    );
    let (stdout, stderr) = text_of(&output);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    let rows = table(&stdout);
    let row = |key: &str| rows.get(key).unwrap_or_else(|| panic!("no row for {key} in\n{stdout}"));
    // The flag beats the environment and the file.
    assert_eq!((row("export-file-size").value.as_str(), row("export-file-size").source.as_str()), ("700", "flag"));
    // The environment beats the file.
    assert_eq!(row("export-workers").value, "3");
    assert_eq!(row("export-workers").source, "env IKP_EXPORT_WORKERS");
    // The file beats the defaults, for every kind of value.
    for (key, value) in [
        ("listen", "127.0.0.2:9000"),
        ("statement-timeout", "5"),
        ("search-limit", "has=2, includes=4"),
        ("store-terminology", "false"),
        ("auth", "on"),
    ] {
        assert_eq!((row(key).value.as_str(), row(key).source.as_str()), (value, "file"), "{key}");
    }
    assert_eq!((row("sweep-seconds").value.as_str(), row("sweep-seconds").source.as_str()), ("300", "default"));
    assert_eq!((row("base-url").value.as_str(), row("base-url").source.as_str()), ("(not set)", "default"));
    assert_eq!((row("config").value.as_str(), row("config").source.as_str()), ("ikp.toml", "flag"));
    assert_eq!(in_effect(&stdout)["public base URL"], "http://127.0.0.2:9000/fhir");
    assert_eq!(in_effect(&stdout)["authorization"], "on");
    assert!(stdout.ends_with("# ok\n"), "{stdout}");

    // The file can be named by the environment too; a flag still wins over it.
    let output = run(dir.path(), &["config", "check", "--listen", "127.0.0.3:1"], &[("IKP_CONFIG", "ikp.toml")]);
    let (stdout, stderr) = text_of(&output);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    let rows = table(&stdout);
    assert_eq!(rows["config"].source, "env IKP_CONFIG");
    assert_eq!((rows["listen"].value.as_str(), rows["listen"].source.as_str()), ("127.0.0.3:1", "flag"));
    assert_eq!(rows["export-workers"].source, "file");
}

#[test]
fn every_option_of_serve_is_listed_and_a_key() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(dir.path(), &["config", "check"], &[]);
    let (stdout, stderr) = text_of(&output);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.starts_with("# ikp serve configuration (no configuration file)\n"), "{stdout}");
    let rows = table(&stdout);
    let mut command = ikp::cli::Cli::command();
    command.build();
    let serve = command.find_subcommand("serve").unwrap();
    let longs: Vec<&str> =
        serve.get_arguments().filter_map(|a| a.get_long()).filter(|l| !matches!(*l, "help" | "version")).collect();
    assert!(longs.len() > 25, "{longs:?}");
    for long in &longs {
        assert!(rows.contains_key(*long), "`config check` leaves out --{long}:\n{stdout}");
    }
    assert_eq!(rows.len(), longs.len(), "{stdout}");
    assert!(rows.values().all(|row| row.source == "default"));
    // The derived settings, for a node on loopback with the default database.
    let effect = in_effect(&stdout);
    assert_eq!(effect["public base URL"], "http://127.0.0.1:8080/fhir");
    assert_eq!(effect["authorization"], "off");
    assert_eq!(effect["demo login"], "on");
    assert_eq!(effect["TLS"], "off (plain HTTP, for a reverse proxy that terminates TLS)");
}

#[test]
fn unknown_keys_are_named_with_the_closest_known_one() {
    let dir = tempfile::tempdir().unwrap();
    let toml = r#"
        databse-url = "sqlite://./x.db"
        search_limit = ["has=2"]
        listen-address = "127.0.0.1:1"
        colour = "blue"
        config = "other.toml"
    "#;
    let output = check(dir.path(), toml, &[], &[]);
    let (stdout, stderr) = text_of(&output);
    assert_eq!(output.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(stdout.is_empty(), "nothing is printed as the configuration: {stdout}");
    for message in [
        "error: ikp.toml: unknown key `databse-url`; did you mean `database-url`?",
        "error: ikp.toml: unknown key `search_limit`; did you mean `search-limit`?",
        "error: ikp.toml: unknown key `listen-address`; did you mean `listen`?",
        "error: ikp.toml: unknown key `colour` (the keys are the long names of the flags of `ikp serve --help`)",
        "error: ikp.toml: `config` names the configuration file itself and cannot be set in it",
    ] {
        assert!(stderr.lines().any(|line| line == message), "{message:?} in\n{stderr}");
    }

    // `ikp serve` refuses the same file before it starts.
    let output = run(dir.path(), &["serve", "--config", "ikp.toml"], &[]);
    let (_, stderr) = text_of(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("did you mean `database-url`?"), "{stderr}");
}

#[test]
fn values_of_the_wrong_type_name_the_key_and_what_was_expected() {
    let dir = tempfile::tempdir().unwrap();
    let toml = r#"
        export-workers = "4"
        listen = ["127.0.0.1:1"]
        store-terminology = "yes"
        auth = true
        require-profile = [1]
        oidc-client-secret = 12345
        statement-timeout = 0
    "#;
    let output = check(dir.path(), toml, &[], &[]);
    let (stdout, stderr) = text_of(&output);
    assert_eq!(output.status.code(), Some(2), "{stdout}\n{stderr}");
    for message in [
        r#"error: ikp.toml: `export-workers`: expected an integer, found a string "4""#,
        "error: ikp.toml: `listen`: expected a string (one value), found an array",
        r#"error: ikp.toml: `store-terminology`: expected a boolean (true or false), found a string "yes""#,
        r#"error: ikp.toml: `auth`: expected a string ("on" or "off"), found a boolean true"#,
        "error: ikp.toml: `require-profile`: expected a string (or an array of them), found an integer 1",
        // A secret's value stays out of the message.
        "error: ikp.toml: `oidc-client-secret`: expected a string, found an integer",
    ] {
        assert!(stderr.lines().any(|line| line == message), "{message:?} in\n{stderr}");
    }
    assert!(!stderr.contains("12345"), "{stderr}");

    // Once the types are right, clap checks the values as it checks flags, every bad one reported.
    let toml = r#"
        statement-timeout = 0
        auth = "maybe"
        listen = "localhost"
        max-body-bytes = -1
        search-limit = ["has=2", "nonsense=1"]
        tls-cert = "cert.pem"
    "#;
    let output = check(dir.path(), toml, &[], &[]);
    let (stdout, stderr) = text_of(&output);
    assert_eq!(output.status.code(), Some(2), "{stdout}\n{stderr}");
    for (key, detail) in [
        ("statement-timeout", "0 is not in 1.."),
        ("auth", "invalid value 'maybe' for '--auth <AUTH>'"),
        ("listen", "invalid value 'localhost' for '--listen <LISTEN>'"),
        ("max-body-bytes", "invalid value '-1'"),
        ("search-limit", "nonsense"),
    ] {
        let prefix = format!("error: ikp.toml: `{key}`: ");
        assert!(stderr.lines().any(|l| l.starts_with(&prefix) && l.contains(detail)), "{prefix}…{detail} in\n{stderr}");
    }
    // `tls-cert` requires `tls-key`, whether given as a flag or in the file.
    assert!(
        stderr.contains("ikp.toml: the following required arguments were not provided: --tls-key <TLS_KEY>"),
        "{stderr}"
    );

    // Not TOML at all: the parser's position.
    let output = check(dir.path(), "listen = \n", &[], &[]);
    let (_, stderr) = text_of(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.starts_with("error: ikp.toml: not valid TOML: "), "{stderr}");
    assert!(stderr.contains("line 1"), "{stderr}");

    // A file that is not there.
    let output = run(dir.path(), &["config", "check", "--config", "missing.toml"], &[]);
    let (_, stderr) = text_of(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.starts_with("error: missing.toml: cannot read the file: "), "{stderr}");
}

#[test]
fn secrets_are_masked() {
    let dir = tempfile::tempdir().unwrap();
    let toml = r#"
        database-url = "postgres://ikp:hunter2@db.example:5432/ikp?sslmode=require&sslpassword=keypass"
        oidc-client-secret = "s3cret-value"
        base-url = "https://fhir.example/fhir"
    "#;
    let output = check(dir.path(), toml, &[], &[]);
    let (stdout, stderr) = text_of(&output);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    let rows = table(&stdout);
    assert_eq!(
        rows["database-url"].value,
        "postgres://ikp:*****@db.example:5432/ikp?sslmode=require&sslpassword=*****"
    );
    assert_eq!(rows["oidc-client-secret"].value, "*****");
    assert_eq!(rows["base-url"].value, "https://fhir.example/fhir");
    for secret in ["hunter2", "keypass", "s3cret-value"] {
        assert!(!stdout.contains(secret) && !stderr.contains(secret), "{secret} shown:\n{stdout}\n{stderr}");
    }

    // From the environment, the same.
    let output = run(
        dir.path(),
        &["config", "check"],
        &[("IKP_DATABASE_URL", "postgres://admin:letmein@127.0.0.1/prod"), ("IKP_OIDC_CLIENT_SECRET", "abc")],
    );
    let (stdout, _) = text_of(&output);
    let rows = table(&stdout);
    assert_eq!(rows["database-url"].value, "postgres://admin:*****@127.0.0.1/prod");
    assert_eq!(rows["database-url"].source, "env IKP_DATABASE_URL");
    assert_eq!(rows["oidc-client-secret"].value, "*****");
    assert!(!stdout.contains("letmein"), "{stdout}");
}

#[test]
fn problems_beyond_single_values_fail_the_check() {
    let dir = tempfile::tempdir().unwrap();
    // Authorization off on a public address, an upstream login without its endpoints, a TLS
    // certificate that is not there: all reported at once, with the configuration still shown.
    let toml = r#"
        listen = "0.0.0.0:8080"
        auth = "off"
        oidc-issuer = "https://idp.example"
        tls-cert = "nowhere/cert.pem"
        tls-key = "nowhere/key.pem"
    "#;
    let output = check(dir.path(), toml, &[], &[]);
    let (stdout, stderr) = text_of(&output);
    assert_eq!(output.status.code(), Some(2), "{stdout}\n{stderr}");
    assert_eq!(in_effect(&stdout)["public base URL"], "https://0.0.0.0:8080/fhir");
    assert!(!stdout.contains("# ok"), "{stdout}");
    for message in [
        "error: --auth off is refused on 0.0.0.0:8080: only a loopback address may serve without tokens",
        "error: --oidc-issuer needs --oidc-client-id",
        "error: reading --tls-cert nowhere/cert.pem: No such file or directory",
    ] {
        assert!(stderr.lines().any(|line| line.starts_with(message)), "{message:?} in\n{stderr}");
    }
}

#[test]
fn the_example_file_passes_and_names_every_option() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/ikp.example.toml");
    let text = std::fs::read_to_string(example).unwrap();
    let mut command = ikp::cli::Cli::command();
    command.build();
    let serve = command.find_subcommand("serve").unwrap();
    for long in serve.get_arguments().filter_map(|a| a.get_long()) {
        if matches!(long, "help" | "version" | "config") {
            continue;
        }
        let named = text.lines().any(|line| {
            let line = line.trim_start_matches("# ");
            line.starts_with(&format!("{long} = "))
        });
        assert!(named, "the example does not show `{long}` (set or commented out)");
    }
    let dir = tempfile::tempdir().unwrap();
    let output = run(dir.path(), &["config", "check", "--config", example], &[]);
    let (stdout, stderr) = text_of(&output);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    let rows = table(&stdout);
    assert_eq!((rows["listen"].value.as_str(), rows["listen"].source.as_str()), ("0.0.0.0:8080", "file"));
    assert_eq!(in_effect(&stdout)["public base URL"], "https://fhir.example.org/fhir");
    assert_eq!(in_effect(&stdout)["authorization"], "on");
}
