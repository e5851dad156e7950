//! The preview studio in a real browser: headless Chromium, driven through chromedriver
//! (W3C WebDriver), against `journeyc run --preview`. An author starts the seed's
//! journey from the studio, plays the person in the studio's frame, watches the texts
//! arrive on the studio's phone, moves the clock to the reminder, texts STOP, and sees
//! the next text suppressed. Screenshots at 1440 and 390 pixels wide are kept in
//! `target/test-artifacts/` (`JOURNEYC_UPDATE_DOCS=1` also writes `docs/studio.png`).
//!
//! Without Chromium and chromedriver the test says SKIPPED on stderr and returns; with
//! `JOURNEYC_REQUIRE_BROWSER` set (as CI does) it fails instead.

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::json;
use support::webdriver::*;
use support::*;

const PERSON: &str = "(415) 555-0123";
const WAIT: Duration = Duration::from_secs(15);

/// Where the screenshots go: `test-artifacts/` in the target folder.
fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target folder")
        .join("test-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn decode(png: &serde_json::Value) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(png.as_str().expect("a base64 PNG"))
        .expect("the screenshot is base64")
}

/// Waits until the first element matching `css` (in the document WebDriver is in)
/// has text containing `text`; gives the element and its text.
async fn wait_for_text(browser: &Browser, css: &str, text: &str) -> (String, String) {
    let deadline = Instant::now() + WAIT;
    let mut seen = Vec::new();
    loop {
        seen.clear();
        for id in browser.find_all(css).await {
            // An element redrawn meanwhile is gone: look again.
            let Ok(found) = browser
                .try_call(reqwest::Method::GET, &format!("/element/{id}/text"), None)
                .await
            else {
                continue;
            };
            let found = found.as_str().unwrap_or_default().to_string();
            if found.contains(text) {
                return (id, found);
            }
            seen.push(found);
        }
        assert!(
            Instant::now() < deadline,
            "no {css} with {text:?} after {WAIT:?}; saw {seen:?}; status: {:?}",
            studio_status(browser).await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn studio_status(browser: &Browser) -> String {
    browser
        .script(
            "const s = document.getElementById('status'); return s ? s.textContent : ''",
            vec![],
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Switches WebDriver into the studio's frame; `leave_frame` switches back.
async fn enter_frame(browser: &Browser) {
    let frame = browser.find("#frame").await;
    browser
        .post("/frame", json!({ "id": element(&frame) }))
        .await;
}

async fn leave_frame(browser: &Browser) {
    browser.post("/frame/parent", json!({})).await;
}

/// In the frame: waits for the page whose `h1` is `heading`.
async fn frame_shows(browser: &Browser, heading: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        enter_frame(browser).await;
        let h1 = browser.try_h1().await;
        if h1.as_deref() == Some(heading) {
            return;
        }
        leave_frame(browser).await;
        assert!(
            Instant::now() < deadline,
            "the frame shows {h1:?}, not {heading:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Presses the studio's Start for the seed's link, types the person's number in the
/// frame and sends it, and waits for the studio to choose the new session.
async fn start_and_leave_a_number(browser: &Browser, sessions_before: usize) {
    let start = browser.find("button.start[data-slug=start]").await;
    browser.click(&start).await;
    frame_shows(browser, "Where can we text you?").await;
    let phone = browser.find("input[name=phone_input]").await;
    browser.type_into(&phone, PERSON).await;
    let button = browser.find("button[name=_button]").await;
    browser.click_and_wait(&button).await;
    assert_eq!(browser.h1().await, "Almost done");
    leave_frame(browser).await;
    // The new session is listed, newest first, and chosen.
    let deadline = Instant::now() + WAIT;
    loop {
        let listed = browser.find_all("button.session").await.len();
        let chosen = browser
            .find_all("button.session[aria-pressed=true]")
            .await
            .len();
        if listed == sessions_before + 1 && chosen == 1 {
            let first = browser.find("button.session").await;
            assert_eq!(
                browser.attribute(&first, "aria-pressed").await.as_deref(),
                Some("true"),
                "the new session is the newest and the chosen one"
            );
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{listed} sessions listed, {chosen} chosen; status: {:?}",
            studio_status(browser).await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_author_plays_the_seed_journey_in_the_studio() {
    let Some((chromium, chromedriver)) = browser_tools() else {
        return;
    };
    let server = Server::start(Options {
        journey: example("texting_journey_links.journey"),
        db: PathBuf::from(":memory:"),
        twilio: None,
        preview: true,
        extra: vec![],
    });
    assert!(
        server.logs().contains("/_preview/"),
        "the banner names the studio: {}",
        server.logs()
    );
    let driver = Chromedriver::start(&chromedriver).await;
    let wide = json!({
        "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                 "--disable-dev-shm-usage", "--window-size=1440,1000",
                 "--force-device-scale-factor=1"],
    });
    let browser = Browser::open(&driver, &chromium, wide).await;
    browser.go(&server.url("/_preview/")).await;
    assert_eq!(browser.h1().await, "journeyc studio");

    // The journeys are listed with their links and numbers.
    wait_for_text(&browser, "#journeys", "TextingJourneyLinks").await;
    wait_for_text(&browser, "#journeys", "/start/start").await;
    wait_for_text(&browser, "#journeys", "+15005550006").await;

    // Start the seed's journey and play the person in the frame.
    start_and_leave_a_number(&browser, 0).await;
    wait_for_text(&browser, "#facts", "AskName").await;
    wait_for_text(&browser, "#vars", "+14155550123").await;

    // The text arrives on the phone, with a journey link that opens in the frame.
    let (_, body) = wait_for_text(
        &browser,
        "#conversation li.bubble",
        "Thanks! Continue any time here:",
    )
    .await;
    assert!(body.contains("/j/"), "{body}");
    let link = browser.find("#conversation li.bubble a.journey-link").await;
    let href = browser.attribute(&link, "href").await.unwrap();
    assert!(
        href.starts_with("/j/"),
        "a journey link in the frame: {href}"
    );
    let page = client()
        .get(server.url(&href))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Almost done"), "the link works: {page}");
    browser.click(&link).await;
    frame_shows(&browser, "Almost done").await;
    leave_frame(&browser).await;

    // The nudge is pending; pressed from the keyboard, "to the next timer" fires it.
    wait_for_text(&browser, "#timers", "nudge").await;
    let next = browser.find("#advance-timer").await;
    browser.type_into(&next, "\u{E007}").await;
    let ring = browser
        .script(
            "const s = getComputedStyle(document.activeElement); \
             return [document.activeElement.id, s.outlineStyle, s.outlineColor, s.outlineWidth]",
            vec![],
        )
        .await;
    assert_eq!(
        ring,
        json!(["advance-timer", "solid", "rgb(29, 29, 31)", "3px"]),
        "keyboard focus is visible"
    );
    wait_for_text(&browser, "#conversation li.bubble", "Still there?").await;

    // STOP from the phone box.
    let reply = browser.find("#reply").await;
    browser.type_into(&reply, "STOP").await;
    let send = browser.find("#reply-form button[type=submit]").await;
    browser.click(&send).await;
    wait_for_text(&browser, "#conversation li.bubble.out", "STOP").await;
    wait_for_text(&browser, "#status", "Sent STOP").await;
    // The picture for the README: the first session, with its whole conversation.
    let wide_png = browser.screenshot().await;
    std::fs::write(artifacts().join("studio-1440.png"), &wide_png).unwrap();
    if std::env::var_os("JOURNEYC_UPDATE_DOCS").is_some() {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/studio.png");
        std::fs::write(docs, &wide_png).unwrap();
    }

    // What the phone texts is shown as text, never as markup.
    let reply = browser.find("#reply").await;
    browser.type_into(&reply, "<b>hi</b>\u{E007}").await;
    wait_for_text(&browser, "#conversation li.bubble.out", "<b>hi</b>").await;
    assert!(browser.find_all("#conversation b").await.is_empty());

    // A second session for the same phone: its first text is suppressed.
    start_and_leave_a_number(&browser, 1).await;
    let (_, suppressed) = wait_for_text(
        &browser,
        "#conversation li.bubble.suppressed",
        "Thanks! Continue any time here:",
    )
    .await;
    assert!(suppressed.contains("Suppressed:"), "{suppressed}");
    let note = browser
        .find("#conversation li.bubble.suppressed .note")
        .await;
    assert!(browser.text(&note).await.len() > "Suppressed: ".len());

    // The graph marks the session's page.
    let (_, marked) = wait_for_text(&browser, "#graph text.current", "Collect › AskName").await;
    assert_eq!(marked.trim(), "Collect › AskName");
    assert_eq!(browser.find_all("#graph g.current").await.len(), 1);

    // Wide: the phone, the browser and the clock side by side.
    let (phone, frame, clock) = (
        browser.rect(&browser.find(".phone-panel").await).await,
        browser.rect(&browser.find(".browser").await).await,
        browser.rect(&browser.find(".clock").await).await,
    );
    assert!(
        phone.x + phone.width <= frame.x && frame.x + frame.width <= clock.x,
        "side by side at 1440px: {phone:?} {frame:?} {clock:?}"
    );
    let graph = browser.find(".graph").await;
    let png = browser.get(&format!("/element/{graph}/screenshot")).await;
    std::fs::write(artifacts().join("studio-graph.png"), decode(&png)).unwrap();

    // A phone's width: the panels stack, and nothing scrolls sideways. (Chromium will
    // not make a window narrower than 500 pixels, so the screen is emulated.)
    browser
        .post(
            "/goog/cdp/execute",
            json!({"cmd": "Emulation.setDeviceMetricsOverride", "params": {
                "width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": true}}),
        )
        .await;
    let width = browser.script("return window.innerWidth", vec![]).await;
    assert_eq!(width, json!(390));
    let scroll = browser
        .script("return document.documentElement.scrollWidth", vec![])
        .await;
    assert!(
        scroll.as_f64().unwrap() <= 390.0,
        "no sideways scrolling at 390px: {scroll}"
    );
    let (phone, frame) = (
        browser.rect(&browser.find(".phone-panel").await).await,
        browser.rect(&browser.find(".browser").await).await,
    );
    assert!(
        frame.y >= phone.y + phone.height && phone.x + phone.width <= 390.0,
        "stacked at 390px: {phone:?} {frame:?}"
    );
    browser
        .script(
            "document.querySelector('.phone-panel').scrollIntoView()",
            vec![],
        )
        .await;
    let narrow_png = browser.screenshot().await;
    std::fs::write(artifacts().join("studio-390.png"), &narrow_png).unwrap();

    browser.quit().await;
    drop(driver);
    drop(server);
}
