//! Engine calls from async handlers: on tokio's blocking pool, awaiting a change's
//! durability without holding a thread, and webhooks processed once per provider id.

use std::future::Future;
use std::sync::Arc;

use super::app::App;
use super::http::{server_error, Resp};
use crate::runtime::engine::{Engine, Pending};
use crate::runtime::store::StoreError;

/// Runs an engine call on the blocking pool.
pub(super) async fn blocking<T: Send + 'static>(
    app: &Arc<App>,
    f: impl FnOnce(&Engine) -> T + Send + 'static,
) -> Result<T, Resp> {
    let engine = app.engine.clone();
    tokio::task::spawn_blocking(move || f(&engine))
        .await
        .map_err(|_| server_error(app, "an engine call panicked"))
}

/// Runs an engine call on the blocking pool until its change is queued, then awaits
/// the change's durability here: a request holds no thread while its commit's fsync
/// runs, so the commits of many requests are shared.
pub(super) async fn queued<T: Send + 'static>(
    app: &Arc<App>,
    f: impl FnOnce(&Engine) -> Result<Pending<T>, StoreError> + Send + 'static,
) -> Result<Result<T, StoreError>, Resp> {
    Ok(match blocking(app, f).await? {
        Ok(pending) => pending.finish().await,
        Err(e) => Err(e),
    })
}

/// What an attempt at a webhook gives: the engine's outcome, or the response to give.
pub(super) type Outcome<T> = Result<Result<Option<T>, StoreError>, Resp>;

/// A webhook with provider id `sid`, processed once: `attempt` gives `None` for a
/// delivery seen before, and so does the second of two copies delivered at once,
/// whose change fails on the id the first one kept. A copy whose change failed while
/// another copy's was under way waits for that one's outcome, and runs again if it
/// did not keep the id.
pub(super) async fn once<T, A>(
    app: &Arc<App>,
    sid: String,
    attempt: impl Fn(String) -> A,
) -> Outcome<T>
where
    A: Future<Output = Outcome<T>>,
{
    const ATTEMPTS: usize = 3;
    let mut tries = 1;
    loop {
        let outcome = attempt(sid.clone()).await?;
        let Err(e) = outcome else {
            return Ok(outcome);
        };
        let id = sid.clone();
        match blocking(app, move |en| en.delivery_settled(&id)).await? {
            Ok(true) => return Ok(Ok(None)),
            Ok(false) if tries < ATTEMPTS && e.is_unavailable() => {
                // Apart: two copies that both lost their claim should not meet again.
                tries += 1;
                tokio::time::sleep(crate::runtime::engine::backoff(tries + 4)).await;
            }
            _ => return Ok(Err(e)),
        }
    }
}
