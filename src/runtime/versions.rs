//! Journey versions: what a deployment found, whether a session's state fits the
//! version it runs, and moving a session to a new version by name
//! (`on new version upgrade`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::interp::Effect;
use super::session::SessionState;
use super::store::Timer;
use crate::ir::{self, Action};

/// What `journeyc run` did with one journey when it started.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Deployed {
    pub journey: String,
    /// The version new sessions start on.
    pub version: u32,
    pub fingerprint: String,
    /// True when this fingerprint was not deployed before.
    pub new: bool,
    /// Live sessions on older versions, after any upgrade.
    pub older_live: u64,
    /// Sessions moved to `version` by `on new version upgrade`.
    pub upgraded: usize,
    /// Sessions that stayed on their version although the journey upgrades, by reason.
    pub left: BTreeMap<String, usize>,
}

/// Why a session's state does not fit `journey` (version `version`), if it does not:
/// every index it holds must point into that version's IR.
pub fn misfit(journey: &ir::Journey, version: u32, state: &SessionState) -> Option<String> {
    if state.vars.len() != journey.vars.len() {
        return Some(format!(
            "it has {} variables where version {version} of `{}` has {}",
            state.vars.len(),
            journey.name,
            journey.vars.len()
        ));
    }
    let Some(step) = journey.steps.get(state.step) else {
        // A journey without steps has its sessions at step 0, on no page.
        if journey.steps.is_empty() && state.step == 0 && state.page.is_none() {
            return None;
        }
        return Some(format!(
            "its step {} is not in version {version} of `{}`",
            state.step + 1,
            journey.name
        ));
    };
    match state.page {
        Some(p) if p >= step.pages.len() => Some(format!(
            "its page {} is not in step `{}` of version {version}",
            p + 1,
            step.name
        )),
        _ => None,
    }
}

/// `state`, of `old`, moved to `new` (version `version`) by name: its step and page,
/// the variables whose name and type are the same (the others start at their
/// defaults), and each pending timer, which takes `new`'s actions for its key. The
/// reason it cannot move, if a name it needs is gone.
pub fn upgrade(
    old: &ir::Journey,
    new: &ir::Journey,
    state: &SessionState,
    timers: &[Timer],
    version: u32,
    now: DateTime<Utc>,
) -> Result<(SessionState, Vec<Effect>), String> {
    let step_of = |index: usize| -> Result<usize, String> {
        let name = &old
            .steps
            .get(index)
            .ok_or_else(|| format!("its step {} does not exist", index + 1))?
            .name;
        new.steps
            .iter()
            .position(|s| &s.name == name)
            .ok_or_else(|| format!("its step `{name}` is gone"))
    };
    let mut moved = SessionState::new(state.id.clone(), new, &state.trigger, now);
    if !old.steps.is_empty() || !new.steps.is_empty() {
        moved.step = step_of(state.step)?;
    }
    moved.page = match state.page {
        None => None,
        Some(p) => {
            let name = &old
                .steps
                .get(state.step)
                .and_then(|s| s.pages.get(p))
                .ok_or_else(|| format!("its page {} does not exist", p + 1))?
                .name;
            let page = new.steps[moved.step]
                .pages
                .iter()
                .position(|q| &q.name == name)
                .ok_or_else(|| format!("its page `{name}` is gone"))?;
            Some(page)
        }
    };
    for (i, var) in new.vars.iter().enumerate() {
        let same = old
            .vars
            .iter()
            .position(|v| v.name == var.name && v.ty == var.ty);
        if let Some(value) = same.and_then(|o| state.vars.get(o)) {
            moved.vars[i] = value.clone();
        }
    }
    let mut effects = Vec::new();
    for t in timers {
        let actions =
            timer_actions(new, &t.key).ok_or_else(|| format!("its timer `{}` is gone", t.key))?;
        effects.push(Effect::RewriteTimer {
            key: t.key.clone(),
            step: step_of(t.step)?,
            actions,
        });
    }
    effects.push(Effect::Log(format!(
        "moved from version {} to version {version}",
        state.version
    )));
    // What is not the journey's own stays as it was.
    moved.status = state.status;
    moved.started_at = state.started_at;
    moved.expires_at = state.expires_at;
    moved.actor = state.actor.clone();
    moved.actor_initialized = state.actor_initialized;
    moved.message = state.message.clone();
    moved.from = state.from.clone();
    moved.journey_link = state.journey_link.clone();
    moved.stored_link = state.stored_link.clone();
    moved.revision = state.revision;
    moved.version = version;
    Ok((moved, effects))
}

/// The actions of the first `start timer KEY` anywhere in `journey`.
pub fn timer_actions(journey: &ir::Journey, key: &str) -> Option<Vec<Action>> {
    let mut chains: Vec<&[Action]> = vec![&journey.on_started];
    chains.extend(journey.reply_handlers.iter().map(|h| h.actions.as_slice()));
    chains.extend(journey.triggers.iter().filter_map(|t| match t {
        ir::Trigger::Sms { actions, .. }
        | ir::Trigger::Call { actions, .. }
        | ir::Trigger::Api { actions }
        | ir::Trigger::Schedule { actions, .. } => Some(actions.as_slice()),
        ir::Trigger::Link { .. } => None,
    }));
    for step in &journey.steps {
        chains.push(&step.on_enter);
        for page in &step.pages {
            chains.extend(page.controls.iter().filter_map(|c| match c {
                ir::Control::Button { actions, .. } => Some(actions.as_slice()),
                _ => None,
            }));
        }
    }
    chains.into_iter().find_map(|chain| find_timer(chain, key))
}

fn find_timer(actions: &[Action], key: &str) -> Option<Vec<Action>> {
    actions.iter().find_map(|a| match a {
        Action::StartTimer {
            key: k, actions, ..
        } if k == key => Some(actions.clone()),
        Action::StartTimer { actions, .. } => find_timer(actions, key),
        Action::If {
            branches,
            otherwise,
        } => branches
            .iter()
            .find_map(|(_, b)| find_timer(b, key))
            .or_else(|| find_timer(otherwise, key)),
        _ => None,
    })
}
