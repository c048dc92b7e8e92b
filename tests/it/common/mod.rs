//! Test harness: a real server on a real port, backed by SQLite (always) or PostgreSQL (when
//! `IKP_TEST_POSTGRES_URL` is set; CI sets it and `IKP_REQUIRE_POSTGRES=1`, so there a missing
//! database fails the tests instead of skipping them).

#![allow(dead_code)]

pub mod browser;
pub mod chromium;
pub mod node;
pub mod old_schema;
pub mod people;
pub mod process;
pub mod rng;

use std::net::SocketAddr;
use std::sync::Arc;

use ikp::cli::ServeArgs;
use reqwest::{Client, Method, RequestBuilder};
use serde_json::Value;
use tokio::sync::oneshot;

pub struct TestServer {
    pub base: String,
    pub client: Client,
    pub backend: &'static str,
    pub database_url: String,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    workers: Option<ikp::server::Workers>,
    state: Arc<ikp::rest::AppState>,
    cleanup: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

/// Generates `<scenario>::sqlite` and `<scenario>::postgres` tests for async scenario functions
/// taking `&TestServer`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => { $(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let server = $crate::common::TestServer::sqlite().await;
                super::$name(&server).await;
                server.stop().await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(server) = $crate::common::TestServer::postgres().await else { return };
                super::$name(&server).await;
                server.stop().await;
            }
        }
    )* };
}

/// Runs `async fn $name(database_url: &str)` on a fresh SQLite file and a fresh PostgreSQL schema
/// (no server: for tests that work beneath the store, such as migrations of old databases).
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => { $(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let dir = tempfile::tempdir().unwrap();
                super::$name(&format!("sqlite://{}/test.db", dir.path().display())).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(admin) = $crate::common::postgres_url() else { return };
                let (url, schema) = $crate::common::fresh_postgres_schema(&admin).await;
                super::$name(&url).await;
                $crate::common::drop_postgres_schema(&admin, &schema).await;
            }
        }
    )* };
}

/// Like [`on_both_backends`], on servers whose arguments `$configure` (a `fn(&mut ServeArgs)`)
/// adjusts.
#[macro_export]
macro_rules! on_both_backends_configured {
    ($configure:path; $($name:ident),* $(,)?) => { $(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let server = $crate::common::TestServer::sqlite_configured($configure).await;
                super::$name(&server).await;
                server.stop().await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(server) = $crate::common::TestServer::postgres_configured($configure).await else { return };
                super::$name(&server).await;
                server.stop().await;
            }
        }
    )* };
}

pub fn postgres_url() -> Option<String> {
    match std::env::var("IKP_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("IKP_REQUIRE_POSTGRES").is_err(),
                "IKP_REQUIRE_POSTGRES is set but IKP_TEST_POSTGRES_URL is not"
            );
            eprintln!("IKP_TEST_POSTGRES_URL is not set: skipping the PostgreSQL variant");
            None
        }
    }
}

/// A fresh, empty PostgreSQL schema; returns the database URL that uses it.
pub async fn fresh_postgres_schema(url: &str) -> (String, String) {
    use sqlx::Connection;
    let schema = format!("ikp_test_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(url).await.expect("connect to IKP_TEST_POSTGRES_URL");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&mut conn)
        .await
        .expect("create schema");
    let separator = if url.contains('?') { '&' } else { '?' };
    (format!("{url}{separator}options[search_path]={schema}"), schema)
}

/// Like `on_both_backends!`, on servers that also store the built-in terminology (slower to start).
#[macro_export]
macro_rules! on_both_backends_with_terminology {
    ($($name:ident),* $(,)?) => { $(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let server = $crate::common::TestServer::sqlite_configured(|a| a.store_terminology = true).await;
                super::$name(&server).await;
                server.stop().await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(server) = $crate::common::TestServer::postgres_configured(|a| a.store_terminology = true).await else { return };
                super::$name(&server).await;
                server.stop().await;
            }
        }
    )* };
}

/// Drops a schema made by [`fresh_postgres_schema`].
pub async fn drop_postgres_schema(admin: &str, schema: &str) {
    use sqlx::Connection;
    if let Ok(mut conn) = sqlx::PgConnection::connect(admin).await {
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE"))).execute(&mut conn).await.ok();
    }
}

/// Server arguments with authorization on and the demo population (its patients, parents,
/// doctors and their tokens).
pub fn auth_on(args: &mut ServeArgs) {
    args.auth = Some(ikp::cli::AuthMode::On);
    args.demo = Some(true);
}

impl TestServer {
    pub async fn sqlite() -> TestServer {
        TestServer::sqlite_configured(|_| {}).await
    }

    pub async fn postgres() -> Option<TestServer> {
        TestServer::postgres_configured(|_| {}).await
    }

    pub async fn start(database_url: &str, backend: &'static str) -> TestServer {
        TestServer::start_with(database_url, backend, 1024 * 1024).await
    }

    pub async fn start_with(database_url: &str, backend: &'static str, max_body_bytes: usize) -> TestServer {
        TestServer::start_configured(database_url, backend, |args| args.max_body_bytes = max_body_bytes).await
    }

    /// A server on SQLite with its arguments adjusted (e.g. `--auth on --demo`).
    pub async fn sqlite_configured(configure: impl FnOnce(&mut ServeArgs)) -> TestServer {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}/ikp.db", dir.path().display());
        let mut server = TestServer::start_configured(&url, "sqlite", configure).await;
        server._dir = Some(dir);
        server
    }

    /// A server on a fresh PostgreSQL schema with its arguments adjusted; `None` without PostgreSQL.
    pub async fn postgres_configured(configure: impl FnOnce(&mut ServeArgs)) -> Option<TestServer> {
        let admin = postgres_url()?;
        let (url, schema) = fresh_postgres_schema(&admin).await;
        let mut server = TestServer::start_configured(&url, "postgres", configure).await;
        server.cleanup = Some((admin, schema));
        Some(server)
    }

    pub async fn start_configured(
        database_url: &str,
        backend: &'static str,
        configure: impl FnOnce(&mut ServeArgs),
    ) -> TestServer {
        let mut args = ServeArgs::new("127.0.0.1:0".parse().expect("addr"), database_url);
        args.max_body_bytes = 1024 * 1024;
        // Test servers skip storing the built-in terminology unless asked (it costs seconds in
        // debug builds and would show up in system-wide history and search).
        args.store_terminology = false;
        configure(&mut args);
        TestServer::start_args(args, backend).await
    }

    /// A server with exactly these arguments (`listen` port 0 picks a free port).
    pub async fn start_args(args: ServeArgs, backend: &'static str) -> TestServer {
        let listener = tokio::net::TcpListener::bind(args.listen).await.expect("bind");
        let addr: SocketAddr = listener.local_addr().expect("addr");
        let args = ServeArgs { listen: addr, ..args };
        let database_url = args.database_url.clone();
        let state = ikp::server::state(&args).await.expect("server state");
        let workers = ikp::server::Workers::start(&state, &args);
        let app = ikp::rest::app(state.clone());
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
                .with_graceful_shutdown(async move {
                    rx.await.ok();
                })
                .await
                .expect("serve");
        });
        TestServer {
            base: format!("http://{addr}/fhir"),
            client: Client::new(),
            backend,
            database_url,
            shutdown: Some(tx),
            workers: Some(workers),
            task: Some(task),
            state,
            cleanup: None,
            _dir: None,
        }
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            tx.send(()).ok();
        }
        if let Some(task) = self.task.take() {
            task.await.ok();
        }
        if let Some(workers) = self.workers.take() {
            workers.stop().await;
        }
        self.state.session.close().await;
        if let Some((admin, schema)) = self.cleanup.take() {
            drop_postgres_schema(&admin, &schema).await;
        }
    }

    pub fn state(&self) -> &ikp::rest::AppState {
        &self.state
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/{}", self.base, path.trim_start_matches('/'))
    }

    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path))
    }

    /// A bearer token for `fhir_user` (`Patient/1`; `None` for a backend service) with `scopes`,
    /// minted through the authorization server's grant store (login flows: tests/smart.rs). The
    /// server must run with `--auth on`.
    pub async fn token(&self, fhir_user: Option<&str>, patient: Option<&str>, scopes: &str) -> String {
        use ikp::auth::clients::{ClientType, NewClient};
        use ikp::auth::grants::{self, GrantContext, TokenKind};
        const CLIENT: &str = "test-tokens";
        let store = self.state().auth.store();
        if ikp::auth::clients::get(store, CLIENT).await.expect("client").is_none() {
            let client = NewClient {
                client_id: CLIENT.into(),
                client_type: ClientType::Public,
                secret: None,
                redirect_uris: vec!["https://app.example/cb".into()],
                launch_uri: None,
                jwks: None,
                jwks_url: None,
                scopes: Some("system/*.cruds user/*.cruds patient/*.cruds launch/patient openid fhirUser".into()),
            };
            ikp::auth::clients::add(store, &client).await.ok();
        }
        let scopes = ikp::access::scopes::Scopes::parse(scopes);
        let context = GrantContext {
            subject: fhir_user.map(|u| format!("subject-{u}")),
            fhir_user: fhir_user.map(str::to_string),
            patient: patient.map(str::to_string),
            encounter: None,
        };
        let grant = grants::create_grant(store, CLIENT, context, &scopes).await.expect("grant");
        grants::issue(store, &grant, TokenKind::Access, &scopes, 3600).await.expect("token")
    }

    /// POST (a JSON body, or none) with a bearer token.
    pub async fn post_as(&self, token: &str, path: &str, body: Option<&Value>) -> reqwest::Response {
        let r = match body {
            Some(b) => self.send(Method::POST, path, b),
            None => self.request(Method::POST, path),
        };
        r.bearer_auth(token).send().await.expect("post")
    }

    /// GET with a bearer token.
    pub async fn get_as(&self, token: &str, path: &str) -> reqwest::Response {
        self.get(path).bearer_auth(token).send().await.expect("get")
    }

    /// A backend service's token with every permission.
    pub async fn admin_token(&self) -> String {
        self.token(None, None, "system/*.cruds").await
    }

    pub fn get(&self, path: &str) -> RequestBuilder {
        self.request(Method::GET, path)
    }

    /// Sends a resource as FHIR JSON.
    pub fn send(&self, method: Method, path: &str, resource: &Value) -> RequestBuilder {
        self.request(method, path)
            .header("content-type", "application/fhir+json")
            .body(serde_json::to_vec(resource).expect("json"))
    }

    /// Creates a resource and returns it as stored.
    pub async fn create(&self, resource: &Value) -> Value {
        let t = resource["resourceType"].as_str().expect("resourceType");
        let r = self.send(Method::POST, t, resource).send().await.expect("create");
        assert_eq!(r.status(), 201, "create {t}");
        r.json().await.expect("json")
    }
}

/// Reads a response body as FHIR JSON.
pub async fn json(r: reqwest::Response) -> Value {
    let text = r.text().await.expect("body");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// Asserts a response is an OperationOutcome with the status, returning its issues.
pub async fn outcome(r: reqwest::Response, status: u16) -> Vec<Value> {
    assert_eq!(r.status().as_u16(), status, "status");
    let body = json(r).await;
    assert_eq!(body["resourceType"], "OperationOutcome", "{body}");
    body["issue"].as_array().cloned().unwrap_or_default()
}

/// `Type/id` of the entries in `mode` (`match` or `include`) of a searchset.
pub fn keys(bundle: &Value, mode: &str) -> std::collections::BTreeSet<String> {
    listed(bundle, mode).into_iter().collect()
}

/// `Type/id` of the entries in `mode` of a searchset, in the Bundle's order.
pub fn listed(bundle: &Value, mode: &str) -> Vec<String> {
    resources(bundle, mode).iter().map(type_and_id).collect()
}

/// The resources of the entries in `mode` of a searchset, in the Bundle's order.
pub fn resources(bundle: &Value, mode: &str) -> Vec<Value> {
    bundle["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["search"]["mode"] == mode)
        .map(|e| e["resource"].clone())
        .collect()
}

/// `Type/id` of a resource.
pub fn type_and_id(resource: &Value) -> String {
    format!("{}/{}", resource["resourceType"].as_str().unwrap_or(""), resource["id"].as_str().unwrap_or(""))
}

/// Reads a fixture from tests/fixtures.
pub fn fixture(path: &str) -> Value {
    let full = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(path);
    serde_json::from_str(&std::fs::read_to_string(&full).expect("fixture")).expect("fixture json")
}

/// The value of a resource's identifier in `system`.
pub fn identifier_value(resource: &Value, system: &str) -> Option<String> {
    resource["identifier"]
        .as_array()?
        .iter()
        .find(|i| i["system"] == system)
        .and_then(|i| i["value"].as_str())
        .map(str::to_string)
}
