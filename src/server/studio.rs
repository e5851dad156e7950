//! The preview studio at `/_preview/`, served only with `--preview`: one page where a
//! journey's author plays the person (a frame with the journey's pages), their phone
//! (texts, a reply box, a call, STOP and HELP) and the clock, and watches the session
//! (variables, timers, the event log, the journey's graph) change.
//!
//! The page is a shell drawn with maud; a small script (`studio/studio.js`, no
//! framework, no build step) fills it from the preview API by a short poll, inserting
//! every value with `textContent` and DOM calls, never as markup. Its style sheet and
//! script are files embedded in the binary, so the studio works offline, and its
//! Content-Security-Policy allows scripts, styles and connections from this server
//! only.

use hyper::header::{self, HeaderValue};
use hyper::StatusCode;
use maud::{html, Markup, DOCTYPE};

use super::http::*;

const SCRIPT: &str = include_str!("studio/studio.js");
const STYLE: &str = include_str!("studio/studio.css");

/// The studio's policy: its own script and styles, the API on this server, journey
/// pages in its frame, and nothing else. The graph's SVG is inserted as nodes, so its
/// own `<style>` elements are dropped and `studio.css` styles it instead.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
connect-src 'self'; frame-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// `GET /_preview/`: the studio.
pub(super) fn page() -> Resp {
    let mut r = html_page(StatusCode::OK, shell());
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    // `no-referrer` would make the browser send `Origin: null` with the studio's own
    // POSTs; `same-origin` sends the real origin to this server and nothing elsewhere.
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    r
}

/// `GET /_preview/studio.js`.
pub(super) fn script() -> Resp {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

/// `GET /_preview/studio.css`.
pub(super) fn style() -> Resp {
    asset("text/css; charset=utf-8", STYLE)
}

fn asset(content_type: &'static str, body: &'static str) -> Resp {
    let mut r = respond(StatusCode::OK, content_type, body);
    let h = r.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// The page before the script fills it: every panel, its heading and its controls.
fn shell() -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "journeyc studio" }
                link rel="stylesheet" href="/_preview/studio.css";
                script src="/_preview/studio.js" defer {}
            }
            body {
                header.bar {
                    h1 { "journeyc studio" }
                    p.now { "Now: " span #now { "…" } }
                    p #status role="status" aria-live="polite" {}
                }
                main.studio {
                    section.panel #start aria-labelledby="journeys-h" {
                        h2 #journeys-h { "Journeys" }
                        div #journeys { p.empty { "Loading…" } }
                        h2 #sessions-h { "Sessions" }
                        p.hint { "Newest first. Choose one to follow it." }
                        ul #sessions aria-labelledby="sessions-h" {}
                    }
                    div.session-view {
                        section.panel.phone-panel aria-labelledby="phone-h" {
                            h2 #phone-h { "Phone" }
                            p.who { "Actor: " span #actor-phone { "no session chosen" } }
                            ol #conversation aria-label="Conversation" aria-live="polite" {}
                            form #reply-form {
                                label for="reply" { "Text from the phone" }
                                div.row {
                                    input #reply type="text" autocomplete="off";
                                    button type="submit" { "Send" }
                                }
                            }
                            div.row.actions {
                                button #call type="button" { "Call" }
                                button #stop type="button" { "STOP" }
                                button #help type="button" { "HELP" }
                            }
                        }
                        section.panel.browser aria-labelledby="browser-h" {
                            h2 #browser-h { "Browser" }
                            p.address { span #frame-url { "about:blank" } }
                            iframe #frame title="The person's browser" src="about:blank" {}
                        }
                        section.panel.clock aria-labelledby="clock-h" {
                            h2 #clock-h { "Clock" }
                            dl #zones {}
                            div.row.actions {
                                button #advance-hour type="button" { "Advance 1 hour" }
                                button #advance-day type="button" { "Advance 1 day" }
                                button #advance-timer type="button" { "To the next timer" }
                            }
                            form #advance-to-form {
                                label for="advance-to" { "Advance to (UTC)" }
                                div.row {
                                    input #advance-to type="datetime-local" step="60";
                                    button type="submit" { "Go" }
                                }
                            }
                            h3 { "Pending timers" }
                            ul #timers {}
                        }
                        section.panel.session-panel aria-labelledby="session-h" {
                            h2 #session-h { "Session" }
                            dl #facts {}
                            h3 #vars-h { "Variables" }
                            table aria-labelledby="vars-h" {
                                thead { tr { th scope="col" { "Name" } th scope="col" { "Type" } th scope="col" { "Value" } } }
                                tbody #vars {}
                            }
                            h3 #events-h { "Event log" }
                            ol #events aria-labelledby="events-h" reversed {}
                        }
                        section.panel.graph aria-labelledby="graph-h" {
                            h2 #graph-h { "Graph" }
                            div #graph {}
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_its_script_and_styles_from_files_and_runs_nothing_inline() {
        let html = shell().into_string();
        assert!(html.contains("<script src=\"/_preview/studio.js\" defer></script>"));
        assert!(html.contains("href=\"/_preview/studio.css\""));
        assert_eq!(html.matches("<script").count(), 1, "{html}");
        assert!(!html.contains("<style") && !html.contains(" style="));
        let handler = html.split(" on").skip(1).find(|rest| {
            let name = rest.trim_start_matches(|c: char| c.is_ascii_alphabetic());
            name.len() < rest.len() && name.starts_with('=')
        });
        assert!(handler.is_none(), "no inline handlers: {html}");
    }

    #[test]
    fn the_script_never_writes_markup() {
        for forbidden in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
        ] {
            assert!(!SCRIPT.contains(forbidden), "studio.js uses {forbidden}");
        }
    }
}
