//! Read replicas on a real streaming replica: the test starts its own PostgreSQL primary and a hot
//! standby made from it with `pg_basebackup` (PostgreSQL's binaries, clusters in a temporary
//! directory), and server nodes that read from the standby. Replay is paused and resumed on the
//! standby to make its lag exact, and the standby is stopped to take it away.
//!
//! What it shows: read-only requests are served by the replica (a stale answer within the lag
//! bound proves it); a writer reads its own writes at once, on the node it wrote to and, with
//! `IKP-Read-After`, on any other; a replica further behind than the bound is passed over; a
//! replica that goes down costs no request anything; a malformed position is a 400.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;

use crate::common::process::free_port;
use crate::common::{self, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_streaming_replica_serves_reads_without_hiding_writes() {
    // The PostgreSQL variant's switch: this machine's PostgreSQL binaries start the clusters.
    if common::postgres_url().is_none() {
        return;
    }
    let pair = Pair::start();
    let node = |max_lag_ms: u64| {
        let (primary, standby) = (pair.primary_url(), pair.standby_url());
        async move {
            TestServer::start_configured(&primary, "postgres", |args| {
                args.database_read_url = vec![standby];
                args.replica_max_lag_ms = max_lag_ms;
            })
            .await
        }
    };
    // Two nodes that tolerate a minute of lag (so a paused replica keeps serving them), and one
    // that tolerates 200 ms.
    let reader = node(60_000).await;
    let writer = node(60_000).await;
    let strict = node(200).await;
    for server in [&reader, &writer, &strict] {
        wait_until_usable(server).await;
    }

    // A write on one node reaches the replica, and the other node reads it there.
    let before = routed_to_replica(&reader).await;
    let (first, _) = create_patient(&writer, "Replicated").await;
    wait_for(&reader, &first, 200).await;
    assert!(routed_to_replica(&reader).await > before, "reads went to the replica");

    // With replay paused, a write on the primary is not on the replica: a node that has not
    // written reads the replica's older state (the proof that reads go there)...
    pair.standby_sql("SELECT pg_wal_replay_pause()");
    let (hidden, position) = create_patient(&writer, "Behind").await;
    let position = position.expect("a write on a node with replicas tells its position");
    assert_eq!(reader.get(&hidden).send().await.unwrap().status(), 404, "the replica is behind");
    // ...unless the client carries the writer's position to it: then the primary answers.
    let carried = reader.get(&hidden).header("ikp-read-after", &position).send().await.unwrap();
    assert_eq!(carried.status(), 200, "read-your-writes across nodes");
    // A node that allows 200 ms of lag passes the paused replica over once the primary has moved
    // on for longer than that.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(replica_state(&strict).await, "passed-over");
    assert_eq!(replica_state(&reader).await, "serving", "within the minute it tolerates");
    assert_eq!(strict.get(&hidden).send().await.unwrap().status(), 200, "a lagging replica is passed over");

    // The writer reads its own writes at once, with no header: reads and searches alike.
    let (own, _) = create_patient(&reader, "Own").await;
    assert_eq!(reader.get(&own).send().await.unwrap().status(), 200, "the writer reads its write");
    let id = own.trim_start_matches("Patient/");
    let found = common::json(reader.get(&format!("Patient?_id={id}")).send().await.unwrap()).await;
    assert_eq!(common::listed(&found, "match"), vec![own.clone()], "and finds it");

    // A malformed position is refused, not ignored.
    let malformed = reader.get(&own).header("ikp-read-after", "yesterday").send().await.unwrap();
    assert_eq!(malformed.status(), 400);

    // Replay resumes: the replica catches up and serves again.
    pair.standby_sql("SELECT pg_wal_replay_resume()");
    wait_until_usable(&strict).await;
    let before = routed_to_replica(&strict).await;
    wait_for(&strict, &own, 200).await;
    assert!(routed_to_replica(&strict).await > before, "the replica serves again once it has caught up");

    // The replica goes away: every read still answers, from the primary, and the node reports
    // the replica passed over while staying ready.
    pair.stop_standby();
    for server in [&reader, &strict] {
        for path in [first.as_str(), hidden.as_str(), own.as_str(), "Patient?name=Replicated"] {
            let r = server.get(path).send().await.unwrap();
            assert_eq!(r.status(), 200, "{path} with the replica down");
        }
        let ready = reqwest::get(root(server, "/health/ready")).await.unwrap();
        assert_eq!(ready.status(), 200, "a replica down does not make a node unready");
        // The node's next poll finds the replica gone, if no read of its own did first.
        wait_for_state(server, "passed-over").await;
    }

    for server in [reader, writer, strict] {
        server.stop().await;
    }
}

/// Creates a Patient named `family`: its `Patient/id` and the `IKP-Read-After` position, if any.
async fn create_patient(server: &TestServer, family: &str) -> (String, Option<String>) {
    let patient = json!({"resourceType": "Patient", "name": [{"family": family}]});
    let r = server.send(Method::POST, "Patient", &patient).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let position = r.headers().get("ikp-read-after").and_then(|v| v.to_str().ok()).map(str::to_string);
    let created = common::json(r).await;
    (common::type_and_id(&created), position)
}

/// Waits until `path` answers `status` on `server` (the replica catching up).
async fn wait_for(server: &TestServer, path: &str, status: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while server.get(path).send().await.unwrap().status() != status {
        assert!(Instant::now() < deadline, "{path} never answered {status}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The server's root (`/metrics`, `/health/ready`).
fn root(server: &TestServer, path: &str) -> String {
    server.url("").trim_end_matches('/').trim_end_matches("/fhir").to_string() + path
}

/// Reads routed to a replica, counted by every node of this test process (one metrics recorder
/// per process): it rises only while some node sends reads to a replica.
async fn routed_to_replica(server: &TestServer) -> f64 {
    let text = reqwest::get(root(server, "/metrics")).await.unwrap().text().await.unwrap();
    text.lines()
        .find_map(|line| {
            line.strip_prefix("ikp_db_read_routing_total{target=\"replica\"}").and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0.0)
}

/// The replica's state on this node, as its readiness probe reports it.
async fn replica_state(server: &TestServer) -> String {
    let ready = common::json(reqwest::get(root(server, "/health/ready")).await.unwrap()).await;
    ready["checks"]["replicas"][0]["state"].as_str().unwrap_or_default().to_string()
}

async fn wait_until_usable(server: &TestServer) {
    wait_for_state(server, "serving").await;
}

async fn wait_for_state(server: &TestServer, state: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while replica_state(server).await != state {
        assert!(Instant::now() < deadline, "the replica never reached '{state}'");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A PostgreSQL primary and its streaming hot standby, in a temporary directory, stopped when
/// dropped.
struct Pair {
    dir: tempfile::TempDir,
    bin: PathBuf,
    primary_port: u16,
    standby_port: u16,
}

impl Pair {
    fn start() -> Pair {
        let dir = tempfile::tempdir().expect("tempdir");
        let bin = postgres_bin();
        // The clusters belong to the `postgres` account when the tests run as root (PostgreSQL
        // refuses to run as root).
        if as_root() {
            run(Command::new("chown").arg("postgres").arg(dir.path()));
            run(Command::new("chmod").arg("755").arg(dir.path()));
        }
        let pair = Pair { primary_port: free_port(), standby_port: free_port(), bin, dir };
        let primary = pair.data("primary");
        pair.pg("initdb", &["-D", &primary, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"]);
        let conf = format!(
            "port = {}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\nwal_level = replica\n\
             max_wal_senders = 4\nhot_standby = on\nfsync = off\nsynchronous_commit = on\n",
            pair.primary_port,
            pair.dir.path().display()
        );
        append(&Path::new(&primary).join("postgresql.conf"), &conf);
        append(&Path::new(&primary).join("pg_hba.conf"), "host replication all 127.0.0.1/32 trust\n");
        pair.pg("pg_ctl", &["-D", &primary, "-l", &pair.data("primary.log"), "-w", "start"]);
        let standby = pair.data("standby");
        let port = pair.primary_port.to_string();
        pair.pg(
            "pg_basebackup",
            &["-h", "127.0.0.1", "-p", &port, "-U", "postgres", "-D", &standby, "-R", "-X", "stream", "--no-sync"],
        );
        append(&Path::new(&standby).join("postgresql.conf"), &format!("port = {}\n", pair.standby_port));
        pair.pg("pg_ctl", &["-D", &standby, "-l", &pair.data("standby.log"), "-w", "start"]);
        pair
    }

    fn data(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    fn primary_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.primary_port)
    }

    fn standby_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.standby_port)
    }

    /// Runs one statement on the standby, with psql.
    fn standby_sql(&self, statement: &str) {
        let port = self.standby_port.to_string();
        self.pg("psql", &["-h", "127.0.0.1", "-p", &port, "-U", "postgres", "-d", "postgres", "-Atc", statement]);
    }

    fn stop_standby(&self) {
        self.pg("pg_ctl", &["-D", &self.data("standby"), "-m", "immediate", "-w", "stop"]);
    }

    /// Runs a PostgreSQL program, as the `postgres` account when the tests run as root.
    fn pg(&self, program: &str, args: &[&str]) {
        run(self.command(program).args(args));
    }

    /// A PostgreSQL program's command, as the `postgres` account when the tests run as root
    /// (PostgreSQL refuses to run as root).
    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if !as_root() {
            return Command::new(path);
        }
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(path);
        command
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        for cluster in ["standby", "primary"] {
            let data = self.data(cluster);
            self.command("pg_ctl").args(["-D", &data, "-m", "immediate", "stop"]).output().ok();
        }
    }
}

fn run(command: &mut Command) {
    let out = command.output().unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(
        out.status.success(),
        "{command:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn append(path: &Path, text: &str) {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new().append(true).open(path).expect("open a configuration file");
    file.write_all(text.as_bytes()).expect("append to a configuration file");
}

fn as_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

/// PostgreSQL's programs: `pg_config --bindir`, as Debian installs them.
fn postgres_bin() -> PathBuf {
    let out = Command::new("pg_config").arg("--bindir").output().expect("pg_config (PostgreSQL's binaries)");
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}
