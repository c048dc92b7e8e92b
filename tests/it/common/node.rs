//! Node programs for the tests (tests/node): installs their npm packages when they are missing
//! (`npm ci`, bounded in time, once per test binary) and starts a script as a child process that
//! dies with the test.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::OnceCell;

/// How long `npm ci` may take before the tests give up on it.
const INSTALL_LIMIT: Duration = Duration::from_secs(240);
/// How long a script may take to answer a line.
const LINE_LIMIT: Duration = Duration::from_secs(60);

pub fn node_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests").join("node")
}

static INSTALLED: OnceCell<Result<(), String>> = OnceCell::const_new();

/// Installs the packages of package-lock.json unless they are there (one package per name in
/// `needed` is checked); panics with what to run when that fails.
pub async fn ensure_installed(needed: &[&str]) {
    let dir = node_dir();
    let missing = || needed.iter().any(|p| !dir.join("node_modules").join(p).join("package.json").exists());
    let result = INSTALLED
        .get_or_init(|| async {
            if !missing() {
                return Ok(());
            }
            let mut npm = Command::new("npm");
            npm.args(["ci", "--no-audit", "--no-fund", "--prefix"]).arg(&dir).kill_on_drop(true);
            match tokio::time::timeout(INSTALL_LIMIT, npm.output()).await {
                Err(_) => Err(format!("npm ci took longer than {INSTALL_LIMIT:?}")),
                Ok(Err(e)) => Err(format!("npm could not be run: {e}")),
                Ok(Ok(out)) if !out.status.success() => {
                    Err(format!("npm ci failed: {}", String::from_utf8_lossy(&out.stderr)))
                }
                Ok(Ok(_)) => Ok(()),
            }
        })
        .await;
    if let Err(e) = result {
        panic!("{e}\nThese tests need Node.js and the packages of tests/node: run `npm ci --prefix tests/node`");
    }
    assert!(!missing(), "npm ci did not install {needed:?}; run `npm ci --prefix tests/node`");
}

/// A running Node script: it reads lines on stdin and answers lines on stdout.
pub struct Script {
    child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
}

/// Starts `node tests/node/<script>` with `env` (killed when the [`Script`] is dropped).
pub fn start(script: &str, env: &[(&str, &str)]) -> Script {
    let mut command = Command::new("node");
    command
        .arg(node_dir().join(script))
        .current_dir(node_dir())
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    let mut child = command.spawn().unwrap_or_else(|e| panic!("node could not be started: {e}"));
    let stdin = child.stdin.take().expect("stdin");
    let lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    Script { child, stdin, lines }
}

impl Script {
    /// The next line the script prints, as JSON (bounded in time).
    pub async fn next_json(&mut self) -> Value {
        let line = match tokio::time::timeout(LINE_LIMIT, self.lines.next_line()).await {
            Ok(Ok(Some(line))) => line,
            other => panic!("the node script printed nothing: {other:?} ({:?})", self.child.try_wait()),
        };
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
    }

    /// Sends the script one JSON line.
    pub async fn send(&mut self, message: &Value) {
        let line = format!("{message}\n");
        self.stdin.write_all(line.as_bytes()).await.expect("write to the node script");
        self.stdin.flush().await.expect("flush");
    }
}
