//! Real headless Chromium for the portal's tests, driven through WebDriver (Debian's `chromium`
//! and `chromium-driver`; CI installs them). One chromedriver per test binary; every [`Browser`]
//! is a new browser session with its own profile, so two of them share no cookies.
//!
//! Without Chromium the tests are skipped with a message, unless `IKP_REQUIRE_BROWSER` is set
//! (as in CI), when they fail.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use tokio::process::{Child, Command};
use tokio::sync::OnceCell;

/// How long a page may take to answer a WebDriver command.
const COMMAND_LIMIT: Duration = Duration::from_secs(60);

struct Driver {
    url: String,
    _process: Child,
}

static DRIVER: OnceCell<Option<Driver>> = OnceCell::const_new();

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?.to_str()?.split(':').map(|dir| PathBuf::from(dir).join(program)).find(|p| p.is_file())
}

fn chromium() -> Option<PathBuf> {
    std::env::var_os("IKP_CHROMIUM")
        .map(PathBuf::from)
        .or_else(|| ["chromium", "chromium-browser", "google-chrome"].iter().find_map(|p| which(p)))
}

async fn driver() -> Option<&'static Driver> {
    DRIVER
        .get_or_init(|| async {
            let required = std::env::var_os("IKP_REQUIRE_BROWSER").is_some();
            let (Some(driver), Some(_)) = (which("chromedriver"), chromium()) else {
                assert!(!required, "IKP_REQUIRE_BROWSER is set but chromium or chromedriver is missing: apt-get install -y chromium chromium-driver");
                eprintln!("skipping the browser tests: chromium and chromedriver are not installed (apt-get install -y chromium chromium-driver)");
                return None;
            };
            let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
            let process = Command::new(driver)
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .expect("chromedriver starts");
            let url = format!("http://127.0.0.1:{port}");
            let http = reqwest::Client::new();
            for _ in 0..100 {
                if http.get(format!("{url}/status")).send().await.is_ok_and(|r| r.status().is_success()) {
                    return Some(Driver { url, _process: process });
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            panic!("chromedriver did not answer on {url}");
        })
        .await
        .as_ref()
}

/// Where screenshots and page measurements are saved (CI keeps them as artifacts).
pub fn artifacts() -> PathBuf {
    let dir = std::env::var_os("IKP_TEST_ARTIFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target").join("test-artifacts"))
        .join("portal");
    std::fs::create_dir_all(&dir).expect("artifacts directory");
    dir
}

/// One browser session on the portal at `site` (`http://127.0.0.1:port`).
pub struct Browser {
    pub client: Client,
    pub site: String,
}

impl Browser {
    /// A new headless browser, or `None` when Chromium is not installed (and not required).
    pub async fn open(site: &str) -> Option<Browser> {
        let driver = driver().await?;
        let mut options = json!({
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,1000", "--lang=pl-PL", "--disable-extensions",
                     "--no-first-run", "--disable-background-networking"]
        });
        if let Some(binary) = chromium() {
            options["binary"] = json!(binary.display().to_string());
        }
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("browserName".into(), json!("chrome"));
        capabilities.insert("goog:chromeOptions".into(), options);
        let client =
            ClientBuilder::native().capabilities(capabilities).connect(&driver.url).await.expect("a browser session");
        client.set_ua("ikp-portal-tests").await.ok();
        Some(Browser { client, site: site.trim_end_matches('/').to_string() })
    }

    /// Opens a path of the portal.
    pub async fn visit(&self, path: &str) {
        tokio::time::timeout(COMMAND_LIMIT, self.client.goto(&format!("{}{path}", self.site)))
            .await
            .expect("the page loads in time")
            .expect("goto");
    }

    /// The path of the page shown.
    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.expect("url");
        url.path().to_string()
    }

    /// Logs in through the portal's button and the authorization server's demo login page.
    pub async fn log_in(&self, pesel: &str) {
        self.visit("/").await;
        self.click_button("Zaloguj się").await;
        self.fill("input[name=pesel]", pesel).await;
        self.fill("input[name=password]", "demo").await;
        self.client
            .find(Locator::Css("form button[type=submit]"))
            .await
            .expect("login button")
            .click()
            .await
            .expect("submit");
        self.wait_for_path(|p| !p.starts_with("/fhir/")).await;
    }

    /// Waits (up to 20 s) until the page's path satisfies `done`.
    pub async fn wait_for_path(&self, done: impl Fn(&str) -> bool) {
        for _ in 0..200 {
            if done(&self.path().await) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the browser stayed at {}", self.path().await);
    }

    pub async fn fill(&self, css: &str, value: &str) {
        let field = self.client.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}"));
        field.clear().await.ok();
        field.send_keys(value).await.expect("typed");
    }

    /// Clicks the first button whose text is `text` and waits for the next page.
    pub async fn click_button(&self, text: &str) {
        let xpath = format!("//button[normalize-space()={}]", xpath_literal(text));
        self.click(Locator::XPath(&xpath), text).await;
    }

    /// Clicks the first button whose text is `text` inside the card whose heading is `card`.
    pub async fn click_button_in_card(&self, card: &str, text: &str) {
        let xpath = format!(
            "//article[h3[normalize-space()={}]]//button[normalize-space()={}]",
            xpath_literal(card),
            xpath_literal(text)
        );
        self.click(Locator::XPath(&xpath), &format!("{text} in {card}")).await;
    }

    /// Clicks the first button in the section whose heading is `section`.
    pub async fn click_first_button_in_section(&self, section: &str) {
        let xpath = format!("//section[h2[normalize-space()={}]]//button", xpath_literal(section));
        self.click(Locator::XPath(&xpath), &format!("a button in {section}")).await;
    }

    async fn click(&self, locator: Locator<'_>, what: &str) {
        let before = self.client.find(Locator::Css("html")).await.expect("html");
        let element = match self.client.find(locator).await {
            Ok(element) => element,
            Err(e) => panic!("no {what} on {}: {e}", self.path_or_empty().await),
        };
        element.click().await.unwrap_or_else(|e| panic!("{what}: {e}"));
        // The click navigates: wait until the old document is gone.
        for _ in 0..200 {
            if before.tag_name().await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn path_or_empty(&self) -> String {
        self.client.current_url().await.map(|u| u.path().to_string()).unwrap_or_default()
    }

    /// The visible text of the page.
    pub async fn text(&self) -> String {
        self.client.find(Locator::Css("body")).await.expect("body").text().await.expect("text")
    }

    /// The page's HTML.
    pub async fn source(&self) -> String {
        self.client.source().await.expect("source")
    }

    /// Saves a screenshot of the page as `<name>.png` among the test artifacts.
    pub async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.expect("screenshot");
        std::fs::write(artifacts().join(format!("{name}.png")), png).expect("screenshot saved");
    }

    /// axe-core's WCAG 2.1 A and AA checks of the page: the serious and critical violations,
    /// each as `rule: what (where)`.
    pub async fn accessibility_violations(&self) -> Vec<String> {
        super::node::ensure_installed(&["axe-core"]).await;
        let axe = std::fs::read_to_string(super::node::node_dir().join("node_modules/axe-core/axe.min.js"))
            .expect("axe-core");
        self.client.execute(&axe, vec![]).await.expect("axe-core injected");
        let script = r#"
            const done = arguments[arguments.length - 1];
            axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})
               .then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                                       nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 3)}))))
               .catch(e => done([{id: 'axe-error', impact: 'critical', help: String(e), nodes: []}]));
        "#;
        let violations = self.client.execute_async(script, vec![]).await.expect("axe ran");
        violations
            .as_array()
            .into_iter()
            .flatten()
            .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
            .map(|v| {
                format!(
                    "{}: {} ({})",
                    v["id"].as_str().unwrap_or_default(),
                    v["help"].as_str().unwrap_or_default(),
                    v["nodes"]
                )
            })
            .collect()
    }

    /// What the page cost to load: (bytes transferred, milliseconds from navigation start to
    /// the load event), from the browser's Navigation Timing.
    pub async fn page_cost(&self) -> (u64, f64) {
        let value = self
            .client
            .execute(
                "const n = performance.getEntriesByType('navigation')[0];\
                 const css = performance.getEntriesByType('resource').reduce((s, r) => s + r.transferSize, 0);\
                 return [n.transferSize + css, n.loadEventEnd - n.startTime];",
                vec![],
            )
            .await
            .expect("timing");
        let bytes = value.get(0).and_then(Value::as_u64).unwrap_or_default();
        let ms = value.get(1).and_then(Value::as_f64).unwrap_or_default();
        (bytes, ms)
    }

    pub async fn close(self) {
        self.client.close().await.ok();
    }
}

/// A string as an XPath literal (these tests' texts have no double quotes).
fn xpath_literal(text: &str) -> String {
    assert!(!text.contains('"'), "{text}");
    format!("\"{text}\"")
}
