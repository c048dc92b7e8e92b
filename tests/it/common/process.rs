//! The `ikp` binary as an operator runs it: a clean environment (no `IKP_*` variable leaks in
//! from the test run), its stderr kept in a file to read afterwards, stopped with SIGTERM.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::Duration;

/// `ikp` with only the variables given (plus PATH and HOME).
pub fn ikp(envs: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ikp"));
    command.env_clear();
    for name in ["PATH", "HOME"] {
        if let Ok(value) = std::env::var(name) {
            command.env(name, value);
        }
    }
    command.envs(envs.iter().copied());
    command
}

/// Runs `ikp args...` to completion in `dir`.
pub fn run(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Output {
    ikp(envs).args(args).current_dir(dir).output().expect("run ikp")
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A running `ikp serve` (or any long-running command).
pub struct Running {
    child: Option<Child>,
    stderr: PathBuf,
}

impl Running {
    /// Starts `ikp args...` in `dir`, its stderr going to `dir/stderr.log`.
    pub fn start(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Running {
        let stderr = dir.join("stderr.log");
        let file = std::fs::File::create(&stderr).unwrap();
        let child = ikp(envs)
            .args(args)
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::from(file))
            .spawn()
            .expect("start ikp");
        Running { child: Some(child), stderr }
    }

    /// Waits until `url` answers 200 through `client` (a minute at most: the first start of a
    /// database runs its migrations, slower while the tests share two cores with a build).
    pub async fn wait_ready(&mut self, client: &reqwest::Client, url: &str) {
        for _ in 0..1200 {
            if client.get(url).send().await.is_ok_and(|r| r.status() == 200) {
                return;
            }
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().unwrap()) {
                panic!("ikp exited with {status} before answering {url}:\n{}", self.stderr());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("ikp did not answer {url} within a minute:\n{}", self.stderr());
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// SIGKILL (no shutdown of any kind: what a crashed machine looks like to the others), then
    /// reaps the process; its stderr.
    pub fn kill(mut self) -> String {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL");
            child.wait().ok();
        }
        self.stderr()
    }

    /// SIGTERM, then waits for the process to exit; its exit status and stderr.
    pub fn stop(mut self) -> (ExitStatus, String) {
        let mut child = self.child.take().unwrap();
        let sent = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill");
        assert!(sent.success());
        for _ in 0..600 {
            if let Some(status) = child.try_wait().unwrap() {
                return (status, self.stderr());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        child.kill().ok();
        child.wait().ok();
        panic!("ikp did not stop within 30 s of SIGTERM:\n{}", self.stderr());
    }
}

impl Drop for Running {
    /// A test that failed half-way leaves no server behind.
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().ok();
            child.wait().ok();
        }
    }
}
