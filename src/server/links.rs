//! Starting links, journey links and their pages: HTTP translated to `runtime::web`
//! (open a link, show a page, press a button) and its render model drawn as HTML.

use std::sync::Arc;

use hyper::{Request, StatusCode};

use super::app::{token_hash, App};
use super::calls::{blocking, queued};
use super::http::*;
use super::pages;
use crate::ir::{self, LandsOn};
use crate::runtime::session::SessionState;
use crate::runtime::store::StoreError;
use crate::runtime::web::{Press, Submitted, View};

/// `/`: what this server serves, for a person who opens it in a browser.
pub(super) fn home(app: &Arc<App>) -> Resp {
    let links: Vec<(String, String)> = app
        .engine
        .journeys()
        .iter()
        .flat_map(|j| {
            j.triggers.iter().filter_map(move |t| match t {
                ir::Trigger::Link { slug } => Some((j.name.clone(), slug.clone())),
                _ => None,
            })
        })
        .collect();
    let base = &app.base_url;
    html_page(
        StatusCode::OK,
        pages::document(
            "journeyc",
            maud::html! {
                h1 { "journeyc" }
                @if links.is_empty() {
                    p { "No journey here has a starting link." }
                } @else {
                    p { "Starting links:" }
                    ul {
                        @for (journey, slug) in &links {
                            li { a href=(format!("{base}/start/{slug}")) { (journey) } }
                        }
                    }
                }
            },
        ),
    )
}

pub(super) fn no_such_link() -> Resp {
    html_page(
        StatusCode::NOT_FOUND,
        pages::notice("Link not found", "There is no journey at this address."),
    )
}

/// `HEAD /start/{slug}`: whether the starting link works, without starting a session.
pub(super) fn start_link_head(app: &Arc<App>, slug: &str) -> Resp {
    match app.engine.link_journey(slug) {
        Some(_) => text(StatusCode::OK, ""),
        None => no_such_link(),
    }
}

pub(super) async fn start_link(app: &Arc<App>, slug: &str) -> Resp {
    if app.engine.link_journey(slug).is_none() {
        return no_such_link();
    }
    let slug = slug.to_string();
    let ids = app.new_ids();
    let (id, hash, link) = (ids.id, ids.token_hash, ids.link.clone());
    match queued(app, move |e| e.open_link(&slug, id, &hash, Some(link))).await {
        Ok(Ok(_)) => redirect(&format!("/j/{}", ids.token)),
        Ok(Err(StoreError::NotFound(_))) => no_such_link(),
        Ok(Err(e)) => failed(app, "starting a session", &e),
        Err(r) => r,
    }
}

/// A token as we make them: URL-safe base64, not too long. Anything else cannot be one.
pub(super) fn plausible_token(token: &str) -> bool {
    (16..=64).contains(&token.len())
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Finds the session of a journey-link token: `Err` is the response to give instead.
pub(super) async fn session_for(app: &Arc<App>, token: &str) -> Result<SessionState, Resp> {
    if !plausible_token(token) {
        return Err(not_found_page());
    }
    let hash = token_hash(token);
    // Not on the blocking pool: SQLite's read takes microseconds on a read connection
    // and never waits for a commit, and PostgreSQL's holds no thread while it is out.
    let now = app.engine.now();
    match app
        .engine
        .session_by_token_async(&hash)
        .await
        .map(|s| (s, now))
    {
        Ok((None, _)) => Err(not_found_page()),
        Ok((Some(s), now)) if !s.is_active(now) => Err(gone_page()),
        Ok((Some(s), _)) => Ok(s),
        Err(StoreError::Broken { session, problem }) => Err(broken(app, session, problem).await),
        Err(e @ StoreError::Unavailable(_)) => Err(failed(app, "opening a journey link", &e)),
        Err(e) => Err(server_error(app, &format!("reading a session failed: {e}"))),
    }
}

/// A session that cannot run: it is failed (logged, its timers cancelled, counted),
/// and the person sees a page that says so without details.
pub(super) async fn broken(app: &Arc<App>, session: String, problem: String) -> Resp {
    app.log
        .warn(&format!("a session was failed: it cannot run: {problem}"));
    if let Ok(Err(e)) = blocking(app, move |e| e.fail_broken(&session, &problem)).await {
        app.log.warn(&format!("failing a session failed: {e}"));
    }
    html_page(
        StatusCode::INTERNAL_SERVER_ERROR,
        pages::notice(
            "Something went wrong",
            "This journey cannot continue because of a problem on our side. We are sorry. If you still need help, start again from the link you were first given.",
        ),
    )
}

/// Where a form goes after it is handled: back to the journey link, marked as within
/// the flow when plain links would open the first page.
pub(super) fn continue_url(app: &App, state: &SessionState, token: &str) -> String {
    let first_page = app
        .engine
        .journey_of(state)
        .is_ok_and(|j| j.link_lands_on == LandsOn::FirstPage);
    if first_page {
        format!("/j/{token}?continue")
    } else {
        format!("/j/{token}")
    }
}

pub(super) fn render_view(
    app: &Arc<App>,
    session: &str,
    token: &str,
    view: View,
    status: StatusCode,
) -> Resp {
    let model = match view {
        View::Page(model) => model,
        View::Nothing => {
            return html_page(
                StatusCode::OK,
                pages::notice("All set", "There is nothing more to do here right now."),
            )
        }
    };
    let action = format!("/j/{token}");
    let csrf = app.csrf_token(session);
    html_page(status, pages::page(&model, &action, &csrf))
}

pub(super) async fn journey_link(app: &Arc<App>, token: &str, query: &str, shown: bool) -> Resp {
    let state = match session_for(app, token).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let within_flow = form_urlencoded::parse(query.as_bytes()).any(|(k, _)| k == "continue");
    match app.engine.view(&state, within_flow) {
        Ok(view) => {
            // The preview's event log says which pages were shown (a write; only there).
            if let (true, View::Page(p)) = (app.config.preview && shown, &view) {
                let (shown, at) = (state.clone(), (p.step, p.page));
                let _ = blocking(app, move |e| e.note_shown(&shown, at)).await;
            }
            render_view(app, &state.id, token, view, StatusCode::OK)
        }
        Err(StoreError::Broken { session, problem }) => broken(app, session, problem).await,
        Err(e) => failed(app, "showing a page", &e),
    }
}

pub(super) async fn journey_form(
    app: &Arc<App>,
    token: &str,
    req: Request<impl RequestBody>,
) -> Resp {
    let body = match read_body(req.into_body()).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let state = match session_for(app, token).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let form = parse_form(&body);
    if !form_value(&form, "_csrf").is_some_and(|t| app.csrf_valid(&state.id, t)) {
        return html_page(
            StatusCode::FORBIDDEN,
            pages::notice(
                "This form has expired",
                "Please go back, reload the page and try again.",
            ),
        );
    }
    let back = continue_url(app, &state, token);
    // A form that does not say which page it was shown for is from no page of ours:
    // like an old tab, it just sees the current page.
    let Some(page) = form_value(&form, "_page").and_then(|p| {
        let (s, p) = p.split_once('.')?;
        Some((s.parse::<usize>().ok()?, p.parse::<usize>().ok()?))
    }) else {
        return redirect(&back);
    };
    // A name that is no index names no button; the page is still checked first, so an
    // old tab's form sees the current page.
    let button = form_value(&form, "_button").map(|b| b.parse::<usize>().unwrap_or(usize::MAX));
    let press = Press {
        page: Some(page),
        button,
        fields: form
            .into_iter()
            .filter(|(k, _)| !k.starts_with('_'))
            .collect(),
    };
    let session = state.id.clone();
    let pressed = blocking(app, move |e| e.submit(&state, press)).await;
    let outcome = match pressed {
        Ok(Ok(submission)) => submission.finish().await,
        Ok(Err(e)) => Err(e),
        Err(r) => return r,
    };
    match outcome {
        Ok(Submitted::Invalid(model)) => render_view(
            app,
            &session,
            token,
            View::Page(model),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Ok(Submitted::NoButton) => no_button(),
        // Moved on, stayed, ended, or a form from a page the session has left (an old
        // tab, or another event moved it on meanwhile): the journey link shows where
        // the session is now.
        Ok(
            Submitted::Moved { .. }
            | Submitted::Stayed { .. }
            | Submitted::Ended
            | Submitted::Stale,
        ) => redirect(&back),
        Err(StoreError::Broken { session, problem }) => broken(app, session, problem).await,
        Err(e) => failed(app, "running a form's actions", &e),
    }
}

pub(super) fn no_button() -> Resp {
    text(
        StatusCode::BAD_REQUEST,
        "the form did not say which button was pressed\n",
    )
}
