//! A journey's pages in a real browser: headless Chromium, driven through chromedriver
//! with the W3C WebDriver protocol, against the `journeyc run` binary and the fake
//! Twilio. What the other server tests check with hand-built form posts, this checks
//! the way a person's phone does it: typing, tapping, following redirects.
//!
//! Without Chromium and chromedriver the test says SKIPPED on stderr and returns; with
//! `JOURNEYC_REQUIRE_BROWSER` set (as CI does) it fails instead. `JOURNEYC_CHROMIUM` and
//! `JOURNEYC_CHROMEDRIVER` override where they are looked for.

mod support;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::*;

const PERSON: &str = "+14155550123";
/// The key under which WebDriver returns an element's reference (the W3C "web
/// element identifier").
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
/// How long a new page may take to appear after a click.
const PAGE_WAIT: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_finishes_the_seed_journey_in_a_phone_sized_browser() {
    let Some((chromium, chromedriver)) = browser_tools() else {
        return;
    };
    let twilio = FakeTwilio::start().await;
    let server = Server::start(Options {
        journey: example("texting_journey_links.journey"),
        db: temp_dir("browser").join("journey.db"),
        twilio: Some(&twilio),
        preview: false,
        extra: vec!["--sms-rate", "0"],
    });
    // The driver is declared before the browser so that, on a failed assertion, the
    // session is ended while chromedriver still runs to end it.
    let driver = Chromedriver::start(&chromedriver).await;
    let browser = Browser::open(&driver, &chromium).await;

    // The starting link redirects to this session's own journey link.
    browser.go(&server.url("/start/start")).await;
    let link = browser.url().await;
    assert!(
        link.starts_with(&server.url("/j/")),
        "the starting link lands on a journey link, not {link}"
    );
    assert_eq!(browser.h1().await, "Where can we text you?");
    assert!(browser.find_all("p.error").await.is_empty());

    // The phone field brings up a phone's number pad and its saved number.
    let phone = browser.find("input[name=phone_input]").await;
    assert_eq!(
        browser.attribute(&phone, "type").await.as_deref(),
        Some("tel")
    );
    assert_eq!(
        browser.attribute(&phone, "autocomplete").await.as_deref(),
        Some("tel")
    );
    assert_eq!(
        browser.attribute(&phone, "inputmode").await.as_deref(),
        Some("tel")
    );
    assert_fits_a_phone(&browser).await;

    // A number that cannot be texted comes back as a 422 with the message under the
    // field, and what the person typed is still there to correct.
    browser.type_into(&phone, "12").await;
    let button = browser.find("button[name=_button]").await;
    assert_eq!(browser.text(&button).await, "Text me a link");
    browser.click_and_wait(&button).await;
    assert_eq!(browser.response_status().await, 422);
    assert_eq!(browser.url().await, link);
    assert_eq!(browser.h1().await, "Where can we text you?");
    let error = browser.find("p.error").await;
    assert!(browser.displayed(&error).await, "the error is visible");
    assert_eq!(
        browser.text(&error).await,
        "Enter a phone number we can text, like (415) 555-0123."
    );
    let phone = browser.find("input[name=phone_input]").await;
    assert_eq!(browser.property(&phone, "value").await, json!("12"));
    assert_eq!(
        browser.attribute(&phone, "aria-invalid").await.as_deref(),
        Some("true")
    );
    assert_eq!(
        browser.attribute(&phone, "aria-describedby").await,
        browser.attribute(&error, "id").await,
        "screen readers read the error with the field"
    );
    let (field, message) = (browser.rect(&phone).await, browser.rect(&error).await);
    let gap = message.y - (field.y + field.height);
    assert!(
        (0.0..=40.0).contains(&gap),
        "the error sits right under its field: {field:?} then {message:?}"
    );
    assert_fits_a_phone(&browser).await;
    assert!(
        twilio.sent_to(PERSON).is_empty(),
        "no text for a bad number"
    );

    // A number typed as a person would moves on, and the text links back to the very
    // page the browser now shows.
    browser.clear(&phone).await;
    browser.type_into(&phone, "(415) 555-0123").await;
    let button = browser.find("button[name=_button]").await;
    browser.click_and_wait(&button).await;
    assert_eq!(browser.h1().await, "Almost done");
    assert!(browser.find_all("p.error").await.is_empty());
    let here = browser.url().await;
    assert_eq!(
        here, link,
        "the form's redirect returns to the journey link"
    );
    let sent = twilio.wait_for(PERSON, 1).await;
    assert_eq!(sent[0].from, OUR_NUMBER);
    let texted = sent[0]
        .body
        .strip_prefix("Thanks! Continue any time here: ")
        .unwrap_or_else(|| panic!("the seed's text, not {:?}", sent[0].body));
    assert_eq!(texted, here, "the SMS carries the browser's journey link");

    // The name field offers the person's saved name; finishing greets them by it.
    let name = browser.find("input[name=full_name]").await;
    assert_eq!(
        browser.attribute(&name, "autocomplete").await.as_deref(),
        Some("name")
    );
    assert_fits_a_phone(&browser).await;
    browser.type_into(&name, "Ada Lovelace").await;
    let finish = browser.find("button[name=_button]").await;
    assert_eq!(browser.text(&finish).await, "Finish");
    browser.click_and_wait(&finish).await;
    assert_eq!(browser.h1().await, "Thanks, Ada Lovelace!");
    assert_fits_a_phone(&browser).await;

    browser.quit().await;
    drop(driver);
    drop(server);
}

/// Every field and button of the page in view fits a 390-pixel-wide phone screen,
/// is tall enough to tap, and uses text large enough that phones do not zoom in.
async fn assert_fits_a_phone(browser: &Browser) {
    let width = browser
        .script("return window.innerWidth", vec![])
        .await
        .as_f64()
        .unwrap();
    assert_eq!(width, 390.0, "the page is laid out at the phone's width");
    let scroll = browser
        .script("return document.documentElement.scrollWidth", vec![])
        .await
        .as_f64()
        .unwrap();
    assert!(
        scroll <= width,
        "no sideways scrolling: {scroll}px > {width}px"
    );
    let controls = browser
        .find_all("input:not([type=hidden]), select, button")
        .await;
    for control in controls {
        let r = browser.rect(&control).await;
        let what = format!(
            "{} {:?}",
            browser.tag(&control).await,
            browser.attribute(&control, "name").await
        );
        assert!(
            r.x >= 0.0 && r.x + r.width <= width,
            "{what} fits across: {r:?}"
        );
        assert!(r.height >= 44.0, "{what} is tall enough to tap: {r:?}");
        let size = browser
            .script(
                "return parseFloat(getComputedStyle(arguments[0]).fontSize)",
                vec![element(&control)],
            )
            .await
            .as_f64()
            .unwrap();
        assert!(size >= 16.0, "{what} uses at least 16px text: {size}px");
    }
}

/// Where Chromium and chromedriver are, or `None` after saying SKIPPED when they are
/// missing. With `JOURNEYC_REQUIRE_BROWSER` set, missing them fails the test instead,
/// so CI cannot pass by skipping.
fn browser_tools() -> Option<(PathBuf, PathBuf)> {
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
struct Chromedriver {
    child: Child,
    base: String,
    log: PathBuf,
}

impl Chromedriver {
    /// Starts chromedriver and waits (up to 30 s) until it says it is ready.
    async fn start(path: &Path) -> Chromedriver {
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

fn webdriver_client() -> reqwest::Client {
    journeyc::server::install_crypto();
    reqwest::Client::builder()
        // Starting Chromium can take a while on a slow machine.
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// An element's reference as WebDriver takes it in a script's arguments.
fn element(id: &str) -> Value {
    json!({ ELEMENT: id })
}

#[derive(Debug)]
struct Rect {
    x: f64,
    y: f64,
    width: f64,
    height: f64,
}

/// One WebDriver session: a headless Chromium with a phone-sized window.
struct Browser {
    base: String,
    session: String,
    client: reqwest::Client,
    log: PathBuf,
    ended: bool,
}

impl Browser {
    async fn open(driver: &Chromedriver, chromium: &Path) -> Browser {
        let client = webdriver_client();
        // Chromium will not make a window narrower than 500 pixels, so the phone's
        // screen is emulated: a 390-pixel-wide touch screen that, like a real phone,
        // lays pages out 980 pixels wide unless they ask for the device's width.
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium.display().to_string(),
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=390,844"],
                "mobileEmulation": {"deviceMetrics": {
                    "width": 390, "height": 844, "pixelRatio": 3.0, "mobile": true, "touch": true,
                }},
            },
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
    async fn try_call(
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

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        self.try_call(method, path, body)
            .await
            .unwrap_or_else(|(status, e)| {
                panic!(
                    "WebDriver {path} failed ({status}): {e}; see {}",
                    self.log.display()
                )
            })
    }

    async fn get(&self, path: &str) -> Value {
        self.call(reqwest::Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    async fn go(&self, url: &str) {
        self.post("/url", json!({ "url": url })).await;
    }

    async fn url(&self) -> String {
        self.get("/url").await.as_str().unwrap().to_string()
    }

    fn css(css: &str) -> Value {
        json!({"using": "css selector", "value": css})
    }

    /// The first element matching `css`, or `None` when the page has none.
    async fn try_find(&self, css: &str) -> Option<String> {
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

    async fn find(&self, css: &str) -> String {
        match self.try_find(css).await {
            Some(id) => id,
            None => panic!(
                "no {css} on {} (h1: {:?})",
                self.url().await,
                self.try_h1().await
            ),
        }
    }

    async fn find_all(&self, css: &str) -> Vec<String> {
        let found = self.post("/elements", Self::css(css)).await;
        found
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e[ELEMENT].as_str().unwrap().to_string())
            .collect()
    }

    async fn type_into(&self, id: &str, text: &str) {
        self.post(&format!("/element/{id}/value"), json!({ "text": text }))
            .await;
    }

    async fn clear(&self, id: &str) {
        self.post(&format!("/element/{id}/clear"), json!({})).await;
    }

    async fn click(&self, id: &str) {
        self.post(&format!("/element/{id}/click"), json!({})).await;
    }

    /// Clicks a submit button and waits for the answer to load: a new document means a
    /// new root element, so the old root's reference stops matching.
    async fn click_and_wait(&self, id: &str) {
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

    async fn text(&self, id: &str) -> String {
        let text = self.get(&format!("/element/{id}/text")).await;
        text.as_str().unwrap().to_string()
    }

    async fn tag(&self, id: &str) -> String {
        let name = self.get(&format!("/element/{id}/name")).await;
        name.as_str().unwrap().to_string()
    }

    async fn attribute(&self, id: &str, name: &str) -> Option<String> {
        let value = self.get(&format!("/element/{id}/attribute/{name}")).await;
        value.as_str().map(str::to_string)
    }

    async fn property(&self, id: &str, name: &str) -> Value {
        self.get(&format!("/element/{id}/property/{name}")).await
    }

    async fn displayed(&self, id: &str) -> bool {
        self.get(&format!("/element/{id}/displayed"))
            .await
            .as_bool()
            .unwrap()
    }

    async fn rect(&self, id: &str) -> Rect {
        let r = self.get(&format!("/element/{id}/rect")).await;
        let n = |k: &str| r[k].as_f64().unwrap();
        Rect {
            x: n("x"),
            y: n("y"),
            width: n("width"),
            height: n("height"),
        }
    }

    async fn script(&self, script: &str, args: Vec<Value>) -> Value {
        self.post("/execute/sync", json!({ "script": script, "args": args }))
            .await
    }

    /// The HTTP status of the document on screen, as the browser received it.
    async fn response_status(&self) -> u64 {
        let status = self
            .script(
                "return performance.getEntriesByType('navigation')[0].responseStatus",
                vec![],
            )
            .await;
        status.as_u64().unwrap()
    }

    async fn try_h1(&self) -> Option<String> {
        let h1 = self.try_find("h1").await?;
        Some(self.text(&h1).await)
    }

    async fn h1(&self) -> String {
        let h1 = self.find("h1").await;
        self.text(&h1).await
    }

    /// Ends the session, which quits Chromium.
    async fn quit(mut self) {
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
