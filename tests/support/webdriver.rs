//! Headless Chromium driven through chromedriver with the W3C WebDriver protocol, for
//! the tests that need a real browser (`browser.rs`, `graph.rs`).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::{free_port, temp_dir, JsonBody};

/// The key under which WebDriver returns an element's reference (the W3C "web
/// element identifier").
pub const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
/// How long a new page may take to appear after a click.
pub const PAGE_WAIT: Duration = Duration::from_secs(10);

/// Where Chromium and chromedriver are, or `None` after saying SKIPPED when they are
/// missing. With `JOURNEYC_REQUIRE_BROWSER` set, missing them fails the test instead,
/// so CI cannot pass by skipping.
pub fn browser_tools() -> Option<(PathBuf, PathBuf)> {
    let path = |var: &str, default: &str| {
        PathBuf::from(std::env::var_os(var).unwrap_or_else(|| default.into()))
    };
    let chromium = path("JOURNEYC_CHROMIUM", "/usr/bin/chromium");
    let chromedriver = path("JOURNEYC_CHROMEDRIVER", "/usr/bin/chromedriver");
    let missing: Vec<String> = [&chromium, &chromedriver]
        .into_iter()
        .filter(|p| !p.is_file())
        .map(|p| p.display().to_string())
        .collect();
    if missing.is_empty() {
        return Some((chromium, chromedriver));
    }
    let why = format!(
        "chromium/chromedriver not installed (missing {}; apt-get install chromium chromium-driver)",
        missing.join(", ")
    );
    let required = std::env::var("JOURNEYC_REQUIRE_BROWSER").is_ok_and(|v| !v.is_empty());
    assert!(!required, "JOURNEYC_REQUIRE_BROWSER is set but {why}");
    // Straight to stderr: libtest would hide an `eprintln!` of a passing test.
    let _ = writeln!(std::io::stderr(), "SKIPPED: {why}");
    None
}

/// A chromedriver process on a free port, killed when dropped, even by a failed
/// assertion.
pub struct Chromedriver {
    child: Child,
    pub base: String,
    pub log: PathBuf,
}

impl Chromedriver {
    /// Starts chromedriver and waits (up to 30 s) until it says it is ready.
    pub async fn start(path: &Path) -> Chromedriver {
        let port = free_port();
        let log = temp_dir("chromedriver").join("chromedriver.log");
        let child = Command::new(path)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{} does not start: {e}", path.display()));
        let mut driver = Chromedriver {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
        };
        let client = webdriver_client();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = driver.child.try_wait() {
                panic!(
                    "chromedriver exited with {status}; see {}",
                    driver.log.display()
                );
            }
            if let Ok(r) = client.get(format!("{}/status", driver.base)).send().await {
                let body: Value =
                    serde_json::from_str(&r.text().await.unwrap_or_default()).unwrap_or_default();
                if body["value"]["ready"] == true {
                    return driver;
                }
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver was not ready after 30 s; see {}",
                driver.log.display()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn webdriver_client() -> reqwest::Client {
    journeyc::server::install_crypto();
    reqwest::Client::builder()
        // Starting Chromium can take a while on a slow machine.
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// An element's reference as WebDriver takes it in a script's arguments.
pub fn element(id: &str) -> Value {
    json!({ ELEMENT: id })
}

#[derive(Debug)]
pub struct Rect {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
}

/// One WebDriver session: a headless Chromium.
pub struct Browser {
    base: String,
    session: String,
    client: reqwest::Client,
    log: PathBuf,
    ended: bool,
}

impl Browser {
    /// Starts Chromium with `options` (WebDriver's `goog:chromeOptions`, without the
    /// binary, which is `chromium`).
    pub async fn open(driver: &Chromedriver, chromium: &Path, mut options: Value) -> Browser {
        let client = webdriver_client();
        options["binary"] = json!(chromium.display().to_string());
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": options,
        }}});
        let r = client
            .post(format!("{}/session", driver.base))
            .json_body(&capabilities)
            .send()
            .await
            .expect("chromedriver answers POST /session");
        let status = r.status();
        let body: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
        assert!(
            status.is_success(),
            "Chromium did not start ({status}): {body}; see {}",
            driver.log.display()
        );
        Browser {
            base: driver.base.clone(),
            session: body["value"]["sessionId"].as_str().unwrap().to_string(),
            client,
            log: driver.log.clone(),
            ended: false,
        }
    }

    /// One WebDriver command; its `value`, or the status and error it answered.
    pub async fn try_call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, (u16, Value)> {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut req = self.client.request(method, url);
        if let Some(body) = body {
            req = req.json_body(&body);
        }
        let r = req.send().await.expect("chromedriver answers");
        let status = r.status().as_u16();
        let mut answer: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
        let value = answer["value"].take();
        if (200..300).contains(&status) {
            Ok(value)
        } else {
            Err((status, value))
        }
    }

    pub async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        self.try_call(method, path, body)
            .await
            .unwrap_or_else(|(status, e)| {
                panic!(
                    "WebDriver {path} failed ({status}): {e}; see {}",
                    self.log.display()
                )
            })
    }

    pub async fn get(&self, path: &str) -> Value {
        self.call(reqwest::Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Value {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn go(&self, url: &str) {
        self.post("/url", json!({ "url": url })).await;
    }

    pub async fn url(&self) -> String {
        self.get("/url").await.as_str().unwrap().to_string()
    }

    pub fn css(css: &str) -> Value {
        json!({"using": "css selector", "value": css})
    }

    /// The first element matching `css`, or `None` when the page has none.
    pub async fn try_find(&self, css: &str) -> Option<String> {
        match self
            .try_call(reqwest::Method::POST, "/element", Some(Self::css(css)))
            .await
        {
            Ok(found) => Some(
                found[ELEMENT]
                    .as_str()
                    .unwrap_or_else(|| panic!("finding {css} answered {found}"))
                    .to_string(),
            ),
            Err((404, e)) if e["error"] == "no such element" => None,
            Err((status, e)) => panic!("finding {css} failed ({status}): {e}"),
        }
    }

    pub async fn find(&self, css: &str) -> String {
        match self.try_find(css).await {
            Some(id) => id,
            None => panic!(
                "no {css} on {} (h1: {:?})",
                self.url().await,
                self.try_h1().await
            ),
        }
    }

    pub async fn find_all(&self, css: &str) -> Vec<String> {
        let found = self.post("/elements", Self::css(css)).await;
        found
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e[ELEMENT].as_str().unwrap().to_string())
            .collect()
    }

    pub async fn type_into(&self, id: &str, text: &str) {
        self.post(&format!("/element/{id}/value"), json!({ "text": text }))
            .await;
    }

    pub async fn clear(&self, id: &str) {
        self.post(&format!("/element/{id}/clear"), json!({})).await;
    }

    pub async fn click(&self, id: &str) {
        self.post(&format!("/element/{id}/click"), json!({})).await;
    }

    /// Clicks a submit button and waits for the answer to load: a new document means a
    /// new root element, so the old root's reference stops matching.
    pub async fn click_and_wait(&self, id: &str) {
        let before = self.find("html").await;
        self.click(id).await;
        let deadline = Instant::now() + PAGE_WAIT;
        loop {
            if let Some(root) = self.try_find("html").await {
                let state = self.script("return document.readyState", vec![]).await;
                if root != before && state == "complete" {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "no new page {PAGE_WAIT:?} after the click; still {} (h1: {:?})",
                self.url().await,
                self.try_h1().await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn text(&self, id: &str) -> String {
        let text = self.get(&format!("/element/{id}/text")).await;
        text.as_str().unwrap().to_string()
    }

    pub async fn tag(&self, id: &str) -> String {
        let name = self.get(&format!("/element/{id}/name")).await;
        name.as_str().unwrap().to_string()
    }

    pub async fn attribute(&self, id: &str, name: &str) -> Option<String> {
        let value = self.get(&format!("/element/{id}/attribute/{name}")).await;
        value.as_str().map(str::to_string)
    }

    pub async fn property(&self, id: &str, name: &str) -> Value {
        self.get(&format!("/element/{id}/property/{name}")).await
    }

    pub async fn displayed(&self, id: &str) -> bool {
        self.get(&format!("/element/{id}/displayed"))
            .await
            .as_bool()
            .unwrap()
    }

    pub async fn rect(&self, id: &str) -> Rect {
        let r = self.get(&format!("/element/{id}/rect")).await;
        let n = |k: &str| r[k].as_f64().unwrap();
        Rect {
            x: n("x"),
            y: n("y"),
            width: n("width"),
            height: n("height"),
        }
    }

    pub async fn script(&self, script: &str, args: Vec<Value>) -> Value {
        self.post("/execute/sync", json!({ "script": script, "args": args }))
            .await
    }

    /// The HTTP status of the document on screen, as the browser received it.
    pub async fn response_status(&self) -> u64 {
        let status = self
            .script(
                "return performance.getEntriesByType('navigation')[0].responseStatus",
                vec![],
            )
            .await;
        status.as_u64().unwrap()
    }

    pub async fn try_h1(&self) -> Option<String> {
        let h1 = self.try_find("h1").await?;
        Some(self.text(&h1).await)
    }

    pub async fn h1(&self) -> String {
        let h1 = self.find("h1").await;
        self.text(&h1).await
    }

    /// Ends the session, which quits Chromium.
    pub async fn quit(mut self) {
        self.call(reqwest::Method::DELETE, "", None).await;
        self.ended = true;
    }
}

impl Drop for Browser {
    /// After a failed assertion the session is still open: end it with a plain HTTP
    /// request (nothing async can run here), so Chromium does not outlive the test.
    fn drop(&mut self) {
        if self.ended {
            return;
        }
        let host = self.base.trim_start_matches("http://");
        if let Ok(mut stream) = std::net::TcpStream::connect(host) {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            let request = format!(
                "DELETE /session/{} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                self.session
            );
            if stream.write_all(request.as_bytes()).is_ok() {
                let _ = stream.read_to_end(&mut Vec::new());
            }
        }
    }
}

impl Browser {
    /// A PNG of the window, as WebDriver's screenshot command takes it.
    pub async fn screenshot(&self) -> Vec<u8> {
        use base64::Engine as _;
        let png = self.get("/screenshot").await;
        base64::engine::general_purpose::STANDARD
            .decode(png.as_str().expect("a base64 PNG"))
            .expect("the screenshot is base64")
    }
}
