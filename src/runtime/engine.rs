//! The engine: sessions started by triggers, actions run by the interpreter, effects
//! kept by the store, and durable timers fired in due order. It reads the time from a
//! `Clock`, so tests (and the preview mode) can move time by hand.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use super::clock::{Clock, ManualClock};
use super::durable::Durable;
use super::interp::{self, Effect};
use super::lanes::{InLane, Lanes};
use super::probe::{Heard, Probe};
use super::session::{SessionState, Status};
use super::store::{Inbound, Result, Store, StoreError, Timer};
use super::versions::{self, Deployed};
use super::Value;
use crate::coverage::Item;
use crate::ir::{self, Policy};
use crate::literals::{HELP_WORDS, START_WORDS, STOP_WORDS};

/// What a start knows of the actor's active session of its journey.
#[derive(Clone, Copy)]
enum Existing {
    /// Nothing: it looks, and follows the journey's `existing session` policy.
    Unknown,
    /// Its caller read the actor's active sessions, in this attempt, and none is of
    /// the journey.
    NoneActive,
}

/// How a session starts, with what the trigger knows.
#[derive(Clone, Debug)]
pub enum Start {
    Link,
    /// An inbound text: the sender's number initialises the actor.
    Sms {
        from: String,
        body: String,
    },
    /// An inbound call; `None` when the caller withheld the number.
    Call {
        from: Option<String>,
    },
    /// The API trigger, for a phone number, with more actor fields (`email`,
    /// `first_name`, `last_name`, `time_zone`) and initial variable values, by name.
    Api {
        phone: String,
        actor: Vec<(String, Value)>,
        vars: Vec<(String, Value)>,
    },
    Schedule,
}

/// The outcome of starting a session.
#[derive(Clone, Debug, PartialEq)]
pub struct Started {
    pub session: SessionState,
    pub effects: Vec<Effect>,
    /// True when the existing-session policy kept an active session instead.
    pub existing: bool,
}

/// What an engine call did, kept once its change is durable. `wait` for it on a
/// thread, or `finish` it in an async task: a server's request then holds no OS thread
/// while its commit's fsync runs, so many requests share each commit.
///
/// A change based on a session that another event changed in the meantime is not
/// written (see `Store`): waiting for it then runs the event again on the session as it
/// is now, up to `MAX_ATTEMPTS` times in all, and only then fails with the conflict.
#[must_use = "an engine call's change is kept only once it is durable"]
pub struct Pending<T> {
    value: T,
    durable: Durable,
    then: Option<Then>,
    redo: Option<Redo<T>>,
    /// The session's turn, held until the change is durable: the next event for the
    /// session in this process reads what this one did.
    turn: Option<InLane>,
}

/// Attempts at one event whose session keeps changing under it, at most; then the
/// event fails (the server answers 503 with `Retry-After`; a timer stays due).
pub const MAX_ATTEMPTS: usize = 10;

/// How long to wait before attempt `n` (2 and up) of an event: a random time up to
/// 2^(n-2) ms, at most 64 ms, so that events that conflicted once do not meet again in
/// the next commit.
pub(crate) fn backoff(n: usize) -> std::time::Duration {
    let limit_us = 1000u64 << (n.saturating_sub(2)).min(6);
    let mut bytes = [0u8; 8];
    let _ = getrandom::fill(&mut bytes);
    std::time::Duration::from_micros(u64::from_le_bytes(bytes) % limit_us)
}

/// An event, to run again after a conflict. The interpreter is pure, so running it
/// again on the session as it is now is safe: only the attempt that commits is kept.
struct Redo<T> {
    again: Box<dyn FnMut() -> Result<Pending<T>> + Send>,
    tries: usize,
    listener: Option<Arc<dyn Listener>>,
}

impl<T> Redo<T> {
    /// After `e`: how long to wait before the next attempt, or `e` itself when it is no
    /// conflict or no attempt is left.
    fn pause(&mut self, e: StoreError) -> Result<std::time::Duration> {
        if !e.is_conflict() {
            return Err(e);
        }
        if self.tries >= MAX_ATTEMPTS {
            if let Some(l) = &self.listener {
                l.conflict_failed();
            }
            return Err(e);
        }
        self.tries += 1;
        if let Some(l) = &self.listener {
            l.retried();
        }
        Ok(backoff(self.tries))
    }

    /// After `e`, the next attempt that could be queued, waiting on this thread.
    fn next(&mut self, mut e: StoreError) -> Result<Pending<T>> {
        loop {
            std::thread::sleep(self.pause(e)?);
            match (self.again)() {
                Ok(pending) => return Ok(pending),
                Err(next) => e = next,
            }
        }
    }

    /// `next`, waiting in a task, and running the attempt on tokio's blocking pool (it
    /// reads the store, and may wait for the session's turn): no worker thread waits.
    async fn next_async(&mut self, mut e: StoreError) -> Result<Pending<T>>
    where
        T: Send + 'static,
    {
        loop {
            tokio::time::sleep(self.pause(e)?).await;
            let mut again = std::mem::replace(
                &mut self.again,
                Box::new(|| Err(StoreError::new("an event's attempt was lost"))),
            );
            let (again, outcome) = tokio::task::spawn_blocking(move || {
                let outcome = again();
                (again, outcome)
            })
            .await
            .map_err(|_| StoreError::new("an event panicked when it ran again"))?;
            self.again = again;
            match outcome {
                Ok(pending) => return Ok(pending),
                Err(next) => e = next,
            }
        }
    }
}

/// What follows a durable change: the scheduler's doorbell, and the listener.
struct Then {
    wakeup: Arc<super::wakeup::Wakeup>,
    ring_for: Option<DateTime<Utc>>,
    listener: Option<Arc<dyn Listener>>,
    sms: bool,
    started: bool,
}

impl Then {
    fn run(self) {
        if let Some(due) = self.ring_for {
            self.wakeup.ring_for(due);
        }
        if let Some(l) = self.listener {
            if self.sms {
                l.sms_queued();
            }
            if self.started {
                l.session_started();
            }
        }
    }
}

impl<T> Pending<T> {
    /// An outcome that changed nothing, or whose change is already durable.
    pub fn ready(value: T) -> Pending<T> {
        Pending {
            value,
            durable: Durable::done(Ok(0)),
            then: None,
            redo: None,
            turn: None,
        }
    }

    /// Blocks this thread until the change is durable, and gives what the call did.
    pub fn wait(self) -> Result<T> {
        let mut pending = self;
        loop {
            let Pending {
                value,
                durable,
                then,
                redo,
                turn,
            } = pending;
            let outcome = durable.wait();
            // The next attempt takes its turn again.
            drop(turn);
            match outcome {
                Ok(_) => return Ok(Self::done(value, then, redo)),
                Err(e) => pending = Self::again(redo, e)?,
            }
        }
    }

    /// Awaits the change's durability, and gives what the call did.
    pub async fn finish(self) -> Result<T>
    where
        T: Send + 'static,
    {
        let mut pending = self;
        loop {
            let Pending {
                value,
                durable,
                then,
                redo,
                turn,
            } = pending;
            let outcome = durable.await;
            drop(turn);
            match outcome {
                Ok(_) => return Ok(Self::done(value, then, redo)),
                Err(e) => {
                    let Some(mut redo) = redo else {
                        return Err(e);
                    };
                    let next = redo.next_async(e).await?;
                    pending = Pending {
                        redo: Some(redo),
                        ..next
                    };
                }
            }
        }
    }

    fn done(value: T, then: Option<Then>, redo: Option<Redo<T>>) -> T {
        if let Some(then) = then {
            then.run();
        }
        if let Some(Redo {
            tries,
            listener: Some(l),
            ..
        }) = redo
        {
            l.event_kept(tries);
        }
        value
    }

    /// After a failed commit: the event's next attempt, or the failure.
    fn again(redo: Option<Redo<T>>, e: StoreError) -> Result<Pending<T>> {
        let Some(mut redo) = redo else {
            return Err(e);
        };
        let next = redo.next(e)?;
        Ok(Pending {
            redo: Some(redo),
            ..next
        })
    }

    /// What the call did, changed by `f`; an attempt run again after a conflict is
    /// changed by `f` too.
    pub fn map<U: 'static>(self, f: impl Fn(T) -> U + Send + Sync + 'static) -> Pending<U>
    where
        T: 'static,
    {
        self.map_shared(Arc::new(f))
    }

    /// An attempt's outcome: `value`, once the change is durable.
    fn giving<U>(self, value: U) -> Pending<U> {
        debug_assert!(
            self.redo.is_none(),
            "an attempt, not an event that runs again"
        );
        Pending {
            value,
            durable: self.durable,
            then: self.then,
            redo: None,
            turn: self.turn,
        }
    }

    /// An attempt that holds its session's turn until it is durable.
    fn in_turn(self, turn: InLane) -> Pending<T> {
        Pending {
            turn: Some(turn),
            ..self
        }
    }

    fn map_shared<U: 'static>(self, f: Arc<dyn Fn(T) -> U + Send + Sync>) -> Pending<U>
    where
        T: 'static,
    {
        let redo = self.redo.map(|r| {
            let (mut again, g) = (r.again, f.clone());
            Redo {
                again: Box::new(move || again().map(|p| p.map_shared(g.clone()))),
                tries: r.tries,
                listener: r.listener,
            }
        });
        Pending {
            value: f(self.value),
            durable: self.durable,
            then: self.then,
            redo,
            turn: self.turn,
        }
    }
}

/// What a server wants to hear about, as it happens: to wake its sender and count.
pub trait Listener: Send + Sync {
    /// Messages were added to the outbox.
    fn sms_queued(&self) {}
    /// A session started.
    fn session_started(&self) {}
    /// A timer fired, this long after its due time.
    fn timer_fired(&self, _lateness: Duration) {}
    /// An event was run again because its session changed under it.
    fn retried(&self) {}
    /// An event failed because its session kept changing under it, `MAX_ATTEMPTS`
    /// times.
    fn conflict_failed(&self) {}
    /// A session was failed because its state did not fit its journey's version.
    fn session_failed(&self) {}
    /// An event's change was kept after this many attempts (1 when nothing conflicted).
    fn event_kept(&self, _attempts: usize) {}
}

/// The engine; clones share it, so an event can hold on to it to run again.
#[derive(Clone)]
pub struct Engine(Arc<Inner>);

pub struct Inner {
    /// The newest version of each journey: what triggers start and routes follow.
    journeys: Vec<ir::Journey>,
    /// Every version kept in the store that this journeyc reads, by journey and
    /// version: what sessions run.
    versions: HashMap<String, BTreeMap<u32, Arc<ir::Journey>>>,
    /// The version each journey's new sessions start on.
    newest: HashMap<String, u32>,
    deployed: Vec<Deployed>,
    store: Box<dyn Store>,
    clock: Arc<dyn Clock>,
    /// Rung when a timer starts or a session is kept whose expiry may be the next
    /// thing due, so a sleeping scheduler wakes early.
    wakeup: Arc<super::wakeup::Wakeup>,
    listener: std::sync::OnceLock<Arc<dyn Listener>>,
    /// A lane per session: this process's events for one session take turns.
    busy: Lanes,
    /// Makes a session's journey link from its id (the server's); without it, sessions
    /// read from the store have no link.
    links: std::sync::OnceLock<LinkMaker>,
    probe: std::sync::OnceLock<Probe>,
    /// Whether the event log says what every change did (`set_detailed_log`).
    detailed_log: std::sync::atomic::AtomicBool,
}

/// Makes a session's journey link from its id.
pub type LinkMaker = Arc<dyn Fn(&str) -> JourneyLink + Send + Sync>;

/// A session's journey link, and the hash of its token that finds the session.
pub struct JourneyLink {
    pub url: String,
    pub token_hash: Vec<u8>,
}

/// Timers fired per `fire_due` call at most.
const FIRE_BATCH: usize = 10_000;
/// Timers fired per transaction at most.
const FIRE_COMMIT: usize = 1_000;
/// Stops in one `advance` at most.
const MAX_ROUNDS: usize = 1_000_000;

fn fail<T>(message: impl Into<String>) -> Result<T> {
    Err(StoreError::new(message))
}

impl std::ops::Deref for Engine {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl Engine {
    /// `open`, for tests and tools whose store is known to work: a store that fails
    /// here is a bug in the caller, so it panics.
    pub fn new(journeys: Vec<ir::Journey>, store: Box<dyn Store>, clock: Arc<dyn Clock>) -> Engine {
        Engine::open(journeys, store, clock).expect("the store keeps the journeys' versions")
    }

    /// An engine for `journeys` on `store`. Each journey is deployed: kept as a version
    /// once per fingerprint, the one new sessions start on. Sessions keep running the
    /// version they started on, read from the store; those of a journey that says
    /// `on new version upgrade` move to its newest version where they fit by name.
    pub fn open(
        journeys: Vec<ir::Journey>,
        store: Box<dyn Store>,
        clock: Arc<dyn Clock>,
    ) -> Result<Engine> {
        let now = clock.now();
        let mut deployed = Vec::with_capacity(journeys.len());
        let mut newest = HashMap::new();
        for j in &journeys {
            let ir = serde_json::to_string(j).expect("the IR serializes");
            let fingerprint = j.fingerprint();
            let (version, new) = store.deploy(&j.name, &fingerprint, ir::FORMAT, &ir, now)?;
            // Sessions from before versions were kept ran the file as it was: the best
            // guess of it is this one.
            store.adopt_unversioned(&j.name, version)?;
            newest.insert(j.name.clone(), version);
            deployed.push(Deployed {
                journey: j.name.clone(),
                version,
                fingerprint,
                new,
                ..Deployed::default()
            });
        }
        let mut versions: HashMap<String, BTreeMap<u32, Arc<ir::Journey>>> = HashMap::new();
        for v in store.journey_versions()? {
            // A version stored in another IR format cannot be read: its sessions fail
            // when they next run, saying so.
            if v.format != ir::FORMAT {
                continue;
            }
            if let Ok(j) = serde_json::from_str::<ir::Journey>(&v.ir) {
                versions
                    .entry(v.journey)
                    .or_default()
                    .insert(v.version, Arc::new(j));
            }
        }
        for (j, d) in journeys.iter().zip(&mut deployed) {
            if j.on_new_version == ir::OnNewVersion::Upgrade {
                upgrade_live_sessions(&*store, &versions, d, now)?;
            }
        }
        for (journey, version, n) in store.live_sessions_by_version()? {
            if let Some(d) = deployed.iter_mut().find(|d| d.journey == journey) {
                if version != d.version {
                    d.older_live += n;
                }
            }
        }
        let wakeup: Arc<super::wakeup::Wakeup> = Arc::default();
        store.watch(wakeup.clone());
        Ok(Engine(Arc::new(Inner {
            journeys,
            versions,
            newest,
            deployed,
            store,
            clock,
            wakeup,
            listener: std::sync::OnceLock::new(),
            busy: Lanes::default(),
            probe: std::sync::OnceLock::new(),
            detailed_log: std::sync::atomic::AtomicBool::new(false),
            links: std::sync::OnceLock::new(),
        })))
    }

    /// Sets who hears what runs (`journeyc test`); later calls change nothing.
    pub fn set_probe(&self, probe: Probe) {
        let _ = self.probe.set(probe);
    }

    /// Makes the event log say what every change did: texts queued, timers started and
    /// stopped, words said, buttons pressed with what was typed, pages shown, and where
    /// the session moved. The preview and `journeyc test` show it; a server does not
    /// pay for the extra rows.
    pub fn set_detailed_log(&self, on: bool) {
        self.detailed_log
            .store(on, std::sync::atomic::Ordering::Relaxed);
    }

    fn detailing(&self) -> bool {
        self.detailed_log.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// `effects`, and with a detailed log the lines that say what they do and where
    /// the session moved (from `before`, or from nowhere for a new session).
    fn detailed(
        &self,
        j: &ir::Journey,
        before: Option<&SessionState>,
        after: &SessionState,
        mut effects: Vec<Effect>,
    ) -> Vec<Effect> {
        if !self.detailing() {
            return effects;
        }
        // Each line goes just before its effect, so that what the store logs for it
        // (a text suppressed, and why) follows.
        let mut out = Vec::with_capacity(effects.len() * 2);
        for e in effects.drain(..) {
            let line = match &e {
                // The store keeps no live journey link, in the log either.
                Effect::Sms { to, body, .. } => {
                    Some(format!("SMS to {to}: {}", super::links::redact(body)))
                }
                Effect::StartTimer { key, due, .. } => {
                    Some(format!("timer `{key}` started, due {}", due.to_rfc3339()))
                }
                Effect::StopTimer { key } => Some(format!("timer `{key}` stopped")),
                Effect::Say(text) => Some(format!("said: {}", super::links::redact(text))),
                _ => None,
            };
            out.extend(line.map(Effect::Log));
            out.push(e);
        }
        let moved = before.is_none_or(|b| (b.step, b.page) != (after.step, after.page));
        if moved && after.status == Status::Active {
            let step = j.steps.get(after.step);
            let page = after
                .page
                .and_then(|p| step?.pages.get(p))
                .map(|p| format!(", page {}", p.name));
            out.push(Effect::Log(format!(
                "now at step {}{}",
                step.map_or("?", |s| s.name.as_str()),
                page.unwrap_or_default()
            )));
        }
        out
    }

    /// Adds `lines` to a session's event log, as a change of nothing else: for what
    /// touches no session (an opt-out, a HELP answer) but belongs in its story. A
    /// session that changed meanwhile misses them.
    fn note(&self, mut state: SessionState, lines: &[String]) {
        let effects: Vec<Effect> = lines.iter().cloned().map(Effect::Log).collect();
        let _ = self.store.apply(&mut state, &effects, self.now());
    }

    /// With a detailed log, records that the person was shown page `at` of the session.
    /// A session that changed meanwhile misses the line; nothing else is written.
    pub fn note_shown(&self, state: &SessionState, at: (usize, usize)) -> Result<()> {
        if !self.detailing() {
            return Ok(());
        }
        let j = self.journey_of(state)?;
        let Some(page) = j.steps.get(at.0).and_then(|s| s.pages.get(at.1)) else {
            return Ok(());
        };
        let text = format!("page {} shown", page.name);
        // A reload shows the same page again: one line is enough.
        if self
            .store
            .events(&state.id)?
            .last()
            .is_some_and(|(_, last)| *last == text)
        {
            return Ok(());
        }
        let mut copy = state.clone();
        let line = Effect::Log(text);
        match self.store.apply(&mut copy, &[line], self.now()) {
            Err(e) if e.is_conflict() => Ok(()),
            other => other,
        }
    }

    /// Tells the probe, if there is one.
    fn heard(&self, journey: &str, session: &str, heard: Heard) {
        if let Some(p) = self.probe.get() {
            p(journey, session, heard);
        }
    }

    /// Runs actions with the interpreter, telling the probe what they reached.
    fn act(
        &self,
        j: &ir::Journey,
        state: &mut SessionState,
        actions: &[ir::Action],
        now: DateTime<Utc>,
    ) -> Vec<Effect> {
        self.act_tracked(j, state, actions, now).0
    }

    /// `act`, and whether a `go to` ran (`interp::run_tracked`).
    fn act_tracked(
        &self,
        j: &ir::Journey,
        state: &mut SessionState,
        actions: &[ir::Action],
        now: DateTime<Utc>,
    ) -> (Vec<Effect>, bool) {
        match self.probe.get() {
            Some(p) => interp::run_probed(j, state, actions, now, &**p),
            None => interp::run_tracked(j, state, actions, now),
        }
    }

    /// Step 1's `on enter`, for a session that has just started and is still in step
    /// 1: it runs after `on session started` and the trigger's actions.
    fn enter_first_step(
        &self,
        j: &ir::Journey,
        state: &mut SessionState,
        now: DateTime<Utc>,
    ) -> Vec<Effect> {
        match j.steps.first() {
            Some(first) if state.step == 0 && state.status == Status::Active => {
                self.act(j, state, &first.on_enter, now)
            }
            _ => Vec::new(),
        }
    }

    /// Sets how journey links are made; later calls change nothing.
    pub fn set_links(&self, links: LinkMaker) {
        let _ = self.links.set(links);
    }

    /// `state` with its journey link, which the store does not keep.
    pub fn with_link(&self, mut state: SessionState) -> SessionState {
        if state.journey_link.is_none() {
            state.journey_link = state
                .stored_link
                .clone()
                .or_else(|| self.links.get().map(|make| make(&state.id).url));
        }
        state
    }

    /// A session as the store keeps it, with its journey link.
    pub fn session(&self, id: &str) -> Result<Option<SessionState>> {
        Ok(self.store.session(id)?.map(|s| self.with_link(s)))
    }

    /// What starting did with each journey: its version, and its sessions on older ones.
    pub fn deployed(&self) -> &[Deployed] {
        &self.deployed
    }

    /// The versions of `journey` this engine can run, oldest first.
    pub fn versions_of(&self, journey: &str) -> Vec<u32> {
        self.versions
            .get(journey)
            .map(|v| v.keys().copied().collect())
            .unwrap_or_default()
    }

    /// The version of its journey that `state` runs, if its state fits it; else the
    /// session is broken (see `fail_broken`).
    pub fn journey_of(&self, state: &SessionState) -> Result<&ir::Journey> {
        let broken = |problem: String| StoreError::Broken {
            session: state.id.clone(),
            problem,
        };
        let version = match state.version {
            0 => self.newest.get(&state.journey).copied().unwrap_or(0),
            v => v,
        };
        let Some(j) = self
            .versions
            .get(&state.journey)
            .and_then(|v| v.get(&version))
        else {
            return Err(broken(format!(
                "version {version} of journey `{}` is not in the store",
                state.journey
            )));
        };
        match versions::misfit(j, version, state) {
            Some(problem) => Err(broken(problem)),
            None => Ok(j),
        }
    }

    /// Stops a session that cannot run (`StoreError::Broken`): it is marked failed,
    /// with the problem in its event log, its timers are cancelled, and the listener
    /// counts it.
    pub fn fail_broken(&self, session: &str, problem: &str) -> Result<()> {
        self.store.fail_session(session, problem, self.now())?;
        if let Some(l) = self.listener.get() {
            l.session_failed();
        }
        Ok(())
    }

    /// Takes the turn of `listed`, a session found by a query. A turn taken at once
    /// keeps `listed` as read: a change made since then, in this process or another,
    /// fails the revision check, and the event runs again. A turn waited for reads the
    /// session again, since whoever had it most likely changed it; a conflict, to find
    /// it again, if it is no longer active by then.
    fn in_turn(&self, listed: SessionState, now: DateTime<Utc>) -> Result<(InLane, SessionState)> {
        if let Some(turn) = self.busy.try_enter(&listed.id) {
            return Ok((turn, self.with_link(listed)));
        }
        let turn = self.busy.enter_blocking(&listed.id);
        match self.session(&listed.id)? {
            Some(state) if state.is_active(now) => Ok((turn, state)),
            _ => Err(StoreError::Conflict { session: listed.id }),
        }
    }

    /// `attempt`, an event's, to run again after a conflict.
    fn redo<T>(&self, mut attempt: impl FnMut() -> Result<Pending<T>> + Send + 'static) -> Redo<T> {
        // A session that cannot run is failed where it is found, and not run again.
        let engine = self.clone();
        let attempt = move || match attempt() {
            Err(StoreError::Broken { session, problem }) => {
                let _ = engine.fail_broken(&session, &problem);
                Err(StoreError::Broken { session, problem })
            }
            other => other,
        };
        Redo {
            again: Box::new(attempt),
            tries: 1,
            listener: self.listener.get().cloned(),
        }
    }

    /// Runs `attempt`, an event, and again after each conflict (see `Pending`), up to
    /// `MAX_ATTEMPTS` times in all, whether the conflict comes at once or at commit.
    fn retrying<T>(
        &self,
        attempt: impl FnMut() -> Result<Pending<T>> + Send + 'static,
    ) -> Result<Pending<T>> {
        let mut redo = self.redo(attempt);
        let first = match (redo.again)() {
            Ok(pending) => pending,
            Err(e) => redo.next(e)?,
        };
        Ok(Pending {
            redo: Some(redo),
            ..first
        })
    }

    /// `first`, an event's first attempt, made elsewhere: run again as `retrying` runs
    /// its attempts, with `attempt` after a conflict.
    fn retrying_after<T>(
        &self,
        first: Pending<T>,
        attempt: impl FnMut() -> Result<Pending<T>> + Send + 'static,
    ) -> Pending<T> {
        Pending {
            redo: Some(self.redo(attempt)),
            ..first
        }
    }

    /// Sets the one listener; later calls change nothing.
    pub fn listen(&self, listener: Arc<dyn Listener>) {
        let _ = self.listener.set(listener);
    }

    pub fn journeys(&self) -> &[ir::Journey] {
        &self.journeys
    }

    /// `keep`, queued: `value` is what the caller gives back once it is durable.
    fn keep_queued<T>(
        &self,
        value: T,
        state: &SessionState,
        effects: &[Effect],
        now: DateTime<Utc>,
    ) -> Pending<T> {
        Pending {
            value,
            durable: self.store.apply_queued(state, effects, now),
            then: Some(self.then(state, effects, false)),
            redo: None,
            turn: None,
        }
    }

    /// What to do once a change is durable: tell the listener about new messages (and a
    /// new session), and wake the scheduler if a new timer, or the session's expiry,
    /// comes due before it would wake.
    fn then(&self, state: &SessionState, effects: &[Effect], started: bool) -> Then {
        let first_timer = effects
            .iter()
            .filter_map(|e| match e {
                Effect::StartTimer { due, .. } => Some(*due),
                _ => None,
            })
            .min();
        let expiry = (state.status == Status::Active).then_some(state.expires_at);
        Then {
            wakeup: self.wakeup.clone(),
            ring_for: first_timer.into_iter().chain(expiry).min(),
            listener: self.listener.get().cloned(),
            sms: effects.iter().any(|e| matches!(e, Effect::Sms { .. })),
            started,
        }
    }

    pub fn wakeup(&self) -> Arc<super::wakeup::Wakeup> {
        self.wakeup.clone()
    }

    pub fn store(&self) -> &dyn Store {
        &*self.store
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    pub fn journey(&self, name: &str) -> Option<&ir::Journey> {
        self.journeys.iter().find(|j| j.name == name)
    }

    /// Starts a session: the existing-session policy first (when the trigger knows a
    /// phone number), then the session-started event, then the trigger's own actions.
    /// `journey_link` is the session's full journey-link URL, which only the caller
    /// (the server) can form; `token_hash` finds the session from it later.
    pub fn start(
        &self,
        journey: &str,
        start: Start,
        session_id: String,
        token_hash: &[u8],
        journey_link: Option<String>,
    ) -> Result<Started> {
        self.start_queued(journey, start, session_id, token_hash, journey_link)?
            .wait()
    }

    /// `start`, returning once the new session is queued for commit.
    pub fn start_queued(
        &self,
        journey: &str,
        start: Start,
        session_id: String,
        token_hash: &[u8],
        journey_link: Option<String>,
    ) -> Result<Pending<Started>> {
        self.start_with(journey, start, session_id, token_hash, journey_link, None)
    }

    /// `start_queued`, keeping `delivery` (a webhook's provider id) in the same
    /// transaction, and run again after a conflict (replacing a session that changed).
    fn start_with(
        &self,
        journey: &str,
        start: Start,
        session_id: String,
        token_hash: &[u8],
        journey_link: Option<String>,
        delivery: Option<&str>,
    ) -> Result<Pending<Started>> {
        let engine = self.clone();
        let (journey, token_hash) = (journey.to_string(), token_hash.to_vec());
        let delivery = delivery.map(str::to_string);
        self.retrying(move || {
            engine.start_attempt(
                &journey,
                start.clone(),
                session_id.clone(),
                &token_hash,
                journey_link.clone(),
                delivery.as_deref(),
                Existing::Unknown,
            )
        })
    }

    /// One attempt at `start_with`.
    #[allow(clippy::too_many_arguments)]
    fn start_attempt(
        &self,
        journey: &str,
        start: Start,
        session_id: String,
        token_hash: &[u8],
        journey_link: Option<String>,
        delivery: Option<&str>,
        existing: Existing,
    ) -> Result<Pending<Started>> {
        let now = self.now();
        let Some(j) = self.journey(journey) else {
            return Err(StoreError::NotFound(format!("no journey `{journey}`")));
        };
        let (trigger, phone) = match &start {
            Start::Link => ("link", None),
            Start::Sms { from, .. } => ("sms", Some(from.clone())),
            Start::Call { from } => ("call", from.clone()),
            Start::Api { phone, .. } => ("api", Some(phone.clone())),
            Start::Schedule => ("schedule", None),
        };
        let look = matches!(existing, Existing::Unknown);
        if let Some(phone) = phone.as_ref().filter(|_| look) {
            if let Some(mut existing) = self.store.active_session_for_phone(journey, phone, now)? {
                match j.existing_session {
                    Policy::Keep => {
                        return Ok(Pending::ready(Started {
                            session: self.with_link(existing),
                            effects: vec![],
                            existing: true,
                        }))
                    }
                    Policy::Reject => {
                        return Err(StoreError::Rejected(format!(
                            "{phone} already has an active session of `{journey}`"
                        )))
                    }
                    Policy::Replace => {
                        existing.status = Status::Ended;
                        self.store.apply(
                            &mut existing,
                            &[Effect::Log(format!("replaced by session {session_id}"))],
                            now,
                        )?;
                    }
                }
            }
        }
        let mut state = SessionState::new(session_id, j, trigger, now);
        state.version = self.newest.get(journey).copied().unwrap_or(0);
        state.journey_link = journey_link;
        let mut state = self.with_link(state);
        if let Some(phone) = phone {
            state.actor.insert("phone".into(), Value::Phone(phone));
            state.actor_initialized = true;
        }
        if let Start::Sms { from, body } = &start {
            state.message = Some(body.clone());
            state.from = Some(from.clone());
        }
        if let Start::Call { from: Some(from) } = &start {
            state.from = Some(from.clone());
        }
        if let Start::Api { actor, vars, .. } = &start {
            for (field, value) in actor {
                if field != "phone" {
                    state.actor.insert(field.clone(), value.clone());
                }
            }
            for (name, value) in vars {
                match j.vars.iter().position(|v| &v.name == name) {
                    Some(i) => state.vars[i] = value.clone(),
                    None => return fail(format!("`{journey}` has no variable `{name}`")),
                }
            }
        }
        let mut effects: Vec<Effect> = delivery
            .map(|d| Effect::Delivery(d.to_string()))
            .into_iter()
            .collect();
        effects.push(Effect::Log(format!("session started by {trigger}")));
        if let (Start::Sms { from, body }, true) = (&start, self.detailing()) {
            effects.push(Effect::Log(format!("text from {from}: {body}")));
        }
        self.heard(&j.name, &state.id, Heard::Reached(Item::Step { step: 0 }));
        effects.extend(self.act(j, &mut state, &j.on_started, now));
        let trigger_actions = j.triggers.iter().find_map(|t| match (t, &start) {
            (ir::Trigger::Sms { actions, .. }, Start::Sms { .. })
            | (ir::Trigger::Call { actions, .. }, Start::Call { .. }) => Some(actions),
            (ir::Trigger::Api { actions }, Start::Api { .. }) => Some(actions),
            _ => None,
        });
        if let Some(actions) = trigger_actions {
            effects.extend(self.act(j, &mut state, actions, now));
        }
        // A schedule's actions run after its session starts (`run_schedules`), so its
        // step 1 is entered after them there.
        if !matches!(start, Start::Schedule) {
            effects.extend(self.enter_first_step(j, &mut state, now));
        }
        let effects = self.detailed(j, None, &state, effects);
        // One transaction: the new session and everything its first actions did.
        let durable = self
            .store
            .create_session_queued(&state, token_hash, &effects, now);
        let then = self.then(&state, &effects, true);
        state.revision = 1;
        Ok(Pending {
            value: Started {
                session: state,
                effects,
                existing: false,
            },
            durable,
            then: Some(then),
            redo: None,
            turn: None,
        })
    }

    /// Stores a page's inputs (variable index and value), then runs actions (a button,
    /// a reply handler) in a session, and keeps the result in one transaction.
    pub fn run(
        &self,
        session_id: &str,
        inputs: &[(usize, Value)],
        actions: &[ir::Action],
    ) -> Result<(SessionState, Vec<Effect>)> {
        self.run_queued(session_id, inputs, actions)?.wait()
    }

    /// `run`, returning once the change is queued for commit. The session gives what
    /// it is when it commits, as `run` gives it: another event may have changed it
    /// since `session_id` was read, and then these actions run again on that.
    pub fn run_queued(
        &self,
        session_id: &str,
        inputs: &[(usize, Value)],
        actions: &[ir::Action],
    ) -> Result<Pending<(SessionState, Vec<Effect>)>> {
        self.press_queued(session_id, None, inputs, actions)
    }

    /// `run_queued` for a page's button: `at` is the page (step and page index) the
    /// form came from. If, when the event runs, the session no longer shows that page
    /// (another event moved it on), nothing is kept and the error is
    /// `StoreError::Stale`: the press was for a page that is gone.
    pub fn press_queued(
        &self,
        session_id: &str,
        at: Option<(usize, usize)>,
        inputs: &[(usize, Value)],
        actions: &[ir::Action],
    ) -> Result<Pending<(SessionState, Vec<Effect>)>> {
        self.press_noted(session_id, at, inputs, actions, None)
    }

    /// `press_queued`, with a line for the event log first (what was pressed, with
    /// what), kept only when the log is detailed.
    pub(super) fn press_noted(
        &self,
        session_id: &str,
        at: Option<(usize, usize)>,
        inputs: &[(usize, Value)],
        actions: &[ir::Action],
        note: Option<String>,
    ) -> Result<Pending<(SessionState, Vec<Effect>)>> {
        let (inputs, actions) = (inputs.to_vec(), actions.to_vec());
        let note = note.filter(|_| self.detailing());
        let engine = self.clone();
        self.change(session_id, move |j, state, now| {
            if let Some(at) = at {
                let here = (state.step, state.page.unwrap_or(0));
                // A journey whose links open the first page takes that page's form too.
                let landing = j.link_lands_on == ir::LandsOn::FirstPage && at == (0, 0);
                if here != at && !landing {
                    return Err(StoreError::Stale {
                        session: state.id.clone(),
                    });
                }
            }
            for (index, value) in &inputs {
                if let Some(slot) = state.vars.get_mut(*index) {
                    *slot = value.clone();
                }
            }
            let (mut acted, moved) = engine.act_tracked(j, state, &actions, now);
            let mut effects: Vec<Effect> = note.clone().map(Effect::Log).into_iter().collect();
            effects.append(&mut acted);
            // Kept for the caller, who tells a move from a stay (`runtime::web`); the
            // store keeps nothing of it.
            if moved {
                effects.push(Effect::Moved);
            }
            // A button whose actions did not say where to go moves on to the next page
            // of its step; on the step's last page the person stays.
            if let Some((step, page)) = at {
                let pages = j.steps.get(step).map_or(0, |s| s.pages.len());
                if !moved
                    && state.status == Status::Active
                    && state.step == step
                    && page + 1 < pages
                {
                    state.page = Some(page + 1);
                }
            }
            Ok(effects)
        })
    }

    /// An event in an active session: `event` changes the session as read now and
    /// says what it did; run again on the session as it is after a conflict.
    fn change(
        &self,
        session_id: &str,
        event: impl Fn(&ir::Journey, &mut SessionState, DateTime<Utc>) -> Result<Vec<Effect>>
            + Send
            + 'static,
    ) -> Result<Pending<(SessionState, Vec<Effect>)>> {
        let (engine, id) = (self.clone(), session_id.to_string());
        self.retrying(move || {
            let turn = engine.busy.enter_blocking(&id);
            let now = engine.now();
            let Some(mut state) = engine.session(&id)? else {
                return Err(StoreError::NotFound(format!("no session `{id}`")));
            };
            if !state.is_active(now) {
                return Err(StoreError::Rejected(format!("session `{id}` has ended")));
            }
            let j = engine.journey_of(&state)?;
            let before = state.clone();
            let effects = event(j, &mut state, now)?;
            let effects = engine.detailed(j, Some(&before), &state, effects);
            let pending = engine.keep_queued((), &state, &effects, now);
            next_revision(&before, &mut state);
            Ok(pending.giving((state, effects)).in_turn(turn))
        })
    }

    /// Fires every timer due now, earliest first. `missed_before` marks timers that
    /// came due while the runtime was down (at start-up: the start-up time): those that
    /// say `skip if missed` are skipped; the others fire once, now. A timer whose
    /// session another event changed while it fired is fired again on the session as
    /// it is then, up to `MAX_ATTEMPTS` times; after that it stays due for the next
    /// call, and the listener hears of the failure.
    pub fn fire_due(&self, missed_before: Option<DateTime<Utc>>) -> Result<usize> {
        let now = self.now();
        // One batch per call: timers that these actions start for "now" fire on the
        // next call, so a timer that keeps restarting itself cannot hold the engine.
        let mut timers = self.store.due_timers(now, FIRE_BATCH)?;
        let mut fired = 0;
        for attempt in 1..=MAX_ATTEMPTS {
            if timers.is_empty() {
                break;
            }
            if attempt > 1 {
                if let Some(l) = self.listener.get() {
                    timers.iter().for_each(|_| l.retried());
                }
                std::thread::sleep(backoff(attempt));
            }
            timers = self.fire_attempt(timers, missed_before, now, &mut fired)?;
        }
        if let Some(l) = self.listener.get() {
            timers.iter().for_each(|_| l.conflict_failed());
        }
        Ok(fired)
    }

    /// Fires `timers` once each, adding how many fired to `fired`; returns those whose
    /// sessions changed under them, to fire again.
    fn fire_attempt(
        &self,
        timers: Vec<Timer>,
        missed_before: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
        fired: &mut usize,
    ) -> Result<Vec<Timer>> {
        // Sessions as the timers before left them: a later timer of the same session
        // sees what an earlier one did, and names the revision that one leads to.
        let mut sessions: HashMap<String, Option<SessionState>> = HashMap::new();
        let mut fires = Vec::new();
        let mut firing = Vec::new();
        let mut skips: Vec<(Timer, &str)> = Vec::new();
        // The turns of the sessions fired, held until the firings are durable; a
        // session busy with another event is fired in the next attempt.
        let mut turns: HashMap<String, Option<InLane>> = HashMap::new();
        // Sessions that cannot run: failed once this batch is done.
        let mut broken_rows: Vec<(String, String)> = Vec::new();
        let mut busy = Vec::new();
        for timer in timers {
            let turn = match turns.entry(timer.session_id.clone()) {
                Entry::Occupied(e) => e.into_mut(),
                Entry::Vacant(e) => e.insert(self.busy.try_enter(&timer.session_id)),
            };
            if turn.is_none() {
                busy.push(timer);
                continue;
            }
            let state = match sessions.entry(timer.session_id.clone()) {
                Entry::Occupied(e) => e.into_mut(),
                Entry::Vacant(e) => match self.session(&timer.session_id) {
                    Ok(s) => e.insert(s),
                    Err(StoreError::Broken { session, problem }) => {
                        broken_rows.push((session, problem));
                        e.insert(None)
                    }
                    Err(other) => return Err(other),
                },
            };
            let Some(state) = state.as_mut().filter(|s| s.is_active(now)) else {
                skips.push((timer, "the session is no longer active"));
                continue;
            };
            if timer.skip_if_missed && missed_before.is_some_and(|t| timer.due < t) {
                skips.push((timer, "missed while the runtime was down"));
                continue;
            }
            let j = match self.journey_of(state) {
                Ok(j) => j,
                Err(StoreError::Broken { session, problem }) => {
                    broken_rows.push((session, problem));
                    // Failing it cancels its timers; the others of it are skipped.
                    state.status = Status::Failed;
                    continue;
                }
                Err(other) => return Err(other),
            };
            // Timer actions see the session as it is now, not as it was when set.
            let before = state.clone();
            let mut effects = vec![Effect::Log(format!("timer `{}` fired", timer.key))];
            self.heard(
                &j.name,
                &state.id,
                Heard::Reached(Item::Timer {
                    key: timer.key.clone(),
                }),
            );
            effects.extend(self.act(j, state, &timer.actions, now));
            let effects = self.detailed(j, Some(&before), state, effects);
            fires.push((timer.id, state.clone(), effects));
            next_revision(&before, state);
            firing.push(timer);
        }
        // Sessions with a firing that did not happen: their later firings (and skips)
        // were based on it, so they are tried again on what the session is.
        let mut broken: HashSet<String> = HashSet::new();
        let mut again = busy;
        // Many firings per transaction: one fsync for a thousand timers, not one each.
        while !fires.is_empty() {
            let rest = fires.split_off(fires.len().min(FIRE_COMMIT));
            let rest_timers = firing.split_off(fires.len());
            let (mut batch, mut batch_timers) = (Vec::new(), Vec::new());
            for (fire, timer) in std::mem::replace(&mut fires, rest)
                .into_iter()
                .zip(std::mem::replace(&mut firing, rest_timers))
            {
                if broken.contains(&timer.session_id) {
                    again.push(timer);
                } else {
                    batch.push(fire);
                    batch_timers.push(timer);
                }
            }
            let sms = batch
                .iter()
                .flat_map(|(_, _, e)| e)
                .any(|e| matches!(e, Effect::Sms { .. }));
            let done = self.store.fire_timers(batch, now)?;
            let at = self.now();
            for (outcome, timer) in done.into_iter().zip(batch_timers) {
                match outcome {
                    Ok(Some(_)) => {
                        *fired += 1;
                        if let Some(l) = self.listener.get() {
                            l.timer_fired(at - timer.due);
                        }
                    }
                    Ok(None) => {
                        broken.insert(timer.session_id);
                    }
                    Err(e) if e.is_conflict() => {
                        broken.insert(timer.session_id.clone());
                        again.push(timer);
                    }
                    Err(e) => return Err(e),
                }
            }
            if sms {
                if let Some(l) = self.listener.get() {
                    l.sms_queued();
                }
            }
        }
        for (timer, reason) in skips {
            if broken.contains(&timer.session_id) {
                again.push(timer);
            } else {
                self.store.skip_timer(timer.id, reason, now)?;
            }
        }
        for (session, problem) in broken_rows {
            self.fail_broken(&session, &problem)?;
        }
        drop(turns);
        again.sort_by_key(|t| (t.due, t.id));
        Ok(again)
    }

    /// Runs the schedule triggers that are due, once each, and records their next
    /// instants. After downtime a schedule runs once (not once per missed instant) and
    /// then continues from the next instant after now. A schedule seen for the first
    /// time starts from the first instant after now.
    pub fn run_schedules(&self) -> Result<usize> {
        let now = self.now();
        let mut ran = 0;
        for j in &self.journeys {
            for (index, trigger) in j.triggers.iter().enumerate() {
                let ir::Trigger::Schedule {
                    cron,
                    time_zone,
                    actions,
                } = trigger
                else {
                    continue;
                };
                let (Ok(schedule), Some(zone)) = (
                    cron::Schedule::from_str(cron),
                    crate::literals::parse_time_zone(time_zone),
                ) else {
                    continue;
                };
                let after_now = schedule
                    .after(&now.with_timezone(&zone))
                    .next()
                    .map(|t| t.with_timezone(&Utc));
                let Some(next) = after_now else { continue };
                let current = self.store.schedule_next(&j.name, index)?;
                match current {
                    None => {
                        self.store.claim_schedule(&j.name, index, None, next)?;
                    }
                    Some(due) if due <= now => {
                        if !self.store.claim_schedule(&j.name, index, Some(due), next)? {
                            continue;
                        }
                        let id = format!("{}-schedule-{index}-{}", j.name, due.timestamp());
                        // Its link is derived like any other, so it must find the session.
                        let (hash, link) = match self.links.get() {
                            Some(make) => {
                                let l = make(&id);
                                (l.token_hash, Some(l.url))
                            }
                            None => (id.as_bytes().to_vec(), None),
                        };
                        let started =
                            self.start(&j.name, Start::Schedule, id.clone(), &hash, link)?;
                        let (cron, actions) = (cron.clone(), actions.clone());
                        let engine = self.clone();
                        self.change(&started.session.id, move |j, state, now| {
                            let mut effects = vec![Effect::Log(format!(
                                "schedule `{cron}` ran for {}",
                                due.to_rfc3339()
                            ))];
                            effects.extend(engine.act(j, state, &actions, now));
                            effects.extend(engine.enter_first_step(j, state, now));
                            Ok(effects)
                        })?
                        .wait()?;
                        ran += 1;
                    }
                    Some(_) => {}
                }
            }
        }
        Ok(ran)
    }

    /// When the next schedule trigger is due, if any is known.
    pub fn next_schedule_due(&self) -> Result<Option<DateTime<Utc>>> {
        let mut next: Option<DateTime<Utc>> = None;
        for j in &self.journeys {
            for (index, trigger) in j.triggers.iter().enumerate() {
                if matches!(trigger, ir::Trigger::Schedule { .. }) {
                    if let Some(due) = self.store.schedule_next(&j.name, index)? {
                        next = Some(next.map_or(due, |n| n.min(due)));
                    }
                }
            }
        }
        Ok(next)
    }

    /// Marks every session whose expiry time has come as expired (cancelling its
    /// pending timers), a thousand per transaction. Returns how many.
    pub fn expire_due(&self) -> Result<usize> {
        let now = self.now();
        // A read first: most wake-ups have nothing to expire, and need no write.
        if self.store.next_expiry()?.is_none_or(|t| t > now) {
            return Ok(0);
        }
        let mut expired = 0;
        loop {
            let n = self.store.expire_sessions(now, FIRE_COMMIT)?;
            expired += n;
            if n < FIRE_COMMIT {
                return Ok(expired);
            }
        }
    }

    /// The next instant something is due: a timer, a schedule or a session's expiry.
    pub fn next_due(&self) -> Result<Option<DateTime<Utc>>> {
        Ok([
            self.store.next_timer_due()?,
            self.next_schedule_due()?,
            self.store.next_expiry()?,
        ]
        .into_iter()
        .flatten()
        .min())
    }

    /// With a manual clock: moves time forward by `by`, stopping at each timer's and
    /// schedule's due time on the way to fire it, so everything fires in due order at
    /// its own time. Returns how many timers fired and schedules ran.
    pub fn advance(&self, clock: &ManualClock, by: Duration) -> Result<usize> {
        let target = clock.now() + by;
        self.expire_due()?;
        // Timers fired plus schedule runs.
        let mut fired = self.run_schedules()?;
        let mut rounds = 0;
        while let Some(next) = self.next_due()?.filter(|t| *t <= target) {
            rounds += 1;
            if rounds > MAX_ROUNDS {
                return fail(format!(
                    "more than {MAX_ROUNDS} stops for timers and schedules in one advance: a timer that restarts itself at once, or a schedule that runs very often over a long time"
                ));
            }
            if next > clock.now() {
                clock.advance(next - clock.now());
            }
            self.expire_due()?;
            fired += self.fire_due(None)?;
            fired += self.run_schedules()?;
        }
        clock.advance(target - clock.now());
        Ok(fired)
    }
}

/// What to answer an inbound text with, if anything.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    None,
    Text(String),
}

impl Engine {
    /// An inbound text to `to` from `from`. In order: STOP-family words opt the number
    /// out; a text from the initialised actor of an active session goes to that
    /// session's reply handlers (START-family words there opt back in first); HELP
    /// answers with the journey's help text; otherwise the journey whose SMS trigger
    /// has number `to` starts a session (ids from `new_id`). Anything else is logged by
    /// the caller and answered with nothing.
    pub fn inbound_sms(
        &self,
        to: &str,
        from: &str,
        body: &str,
        new_id: impl Fn() -> (String, Vec<u8>, Option<String>) + Send + 'static,
    ) -> Result<Reply> {
        // Without a provider id nothing is a repeat.
        Ok(self
            .inbound_sms_once(None, to, from, body, new_id)?
            .wait()?
            .unwrap_or(Reply::None))
    }

    /// `inbound_sms` for the webhook with provider id `delivery`, returning once what
    /// the text did is queued for commit; `None`, changing nothing, when that id was
    /// kept before. The id is kept in the transaction that keeps what the text did, so
    /// a second delivery of the same webhook fails as a whole and changes nothing
    /// (`Store::delivery_seen` tells). A text whose session another event changed
    /// meanwhile is handled again from the start (`new_id` may be called again).
    pub fn inbound_sms_once(
        &self,
        delivery: Option<&str>,
        to: &str,
        from: &str,
        body: &str,
        new_id: impl Fn() -> (String, Vec<u8>, Option<String>) + Send + 'static,
    ) -> Result<Pending<Option<Reply>>> {
        let engine = self.clone();
        let (delivery, to, from, body) = (
            delivery.map(str::to_string),
            to.to_string(),
            from.to_string(),
            body.to_string(),
        );
        self.retrying(move || {
            engine.inbound_sms_threaded(delivery.as_deref(), &to, &from, &body, &new_id)
        })
    }

    /// `inbound_sms_once` for an async caller, whose task must not wait for the store.
    /// The first attempt's read is awaited (`Store::inbound_async`). When the text needs
    /// nothing more from the store on the way (a repeat, a text to a session no other
    /// event of this process has, a text that starts a session), the attempt runs
    /// here and only queues its change. `None` when it needs more (STOP, START after an
    /// opt-out, HELP, a number nobody answers, a busy session, a failure): then call
    /// `inbound_sms_once` on a thread that may wait. After a conflict, the text is
    /// handled again on tokio's blocking pool.
    pub async fn inbound_sms_async(
        &self,
        delivery: String,
        to: String,
        from: String,
        body: String,
        new_id: impl Fn() -> (String, Vec<u8>, Option<String>) + Send + 'static,
    ) -> Result<Option<Pending<Option<Reply>>>> {
        let now = self.now();
        let inbound = self
            .store
            .inbound_async(Some(&delivery), &from, now)
            .await?;
        let given = Some((inbound, now));
        let first = self.inbound_sms_attempt(given, Some(&delivery), &to, &from, &body, &new_id);
        // The attempt here made no change: whatever it could not do, a thread does.
        let Ok(Some(first)) = first else {
            return Ok(None);
        };
        let engine = self.clone();
        Ok(Some(self.retrying_after(first, move || {
            engine.inbound_sms_threaded(Some(&delivery), &to, &from, &body, &new_id)
        })))
    }

    /// An attempt at `inbound_sms_once` on a thread that may wait for the store.
    fn inbound_sms_threaded(
        &self,
        delivery: Option<&str>,
        to: &str,
        from: &str,
        body: &str,
        new_id: &dyn Fn() -> (String, Vec<u8>, Option<String>),
    ) -> Result<Pending<Option<Reply>>> {
        self.inbound_sms_attempt(None, delivery, to, from, body, new_id)?
            .ok_or_else(|| StoreError::new("an attempt on a thread was refused a wait"))
    }

    /// One attempt at an inbound text. With `given`, the number's read and its time,
    /// it runs without waiting for the store: `None` where it would have to.
    fn inbound_sms_attempt(
        &self,
        given: Option<(Inbound, DateTime<Utc>)>,
        delivery: Option<&str>,
        to: &str,
        from: &str,
        body: &str,
        new_id: &dyn Fn() -> (String, Vec<u8>, Option<String>),
    ) -> Result<Option<Pending<Option<Reply>>>> {
        let may_wait = given.is_none();
        // One read: whether this is a repeat, the opt-out, the number's sessions.
        let (inbound, now) = match given {
            Some(given) => given,
            None => {
                let now = self.now();
                (self.store.inbound(delivery, from, now)?, now)
            }
        };
        if inbound.seen {
            return Ok(Some(Pending::ready(None)));
        }
        let word = body.trim().to_uppercase();
        let word = word.as_str();
        if !may_wait && !self.answers_without_store(&inbound, to, word) {
            return Ok(None);
        }
        // Texts that change no session record their delivery on their own; false when
        // another copy of the webhook recorded it first, which then answers alone.
        let note_delivery = || match delivery {
            Some(d) => self.store.first_delivery(d, now),
            None => Ok(true),
        };
        if STOP_WORDS.contains(&word) {
            self.store.opt_out(from, now)?;
            if !note_delivery()? {
                return Ok(Some(Pending::ready(None)));
            }
            if self.detailing() {
                for s in inbound.active {
                    self.note(
                        s,
                        &[
                            format!("text from {from}: {body}"),
                            format!("{from} opted out"),
                        ],
                    );
                }
            }
            return Ok(Some(Pending::ready(Some(Reply::None))));
        }
        let opted_out = inbound.opted_out;
        if START_WORDS.contains(&word) && opted_out {
            self.store.opt_in(from)?;
        }
        // One read for every journey's active session of this number; the first journey
        // (in file order) that has one gets the text.
        let mut active = inbound.active;
        for j in &self.journeys {
            let Some(found) = active.iter().position(|s| s.journey == j.name) else {
                continue;
            };
            let listed = active.swap_remove(found);
            if HELP_WORDS.contains(&word) {
                if !note_delivery()? {
                    return Ok(Some(Pending::ready(None)));
                }
                if self.detailing() {
                    let answer = j
                        .help_text
                        .as_deref()
                        .unwrap_or("nothing: the journey has no `help`");
                    self.note(
                        listed,
                        &[
                            format!("text from {from}: {body}"),
                            format!("answered: {answer}"),
                        ],
                    );
                }
                return Ok(Some(Pending::ready(Some(
                    j.help_text.clone().map_or(Reply::None, Reply::Text),
                ))));
            }
            let (turn, mut state) = if may_wait {
                self.in_turn(listed, now)?
            } else {
                match self.busy.try_enter(&listed.id) {
                    Some(turn) => (turn, self.with_link(listed)),
                    None => return Ok(None),
                }
            };
            let before = state.clone();
            // The session's own version answers it.
            let j = self.journey_of(&state)?;
            state.message = Some(body.to_string());
            state.from = Some(from.to_string());
            let handler = j
                .reply_handlers
                .iter()
                .position(|h| h.keywords.iter().any(|k| k == word))
                .or_else(|| j.reply_handlers.iter().position(|h| h.keywords.is_empty()));
            let mut effects: Vec<Effect> = delivery
                .map(|d| Effect::Delivery(d.to_string()))
                .into_iter()
                .collect();
            effects.push(Effect::Log(format!("text from {from}: {body}")));
            if let Some(index) = handler {
                self.heard(
                    &j.name,
                    &state.id,
                    Heard::Reached(Item::Reply { handler: index }),
                );
                let actions = &j.reply_handlers[index].actions;
                effects.extend(self.act(j, &mut state, actions, now));
            }
            let effects = self.detailed(j, Some(&before), &state, effects);
            return Ok(Some(
                self.keep_queued(Some(Reply::None), &state, &effects, now)
                    .in_turn(turn),
            ));
        }
        let by_number = self.journeys.iter().find(|j| {
            j.triggers
                .iter()
                .any(|t| matches!(t, ir::Trigger::Sms { to: number, .. } if number == to))
        });
        match by_number {
            Some(j) if HELP_WORDS.contains(&word) => {
                if !note_delivery()? {
                    return Ok(Some(Pending::ready(None)));
                }
                Ok(Some(Pending::ready(Some(
                    j.help_text.clone().map_or(Reply::None, Reply::Text),
                ))))
            }
            Some(j) => {
                let (id, token_hash, link) = new_id();
                let started = self.start_attempt(
                    &j.name,
                    Start::Sms {
                        from: from.to_string(),
                        body: body.to_string(),
                    },
                    id,
                    &token_hash,
                    link,
                    delivery,
                    // The loop above read the number's active sessions: none is its.
                    Existing::NoneActive,
                )?;
                Ok(Some(started.map(|_| Some(Reply::None))))
            }
            None => {
                if !note_delivery()? {
                    return Ok(Some(Pending::ready(None)));
                }
                Ok(Some(Pending::ready(Some(Reply::None))))
            }
        }
    }

    /// Whether an inbound text's attempt, given the number's read, needs nothing more
    /// from the store: it goes to an active session (not HELP), or it starts one.
    /// STOP and START change the opt-out; HELP and a number nobody answers keep the
    /// webhook's id on their own.
    fn answers_without_store(&self, inbound: &Inbound, to: &str, word: &str) -> bool {
        if STOP_WORDS.contains(&word)
            || HELP_WORDS.contains(&word)
            || (START_WORDS.contains(&word) && inbound.opted_out)
        {
            return false;
        }
        self.journeys
            .iter()
            .any(|j| inbound.active.iter().any(|s| s.journey == j.name))
            || self.journeys.iter().any(|j| {
                j.triggers
                    .iter()
                    .any(|t| matches!(t, ir::Trigger::Sms { to: number, .. } if number == to))
            })
    }
}

impl Engine {
    /// An inbound call to `to`: the journey whose call trigger has that number runs its
    /// call actions, in the caller's active session if there is one (the call joins
    /// it), else in a new session. Returns what to say, in order. A withheld number
    /// starts a session without an actor, so its texts fail and are logged.
    pub fn inbound_call(
        &self,
        to: &str,
        from: Option<&str>,
        new_id: impl Fn() -> (String, Vec<u8>, Option<String>) + Send + 'static,
    ) -> Result<Vec<String>> {
        self.inbound_call_once(None, to, from, new_id)?.wait()
    }

    /// `inbound_call` for the webhook with provider id `delivery`, kept in the same
    /// transaction, returning once that is queued for commit (see `inbound_sms_once`).
    pub fn inbound_call_once(
        &self,
        delivery: Option<&str>,
        to: &str,
        from: Option<&str>,
        new_id: impl Fn() -> (String, Vec<u8>, Option<String>) + Send + 'static,
    ) -> Result<Pending<Vec<String>>> {
        let engine = self.clone();
        let (delivery, to, from) = (
            delivery.map(str::to_string),
            to.to_string(),
            from.map(str::to_string),
        );
        self.retrying(move || {
            engine.inbound_call_attempt(delivery.as_deref(), &to, from.as_deref(), &new_id)
        })
    }

    /// One attempt at `inbound_call_once`.
    fn inbound_call_attempt(
        &self,
        delivery: Option<&str>,
        to: &str,
        from: Option<&str>,
        new_id: &dyn Fn() -> (String, Vec<u8>, Option<String>),
    ) -> Result<Pending<Vec<String>>> {
        let now = self.now();
        let Some(j) = self.journeys.iter().find(|j| {
            j.triggers
                .iter()
                .any(|t| matches!(t, ir::Trigger::Call { to: number, .. } if number == to))
        }) else {
            return Err(StoreError::NotFound(format!(
                "no journey answers calls to {to}"
            )));
        };
        let existing = match from {
            Some(phone) => self.store.active_session_for_phone(&j.name, phone, now)?,
            None => None,
        };
        let pending = match existing {
            Some(listed) => {
                let (turn, mut state) = self.in_turn(listed, now)?;
                let before = state.clone();
                let j = self.journey_of(&state)?;
                // `session.from` is the number that called, as for a text.
                state.from = from.map(str::to_string);
                let actions = j.triggers.iter().find_map(|t| match t {
                    ir::Trigger::Call {
                        to: number,
                        actions,
                    } if number == to => Some(actions.clone()),
                    _ => None,
                });
                let mut effects: Vec<Effect> = delivery
                    .map(|d| Effect::Delivery(d.to_string()))
                    .into_iter()
                    .collect();
                effects.push(Effect::Log(format!(
                    "call from {}",
                    from.unwrap_or("a withheld number")
                )));
                effects.extend(self.act(j, &mut state, &actions.unwrap_or_default(), now));
                let effects = self.detailed(j, Some(&before), &state, effects);
                let pending = self.keep_queued((), &state, &effects, now);
                pending.giving(effects).in_turn(turn)
            }
            None => {
                let (id, token_hash, link) = new_id();
                self.start_attempt(
                    &j.name,
                    Start::Call {
                        from: from.map(str::to_string),
                    },
                    id,
                    &token_hash,
                    link,
                    delivery,
                    // Read above: the caller has no active session of the journey.
                    Existing::NoneActive,
                )?
                .map(|started| started.effects)
            }
        };
        Ok(pending.map(|effects| {
            effects
                .into_iter()
                .filter_map(|e| {
                    if let Effect::Say(text) = e {
                        Some(text)
                    } else {
                        None
                    }
                })
                .collect()
        }))
    }
}

/// The revision `after` is at once its change is kept, as the store moves it: the next
/// one when the session's state changed, the same when only effects were added.
fn next_revision(before: &SessionState, after: &mut SessionState) {
    if after != before {
        after.revision = before.revision + 1;
    }
}

/// Moves the live sessions of `d`'s journey on older versions to its newest, where they
/// fit by name (`versions::upgrade`), and counts in `d` how many moved and why the others
/// stayed.
fn upgrade_live_sessions(
    store: &dyn Store,
    versions: &HashMap<String, BTreeMap<u32, Arc<ir::Journey>>>,
    d: &mut Deployed,
    now: DateTime<Utc>,
) -> Result<()> {
    let Some(all) = versions.get(&d.journey) else {
        return Ok(());
    };
    let Some(new) = all.get(&d.version) else {
        return Ok(());
    };
    let mut stay = |reason: String| *d.left.entry(reason).or_default() += 1;
    for (journey, version, _) in store.live_sessions_by_version()? {
        if journey != d.journey || version == d.version {
            continue;
        }
        let old = all.get(&version);
        for id in store.live_session_ids(&journey, version)? {
            let Some(old) = old else {
                stay(format!("version {version} is not readable"));
                continue;
            };
            let state = match store.session(&id) {
                Ok(Some(s)) => s,
                Ok(None) => continue,
                Err(StoreError::Broken { problem, .. }) => {
                    stay(problem);
                    continue;
                }
                Err(e) => return Err(e),
            };
            // A timer row that does not read keeps the session where it is.
            let timers = match store.session_timers(&id) {
                Ok(t) => t,
                Err(e) => {
                    stay(format!("its timers do not read ({e})"));
                    continue;
                }
            };
            match versions::upgrade(old, new, &state, &timers, d.version, now) {
                Ok((mut moved, effects)) => match store.apply(&mut moved, &effects, now) {
                    Ok(()) => d.upgraded += 1,
                    Err(e) if e.is_conflict() => stay("it changed while it was moved".into()),
                    Err(e) => return Err(e),
                },
                Err(reason) => stay(reason),
            }
        }
    }
    Ok(())
}
