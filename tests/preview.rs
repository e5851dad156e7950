//! The preview API as a client uses it: `journeyc run --preview` over a real socket.
//! Every route answers as its index and `openapi.json` say; a session shows its
//! variables by name, pending timers, messages and a detailed event log; the clock
//! moves by seconds, to an instant and to the next timer; calls and delivery statuses
//! are simulated; and requests not meant for the preview are refused.

mod support;

use std::io::{Read, Write};

use serde_json::json;
use support::*;

const PERSON: &str = "+14155550123";
const NUMBER: &str = "+15005550006";

fn seed(dir: &str) -> Server {
    Server::start(Options {
        journey: example("texting_journey_links.journey"),
        db: temp_dir(dir).join("journey.db"),
        twilio: None,
        preview: true,
        extra: vec![],
    })
}

/// The id of the first message, once the development sink has printed it.
async fn sent(server: &Server) -> i64 {
    for _ in 0..200 {
        let outbox = server.get_json("/_preview/api/outbox").await;
        let first = &outbox["messages"][0];
        if first["status"] == "sent" {
            return first["id"].as_i64().unwrap();
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("the first message was never sent");
}

async fn get(server: &Server, path: &str) -> (u16, String, String) {
    let r = client().get(server.url(path)).send().await.unwrap();
    let status = r.status().as_u16();
    let kind = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, kind, r.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_as_the_index_and_openapi_say() {
    let mut server = seed("preview-routes");
    let index = server.get_json("/_preview/api/").await;
    let routes: Vec<(String, String)> = index["routes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["method"].as_str().unwrap().to_string(),
                r["path"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let openapi = server.get_json("/_preview/api/openapi.json").await;
    assert_eq!(openapi["openapi"], "3.1.0");
    let mut documented: Vec<(String, String)> = Vec::new();
    for (path, ops) in openapi["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            documented.push((method.to_uppercase(), path.clone()));
        }
    }
    let (mut a, mut b) = (routes.clone(), documented.clone());
    a.sort();
    b.sort();
    assert_eq!(
        a, b,
        "the index and the OpenAPI document list the same routes"
    );

    // A session to fill the paths with: a text starts the SMS journey.
    let (status, _) = server.sms("SM1", PERSON, NUMBER, "hi").await;
    assert_eq!(status, 200);
    let sessions = server.get_json("/_preview/api/sessions").await;
    let id = sessions["sessions"][0]["id"].as_str().unwrap().to_string();
    let message = sent(&server).await;

    for (method, path) in &routes {
        let concrete = path
            .replace("{name}", "TextingJourneyLinks")
            .replace("{id}", &id)
            .replace("/messages/{id}", &format!("/messages/{message}"));
        let concrete = if path.contains("/messages/") {
            path.replace("{id}", &message.to_string())
        } else {
            concrete
        };
        let op = &openapi["paths"][path][method.to_lowercase()];
        let kind = op["responses"]["200"]["content"]
            .as_object()
            .unwrap()
            .keys()
            .next()
            .unwrap()
            .clone();
        let (status, got_kind) = if method == "GET" {
            let (status, got_kind, _) = get(&server, &concrete).await;
            (status, got_kind)
        } else {
            let body = match path.as_str() {
                "/_preview/api/sms" => json!({"from": PERSON, "to": NUMBER, "body": "HELP"}),
                "/_preview/api/call" => json!({"to": NUMBER, "from": PERSON}),
                "/_preview/api/clock/advance" => json!({"seconds": 60}),
                _ => json!({"status": "delivered"}),
            };
            let r = client()
                .post(server.url(&concrete))
                .json_body(&body)
                .send()
                .await
                .unwrap();
            let got_kind = r.headers()["content-type"].to_str().unwrap().to_string();
            (r.status().as_u16(), got_kind)
        };
        // The seed answers no calls: that route answers with its documented 404.
        let expected = if path == "/_preview/api/call" {
            404
        } else {
            200
        };
        assert_eq!(status, expected, "{method} {concrete}");
        if status == 200 {
            assert!(
                got_kind.starts_with(&kind),
                "{method} {concrete}: {got_kind}, not {kind}"
            );
        } else {
            assert!(
                op["responses"][status.to_string()].is_object(),
                "{method} {path} documents {status}"
            );
        }
    }
    server.terminate().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_shows_its_variables_timers_messages_and_what_happened() {
    let mut server = seed("preview-session");
    let journeys = server.get_json("/_preview/api/journeys").await;
    let seed = &journeys["journeys"][0];
    assert_eq!(seed["name"], "TextingJourneyLinks");
    assert_eq!(
        seed["starting_links"][0]["url"],
        server.url("/start/start").as_str()
    );
    assert_eq!(journeys["journeys"][1]["sms_numbers"][0], NUMBER);
    assert_eq!(seed["steps"][0]["pages"], json!(["AskPhone", "AskName"]));

    // A person opens the link and types a number, as in a browser.
    let link = start(&server, "start").await;
    let page = Page::open(&link).await;
    let (status, _, _) = page.submit(&[("phone_input", PERSON)]).await;
    assert_eq!(status, 303);

    let sessions = server.get_json("/_preview/api/sessions").await;
    let listed = &sessions["sessions"][0];
    assert_eq!(listed["journey"], "TextingJourneyLinks");
    assert_eq!(listed["status"], "active");
    assert_eq!(listed["step"], "Collect");
    assert_eq!(listed["page"], "AskName");
    assert_eq!(listed["actor"]["phone"], PERSON);
    assert_eq!(listed["next_timer"]["key"], "nudge");
    assert_eq!(listed["link"], link.as_str());
    let id = listed["id"].as_str().unwrap();

    let s = server
        .get_json(&format!("/_preview/api/sessions/{id}"))
        .await;
    let vars = s["variables"].as_array().unwrap();
    assert!(
        vars.contains(&json!({"name": "phone_input", "type": "Phone", "value": PERSON})),
        "{vars:?}"
    );
    assert!(
        vars.contains(&json!({"name": "full_name", "type": "Text", "value": null})),
        "{vars:?}"
    );
    assert_eq!(s["timers"][0]["key"], "nudge");
    assert_eq!(s["timers"][0]["fires"], json!(["send sms Reminder"]));
    assert_eq!(s["timers"][0]["calendar"], "std.calendars.BusinessHoursNY");
    assert_eq!(s["messages"].as_array().unwrap().len(), 1);
    assert_eq!(s["page"], "AskName");
    let events: Vec<&str> = s["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["text"].as_str().unwrap())
        .collect();
    for wanted in [
        "session started by link",
        "page AskPhone shown",
        "button \"Text me a link\" pressed on page AskPhone with phone_input = \"+14155550123\"",
        "timer `nudge` started",
        "now at step Collect, page AskName",
    ] {
        assert!(
            events.iter().any(|e| e.starts_with(wanted)),
            "{wanted} in {events:#?}"
        );
    }
    assert!(
        events
            .iter()
            .any(|e| e.starts_with("SMS to +14155550123: Thanks!") && e.contains("/j/[redacted]")),
        "the text is logged without its live link: {events:#?}"
    );

    // To the next timer: the reminder goes out at once.
    let (status, advanced) = server
        .post_json("/_preview/api/clock/advance", json!({"next_timer": true}))
        .await;
    assert_eq!(status, 200, "{advanced}");
    assert_eq!(advanced["fired"], 1);
    let s = server
        .get_json(&format!("/_preview/api/sessions/{id}"))
        .await;
    assert_eq!(s["timers"], json!([]));
    assert_eq!(s["messages"].as_array().unwrap().len(), 3, "{s}");
    assert!(s["events"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["text"] == "timer `nudge` fired"));
    let (status, problem) = server
        .post_json("/_preview/api/clock/advance", json!({"next_timer": true}))
        .await;
    assert_eq!(status, 409, "nothing else is due: {problem}");

    // To an instant, forward only.
    let now = chrono::DateTime::parse_from_rfc3339(s["now"].as_str().unwrap()).unwrap();
    let later = (now + chrono::Duration::hours(2)).to_rfc3339();
    let (status, moved) = server
        .post_json("/_preview/api/clock/advance", json!({"to": later}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        chrono::DateTime::parse_from_rfc3339(moved["now"].as_str().unwrap()).unwrap(),
        chrono::DateTime::parse_from_rfc3339(&later).unwrap()
    );
    let (status, _) = server
        .post_json(
            "/_preview/api/clock/advance",
            json!({"to": now.to_rfc3339()}),
        )
        .await;
    assert_eq!(status, 422, "the clock never goes back");

    // Twilio's delivery callbacks, simulated: forward only, sent messages only.
    let first = sent(&server).await;
    let path = format!("/_preview/api/messages/{first}/status");
    let (status, _) = server
        .post_json(&path, json!({"status": "failed", "error_code": "30003"}))
        .await;
    assert_eq!(status, 200);
    let (status, _) = server.post_json(&path, json!({"status": "sent"})).await;
    assert_eq!(status, 200);
    let outbox = server.get_json("/_preview/api/outbox").await;
    let m = outbox["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == first)
        .unwrap();
    assert_eq!(
        m["status"], "failed",
        "a late `sent` does not undo a failure"
    );
    assert_eq!(m["note"], "Twilio error 30003: failed");
    let (status, _) = server
        .post_json(
            "/_preview/api/messages/999999/status",
            json!({"status": "delivered"}),
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = server.post_json(&path, json!({"status": "read it"})).await;
    assert_eq!(status, 422);

    // The graph, drawn by journeyc graph.
    let (status, kind, svg) = get(
        &server,
        "/_preview/api/journeys/TextingJourneyLinks/graph.svg",
    )
    .await;
    assert_eq!(status, 200);
    assert!(kind.starts_with("image/svg+xml"));
    assert!(svg.contains("AskPhone") && svg.contains("<svg"));
    let (status, _, _) = get(&server, "/_preview/api/journeys/Nope/graph.svg").await;
    assert_eq!(status, 404);
    let (status, _, _) = get(&server, "/_preview/api/sessions/nope").await;
    assert_eq!(status, 404);
    server.terminate().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_simulated_call_says_its_words_and_texts_its_link() {
    let mut server = Server::start(Options {
        journey: example("call_deflection.journey"),
        db: temp_dir("preview-call").join("journey.db"),
        twilio: None,
        preview: true,
        extra: vec![],
    });
    let (status, answer) = server
        .post_json("/_preview/api/call", json!({"to": NUMBER, "from": PERSON}))
        .await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer["said"][0]
        .as_str()
        .unwrap()
        .starts_with("Thanks for calling Acme"));
    let texted = answer["texted"].as_array().unwrap();
    assert_eq!(texted.len(), 2, "{answer}");
    assert_eq!(texted[0]["to"], PERSON);
    assert!(texted[1]["body"].as_str().unwrap().contains("/j/"));
    // A withheld number hears the words and gets nothing.
    let (status, answer) = server
        .post_json("/_preview/api/call", json!({"to": NUMBER}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(answer["texted"], json!([]));
    let (status, _) = server
        .post_json(
            "/_preview/api/call",
            json!({"to": "+15005550001", "from": PERSON}),
        )
        .await;
    assert_eq!(status, 404, "no journey answers that number");
    let (status, _) = server
        .post_json("/_preview/api/call", json!({"to": "not a number"}))
        .await;
    assert_eq!(status, 422);
    server.terminate().await;
}

/// Sends a raw request, with headers as given, and returns the status.
fn raw(server: &Server, request: &str) -> u16 {
    let addr = server.base.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_not_meant_for_the_preview_are_refused_and_change_nothing() {
    let mut server = seed("preview-guard");
    let addr = server.base.trim_start_matches("http://").to_string();
    let body = format!(r#"{{"from":"{PERSON}","to":"{NUMBER}","body":"hi"}}"#);

    // A page of another site posting a simple form (text/plain needs no preflight).
    let r = client()
        .post(server.url("/_preview/api/sms"))
        .header("content-type", "text/plain")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    // JSON with another site's Origin.
    let r = client()
        .post(server.url("/_preview/api/sms"))
        .header("origin", "http://evil.example")
        .json_body(&serde_json::from_str(&body).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // A DNS-rebound name for this address, reading the outbox.
    let rebound = format!(
        "GET /_preview/api/outbox HTTP/1.1\r\nHost: evil.example:{}\r\nConnection: close\r\n\r\n",
        addr.rsplit(':').next().unwrap()
    );
    assert_eq!(raw(&server, &rebound), 403);
    let page = "GET /_preview/ HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n";
    assert_eq!(raw(&server, page), 403);
    // Nothing was kept.
    assert_eq!(
        server.get_json("/_preview/api/sessions").await["sessions"],
        json!([])
    );
    assert_eq!(
        server.get_json("/_preview/api/outbox").await["messages"],
        json!([])
    );

    // Its own names work: the address, and localhost on the same port.
    let ok = format!(
        "GET /_preview/api/sessions HTTP/1.1\r\nHost: localhost:{}\r\nConnection: close\r\n\r\n",
        addr.rsplit(':').next().unwrap()
    );
    assert_eq!(raw(&server, &ok), 200);
    let r = client()
        .post(server.url("/_preview/api/sms"))
        .header("origin", server.base.as_str())
        .json_body(&serde_json::from_str(&body).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // The studio frames journey pages: in a preview they may be framed by this origin.
    let link = start(&server, "start").await;
    let r = client().get(&link).send().await.unwrap();
    let csp = r.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'self'"), "{csp}");
    server.terminate().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preview_on_another_address_is_announced_with_a_warning() {
    let port = free_port();
    let dir = temp_dir("preview-warning");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_journeyc"))
        .args([
            "run",
            example("texting_journey_links.journey").to_str().unwrap(),
        ])
        .args(["--listen", &format!("0.0.0.0:{port}"), "--preview"])
        .arg("--db")
        .arg(format!("sqlite:{}", dir.join("journey.db").display()))
        .env_remove("TWILIO_ACCOUNT_SID")
        .env_remove("TWILIO_AUTH_TOKEN")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut banner = String::new();
    let mut buf = [0u8; 4096];
    while !banner.contains("starting links") {
        let n = out.read(&mut buf).unwrap();
        assert!(n > 0, "the banner ends early: {banner}");
        banner.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(banner.contains("/_preview/ (API at"), "{banner}");
    assert!(
        banner.contains("WARNING    the preview listens on 0.0.0.0"),
        "{banner}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_from_a_web_page_is_refused_in_a_preview() {
    let mut server = seed("preview-webhook");
    let form = [
        ("From", PERSON),
        ("To", NUMBER),
        ("Body", "hi"),
        ("MessageSid", "SMforged"),
    ];
    for (name, value) in [
        ("origin", "https://evil.example"),
        ("sec-fetch-site", "cross-site"),
    ] {
        let r = client()
            .post(server.url("/twilio/sms"))
            .header(name, value)
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{name}");
    }
    assert_eq!(
        server.get_json("/_preview/api/sessions").await["sessions"],
        json!([])
    );
    // Twilio sends neither header, and is answered.
    let r = client()
        .post(server.url("/twilio/sms"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        server.get_json("/_preview/api/sessions").await["sessions"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    server.terminate().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_public_url_does_not_open_the_preview() {
    let mut server = Server::start_without_public_url(Options {
        journey: example("texting_journey_links.journey"),
        db: temp_dir("preview-tunnel").join("journey.db"),
        twilio: None,
        preview: true,
        extra: vec!["--public-url", "https://tunnel.example"],
    });
    let tunnel =
        "GET /_preview/api/sessions HTTP/1.1\r\nHost: tunnel.example\r\nConnection: close\r\n\r\n";
    assert_eq!(
        raw(&server, tunnel),
        403,
        "the tunnel's name is not the preview's"
    );
    assert_eq!(
        server.get_json("/_preview/api/sessions").await["sessions"],
        json!([]),
        "the listening address still is"
    );
    assert!(
        server
            .logs()
            .contains("answer only on the listening address"),
        "the banner says so: {}",
        server.logs()
    );
    // A text kept back was never sent: no delivery can be simulated for it.
    server.sms("SM1", PERSON, NUMBER, "hi").await;
    server.sms("SM2", PERSON, NUMBER, "STOP").await;
    // The person's side of the conversation is in the session's story.
    let sessions = server.get_json("/_preview/api/sessions").await;
    let id = sessions["sessions"][0]["id"].as_str().unwrap().to_string();
    let s = server
        .get_json(&format!("/_preview/api/sessions/{id}"))
        .await;
    let said: Vec<(&str, &str)> = s["conversation"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["kind"].as_str().unwrap(),
                c["body"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(said, [("text", "hi"), ("text", "STOP")], "{s}");
    let (status, _) = server
        .post_json("/_preview/api/clock/advance", json!({"next_timer": true}))
        .await;
    assert_eq!(status, 200);
    let outbox = server.get_json("/_preview/api/outbox").await;
    let kept_back = outbox["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["status"] == "suppressed")
        .unwrap_or_else(|| panic!("{outbox}"))["id"]
        .as_i64()
        .unwrap();
    let (status, problem) = server
        .post_json(
            &format!("/_preview/api/messages/{kept_back}/status"),
            json!({"status": "delivered"}),
        )
        .await;
    assert_eq!(status, 409, "{problem}");
    server.terminate().await;
}
