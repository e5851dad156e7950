//! A journey's pages in a real browser: headless Chromium, driven through chromedriver
//! with the W3C WebDriver protocol, against the `journeyc run` binary and the fake
//! Twilio. What the other server tests check with hand-built form posts, this checks
//! the way a person's phone does it: typing, tapping, following redirects.
//!
//! Without Chromium and chromedriver the test says SKIPPED on stderr and returns; with
//! `JOURNEYC_REQUIRE_BROWSER` set (as CI does) it fails instead. `JOURNEYC_CHROMIUM` and
//! `JOURNEYC_CHROMEDRIVER` override where they are looked for.

mod support;

use serde_json::json;
use support::webdriver::*;
use support::*;

const PERSON: &str = "+14155550123";

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
    // Chromium will not make a window narrower than 500 pixels, so the phone's screen
    // is emulated: a 390-pixel-wide touch screen that, like a real phone, lays pages
    // out 980 pixels wide unless they ask for the device's width.
    let phone = json!({
        "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                 "--disable-dev-shm-usage", "--window-size=390,844"],
        "mobileEmulation": {"deviceMetrics": {
            "width": 390, "height": 844, "pixelRatio": 3.0, "mobile": true, "touch": true,
        }},
    });
    let browser = Browser::open(&driver, &chromium, phone).await;

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
    // The page says so in its title and opens with a summary linking to the field.
    let title = browser.script("return document.title", vec![]).await;
    assert_eq!(title, json!("Error: Where can we text you?"));
    let summary = browser.find(".error-summary[role=alert] a").await;
    assert_eq!(
        browser.attribute(&summary, "href").await,
        browser
            .attribute(&phone, "id")
            .await
            .map(|id| format!("#{id}"))
    );
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
