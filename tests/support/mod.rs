//! What the server tests share: the `journeyc run` binary on a free port, a fake
//! Twilio that is a real HTTP server on loopback, and webhook signing; and, in
//! `engine`, what the engine tests share.

#![allow(dead_code)]

pub mod engine;
pub mod postgres;
pub mod webdriver;

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};

pub const ACCOUNT_SID: &str = "AC0123456789abcdef0123456789abcdef";
pub const AUTH_TOKEN: &str = "test-auth-token-not-a-secret";
pub const API_TOKEN: &str = "test-api-token";
/// Twilio's magic "From" number that always succeeds.
pub const OUR_NUMBER: &str = "+15005550006";

pub fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name)
}

/// A fresh folder for one test's database.
pub fn temp_dir(name: &str) -> PathBuf {
    // Under target/tmp, replaced by the next run: tests leave nothing in /tmp.
    let dir =
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("journeyc-test-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A message the fake Twilio accepted.
#[derive(Clone, Debug)]
pub struct Sent {
    pub sid: String,
    pub to: String,
    pub from: String,
    pub body: String,
    /// When the fake accepted it.
    pub at: std::time::Instant,
}

/// An answer the fake gives instead of accepting, for the next request to a number.
#[derive(Clone, Debug)]
pub struct Scripted {
    pub status: u16,
    pub code: u32,
    /// Accept the message, but answer only after this long.
    pub slow: Option<Duration>,
}

#[derive(Default)]
pub struct TwilioState {
    pub sent: Vec<Sent>,
    /// Every request to Messages.json, accepted or not: (To, HTTP status).
    pub requests: Vec<(String, u16)>,
    pub script: HashMap<String, VecDeque<Scripted>>,
    /// Status callbacks answered by our server: (MessageSid, HTTP status).
    pub callbacks: Vec<(String, u16)>,
}

/// A fake Twilio: accepts Messages.json like Twilio (basic auth, magic numbers, error
/// JSON), lists messages, and posts signed status callbacks.
#[derive(Clone)]
pub struct FakeTwilio {
    pub base: String,
    pub state: Arc<Mutex<TwilioState>>,
}

fn twilio_error(status: u16, code: u32, message: &str) -> Response<Full<Bytes>> {
    let body = json!({"code": code, "message": message, "more_info": format!("https://www.twilio.com/docs/errors/{code}"), "status": status});
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = StatusCode::from_u16(status).unwrap();
    r.headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    r
}

fn magic_error(to: &str) -> Option<(u32, &'static str)> {
    match to {
        "+15005550001" => Some((21211, "The 'To' number is not a valid phone number.")),
        "+15005550002" => Some((
            21612,
            "The 'To' phone number is not currently reachable via SMS.",
        )),
        "+15005550003" => Some((
            21408,
            "Permission to send an SMS has not been enabled for the region.",
        )),
        "+15005550004" => Some((21610, "Attempt to send to unsubscribed recipient")),
        "+15005550009" => Some((21614, "'To' number is not a valid mobile number")),
        _ => None,
    }
}

impl FakeTwilio {
    pub async fn start() -> FakeTwilio {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let fake = FakeTwilio {
            base,
            state: Arc::default(),
        };
        let server = fake.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let fake = server.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let fake = fake.clone();
                        async move { Ok::<_, std::convert::Infallible>(fake.handle(req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        fake
    }

    /// The next `times` requests to `to` get this answer instead of being accepted.
    pub fn script(&self, to: &str, status: u16, code: u32, times: usize) {
        let mut s = self.state.lock().unwrap();
        let q = s.script.entry(to.to_string()).or_default();
        for _ in 0..times {
            q.push_back(Scripted {
                status,
                code,
                slow: None,
            });
        }
    }

    /// The next request to `to` is accepted, but answered only after `delay`.
    pub fn script_slow(&self, to: &str, delay: Duration) {
        let mut s = self.state.lock().unwrap();
        s.script
            .entry(to.to_string())
            .or_default()
            .push_back(Scripted {
                status: 201,
                code: 0,
                slow: Some(delay),
            });
    }

    pub fn sent(&self) -> Vec<Sent> {
        self.state.lock().unwrap().sent.clone()
    }

    pub fn sent_to(&self, to: &str) -> Vec<Sent> {
        self.sent().into_iter().filter(|m| m.to == to).collect()
    }

    pub fn requests_to(&self, to: &str) -> Vec<u16> {
        let s = self.state.lock().unwrap();
        s.requests
            .iter()
            .filter(|(t, _)| t == to)
            .map(|(_, status)| *status)
            .collect()
    }

    /// Waits (up to 20 s) until `n` messages to `to` were accepted.
    pub async fn wait_for(&self, to: &str, n: usize) -> Vec<Sent> {
        for _ in 0..400 {
            let sent = self.sent_to(to);
            if sent.len() >= n {
                return sent;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "expected {n} message(s) to {to}; the fake Twilio has {:?}",
            self.sent()
        );
    }

    async fn handle(&self, req: Request<hyper::body::Incoming>) -> Response<Full<Bytes>> {
        let path = req.uri().path().to_string();
        let query = req.uri().query().unwrap_or("").to_string();
        let expected_path = format!("/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json");
        let auth = req
            .headers()
            .get("authorization")
            .and_then(|h| h.to_str().ok())
            .map(str::to_string);
        let method = req.method().clone();
        let body = req.into_body().collect().await.unwrap().to_bytes();
        use base64::Engine as _;
        let expected_auth = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{ACCOUNT_SID}:{AUTH_TOKEN}"))
        );
        if auth.as_deref() != Some(expected_auth.as_str()) {
            return twilio_error(401, 20003, "Authenticate");
        }
        if path != expected_path {
            return twilio_error(404, 20404, "The requested resource was not found");
        }
        if method == hyper::Method::GET {
            let q: HashMap<String, String> = form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect();
            let s = self.state.lock().unwrap();
            let messages: Vec<Value> = s
                .sent
                .iter()
                .filter(|m| q.get("To").is_none_or(|t| *t == m.to) && q.get("From").is_none_or(|f| *f == m.from))
                .map(|m| json!({"sid": m.sid, "to": m.to, "from": m.from, "body": m.body, "status": "sent", "date_created": chrono::Utc::now().to_rfc2822()}))
                .collect();
            let mut r = Response::new(Full::new(Bytes::from(
                json!({"messages": messages}).to_string(),
            )));
            r.headers_mut()
                .insert("content-type", "application/json".parse().unwrap());
            return r;
        }
        let form: HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
        let to = form.get("To").cloned().unwrap_or_default();
        let from = form.get("From").cloned().unwrap_or_default();
        let text = form.get("Body").cloned().unwrap_or_default();
        let scripted = self
            .state
            .lock()
            .unwrap()
            .script
            .get_mut(&to)
            .and_then(|q| q.pop_front());
        let mut slow = None;
        let answer = if let Some(s) = scripted.clone().filter(|s| s.slow.is_none()) {
            Err((s.status, s.code, "scripted by the test"))
        } else if to.is_empty() {
            Err((400, 21604, "A 'To' phone number is required."))
        } else if let Some((code, message)) = magic_error(&to) {
            Err((400, code, message))
        } else if from != OUR_NUMBER {
            Err((
                400,
                21606,
                "The From phone number is not a valid, SMS-capable inbound phone number",
            ))
        } else if text.is_empty() || text.chars().count() > 1600 {
            Err((
                400,
                21617,
                "The concatenated message body exceeds the 1600 character limit.",
            ))
        } else {
            slow = scripted.and_then(|s| s.slow);
            Ok(())
        };
        if let Err((status, code, message)) = answer {
            self.state.lock().unwrap().requests.push((to, status));
            return twilio_error(status, code, message);
        }
        let mut raw = [0u8; 16];
        getrandom::fill(&mut raw).unwrap();
        let sid = format!(
            "SM{}",
            raw.iter().map(|b| format!("{b:02x}")).collect::<String>()
        );
        {
            let mut s = self.state.lock().unwrap();
            s.requests.push((to.clone(), 201));
            s.sent.push(Sent {
                sid: sid.clone(),
                to: to.clone(),
                from: from.clone(),
                body: text.clone(),
                at: std::time::Instant::now(),
            });
        }
        if let Some(callback) = form.get("StatusCallback").cloned() {
            let fake = self.clone();
            let (sid, to, from) = (sid.clone(), to.clone(), from.clone());
            tokio::spawn(async move {
                for status in ["sent", "delivered"] {
                    let params = vec![
                        ("AccountSid".to_string(), ACCOUNT_SID.to_string()),
                        ("From".to_string(), from.clone()),
                        ("MessageSid".to_string(), sid.clone()),
                        ("MessageStatus".to_string(), status.to_string()),
                        ("To".to_string(), to.clone()),
                    ];
                    let code = post_signed(&callback, &params, true).await.0;
                    fake.state
                        .lock()
                        .unwrap()
                        .callbacks
                        .push((sid.clone(), code));
                }
            });
        }
        if let Some(delay) = slow {
            tokio::time::sleep(delay).await;
        }
        let created = json!({
            "sid": sid, "status": "queued", "to": to, "from": from, "body": text,
            "num_segments": "1", "error_code": null, "error_message": null,
            "date_created": chrono::Utc::now().to_rfc2822(), "account_sid": ACCOUNT_SID,
        });
        let mut r = Response::new(Full::new(Bytes::from(created.to_string())));
        *r.status_mut() = StatusCode::CREATED;
        r.headers_mut()
            .insert("content-type", "application/json".parse().unwrap());
        r
    }
}

/// Twilio's signature of a form POST (the algorithm from twilio.md, written out here
/// independently of the server's).
pub fn sign(url: &str, params: &[(String, String)]) -> String {
    use hmac::{KeyInit, Mac};
    let mut sorted = params.to_vec();
    sorted.sort();
    let mut data = url.to_string();
    for (k, v) in sorted {
        data.push_str(&k);
        data.push_str(&v);
    }
    let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(AUTH_TOKEN.as_bytes()).unwrap();
    mac.update(data.as_bytes());
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

pub fn client() -> reqwest::Client {
    journeyc::server::install_crypto();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// POSTs a form as Twilio would, signed when `signed`; returns status and body.
pub async fn post_signed(url: &str, params: &[(String, String)], signed: bool) -> (u16, String) {
    let mut req = client().post(url).form(params);
    if signed {
        req = req.header("X-Twilio-Signature", sign(url, params));
    }
    let r = req.send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// The parameters of an inbound-SMS webhook, as Twilio sends them.
pub fn sms_params(sid: &str, from: &str, to: &str, body: &str) -> Vec<(String, String)> {
    params(&[
        ("AccountSid", ACCOUNT_SID),
        ("Body", body),
        ("From", from),
        ("MessageSid", sid),
        ("NumMedia", "0"),
        ("SmsStatus", "received"),
        ("To", to),
    ])
}

pub fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// `--db` for `Options::db`: a PostgreSQL URL as it is, any other path a SQLite file.
fn store_arg(db: &Path) -> String {
    let text = db.to_string_lossy();
    if text.starts_with("postgres://") {
        text.into_owned()
    } else {
        format!("sqlite:{text}")
    }
}

/// A `journeyc run` process and what it printed.
pub struct Server {
    pub child: Child,
    pub base: String,
    pub stdout: Arc<Mutex<Vec<String>>>,
    pub stderr: Arc<Mutex<Vec<String>>>,
}

pub struct Options<'a> {
    pub journey: PathBuf,
    pub db: PathBuf,
    pub twilio: Option<&'a FakeTwilio>,
    pub preview: bool,
    pub extra: Vec<&'a str>,
}

impl Server {
    /// Starts the server and waits until it listens.
    pub fn start(o: Options<'_>) -> Server {
        Server::start_with(o, true)
    }

    /// `start` without `--public-url`: URLs and signatures use the listening address.
    pub fn start_without_public_url(o: Options<'_>) -> Server {
        Server::start_with(o, false)
    }

    fn start_with(o: Options<'_>, public_url: bool) -> Server {
        // A free port can be taken by another test between its choice and the bind:
        // then another port.
        let mut tries = 0;
        loop {
            tries += 1;
            match Server::try_start(&o, public_url, free_port()) {
                Ok(server) => return server,
                Err(stderr)
                    if tries < 5 && stderr.iter().any(|l| l.contains("Address already in use")) => {
                }
                Err(stderr) => panic!("journeyc run did not start; stderr: {stderr:?}"),
            }
        }
    }

    /// Starts a server on `port`; what it wrote to stderr when it did not start.
    fn try_start(o: &Options<'_>, public_url: bool, port: u16) -> Result<Server, Vec<String>> {
        let base = format!("http://127.0.0.1:{port}");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_journeyc"));
        cmd.arg("run")
            .arg(&o.journey)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .arg("--db")
            .arg(store_arg(&o.db))
            .args(&o.extra)
            .env_remove("TWILIO_ACCOUNT_SID")
            .env_remove("TWILIO_AUTH_TOKEN")
            .env_remove("TWILIO_API_BASE")
            .env("JOURNEY_API_TOKEN", API_TOKEN)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // Replicas on one PostgreSQL database derive journey links with one key.
        if store_arg(&o.db).starts_with("postgres://") {
            cmd.env(
                "JOURNEYC_LINK_KEY",
                "test-link-key-shared-by-every-replica-0123",
            );
        } else {
            cmd.env_remove("JOURNEYC_LINK_KEY");
        }
        if o.preview {
            cmd.arg("--preview");
        }
        if public_url {
            cmd.args(["--public-url", &base]);
        }
        if let Some(t) = o.twilio {
            cmd.env("TWILIO_ACCOUNT_SID", ACCOUNT_SID)
                .env("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
                .env("TWILIO_API_BASE", &t.base);
        }
        let mut child = cmd.spawn().expect("journeyc starts");
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let out = child.stdout.take().unwrap();
        let lines = stdout.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                // The banner's last line: everything before it has been read.
                let last = line.contains("Status callbacks are sent to");
                lines.lock().unwrap().push(line);
                if last {
                    let _ = ready_tx.send(());
                }
            }
        });
        let err = child.stderr.take().unwrap();
        let lines = stderr.clone();
        let reading = std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(line);
            }
        });
        if ready_rx.recv_timeout(Duration::from_secs(60)).is_err() {
            let _ = child.kill();
            let _ = child.wait();
            // Everything it wrote, read to the end of the pipe.
            let _ = reading.join();
            return Err(stderr.lock().unwrap().clone());
        }
        Ok(Server {
            child,
            base,
            stdout,
            stderr,
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `GET /metrics`, as text.
    pub async fn metrics(&self) -> String {
        client()
            .get(self.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Sends SIGTERM and waits, at most 15 s, for the server to exit.
    pub async fn terminate(&mut self) -> std::process::ExitStatus {
        let sent = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(sent.success());
        for _ in 0..300 {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the server did not stop within 15 s: {}", self.logs());
    }

    pub fn kill_9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn logs(&self) -> String {
        let mut all = self.stdout.lock().unwrap().join("\n");
        all.push('\n');
        all.push_str(&self.stderr.lock().unwrap().join("\n"));
        all
    }

    pub async fn get_json(&self, path: &str) -> Value {
        let r = client().get(self.url(path)).send().await.unwrap();
        assert!(r.status().is_success(), "GET {path}: {}", r.status());
        serde_json::from_str(&r.text().await.unwrap()).unwrap()
    }

    pub async fn post_json(&self, path: &str, body: Value) -> (u16, Value) {
        let r = client()
            .post(self.url(path))
            .json_body(&body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// Moves the preview's clock.
    pub async fn advance(&self, seconds: u64) -> Value {
        let (status, body) = self
            .post_json("/_preview/api/clock/advance", json!({ "seconds": seconds }))
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// An inbound SMS webhook, signed like Twilio's.
    pub async fn sms(&self, sid: &str, from: &str, to: &str, body: &str) -> (u16, String) {
        post_signed(
            &self.url("/twilio/sms"),
            &sms_params(sid, from, to, body),
            true,
        )
        .await
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes `source` as a journey file in the test's folder and serves it with the fake
/// Twilio, in preview or on the real clock.
pub fn serve_source(source: &str, dir: &str, twilio: &FakeTwilio, preview: bool) -> Server {
    let dir = temp_dir(dir);
    let journey = dir.join("race.journey");
    std::fs::write(&journey, source).unwrap();
    Server::start(Options {
        journey,
        db: dir.join("journey.db"),
        twilio: Some(twilio),
        preview,
        extra: vec!["--sms-rate", "0"],
    })
}

/// Opens the starting link and follows its redirect to the session's journey link.
pub async fn start(server: &Server, slug: &str) -> String {
    let r = client()
        .get(server.url(&format!("/start/{slug}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    assert!(location.starts_with("/j/"), "{location}");
    server.url(&location)
}

/// `json` without reqwest's `json` feature.
pub trait JsonBody {
    fn json_body(self, v: &Value) -> Self;
}

impl JsonBody for reqwest::RequestBuilder {
    fn json_body(self, v: &Value) -> Self {
        self.header("content-type", "application/json")
            .body(v.to_string())
    }
}

/// A web page as a person's browser sees it: fetch it, fill its form, submit.
pub struct Page {
    pub url: String,
    pub status: u16,
    pub html: String,
}

impl Page {
    pub async fn open(url: &str) -> Page {
        let r = client().get(url).send().await.unwrap();
        Page {
            url: url.to_string(),
            status: r.status().as_u16(),
            html: r.text().await.unwrap(),
        }
    }

    /// The value of the hidden input `name`.
    pub fn hidden(&self, name: &str) -> String {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self
            .html
            .find(&marker)
            .unwrap_or_else(|| panic!("no `{name}` in {}", self.html))
            + marker.len();
        let end = self.html[start..].find('"').unwrap();
        self.html[start..start + end].to_string()
    }

    pub fn h1(&self) -> String {
        let start = self.html.find("<h1>").expect("an h1") + 4;
        let end = self.html[start..].find("</h1>").unwrap();
        self.html[start..start + end].to_string()
    }

    /// The `value` of the first submit button.
    pub fn button(&self) -> String {
        let marker = "name=\"_button\" value=\"";
        let start = self.html.find(marker).expect("a button") + marker.len();
        let end = self.html[start..].find('"').unwrap();
        self.html[start..start + end].to_string()
    }

    /// Submits the form with `fields`; returns the status and, for a redirect, where to.
    pub async fn submit(&self, fields: &[(&str, &str)]) -> (u16, Option<String>, String) {
        let action = self.url.split('?').next().unwrap().to_string();
        let mut form = params(fields);
        form.push(("_csrf".into(), self.hidden("_csrf")));
        form.push(("_page".into(), self.hidden("_page")));
        form.push(("_button".into(), self.button()));
        let r = client().post(&action).form(&form).send().await.unwrap();
        let status = r.status().as_u16();
        let location = r
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_string());
        (status, location, r.text().await.unwrap())
    }
}
