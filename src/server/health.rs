//! Health and metrics: `GET /healthz` (the store reads and commits) and `GET
//! /metrics` (Prometheus text).

use std::sync::Arc;

use hyper::StatusCode;

use super::app::App;
use super::calls::blocking;
use super::http::*;

pub(super) async fn healthz(app: &Arc<App>) -> Resp {
    match blocking(app, |e| e.healthy()).await {
        Ok(Ok(())) => text(StatusCode::OK, "ok\n"),
        Ok(Err(e)) => {
            app.log
                .warn(&format!("health check: the store does not answer: {e}"));
            text(
                StatusCode::SERVICE_UNAVAILABLE,
                "the store does not answer\n",
            )
        }
        Err(r) => r,
    }
}

/// `GET /metrics`: every counter and histogram, in Prometheus text format.
pub(super) fn metrics(app: &App) -> Resp {
    respond(
        StatusCode::OK,
        "text/plain; version=0.0.4",
        app.metrics.render(),
    )
}
