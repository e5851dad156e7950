//! The server's router called in process, without a socket: the handlers take any
//! request body, so a front end or a test can drive the same routes directly.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use journeyc::runtime::clock::ManualClock;
use journeyc::runtime::engine::Engine;
use journeyc::runtime::sqlite::SqliteStore;
use journeyc::server::{self, App, Config};

const JOURNEY: &str = r#"
journey Hello {
  trigger link "hello"
  var name: Text
  step One {
    page Ask {
      heading "Your name?"
      input name: text "Name" required
      button "Next" {
        set name = UPPERCASE(name)
      }
    }
    page Thanks {
      heading "Thanks, {{ name }}"
    }
  }
}
"#;

fn app() -> Arc<App> {
    let (_, modules, diags) = journeyc::check_source("hello.journey", JOURNEY);
    assert!(diags.iter().all(|d| !d.is_error()), "{diags:?}");
    let journeys = modules.into_iter().flat_map(|(_, m)| m.journeys).collect();
    let clock = ManualClock::new("2026-03-02T15:00:00Z".parse().unwrap());
    let engine = Engine::new(
        journeys,
        Box::new(SqliteStore::in_memory().unwrap()),
        Arc::new(clock),
    );
    App::new(
        Arc::new(engine),
        Config::default(),
        None,
        "127.0.0.1:8080".parse().unwrap(),
    )
    .unwrap()
}

async fn call(
    app: &Arc<App>,
    method: Method,
    path: &str,
    body: &str,
) -> (StatusCode, String, String) {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap();
    let resp = server::handle(app.clone(), req).await;
    let status = resp.status();
    let location = resp
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        location,
        String::from_utf8_lossy(&body).into_owned(),
    )
}

/// The value of a hidden form field in a page.
fn hidden(page: &str, name: &str) -> String {
    let at = page.find(&format!("name=\"{name}\" value=\"")).expect(name);
    let rest = &page[at + name.len() + 15..];
    rest[..rest.find('"').unwrap()].to_string()
}

#[tokio::test]
async fn a_person_goes_through_a_flow_without_a_socket() {
    let app = app();
    let (status, link, _) = call(&app, Method::GET, "/start/hello", "").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(link.starts_with("/j/"), "{link}");
    let (status, _, page) = call(&app, Method::GET, &link, "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("<h1>Your name?</h1>"), "{page}");
    let csrf = hidden(&page, "_csrf");
    let form = |name: &str| format!("_csrf={csrf}&_page=0.0&_button=2&name={name}");
    // A required field left empty: the page again, 422, with the message.
    let (status, _, page) = call(&app, Method::POST, &link, &form("")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("This is required."), "{page}");
    let (status, back, _) = call(&app, Method::POST, &link, &form("ada")).await;
    assert_eq!(
        (status, back.as_str()),
        (StatusCode::SEE_OTHER, link.as_str())
    );
    let (_, _, page) = call(&app, Method::GET, &link, "").await;
    assert!(page.contains("<h1>Thanks, ADA</h1>"), "{page}");
    // A form from a page the session has left goes to the current page, whatever its
    // button says.
    let old = format!("_csrf={csrf}&_page=0.0&_button=x&name=bob");
    let (status, back, _) = call(&app, Method::POST, &link, &old).await;
    assert_eq!(
        (status, back.as_str()),
        (StatusCode::SEE_OTHER, link.as_str())
    );
    // On the current page, a button that is no index names no button.
    let (status, _, _) = call(
        &app,
        Method::POST,
        &link,
        &format!("_csrf={csrf}&_page=0.1&_button=x"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // A form without its CSRF token is refused.
    let (status, _, _) = call(&app, Method::POST, &link, "_page=0.1&_button=0").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn unknown_links_and_oversized_bodies_are_refused_in_process_too() {
    let app = app();
    let (status, _, _) = call(&app, Method::GET, "/start/nope", "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let big = "x".repeat(server::MAX_BODY + 1);
    let (status, _, _) = call(&app, Method::POST, "/twilio/sms", &big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
}
