//! Real headless Chromium for the portal's tests, driven through W3C WebDriver (Debian's
//! `chromium` and `chromium-driver`; CI installs them). One chromedriver per test binary; every
//! [`Browser`] is a new browser session with its own profile, so two of them share no cookies.
//!
//! The protocol is a dozen JSON-over-HTTP commands, spoken here with reqwest: the Rust WebDriver
//! clients (fantoccini) bring the MPL-licensed `webdriver` crate and fourteen second versions of
//! crates already in the build (an old `http`, `cookie`, ICU...).
//!
//! Without Chromium the tests are skipped with a message, unless `IKP_REQUIRE_BROWSER` is set
//! (as in CI), when they fail.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use base64::Engine;
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

/// One browser session on the portal at `site`.
pub struct Browser {
    http: reqwest::Client,
    /// The session's URL at chromedriver (`http://127.0.0.1:port/session/<id>`).
    session: String,
    pub site: String,
}

/// How an element is found.
pub enum Locator<'a> {
    Css(&'a str),
    XPath(&'a str),
}

/// W3C WebDriver's key for an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

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
        let capabilities =
            json!({"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": options}}});
        let http = reqwest::Client::builder().timeout(COMMAND_LIMIT).build().expect("client");
        let answer: Value = http
            .post(format!("{}/session", driver.url))
            .json(&capabilities)
            .send()
            .await
            .expect("chromedriver answers")
            .json()
            .await
            .expect("json");
        let id = answer["value"]["sessionId"].as_str().unwrap_or_else(|| panic!("no browser session: {answer}"));
        Some(Browser {
            http,
            session: format!("{}/session/{id}", driver.url),
            site: site.trim_end_matches('/').to_string(),
        })
    }

    /// One WebDriver command: its `value`, or the error's message.
    async fn command(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Result<Value, String> {
        let mut request = self.http.request(method, format!("{}{path}", self.session));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.map_err(|e| e.to_string())?;
        let ok = response.status().is_success();
        let answer: Value = response.json().await.map_err(|e| e.to_string())?;
        if ok { Ok(answer["value"].clone()) } else { Err(format!("{}", answer["value"]["message"])) }
    }

    async fn post(&self, path: &str, body: Value) -> Result<Value, String> {
        self.command(reqwest::Method::POST, path, Some(body)).await
    }

    async fn get(&self, path: &str) -> Result<Value, String> {
        self.command(reqwest::Method::GET, path, None).await
    }

    /// The first element `locator` finds (its WebDriver id).
    pub async fn find(&self, locator: Locator<'_>) -> Result<String, String> {
        let (using, value) = match locator {
            Locator::Css(css) => ("css selector", css),
            Locator::XPath(xpath) => ("xpath", xpath),
        };
        let found = self.post("/element", json!({"using": using, "value": value})).await?;
        found[ELEMENT].as_str().map(str::to_string).ok_or_else(|| format!("no element in {found}"))
    }

    /// The visible text of the first element matching `css`.
    pub async fn text_of(&self, css: &str) -> String {
        let element = self.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}"));
        self.element_text(&element).await
    }

    async fn element_text(&self, element: &str) -> String {
        let text = self.get(&format!("/element/{element}/text")).await.expect("text");
        text.as_str().unwrap_or_default().to_string()
    }

    /// An attribute of the first element matching `css`.
    pub async fn attribute(&self, css: &str, name: &str) -> String {
        let element = self.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}"));
        let value = self.get(&format!("/element/{element}/attribute/{name}")).await.expect("attribute");
        value.as_str().unwrap_or_default().to_string()
    }

    /// Runs a script in the page; its return value.
    pub async fn execute(&self, script: &str) -> Value {
        self.post("/execute/sync", json!({"script": script, "args": []}))
            .await
            .unwrap_or_else(|e| panic!("script: {e}"))
    }

    /// Resizes the window (a phone: 390 × 844).
    pub async fn resize(&self, width: u32, height: u32) {
        self.post("/window/rect", json!({"width": width, "height": height})).await.expect("resized");
    }

    /// Opens a path of the portal.
    pub async fn visit(&self, path: &str) {
        self.post("/url", json!({"url": format!("{}{path}", self.site)}))
            .await
            .unwrap_or_else(|e| panic!("{path}: {e}"));
    }

    /// The path of the page shown.
    pub async fn path(&self) -> String {
        let url = self.get("/url").await.expect("url");
        reqwest::Url::parse(url.as_str().unwrap_or_default()).map(|u| u.path().to_string()).unwrap_or_default()
    }

    /// Logs in through the portal's button and the authorization server's demo login page.
    pub async fn log_in(&self, pesel: &str) {
        self.visit("/").await;
        self.click_button("Zaloguj się").await;
        self.submit_login(pesel).await;
    }

    /// Fills in and sends the authorization server's demo login form; waits for the portal.
    pub async fn submit_login(&self, pesel: &str) {
        self.fill("input[name=pesel]", pesel).await;
        self.fill("input[name=password]", "demo").await;
        self.click_css("form button[type=submit]").await;
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
        let field = self.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}"));
        self.post(&format!("/element/{field}/clear"), json!({})).await.ok();
        self.post(&format!("/element/{field}/value"), json!({"text": value})).await.expect("typed");
    }

    /// Clicks the first element matching `css` and waits for the next page.
    pub async fn click_css(&self, css: &str) {
        self.click(Locator::Css(css), css).await;
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
        let before = self.find(Locator::Css("html")).await.expect("html");
        let element = match self.find(locator).await {
            Ok(element) => element,
            Err(e) => panic!("no {what} on {}: {e}", self.path().await),
        };
        self.post(&format!("/element/{element}/click"), json!({})).await.unwrap_or_else(|e| panic!("{what}: {e}"));
        // The click navigates: wait until the old document is gone.
        for _ in 0..200 {
            if self.get(&format!("/element/{before}/name")).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The visible text of the page.
    pub async fn text(&self) -> String {
        self.text_of("body").await
    }

    /// The text of the section whose heading is `heading`.
    pub async fn section_text(&self, heading: &str) -> String {
        let xpath = format!("//section[h2[normalize-space()={}]]", xpath_literal(heading));
        match self.find(Locator::XPath(&xpath)).await {
            Ok(section) => self.element_text(&section).await,
            Err(_) => panic!("no section {heading} in {}", self.text().await),
        }
    }

    /// Saves a screenshot of the page as `<name>.png` among the test artifacts.
    pub async fn screenshot(&self, name: &str) {
        let encoded = self.get("/screenshot").await.expect("screenshot");
        let png = base64::engine::general_purpose::STANDARD.decode(encoded.as_str().unwrap_or_default()).expect("png");
        std::fs::write(artifacts().join(format!("{name}.png")), png).expect("screenshot saved");
    }

    /// axe-core's WCAG 2.1 A and AA checks of the page: the serious and critical violations,
    /// each as `rule: what (where)`.
    pub async fn accessibility_violations(&self) -> Vec<String> {
        super::node::ensure_installed(&["axe-core"]).await;
        let axe = std::fs::read_to_string(super::node::node_dir().join("node_modules/axe-core/axe.min.js"))
            .expect("axe-core");
        self.execute(&axe).await;
        let script = r#"
            const done = arguments[arguments.length - 1];
            axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})
               .then(r => done({passes: r.passes.length,
                                violations: r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                                                   nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 3)}))}))
               .catch(e => done({passes: 0, violations: [{id: 'axe-error', impact: 'critical', help: String(e), nodes: []}]}));
        "#;
        let result = self.post("/execute/async", json!({"script": script, "args": []})).await.expect("axe ran");
        // A run that checked nothing would pass anything.
        assert!(result["passes"].as_u64().unwrap_or_default() > 5, "axe-core checked nothing: {result}");
        result["violations"]
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
            .execute(
                "const n = performance.getEntriesByType('navigation')[0];\
                 const css = performance.getEntriesByType('resource').reduce((s, r) => s + r.transferSize, 0);\
                 return [n.transferSize + css, n.loadEventEnd - n.startTime];",
            )
            .await;
        let bytes = value.get(0).and_then(Value::as_u64).unwrap_or_default();
        let ms = value.get(1).and_then(Value::as_f64).unwrap_or_default();
        (bytes, ms)
    }

    pub async fn close(self) {
        self.http.delete(&self.session).send().await.ok();
    }
}

/// A string as an XPath literal (these tests' texts have no double quotes).
fn xpath_literal(text: &str) -> String {
    assert!(!text.contains('"'), "{text}");
    format!("\"{text}\"")
}
