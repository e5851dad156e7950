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
        let step = step_of(t.step)?;
        let actions = timer_actions(new, &t.key, step)?;
        effects.push(Effect::RewriteTimer {
            key: t.key.clone(),
            step,
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

/// The actions `new` runs for timer `key`, started in step `step` (of `new`): those of
/// its one `start timer KEY`, or of the one in that step when the journey starts the
/// key in several places with different actions; the reason, when there is none, or
/// no single one.
pub fn timer_actions(new: &ir::Journey, key: &str, step: usize) -> Result<Vec<Action>, String> {
    // Every `start timer KEY`, with the step its chain belongs to (`None`: the
    // journey's own handlers and triggers).
    let mut found: Vec<(Option<usize>, &[Action])> = Vec::new();
    let mut chains: Vec<(Option<usize>, &[Action])> = vec![(None, &new.on_started)];
    chains.extend(
        new.reply_handlers
            .iter()
            .map(|h| (None, h.actions.as_slice())),
    );
    chains.extend(new.triggers.iter().filter_map(|t| match t {
        ir::Trigger::Sms { actions, .. }
        | ir::Trigger::Call { actions, .. }
        | ir::Trigger::Api { actions }
        | ir::Trigger::Schedule { actions, .. } => Some((None, actions.as_slice())),
        ir::Trigger::Link { .. } => None,
    }));
    for (i, s) in new.steps.iter().enumerate() {
        chains.push((Some(i), &s.on_enter));
        for page in &s.pages {
            chains.extend(page.controls.iter().filter_map(|c| match c {
                ir::Control::Button { actions, .. } => Some((Some(i), actions.as_slice())),
                _ => None,
            }));
        }
    }
    for (scope, chain) in chains {
        find_timers(chain, key, scope, &mut found);
    }
    fn distinct<'a>(of: impl Iterator<Item = &'a [Action]>) -> Vec<&'a [Action]> {
        let mut all: Vec<&[Action]> = Vec::new();
        for a in of {
            if !all.contains(&a) {
                all.push(a);
            }
        }
        all
    }
    let everywhere = distinct(found.iter().map(|(_, a)| *a));
    match everywhere.as_slice() {
        [] => return Err(format!("its timer `{key}` is gone")),
        [one] => return Ok(one.to_vec()),
        _ => {}
    }
    let here = distinct(
        found
            .iter()
            .filter(|(s, _)| *s == Some(step))
            .map(|(_, a)| *a),
    );
    match here.as_slice() {
        [one] => Ok(one.to_vec()),
        _ => Err(format!(
            "its timer `{key}` is started with different actions in several places"
        )),
    }
}

fn find_timers<'a>(
    actions: &'a [Action],
    key: &str,
    scope: Option<usize>,
    found: &mut Vec<(Option<usize>, &'a [Action])>,
) {
    for a in actions {
        match a {
            Action::StartTimer {
                key: k, actions, ..
            } => {
                if k == key {
                    found.push((scope, actions));
                }
                find_timers(actions, key, scope, found);
            }
            Action::If {
                branches,
                otherwise,
            } => {
                for (_, b) in branches {
                    find_timers(b, key, scope, found);
                }
                find_timers(otherwise, key, scope, found);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn journey(source: &str) -> ir::Journey {
        let (_, modules, _) = crate::check_source("t.journey", source);
        modules
            .into_iter()
            .flat_map(|(_, m)| m.journeys)
            .next()
            .unwrap()
    }

    #[test]
    fn a_timer_key_started_in_several_places_takes_its_own_steps_actions() {
        let j = journey(
            r#"
journey Twice {
  sms from "+15005550006"
  trigger api
  on session started {
    start timer "once" after 1d {
      end session
    }
  }
  step A {
    on enter {
      start timer "k" after 1d {
        send sms One
      }
    }
    page P {
      heading "A"
      button "Next" {
        go to step B
      }
    }
  }
  step B {
    on enter {
      start timer "k" after 1d {
        send sms Two
      }
    }
    page Q {
      heading "B"
    }
  }
  notification One sms {
    text "one"
  }
  notification Two sms {
    text "two"
  }
}
"#,
        );
        let sends = |actions: Vec<Action>| match actions.as_slice() {
            [Action::SendSms { notification }] => *notification,
            other => panic!("{other:?}"),
        };
        assert_eq!(sends(timer_actions(&j, "k", 0).unwrap()), 0);
        assert_eq!(sends(timer_actions(&j, "k", 1).unwrap()), 1);
        assert!(timer_actions(&j, "once", 1).is_ok(), "one place: any step");
        assert_eq!(
            timer_actions(&j, "gone", 0).unwrap_err(),
            "its timer `gone` is gone"
        );
    }
}
