//! `journeyc run` tested as its clients use it: the binary on a real port, a real HTTP
//! client, and a fake Twilio that is itself an HTTP server on loopback.

mod support;

use serde_json::{json, Value};
use support::*;

const PERSON: &str = "+14155550123";

/// A preview server for an example, with the fake Twilio and no rate limit.
fn preview(journey: &str, dir: &str, twilio: &FakeTwilio) -> Server {
    Server::start(Options {
        journey: example(journey),
        db: temp_dir(dir).join("journey.db"),
        twilio: Some(twilio),
        preview: true,
        extra: vec!["--sms-rate", "0"],
    })
}

fn seed(dir: &str, twilio: &FakeTwilio) -> Server {
    preview("texting_journey_links.journey", dir, twilio)
}

async fn outbox(server: &Server) -> Vec<Value> {
    server.get_json("/_preview/api/outbox").await["messages"]
        .as_array()
        .unwrap()
        .clone()
}

/// How many messages the outbox holds for `phone`.
async fn texts_to(server: &Server, phone: &str) -> usize {
    outbox(server)
        .await
        .into_iter()
        .filter(|m| m["to"] == phone)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_scenario_from_starting_link_to_stop() {
    let twilio = FakeTwilio::start().await;
    let server = seed("seed", &twilio);

    let link = start(&server, "start").await;
    let token = link.rsplit('/').next().unwrap().to_string();
    assert!(token.len() >= 22, "at least 128 random bits: {token}");
    let page = Page::open(&link).await;
    assert_eq!(page.status, 200);
    assert_eq!(page.h1(), "Where can we text you?");

    // A phone number typed as a person would.
    let (status, location, _) = page.submit(&[("phone_input", "(415) 555-0123")]).await;
    assert_eq!(status, 303);
    assert_eq!(server.url(&location.unwrap()), link);
    let sent = twilio.wait_for(PERSON, 1).await;
    assert_eq!(sent[0].from, OUR_NUMBER);
    let texted = sent[0]
        .body
        .strip_prefix("Thanks! Continue any time here: ")
        .expect("the seed's text");
    assert_eq!(texted, link, "the SMS carries this session's journey link");

    // Later, the link from the text lands on the page the person reached.
    let later = Page::open(texted).await;
    assert_eq!(later.h1(), "Almost done");

    // The reminder fires a day later, inside business hours: its text, then the link.
    let advanced = server.advance(4 * 86_400).await;
    assert_eq!(advanced["fired"], 1, "{advanced}");
    let sent = twilio.wait_for(PERSON, 3).await;
    assert_eq!(sent[1].body, "Still there? Your request is waiting.");
    assert_eq!(sent[2].body, link);

    // Status callbacks, signed like Twilio's, reach the outbox.
    for _ in 0..200 {
        if outbox(&server)
            .await
            .iter()
            .all(|m| m["status"] == "delivered")
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let statuses: Vec<Value> = outbox(&server)
        .await
        .iter()
        .map(|m| m["status"].clone())
        .collect();
    assert_eq!(statuses, vec![json!("delivered"); 3]);

    // STOP opts the person out: the next session's text to them is not sent.
    let (status, twiml) = server.sms("SMstop1", PERSON, OUR_NUMBER, "stop").await;
    assert_eq!(status, 200);
    assert!(twiml.ends_with("<Response/>"), "{twiml}");
    let link2 = start(&server, "start").await;
    let (status, _, _) = Page::open(&link2)
        .await
        .submit(&[("phone_input", "415-555-0123")])
        .await;
    assert_eq!(status, 303);
    let last = outbox(&server).await.last().cloned().unwrap();
    assert_eq!(last["status"], "suppressed", "{last}");
    server.advance(4 * 86_400).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(twilio.sent_to(PERSON).len(), 3, "nothing more after STOP");

    // Logs never show a journey-link token or the auth token.
    let logs = server.logs();
    let logs_without_sms: String = logs
        .lines()
        .filter(|l| !l.starts_with("SMS to"))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(!logs_without_sms.contains(&token), "{logs}");
    assert!(!logs.contains(AUTH_TOKEN));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inbound_text_starts_a_session_once_per_message_sid() {
    let twilio = FakeTwilio::start().await;
    let server = seed("inbound", &twilio);
    let person = "+14155550188";

    let (status, twiml) = server.sms("SMin1", person, OUR_NUMBER, "hello").await;
    assert_eq!(status, 200, "{twiml}");
    let sent = twilio.wait_for(person, 2).await;
    assert_eq!(sent[0].body, "Pick up where you left off:");
    let page = Page::open(&sent[1].body).await;
    assert_eq!(page.h1(), "Hi! What&#39;s your name?".replace("&#39;", "'"));

    // Twilio delivers the same webhook again: it is answered, not processed again.
    let (status, _) = server.sms("SMin1", person, OUR_NUMBER, "hello").await;
    assert_eq!(status, 200);
    assert_eq!(
        texts_to(&server, person).await,
        2,
        "one session, one pair of texts"
    );

    // Eight copies of one webhook at once: their changes may share a commit, where the
    // id the first keeps fails the others. Each is answered; one session starts.
    let other = "+14155550189";
    let copies: Vec<_> = (0..8)
        .map(|_| {
            let url = server.url("/twilio/sms");
            let p = sms_params("SMin9", other, OUR_NUMBER, "hello");
            tokio::spawn(async move { post_signed(&url, &p, true).await })
        })
        .collect();
    for copy in copies {
        let (status, twiml) = copy.await.unwrap();
        assert_eq!(status, 200, "{twiml}");
    }
    twilio.wait_for(other, 2).await;
    assert_eq!(
        texts_to(&server, other).await,
        2,
        "one session for eight copies"
    );

    // A second text from the same person goes to the session, not a new one.
    let (status, _) = server.sms("SMin2", person, OUR_NUMBER, "thanks").await;
    assert_eq!(status, 200);
    let messages = outbox(&server).await;
    let to_person: Vec<&Value> = messages.iter().filter(|m| m["to"] == person).collect();
    assert_eq!(to_person.len(), 2, "no new session, so no new texts");
    let session = to_person[0]["session"].as_str().unwrap();
    let s = server
        .get_json(&format!("/_preview/api/sessions/{session}"))
        .await;
    let texted = format!("text from {person}: thanks");
    assert!(
        s["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["text"] == texted.as_str()),
        "{s}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_with_a_bad_or_missing_signature_are_refused_and_change_nothing() {
    let twilio = FakeTwilio::start().await;
    let server = seed("signature", &twilio);
    let person = "+14155550166";
    let p = params(&[
        ("AccountSid", ACCOUNT_SID),
        ("Body", "hello"),
        ("From", person),
        ("MessageSid", "SMsig1"),
        ("To", OUR_NUMBER),
    ]);
    let url = server.url("/twilio/sms");
    let (status, _) = post_signed(&url, &p, false).await;
    assert_eq!(status, 403, "no signature");
    let r = client()
        .post(&url)
        .form(&p)
        .header("X-Twilio-Signature", sign(&server.url("/twilio/other"), &p))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "signed for another URL");
    let mut tampered = p.clone();
    tampered[1].1 = "hellO".into();
    let r = client()
        .post(&url)
        .form(&tampered)
        .header("X-Twilio-Signature", sign(&url, &p))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "a changed parameter");
    for path in ["/twilio/voice", "/twilio/status"] {
        let (status, _) = post_signed(&server.url(path), &p, false).await;
        assert_eq!(status, 403, "{path}");
    }
    assert!(outbox(&server).await.is_empty(), "nothing happened");
    // The same request, signed, is accepted (so the refusals were the signature's).
    let (status, _) = post_signed(&url, &p, true).await;
    assert_eq!(status, 200);
    assert_eq!(outbox(&server).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_is_deflected_to_a_text_and_a_withheld_number_is_handled() {
    let twilio = FakeTwilio::start().await;
    let server = preview("call_deflection.journey", "call", &twilio);
    let caller = "+14155550177";
    let call = |sid: &'static str, from: &'static str| {
        let url = server.url("/twilio/voice");
        async move {
            let p = params(&[
                ("AccountSid", ACCOUNT_SID),
                ("CallSid", sid),
                ("CallStatus", "ringing"),
                ("Direction", "inbound"),
                ("From", from),
                ("To", OUR_NUMBER),
            ]);
            post_signed(&url, &p, true).await
        }
    };
    let (status, twiml) = call("CAone", caller).await;
    assert_eq!(status, 200);
    assert_eq!(
        twiml,
        r#"<?xml version="1.0" encoding="UTF-8"?><Response><Say>Thanks for calling Acme. We&#39;ve just texted you a link to book online. Goodbye!</Say><Hangup/></Response>"#
            .replace("&#39;", "'")
    );
    let sent = twilio.wait_for(caller, 2).await;
    assert_eq!(
        sent[0].body,
        "Thanks for calling Acme. Book a call back here:"
    );
    let page = Page::open(&sent[1].body).await;
    assert_eq!(page.h1(), "Book a call back");
    let (status, _, _) = page.submit(&[("slot", "Evening")]).await;
    assert_eq!(status, 303);
    let sent = twilio.wait_for(caller, 3).await;
    assert_eq!(
        sent[2].body,
        "Booked: we'll call you in the evening. Reply STOP to opt out."
    );

    // A withheld number still hears the message; there is no one to text.
    let before = outbox(&server).await.len();
    let (status, twiml) = call("CAtwo", "anonymous").await;
    assert_eq!(status, 200);
    assert!(twiml.contains("<Say>Thanks for calling Acme."), "{twiml}");
    let after = outbox(&server).await.len();
    assert_eq!(before, after);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_starts_for_one_number_at_once_keep_one_session() {
    // `keep`: whichever request comes first starts the session, and every other one,
    // however close behind, is given that session; the person is texted once.
    let source = r#"
journey Keeper {
  sms from "+15005550006"
  trigger api
  on existing session keep

  on session started {
    send sms Hello
  }

  step One {
    page Hi {
      heading "Hi"
    }
  }

  notification Hello sms {
    text "hello"
  }
}
"#;
    let twilio = FakeTwilio::start().await;
    let server = serve_source(source, "api-race", &twilio, true);
    let url = server.url("/api/v1/journeys/Keeper/sessions");
    let starts: Vec<_> = (0..24)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move {
                let r = client()
                    .post(&url)
                    .bearer_auth(API_TOKEN)
                    .json_body(&json!({"actor": {"phone": PERSON}}))
                    .send()
                    .await
                    .unwrap();
                let status = r.status();
                let body: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
                (status, body)
            })
        })
        .collect();
    let mut sessions = std::collections::BTreeSet::new();
    let mut created = 0;
    for s in starts {
        let (status, body) = s.await.unwrap();
        assert!(status == 201 || status == 200, "{status} {body}");
        assert_eq!(body["existing"], status == 200, "{body}");
        created += usize::from(status == 201);
        sessions.insert(body["session"].as_str().unwrap().to_string());
    }
    assert_eq!((created, sessions.len()), (1, 1), "{sessions:?}");
    let hellos = outbox(&server)
        .await
        .into_iter()
        .filter(|m| m["body"] == "hello")
        .count();
    assert_eq!(hellos, 1, "texted once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_trigger_and_reply_handlers() {
    let twilio = FakeTwilio::start().await;
    let server = preview("appointment_reminder.journey", "api", &twilio);
    let url = server.url("/api/v1/journeys/AppointmentReminder/sessions");
    let body = json!({
        "actor": {"phone": "(415) 555-0155", "time_zone": "America/Los_Angeles"},
        "vars": {"appointment_at": "2030-03-10T21:30:00Z"},
    });
    let r = client().post(&url).json_body(&body).send().await.unwrap();
    assert_eq!(r.status(), 401, "no token");
    let r = client()
        .post(&url)
        .bearer_auth("wrong")
        .json_body(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "a wrong token");
    for bad in [
        json!({"actor": {"phone": "not a phone"}}),
        json!({"actor": {}}),
        json!({"actor": {"phone": "+14155550155"}, "vars": {"nope": 1}}),
        json!({"actor": {"phone": "+14155550155"}, "vars": {"appointment_at": "tomorrow"}}),
    ] {
        let r = client()
            .post(&url)
            .bearer_auth(API_TOKEN)
            .json_body(&bad)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422, "{bad}");
        assert_eq!(r.headers()["content-type"], "application/problem+json");
        let problem: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
        assert_eq!(problem["status"], 422);
        assert!(problem["detail"].as_str().unwrap().len() > 10, "{problem}");
    }
    let r = client()
        .post(&url)
        .bearer_auth(API_TOKEN)
        .json_body(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let created: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    let link = created["journey_link"].as_str().unwrap().to_string();
    assert!(link.starts_with(&server.url("/j/")), "{created}");
    assert!(created["session"].as_str().unwrap().len() > 8);
    assert!(
        !link.contains(created["session"].as_str().unwrap()),
        "the link is not the session id"
    );

    let person = "+14155550155";
    let sent = twilio.wait_for(person, 1).await;
    assert_eq!(
        sent[0].body,
        "Acme Dental: you have an appointment on Mar 10 at 2:30 PM. Reply YES to confirm or NO to reschedule."
    );
    // A reply goes to the session's handler.
    let (status, _) = server.sms("SMreply1", person, OUR_NUMBER, " yes ").await;
    assert_eq!(status, 200);
    let sent = twilio.wait_for(person, 2).await;
    assert_eq!(
        sent[1].body,
        format!("Thanks, you're confirmed. Details: {link}")
    );
    // HELP answers with the journey's help text, in TwiML.
    let (_, twiml) = server.sms("SMreply2", person, OUR_NUMBER, "HELP").await;
    assert!(
        twiml.contains(
            "<Message>Appointment reminders from Acme Dental. Reply STOP to opt out.</Message>"
        ),
        "{twiml}"
    );
    let journeys = server.get_json("/api/v1/journeys").await;
    assert_eq!(journeys["journeys"][0]["name"], "AppointmentReminder");
    assert_eq!(journeys["journeys"][0]["api"], url);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_markup_comes_back_escaped_and_a_forged_csrf_token_is_refused() {
    let twilio = FakeTwilio::start().await;
    let server = seed("escape", &twilio);
    let link = start(&server, "start").await;
    let page = Page::open(&link).await;
    let evil = "<script>alert(1)</script>";
    let (status, _, html) = page.submit(&[("phone_input", evil)]).await;
    assert_eq!(status, 422);
    assert!(!html.contains(evil), "{html}");
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    assert!(html.contains("Enter a phone number we can text"));

    // A text input keeps markup as text, and the next page shows it escaped.
    let (status, _, _) = page.submit(&[("phone_input", "4155550123")]).await;
    assert_eq!(status, 303);
    let page = Page::open(&link).await;
    assert_eq!(page.h1(), "Almost done");
    let other_session_csrf = page.hidden("_csrf");
    let (status, _, _) = page.submit(&[("full_name", evil)]).await;
    assert_eq!(status, 303);
    let thanks = Page::open(&link).await;
    assert!(!thanks.html.contains(evil));
    assert_eq!(
        thanks.h1(),
        "Thanks, &lt;script&gt;alert(1)&lt;/script&gt;!"
    );

    // A forged token is refused and changes nothing.
    let link2 = start(&server, "start").await;
    let page = Page::open(&link2).await;
    // Another session's token does not work here either.
    for csrf in ["forged", other_session_csrf.as_str()] {
        let r = client()
            .post(&link2)
            .form(&params(&[
                ("_csrf", csrf),
                ("_page", "0.0"),
                ("_button", &page.button()),
                ("phone_input", "4155550124"),
            ]))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{csrf}");
    }
    assert_eq!(Page::open(&link2).await.h1(), "Where can we text you?");
    // Unknown and malformed tokens are 404.
    assert_eq!(
        Page::open(&server.url("/j/AAAAAAAAAAAAAAAAAAAAAAAA"))
            .await
            .status,
        404
    );
    assert_eq!(Page::open(&server.url("/j/..%2f..")).await.status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sender_retries_429_and_never_retries_21610() {
    let twilio = FakeTwilio::start().await;
    let server = preview("appointment_reminder.journey", "retry", &twilio);
    let start_for = |phone: &'static str| {
        let url = server.url("/api/v1/journeys/AppointmentReminder/sessions");
        async move {
            let r = client()
                .post(url)
                .bearer_auth(API_TOKEN)
                .json_body(&json!({"actor": {"phone": phone, "time_zone": "UTC"}, "vars": {"appointment_at": "2030-03-10T21:30:00Z"}}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 201);
        }
    };
    let busy = "+14155550144";
    twilio.script(busy, 429, 20429, 2);
    start_for(busy).await;
    let sent = twilio.wait_for(busy, 1).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(twilio.requests_to(busy), [429, 429, 201]);

    // +15005550004 is Twilio's magic number for an opted-out recipient (21610).
    let unsubscribed = "+15005550004";
    start_for(unsubscribed).await;
    let mut failed = None;
    for _ in 0..200 {
        failed = outbox(&server)
            .await
            .into_iter()
            .find(|m| m["to"] == unsubscribed && m["status"] == "failed");
        if failed.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let failed = failed.expect("the message failed");
    assert!(
        failed["note"].as_str().unwrap().contains("21610"),
        "{failed}"
    );
    assert_eq!(twilio.requests_to(unsubscribed), [400], "tried once");
    // The number is now opted out: its next text (the reply to "Y", which is not an
    // opt-in word) is suppressed before it reaches Twilio.
    let (status, _) = server.sms("SMopt1", unsubscribed, OUR_NUMBER, "Y").await;
    assert_eq!(status, 200);
    let to_unsubscribed: Vec<Value> = outbox(&server)
        .await
        .into_iter()
        .filter(|m| m["to"] == unsubscribed)
        .collect();
    assert_eq!(to_unsubscribed.len(), 2, "{to_unsubscribed:?}");
    assert_eq!(to_unsubscribed[0]["status"], "failed");
    assert_eq!(to_unsubscribed[1]["status"], "suppressed");
    assert_eq!(to_unsubscribed[1]["note"], "the number opted out");
    assert_eq!(twilio.requests_to(unsubscribed), [400], "still tried once");
    // 21211 (an invalid number) is also final.
    let invalid = "+15005550001";
    start_for(invalid).await;
    for _ in 0..200 {
        if !twilio.requests_to(invalid).is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(twilio.requests_to(invalid), [400]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_journey_loses_nothing_and_the_reminder_fires_once() {
    let twilio = FakeTwilio::start().await;
    let dir = temp_dir("kill9");
    let options = || Options {
        journey: example("texting_journey_links.journey"),
        db: dir.join("journey.db"),
        twilio: Some(&twilio),
        preview: true,
        extra: vec!["--sms-rate", "0"],
    };
    let mut server = Server::start(options());
    let link = start(&server, "start").await;
    let (status, _, _) = Page::open(&link)
        .await
        .submit(&[("phone_input", "415 555 0123")])
        .await;
    assert_eq!(status, 303);
    twilio.wait_for(PERSON, 1).await;
    server.kill_9();

    let server = Server::start(options());
    // The journey link (from the old server's text) still works, on the same page.
    let path = link.split_once("/j/").unwrap().1;
    let page = Page::open(&server.url(&format!("/j/{path}"))).await;
    assert_eq!(page.status, 200);
    assert_eq!(page.h1(), "Almost done");
    let advanced = server.advance(4 * 86_400).await;
    assert_eq!(
        advanced["fired"], 1,
        "the pending reminder survived: {advanced}"
    );
    twilio.wait_for(PERSON, 3).await;
    server.advance(10 * 86_400).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(twilio.sent_to(PERSON).len(), 3, "once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_metrics_preview_and_limits() {
    let twilio = FakeTwilio::start().await;
    let server = seed("misc", &twilio);
    let r = client().get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    start(&server, "start").await;
    let metrics = server.metrics().await;
    assert!(
        metrics.contains("journeyc_sessions_started_total 1\n"),
        "{metrics}"
    );
    assert!(metrics.contains("journeyc_http_requests_total{route=\"start\"} 1\n"));
    assert!(metrics.contains("journeyc_timer_lateness_seconds_bucket{le=\"+Inf\"}"));

    // The preview can simulate a text and show a session with its event log.
    let (status, reply) = server
        .post_json(
            "/_preview/api/sms",
            json!({"from": "+14155550111", "to": OUR_NUMBER, "body": "hi"}),
        )
        .await;
    assert_eq!(status, 200, "{reply}");
    let messages = outbox(&server).await;
    let session = messages[0]["session"].as_str().unwrap();
    let s = server
        .get_json(&format!("/_preview/api/sessions/{session}"))
        .await;
    assert_eq!(s["session"]["journey"], "TextingJourneyLinksBySms");
    assert!(s["events"][0]["text"]
        .as_str()
        .unwrap()
        .contains("session started by sms"));
    let (status, _) = server
        .post_json("/_preview/api/clock/advance", json!({"seconds": -5}))
        .await;
    assert_eq!(status, 422);

    // Oversized and malformed requests get a 4xx, and the server carries on.
    let big = "x".repeat(200 * 1024);
    let r = client()
        .post(server.url("/twilio/sms"))
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        413,
        "the body is refused before its signature is checked"
    );
    let r = client()
        .post(server.url("/_preview/api/sms"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let r = client()
        .delete(server.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    let r = client().get(server.url("/nope")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let r = client().get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_credentials_sms_go_to_the_console_and_preview_routes_are_off() {
    let dir = temp_dir("console");
    let server = Server::start(Options {
        journey: example("texting_journey_links.journey"),
        db: dir.join("journey.db"),
        twilio: None,
        preview: false,
        extra: vec![],
    });
    let banner = server.stdout.lock().unwrap().join("\n");
    assert!(banner.contains("development console"), "{banner}");
    assert!(banner.contains(&server.url("/start/start")), "{banner}");
    assert!(banner.contains(&server.url("/twilio/sms")), "{banner}");
    let link = start(&server, "start").await;
    let (status, _, _) = Page::open(&link)
        .await
        .submit(&[("phone_input", "(415) 555-0123")])
        .await;
    assert_eq!(status, 303);
    let expected =
        format!("SMS to {PERSON} from {OUR_NUMBER}: Thanks! Continue any time here: {link}");
    for _ in 0..200 {
        if server.stdout.lock().unwrap().contains(&expected) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        server.stdout.lock().unwrap().contains(&expected),
        "{}",
        server.logs()
    );
    let r = client()
        .get(server.url("/_preview/api/outbox"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // Without an auth token, webhooks cannot be trusted: all are refused.
    let (status, _) = server.sms("SMx", PERSON, OUR_NUMBER, "hi").await;
    assert_eq!(status, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_out_send_is_reconciled_with_twilio_not_resent() {
    let twilio = FakeTwilio::start().await;
    let server = Server::start(Options {
        journey: example("texting_journey_links.journey"),
        db: temp_dir("reconcile").join("journey.db"),
        twilio: Some(&twilio),
        preview: true,
        extra: vec!["--sms-rate", "0", "--sms-timeout", "0.5"],
    });
    // Twilio takes the message but answers after our timeout.
    twilio.script_slow(PERSON, std::time::Duration::from_secs(2));
    let link = start(&server, "start").await;
    let (status, _, _) = Page::open(&link)
        .await
        .submit(&[("phone_input", "(415) 555-0123")])
        .await;
    assert_eq!(status, 303);
    let mut seen_unknown = false;
    let mut message = Value::Null;
    for _ in 0..400 {
        message = outbox(&server).await[0].clone();
        seen_unknown |= message["status"] == "unknown";
        if message["status"] == "sent" || message["status"] == "delivered" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(seen_unknown, "the timeout was recorded as unknown first");
    let sent = twilio.sent_to(PERSON);
    assert_eq!(sent.len(), 1, "sent once, not again");
    assert_eq!(twilio.requests_to(PERSON).len(), 1);
    assert_eq!(message["sid"], sent[0].sid.as_str(), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_the_server_gracefully() {
    let dir = temp_dir("sigterm");
    let mut server = Server::start(Options {
        journey: example("texting_journey_links.journey"),
        db: dir.join("journey.db"),
        twilio: None,
        preview: false,
        extra: vec![],
    });
    for _ in 0..3 {
        start(&server, "start").await;
    }
    let status = server.terminate().await;
    assert!(status.success(), "{status:?}: {}", server.logs());
    assert!(server.logs().contains("stopped"), "{}", server.logs());
    // The log was moved into the database file: the main file alone, copied as a
    // backup tool copies it, holds every session.
    let copy = temp_dir("sigterm-copy").join("journey.db");
    std::fs::copy(dir.join("journey.db"), &copy).unwrap();
    let sessions: i64 = rusqlite::Connection::open(&copy)
        .unwrap()
        .query_row("SELECT COUNT(*) FROM sessions", [], |r| r.get(0))
        .unwrap();
    assert_eq!(sessions, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_finishes_its_headers_is_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let twilio = FakeTwilio::start().await;
    let server = seed("slow", &twilio);
    let address = server.base.trim_start_matches("http://").to_string();
    let mut slow = tokio::net::TcpStream::connect(&address).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // Meanwhile, other clients are served.
    let r = client().get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    // The server gives up on the slow one after its 10-second header timeout.
    let mut rest = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        slow.read_to_end(&mut rest),
    )
    .await;
    assert!(read.is_ok(), "the connection was closed by the server");
    let answer = String::from_utf8_lossy(&rest);
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_server_on_the_same_database_is_refused() {
    let db = temp_dir("second-server").join("journey.db");
    let server = Server::start(Options {
        journey: example("texting_journey_links.journey"),
        db: db.clone(),
        twilio: None,
        preview: false,
        extra: vec![],
    });
    let mut second = std::process::Command::new(env!("CARGO_BIN_EXE_journeyc"))
        .arg("run")
        .arg(example("texting_journey_links.journey"))
        .args(["--listen", &format!("127.0.0.1:{}", free_port())])
        .arg("--db")
        .arg(format!("sqlite:{}", db.display()))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // A second server that did start would never exit: it fails here, not hangs.
    let mut status = None;
    for _ in 0..300 {
        status = second.try_wait().unwrap();
        if status.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let Some(status) = status else {
        let _ = second.kill();
        panic!("a second server started on a database in use");
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut second.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("is in use by another journeyc"), "{stderr}");
    // The first server is unharmed.
    start(&server, "start").await;
}

/// Counts replies and button presses, and a timer restarted by each press fires at
/// once (on the real clock, by the scheduler) and counts its firings; each text the
/// journey sends says what it counted, so none is a duplicate of another.
const COUNTING: &str = r#"
journey Counting {
  sms from "+15005550006"
  trigger sms to "+15005550006"
  var replies: Number = 0
  var presses: Number = 0
  var ticks: Number = 0

  on session started {
    send sms Link
  }

  on reply {
    set replies = replies + 1
    send sms Got
  }

  step One {
    page Count {
      heading "{{ replies }} replies, {{ presses }} presses, {{ ticks }} ticks"
      button "Press" {
        set presses = presses + 1
        start timer "tick" at NOW() {
          set ticks = ticks + 1
          send sms Tick
        }
        go to page Count
      }
    }
  }

  notification Link sms {
    journey link
  }

  notification Got sms {
    text "got {{ session.message }}"
  }

  notification Tick sms {
    text "tick {{ ticks }}"
  }
}
"#;

/// The counts a `COUNTING` page shows.
fn counts(page: &Page) -> (u64, u64, u64) {
    let h1 = page.h1();
    let n: Vec<u64> = h1
        .split(|c: char| !c.is_ascii_digit())
        .filter(|w| !w.is_empty())
        .map(|w| w.parse().unwrap())
        .collect();
    assert_eq!(n.len(), 3, "{h1}");
    (n[0], n[1], n[2])
}

/// `source` served in `dir` (see `serve_source`) with a session that a text from
/// `PERSON` started: its fake Twilio, the server, and the session's journey link.
async fn texted_session(source: &str, dir: &str, preview: bool) -> (FakeTwilio, Server, String) {
    let twilio = FakeTwilio::start().await;
    let server = serve_source(source, dir, &twilio, preview);
    let (status, _) = server.sms("SMfirst", PERSON, OUR_NUMBER, "hi").await;
    assert_eq!(status, 200);
    let link = twilio.wait_for(PERSON, 1).await[0].body.clone();
    (twilio, server, link)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_texts_from_one_person_at_once_are_each_counted_and_answered_once() {
    let (_twilio, server, link) = texted_session(COUNTING, "texts-at-once", true).await;
    // 200 signed webhooks from one person, 32 in flight at a time.
    let gate = std::sync::Arc::new(tokio::sync::Semaphore::new(32));
    let texts: Vec<_> = (0..200)
        .map(|i| {
            let (url, gate) = (server.url("/twilio/sms"), gate.clone());
            let p = sms_params(&format!("SMtext{i}"), PERSON, OUR_NUMBER, &format!("n{i}"));
            tokio::spawn(async move {
                let _permit = gate.acquire().await.unwrap();
                post_signed(&url, &p, true).await
            })
        })
        .collect();
    for t in texts {
        let (status, body) = t.await.unwrap();
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(
        counts(&Page::open(&link).await),
        (200, 0, 0),
        "no update lost"
    );
    let got: Vec<Value> = outbox(&server)
        .await
        .into_iter()
        .filter(|m| m["body"].as_str().unwrap().starts_with("got "))
        .collect();
    assert_eq!(got.len(), 200, "every text answered once");
    let mut bodies: Vec<&str> = got.iter().map(|m| m["body"].as_str().unwrap()).collect();
    bodies.sort_unstable();
    bodies.dedup();
    assert_eq!(bodies.len(), 200, "none answered twice");
    let metrics = server.metrics().await;
    assert!(
        metrics.contains("journeyc_session_conflicts_total 0\n"),
        "{metrics}"
    );
}

/// `tabs` tabs of the page at `link`, each pressing its button ten times, at once.
fn press_in_tabs(link: &str, tabs: usize) -> Vec<tokio::task::JoinHandle<()>> {
    (0..tabs)
        .map(|_| {
            let link = link.to_string();
            tokio::spawn(async move {
                for _ in 0..10 {
                    let page = Page::open(&link).await;
                    let (status, _, body) = page.submit(&[]).await;
                    assert_eq!(status, 303, "{body}");
                }
            })
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn texts_and_page_presses_for_one_session_at_once_are_each_counted_once() {
    // A text is handled from the session as its number's read found it, unless the
    // session is busy: a press kept in between must make it run again, not be lost.
    let (_twilio, server, link) = texted_session(COUNTING, "texts-and-presses", true).await;
    let texts: Vec<_> = (0..60)
        .map(|i| {
            let url = server.url("/twilio/sms");
            let p = sms_params(&format!("SMmix{i}"), PERSON, OUR_NUMBER, &format!("m{i}"));
            tokio::spawn(async move { post_signed(&url, &p, true).await })
        })
        .collect();
    let tabs = press_in_tabs(&link, 6);
    for t in texts {
        let (status, body) = t.await.unwrap();
        assert_eq!(status, 200, "{body}");
    }
    for t in tabs {
        t.await.unwrap();
    }
    let (replies, presses, _) = counts(&Page::open(&link).await);
    assert_eq!((replies, presses), (60, 60), "no text or press lost");
    let mut got: Vec<String> = outbox(&server)
        .await
        .into_iter()
        .filter_map(|m| m["body"].as_str().map(str::to_string))
        .filter(|b| b.starts_with("got "))
        .collect();
    got.sort_unstable();
    let mut expected: Vec<String> = (0..60).map(|i| format!("got m{i}")).collect();
    expected.sort_unstable();
    assert_eq!(got, expected, "every text answered once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn form_posts_racing_due_timers_on_the_real_clock_lose_nothing() {
    let (twilio, _server, link) = texted_session(COUNTING, "posts-and-timers", false).await;
    // Eight tabs press at once, ten times each; every press restarts a timer due at
    // once, which the scheduler fires while the next presses come in.
    let tabs = press_in_tabs(&link, 8);
    for t in tabs {
        t.await.unwrap();
    }
    // The last timer fires within moments; then the counts settle.
    let mut last = (0, 0, 0);
    for _ in 0..100 {
        last = counts(&Page::open(&link).await);
        let ticks_sent = twilio
            .sent_to(PERSON)
            .iter()
            .filter(|m| m.body.starts_with("tick "))
            .count() as u64;
        if last.1 == 80 && last.2 >= 1 && ticks_sent == last.2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(last.1, 80, "every press counted: {last:?}");
    let ticks: Vec<String> = twilio
        .sent_to(PERSON)
        .into_iter()
        .map(|m| m.body)
        .filter(|b| b.starts_with("tick "))
        .collect();
    assert!(last.2 >= 1, "the last timer fired: {last:?}");
    assert_eq!(ticks.len() as u64, last.2, "one text per counted firing");
    // Each firing counted on top of the one before: texts "tick 1" to "tick N".
    let mut sorted = ticks.clone();
    sorted.sort_by_key(|b| b[5..].parse::<u64>().unwrap());
    let expected: Vec<String> = (1..=last.2).map(|n| format!("tick {n}")).collect();
    assert_eq!(sorted, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_webhooks_for_one_person_at_once_change_their_session_in_turn() {
    // A text and a call from one person, many times at once: each is kept once.
    let source = COUNTING.replace(
        "  on session started {",
        "  trigger call to \"+15005550006\" {\n    set replies = replies + 1\n    say \"Counted.\"\n  }\n\n  on session started {",
    );
    let (_twilio, server, link) = texted_session(&source, "text-and-call", true).await;
    let hooks: Vec<_> = (0..40)
        .map(|i| {
            let url = server.url(if i % 2 == 0 {
                "/twilio/sms"
            } else {
                "/twilio/voice"
            });
            let p = if i % 2 == 0 {
                sms_params(&format!("SMhook{i}"), PERSON, OUR_NUMBER, &format!("t{i}"))
            } else {
                params(&[
                    ("CallSid", &format!("CAhook{i}")),
                    ("From", PERSON),
                    ("To", OUR_NUMBER),
                ])
            };
            tokio::spawn(async move { post_signed(&url, &p, true).await })
        })
        .collect();
    for h in hooks {
        let (status, body) = h.await.unwrap();
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(
        counts(&Page::open(&link).await).0,
        40,
        "20 texts and 20 calls"
    );
}

/// Unmounts a test's own filesystem when dropped.
struct Mounted(std::path::PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_is_503_while_the_disk_is_full_and_no_change_is_acknowledged() {
    // A small filesystem of the test's own, to fill up: mounting needs root.
    let dir = temp_dir("disk-full");
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=4m", "tmpfs"])
        .arg(&dir)
        .stderr(std::process::Stdio::null())
        .status();
    if !mounted.is_ok_and(|s| s.success()) {
        eprintln!("SKIPPED: mounting a 4 MB tmpfs to fill needs root");
        return;
    }
    let _mounted = Mounted(dir.clone());
    let twilio = FakeTwilio::start().await;
    let server = Server::start(Options {
        journey: example("texting_journey_links.journey"),
        db: dir.join("journey.db"),
        twilio: Some(&twilio),
        preview: true,
        extra: vec![],
    });
    let health = || async {
        client()
            .get(server.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(health().await, 200);
    start(&server, "start").await;
    // Fill the disk.
    {
        use std::io::Write;
        let mut filler = std::fs::File::create(dir.join("filler")).unwrap();
        let chunk = vec![7u8; 64 * 1024];
        while filler
            .write_all(&chunk)
            .and_then(|()| filler.sync_all())
            .is_ok()
        {}
    }
    assert_eq!(health().await, 503, "{}", server.logs());
    let r = client()
        .get(server.url("/start/start"))
        .send()
        .await
        .unwrap();
    assert!(
        r.status().is_server_error(),
        "a session that was not kept is not acknowledged: {}",
        r.status()
    );
    // Space again: the store commits again, with no restart.
    std::fs::remove_file(dir.join("filler")).unwrap();
    assert_eq!(health().await, 200, "{}", server.logs());
    start(&server, "start").await;
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn editing_a_journey_leaves_live_sessions_on_the_version_they_started_on() {
    // The issue's scenario: a session past the phone page, the server stopped, a page
    // inserted before `AskName` and the reminder changed to send `LinkToJourney` with
    // `Reminder` removed, the server started again on the same database.
    let dir = temp_dir("edit-live");
    let journey = dir.join("seed.journey");
    let original = std::fs::read_to_string(example("texting_journey_links.journey")).unwrap();
    std::fs::write(&journey, &original).unwrap();
    let twilio = FakeTwilio::start().await;
    let serve = |twilio| {
        Server::start(Options {
            journey: journey.clone(),
            db: dir.join("journey.db"),
            twilio: Some(twilio),
            preview: true,
            extra: vec!["--sms-rate", "0"],
        })
    };
    let server = serve(&twilio);
    let link = start(&server, "start").await;
    let path = link.trim_start_matches(&server.base).to_string();
    let page = Page::open(&link).await;
    let (status, _, _) = page.submit(&[("phone_input", "(415) 555-0123")]).await;
    assert_eq!(status, 303);
    twilio.wait_for(PERSON, 1).await;
    drop(server);

    let edited = original
        .replacen(
            "    page AskName {",
            "    page Interlude {\n      heading \"A new page\"\n      button \"Go on\" {\n        go to page AskName\n      }\n    }\n\n    page AskName {",
            1,
        )
        .replacen(
            "          send sms Reminder\n",
            "          send sms LinkToJourney\n",
            1,
        )
        .replacen(
            "  notification Reminder sms {\n    text \"Still there? Your request is waiting.\"\n    journey link\n  }\n",
            "",
            1,
        );
    assert!(!edited.contains("Reminder sms") && edited.contains("Interlude"));
    std::fs::write(&journey, &edited).unwrap();
    let server = serve(&twilio);
    assert!(
        server.logs().contains("version 2 (new"),
        "{}",
        server.logs()
    );
    let page = Page::open(&server.url(&path)).await;
    assert_eq!((page.status, page.h1()), (200, "Almost done".to_string()));
    // The old reminder fires once, with its old text.
    let advanced = server.advance(4 * 86_400).await;
    assert_eq!(advanced["fired"], 1, "{advanced}");
    let sent = twilio.wait_for(PERSON, 3).await;
    assert_eq!(sent[1].body, "Still there? Your request is waiting.");
    assert_eq!(sent.len(), 3, "once");
    // A new session runs the new version; the API lists both versions.
    let fresh = start(&server, "start").await;
    let page = Page::open(&fresh).await;
    let (status, _, _) = page.submit(&[("phone_input", "(415) 555-0199")]).await;
    assert_eq!(status, 303);
    // Its reminder is the new version's: the link again, not `Reminder`.
    server.advance(4 * 86_400).await;
    let other = "+14155550199";
    let sent = twilio.wait_for(other, 2).await;
    assert!(
        sent.iter()
            .all(|m| m.body.starts_with("Thanks! Continue any time here: ")),
        "{:?}",
        sent.iter().map(|m| &m.body).collect::<Vec<_>>()
    );
    let listed = client()
        .get(server.url("/api/v1/journeys"))
        .bearer_auth(API_TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let listed: Value = serde_json::from_str(&listed).unwrap();
    let seed = listed["journeys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["name"] == "TextingJourneyLinks")
        .unwrap()
        .clone();
    assert_eq!(seed["version"], 2, "{seed}");
    assert_eq!(
        seed["versions"],
        json!([{"version": 1, "live_sessions": 1}, {"version": 2, "live_sessions": 1}])
    );
    assert!(!server.logs().contains(" 500 "), "{}", server.logs());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_under_load_holds_every_change_acknowledged_before_it() {
    let dir = temp_dir("backup");
    let server = Server::start(Options {
        journey: example("texting_journey_links.journey"),
        db: dir.join("journey.db"),
        twilio: None,
        preview: false,
        extra: vec![],
    });
    // Eight clients start sessions without pause, counting what was acknowledged.
    let acknowledged = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load: Vec<_> = (0..8)
        .map(|_| {
            let (url, acked, stop) = (
                server.url("/start/start"),
                acknowledged.clone(),
                stop.clone(),
            );
            tokio::spawn(async move {
                let c = client();
                while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    let r = c.get(&url).send().await.unwrap();
                    assert_eq!(r.status(), 303);
                    acked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
            })
        })
        .collect();
    while acknowledged.load(std::sync::atomic::Ordering::SeqCst) < 200 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let before = acknowledged.load(std::sync::atomic::Ordering::SeqCst);
    let out = dir.join("copy.db");
    let backup = tokio::task::spawn_blocking({
        let (db, out) = (dir.join("journey.db"), out.clone());
        move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_journeyc"))
                .arg("backup")
                .arg("--db")
                .arg(format!("sqlite:{}", db.display()))
                .arg(&out)
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    let during = acknowledged.load(std::sync::atomic::Ordering::SeqCst);
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    for l in load {
        l.await.unwrap();
    }
    assert!(
        backup.status.success(),
        "{}",
        String::from_utf8_lossy(&backup.stderr)
    );
    assert!(during > before, "the load went on during the backup");
    // The copy is one file, opens as a store, and holds at least what was acknowledged.
    assert!(!dir.join("copy.db-wal").exists());
    let sessions: usize = rusqlite::Connection::open(&out)
        .unwrap()
        .query_row("SELECT COUNT(*) FROM sessions", [], |r| r.get::<_, i64>(0))
        .unwrap() as usize;
    assert!(
        sessions >= before,
        "{sessions} sessions, {before} acknowledged before"
    );
    let store = journeyc::runtime::sqlite::SqliteStore::open(&out).unwrap();
    drop(store);
    // A backup never overwrites.
    let again = std::process::Command::new(env!("CARGO_BIN_EXE_journeyc"))
        .arg("backup")
        .arg("--db")
        .arg(format!("sqlite:{}", dir.join("journey.db").display()))
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists already"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_of_the_database_opens_no_journey_link() {
    let dir = temp_dir("tokens-at-rest");
    let twilio = FakeTwilio::start().await;
    let mut server = Server::start(Options {
        journey: example("texting_journey_links.journey"),
        db: dir.join("journey.db"),
        twilio: Some(&twilio),
        preview: true,
        extra: vec!["--sms-rate", "0"],
    });
    // A session past its first page, its link texted and delivered, a reminder with the
    // link pending; another whose text was suppressed as a duplicate.
    let link = start(&server, "start").await;
    let token = link.rsplit('/').next().unwrap().to_string();
    let (status, _, _) = Page::open(&link)
        .await
        .submit(&[("phone_input", "(415) 555-0123")])
        .await;
    assert_eq!(status, 303);
    twilio.wait_for(PERSON, 1).await;
    for _ in 0..100 {
        let sent = outbox(&server).await;
        if sent
            .iter()
            .all(|m| m["status"] != "pending" && m["status"] != "sending")
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // Every text in every table of the live database: no token in it opens a page.
    let texts = |path: &std::path::Path| -> Vec<String> {
        let c =
            rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .unwrap();
        let tables: Vec<String> = c
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let mut all = Vec::new();
        for t in tables {
            let mut stmt = c.prepare(&format!("SELECT * FROM \"{t}\"")).unwrap();
            let n = stmt.column_count();
            let mut rows = stmt.query([]).unwrap();
            while let Some(row) = rows.next().unwrap() {
                for i in 0..n {
                    if let Ok(s) = row.get::<_, String>(i) {
                        all.push(s);
                    }
                }
            }
        }
        all
    };
    let stored = texts(&dir.join("journey.db"));
    assert!(
        stored.iter().any(|t| t.contains("/j/[redacted]")),
        "the sent text is kept, redacted"
    );
    let mut tried = 0;
    for t in &stored {
        assert!(!t.contains(&token), "the live token is stored: {t}");
        for (i, _) in t.match_indices("/j/") {
            let candidate: String = t[i + 3..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                .collect();
            if candidate.len() >= 16 {
                tried += 1;
                let page = Page::open(&server.url(&format!("/j/{candidate}"))).await;
                assert_eq!(page.status, 404, "{candidate} opens a page");
            }
        }
    }
    eprintln!("{tried} link-like strings tried");
    // The link itself still works, and after a clean stop not even the file's bytes
    // hold the token.
    assert_eq!(Page::open(&link).await.h1(), "Almost done");
    server.terminate().await;
    let bytes = std::fs::read(dir.join("journey.db")).unwrap();
    assert!(
        !bytes.windows(token.len()).any(|w| w == token.as_bytes()),
        "the token is somewhere in the file"
    );
    assert!(
        dir.join("journey.db-key").exists(),
        "the key is kept beside it"
    );
}

/// How many messages of the outbox in the database at `db` have each status.
fn statuses(db: &std::path::Path) -> std::collections::BTreeMap<String, usize> {
    let c = rusqlite::Connection::open(db).unwrap();
    let mut stmt = c
        .prepare("SELECT status, COUNT(*) FROM outbox GROUP BY status")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as usize)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// A seed server on the real clock, sending at 20 texts a second, with 200 texts
/// queued: 100 people text in, and each new session sends two.
async fn queue_200_texts(dir: &std::path::Path, twilio: &FakeTwilio) -> Server {
    let server = Server::start(Options {
        journey: example("texting_journey_links.journey"),
        db: dir.join("journey.db"),
        twilio: Some(twilio),
        preview: false,
        extra: vec!["--sms-rate", "20"],
    });
    for i in 0..100 {
        let (status, body) = server
            .sms(
                &format!("SMq{i}"),
                &format!("+1415555{i:04}"),
                OUR_NUMBER,
                "hi",
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    server
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_kill_9_only_texts_in_flight_are_unknown_and_each_text_goes_once() {
    let dir = temp_dir("outbox-kill");
    let twilio = FakeTwilio::start().await;
    let mut server = queue_200_texts(&dir, &twilio).await;
    while twilio.sent().len() < 20 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let after = statuses(&dir.join("journey.db"));
    let sent_before = twilio.sent().len();
    assert!(sent_before < 200, "killed mid-way: {after:?}");
    // At most the requests in flight (16) can be in doubt; the rest never left.
    let in_doubt = after.get("sending").copied().unwrap_or(0);
    assert!(in_doubt <= 16, "{after:?}");
    drop(server);
    let server = Server::start(Options {
        journey: example("texting_journey_links.journey"),
        db: dir.join("journey.db"),
        twilio: Some(&twilio),
        preview: false,
        extra: vec!["--sms-rate", "0"],
    });
    for _ in 0..400 {
        if twilio.sent().len() >= 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let mut sent: Vec<(String, String)> =
        twilio.sent().into_iter().map(|m| (m.to, m.body)).collect();
    assert_eq!(
        sent.len(),
        200,
        "every text, once: {:?}",
        statuses(&dir.join("journey.db"))
    );
    sent.sort();
    sent.dedup();
    assert_eq!(sent.len(), 200, "none twice");
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_stop_leaves_unsent_texts_pending_and_none_in_doubt() {
    let dir = temp_dir("outbox-stop");
    let twilio = FakeTwilio::start().await;
    let mut server = queue_200_texts(&dir, &twilio).await;
    while twilio.sent().len() < 20 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let stopped = std::time::Instant::now();
    let status = server.terminate().await;
    assert!(status.success(), "{}", server.logs());
    assert!(
        stopped.elapsed() < std::time::Duration::from_secs(5),
        "it stops starting sends at once"
    );
    let after = statuses(&dir.join("journey.db"));
    let sent =
        after.get("sent").copied().unwrap_or(0) + after.get("delivered").copied().unwrap_or(0);
    assert_eq!(sent, twilio.sent().len(), "{after:?}");
    assert_eq!(
        after.get("pending").copied().unwrap_or(0),
        200 - sent,
        "{after:?}"
    );
    for doubt in ["sending", "claimed", "unknown"] {
        assert!(!after.contains_key(doubt), "{after:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upgrading_journey_says_how_many_sessions_moved_and_why_the_others_stayed() {
    let v1 = r#"
journey Upgrading {
  trigger link "up"
  on new version upgrade

  step One {
    page First {
      heading "First"
      button "Next" {
        go to page Second
      }
    }

    page Second {
      heading "Second"
    }
  }
}
"#;
    let dir = temp_dir("upgrade-banner");
    let journey = dir.join("up.journey");
    std::fs::write(&journey, v1).unwrap();
    let serve = || {
        Server::start(Options {
            journey: journey.clone(),
            db: dir.join("journey.db"),
            twilio: None,
            preview: true,
            extra: vec![],
        })
    };
    let server = serve();
    let on_first = start(&server, "up").await;
    let on_second = start(&server, "up").await;
    let (status, _, _) = Page::open(&on_second).await.submit(&[]).await;
    assert_eq!(status, 303);
    let paths: Vec<String> = [&on_first, &on_second]
        .iter()
        .map(|l| l.trim_start_matches(&server.base).to_string())
        .collect();
    drop(server);
    // `Second` is renamed: the session on it cannot move; the one on `First` can.
    std::fs::write(&journey, v1.replace("Second", "Later")).unwrap();
    let server = serve();
    // Info lines are written in batches: wait for them.
    let mut logs = server.logs();
    for _ in 0..40 {
        if logs.contains("live sessions stayed on their version") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        logs = server.logs();
    }
    assert!(logs.contains("1 live sessions upgraded"), "{logs}");
    assert!(
        logs.contains("1 session stayed on its version: its page `Second` is gone"),
        "{logs}"
    );
    assert!(
        logs.contains("live sessions stayed on their version"),
        "{logs}"
    );
    assert_eq!(Page::open(&server.url(&paths[1])).await.h1(), "Second");
    let first = Page::open(&server.url(&paths[0])).await;
    assert_eq!(first.h1(), "First");
    let (status, _, _) = first.submit(&[]).await;
    assert_eq!(status, 303);
    assert_eq!(
        Page::open(&server.url(&paths[0])).await.h1(),
        "Later",
        "runs version 2"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_edges_an_oversized_body_head_requests_and_the_bearer_scheme() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let twilio = FakeTwilio::start().await;
    let server = seed("http-edges", &twilio);
    let address = server.base.trim_start_matches("http://").to_string();
    // A declared length over the limit is refused at once, without a 100 first.
    let mut raw = tokio::net::TcpStream::connect(&address).await.unwrap();
    raw.write_all(
        b"POST /twilio/sms HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000000\r\nExpect: 100-continue\r\n\r\n",
    )
    .await
    .unwrap();
    let mut answer = vec![0u8; 512];
    let n = tokio::time::timeout(std::time::Duration::from_secs(2), raw.read(&mut answer))
        .await
        .expect("answered at once, not after the 10 s body timeout")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]).to_string();
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    // The API's is a problem document, like its other errors.
    let api = preview("appointment_reminder.journey", "http-edges-api", &twilio);
    let sessions = api.url("/api/v1/journeys/AppointmentReminder/sessions");
    let r = client()
        .post(&sessions)
        .bearer_auth(API_TOKEN)
        .header("content-type", "application/json")
        .body(vec![b' '; 70 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    // The bearer scheme's name in any case.
    let listed = client()
        .get(server.url("/api/v1/journeys"))
        .header("authorization", format!("bEaReR {API_TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200);
    let r = client()
        .post(&sessions)
        .header("authorization", format!("bearer {API_TOKEN}"))
        .header("content-type", "application/json")
        .body(r#"{"actor": {"phone": "+14155550177"}, "vars": {"appointment_at": "2030-03-10T21:30:00Z"}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "a lower-case scheme is the same scheme");
    let r = client()
        .post(&sessions)
        .header("authorization", format!("Basic {API_TOKEN}"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "another scheme is not");
    drop(api);
    // HEAD wherever GET works; a starting link answers it without starting a session.
    let link = start(&server, "start").await;
    for path in [
        "/",
        "/healthz",
        "/metrics",
        "/api/v1/journeys",
        "/_preview/api/outbox",
    ] {
        let r = client().head(server.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 200, "HEAD {path}");
    }
    let r = client().head(&link).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let before = server.get_json("/_preview/api/outbox").await;
    let r = client()
        .head(server.url("/start/start"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = client()
        .head(server.url("/start/nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let metrics = server.metrics().await;
    assert!(
        metrics.contains("journeyc_sessions_started_total 1\n"),
        "HEAD started no session: {metrics}"
    );
    assert_eq!(server.get_json("/_preview/api/outbox").await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_public_url_signatures_are_checked_against_the_listening_address() {
    let twilio = FakeTwilio::start().await;
    let server = Server::start_without_public_url(Options {
        journey: example("texting_journey_links.journey"),
        db: temp_dir("no-public-url").join("journey.db"),
        twilio: Some(&twilio),
        preview: true,
        extra: vec![],
    });
    // Signed for a URL of the client's choosing, with a Host header to match: refused.
    let chosen = "http://attacker.example/twilio/sms";
    let p = sms_params("SMhost1", PERSON, OUR_NUMBER, "hello");
    let r = client()
        .post(server.url("/twilio/sms"))
        .header("host", "attacker.example")
        .header("x-twilio-signature", sign(chosen, &p))
        .form(&p)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // Signed for the listening address, as the banner prints it: accepted.
    let (status, body) = server.sms("SMhost2", PERSON, OUR_NUMBER, "hello").await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_radio_input_is_a_fieldset_and_takes_only_its_options() {
    let source = r#"
journey Radio {
  trigger link "radio"
  var size: Text
  step One {
    page Pick {
      heading "Pick"
      input size: radio "Which size?" required options ["Small", "Large"]
      button "Next" {
        go to page Done
      }
    }
    page Done {
      heading "You picked {{ size }}"
    }
  }
}
"#;
    let twilio = FakeTwilio::start().await;
    let server = serve_source(source, "radio", &twilio, true);
    let link = start(&server, "radio").await;
    let page = Page::open(&link).await;
    assert!(
        page.html.contains("<fieldset class=\"radio\">"),
        "{}",
        page.html
    );
    assert!(
        page.html.contains("<legend>Which size?</legend>"),
        "{}",
        page.html
    );
    assert_eq!(
        page.html.matches("type=\"radio\"").count(),
        2,
        "{}",
        page.html
    );
    let (status, _, body) = page.submit(&[("size", "Huge")]).await;
    assert_eq!(status, 422, "not one of the options");
    assert!(body.contains("Choose one of the options."), "{body}");
    let (status, _, _) = page.submit(&[("size", "Large")]).await;
    assert_eq!(status, 303);
    assert_eq!(Page::open(&link).await.h1(), "You picked Large");
}
