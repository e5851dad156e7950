//! Flow analysis over a journey's graph of steps, pages and action chains:
//! where the actor may not be initialised when an SMS is sent, which pages and steps
//! can never be reached, and which pages lead nowhere.
//!
//! The state is one fact, "the actor is surely initialised", met with AND where paths
//! join. It only ever goes from true to false, so the fixpoint comes in a few rounds.

use std::collections::{HashMap, HashSet};

use super::cx::Cx;
use crate::diagnostic::*;
use crate::syntax::ast;

enum Node {
    Step(usize),
    Page(usize, usize),
}

struct Flow<'j> {
    steps: Vec<&'j ast::Step>,
    step_map: &'j HashMap<String, usize>,
    page_map: &'j HashMap<String, (usize, usize)>,
    /// Per step: the state its `on enter` starts in (at the `go to step`, which runs
    /// it at once), and the state at the end of the chain that moved there.
    step_state: Vec<Option<(bool, bool)>>,
    page_state: Vec<Vec<Option<bool>>>,
    /// Whether a `go to` changed a state since `round` last looked.
    changed: bool,
    /// `send sms` actions reached while the actor may not be initialised.
    uninitialised_sends: Vec<Span>,
    seen: HashSet<Span>,
    report: bool,
}

fn meet(slot: &mut Option<bool>, value: bool) -> bool {
    match *slot {
        None => {
            *slot = Some(value);
            true
        }
        Some(true) if !value => {
            *slot = Some(false);
            true
        }
        _ => false,
    }
}

fn meet_both(slot: &mut Option<(bool, bool)>, (at, end): (bool, bool)) -> bool {
    let (mut a, mut b) = (slot.map(|s| s.0), slot.map(|s| s.1));
    let changed = meet(&mut a, at) | meet(&mut b, end);
    *slot = a.zip(b);
    changed
}

impl<'j> Flow<'j> {
    /// Runs an action chain from `init`; returns the state at its end, and whether
    /// the chain can end without navigating (`go to` or `end session`). The actions
    /// after a `go to` still run. A page it leads to is shown when the chain ends, so
    /// with the state at the end; a step's `on enter` runs at the `go to step` itself,
    /// so with the state there, and the step's first page with what either did.
    /// What a `go to` reaches is met at once, so that a run of pages each going to the
    /// next settles in one round rather than one round per page: the states only fall,
    /// so the order of meeting them changes only how soon they settle, not where.
    fn chain(&mut self, actions: &'j [ast::Action], init: bool) -> (bool, bool) {
        let mut targets = Vec::new();
        let (end, through) = self.walk(actions, init, &mut targets);
        for (node, at) in targets {
            self.changed |= match node {
                Node::Step(s) => meet_both(&mut self.step_state[s], (at.unwrap_or(end), end)),
                Node::Page(s, p) => meet(&mut self.page_state[s][p], end),
            };
        }
        (end, through)
    }

    fn walk(
        &mut self,
        actions: &'j [ast::Action],
        mut init: bool,
        targets: &mut Vec<(Node, Option<bool>)>,
    ) -> (bool, bool) {
        let mut through = true;
        for a in actions {
            match &a.kind {
                ast::ActionKind::InitializeActor => init = true,
                ast::ActionKind::SendSms(_) if !init && self.report && self.seen.insert(a.span) => {
                    self.uninitialised_sends.push(a.span);
                }
                ast::ActionKind::StartTimer(t) => {
                    // Timer actions run later, when the actor can only be more initialised.
                    self.chain(&t.actions.actions, init);
                }
                ast::ActionKind::GoToPage(id) => {
                    if let Some(&(s, p)) = self.page_map.get(&id.name) {
                        targets.push((Node::Page(s, p), None));
                    }
                    through = false;
                }
                ast::ActionKind::GoToStep(id) => {
                    if let Some(&s) = self.step_map.get(&id.name) {
                        targets.push((Node::Step(s), Some(init)));
                    }
                    through = false;
                }
                ast::ActionKind::EndSession => through = false,
                ast::ActionKind::If {
                    branches,
                    otherwise,
                } => {
                    let (mut out, mut any_through) = (true, false);
                    let blocks = branches
                        .iter()
                        .map(|(_, b)| Some(b))
                        .chain(std::iter::once(otherwise.as_ref()));
                    for block in blocks {
                        let (state, t) = match block {
                            Some(b) => self.walk(&b.actions, init, targets),
                            None => (init, true),
                        };
                        out &= state;
                        any_through |= t;
                    }
                    init = out;
                    through &= any_through;
                }
                _ => {}
            }
        }
        (init, through)
    }

    /// One pass over every reached node; true when some state changed since the last
    /// round.
    fn round(&mut self) -> bool {
        let mut changed = std::mem::take(&mut self.changed);
        for s in 0..self.steps.len() {
            let step = self.steps[s];
            if let Some((at, moved)) = self.step_state[s] {
                let mut after = at;
                for block in &step.on_enter {
                    let (end, through) = self.chain(&block.actions, after);
                    if !through {
                        break;
                    }
                    after = end;
                }
                // The rest of the chain that moved here ran after `on enter`: the first
                // page sees what either of them initialised.
                if !step.pages.is_empty() {
                    changed |= meet(&mut self.page_state[s][0], after || moved);
                }
            }
            for p in 0..step.pages.len() {
                let Some(state) = self.page_state[s][p] else {
                    continue;
                };
                for c in &step.pages[p].controls {
                    if let ast::Control::Button { actions, .. } = c {
                        let (end, through) = self.chain(&actions.actions, state);
                        // Without a `go to`, a button moves on to the next page of the flow.
                        if through && p + 1 < step.pages.len() {
                            changed |= meet(&mut self.page_state[s][p + 1], end);
                        }
                    }
                }
            }
        }
        changed | std::mem::take(&mut self.changed)
    }
}

pub(super) fn analyze<'j>(
    cx: &mut Cx,
    j: &'j ast::Journey,
    step_map: &'j HashMap<String, usize>,
    page_map: &'j HashMap<String, (usize, usize)>,
    quiet: bool,
) {
    let steps: Vec<&ast::Step> = j
        .items
        .iter()
        .filter_map(|i| {
            if let ast::JourneyItem::Step(s) = i {
                Some(s)
            } else {
                None
            }
        })
        .collect();
    if steps.is_empty() {
        return;
    }
    let mut flow = Flow {
        step_state: vec![None; steps.len()],
        page_state: steps.iter().map(|s| vec![None; s.pages.len()]).collect(),
        steps,
        step_map,
        page_map,
        changed: false,
        uninitialised_sends: Vec::new(),
        seen: HashSet::new(),
        report: false,
    };
    let on_started: Vec<&'j ast::Actions> = j
        .items
        .iter()
        .filter_map(|i| {
            if let ast::JourneyItem::OnStarted(a, _) = i {
                Some(a)
            } else {
                None
            }
        })
        .collect();
    let triggers: Vec<&'j ast::Trigger> = j
        .items
        .iter()
        .filter_map(|i| {
            if let ast::JourneyItem::Trigger(t) = i {
                Some(t)
            } else {
                None
            }
        })
        .collect();
    let replies: Vec<&'j ast::Actions> = j
        .items
        .iter()
        .filter_map(|i| {
            if let ast::JourneyItem::OnReply { actions, .. } = i {
                Some(actions)
            } else {
                None
            }
        })
        .collect();

    let entries = |flow: &mut Flow<'j>| {
        // SMS, call and API triggers know the person's number: the actor starts initialised.
        let starts: Vec<(bool, Option<&ast::Actions>)> = if triggers.is_empty() {
            vec![(false, None)]
        } else {
            triggers
                .iter()
                .map(|t| {
                    (
                        matches!(
                            t.kind,
                            ast::TriggerKind::Sms(_)
                                | ast::TriggerKind::Call(_)
                                | ast::TriggerKind::Api
                        ),
                        // A starting link's actions never run (J0309 says so).
                        t.actions
                            .as_ref()
                            .filter(|_| !matches!(t.kind, ast::TriggerKind::Link(_))),
                    )
                })
                .collect()
        };
        for (init, trigger_actions) in starts {
            let mut state = init;
            for a in &on_started {
                state = flow.chain(&a.actions, state).0;
            }
            if let Some(a) = trigger_actions {
                state = flow.chain(&a.actions, state).0;
            }
            meet_both(&mut flow.step_state[0], (state, state));
        }
        // A reply reaches a session only through its initialised actor.
        for a in &replies {
            flow.chain(&a.actions, true);
        }
    };
    entries(&mut flow);
    while flow.round() {}
    flow.report = true;
    entries(&mut flow);
    flow.round();

    if quiet {
        return;
    }
    for span in std::mem::take(&mut flow.uninitialised_sends) {
        let d = Diagnostic::new(ACTOR_NOT_INITIALIZED, cx.file, span, "SMS sent where the actor may not be initialised", "the actor may not be initialised here")
            .with_note("a session started by a link or a schedule has no actor until `initialize actor` runs; SMS, call and API triggers initialise it themselves")
            .with_help("set `actor.phone` and run `initialize actor` before this action, on every path that reaches it");
        cx.diags.push(d);
    }
    for (s, step) in flow.steps.iter().enumerate() {
        let reached =
            flow.step_state[s].is_some() || flow.page_state[s].iter().any(Option::is_some);
        // A second step of the same name is reported as a duplicate, not as unreachable.
        if step_map.get(&step.name.name) != Some(&s) {
            continue;
        }
        if !reached {
            let d = Diagnostic::new(
                UNREACHABLE_STEP,
                cx.file,
                step.name.span,
                format!("step `{}` is never reached", step.name.name),
                "nothing that runs leads here",
            )
            .with_help(format!(
                "add `go to step {}` to an action that runs, or remove the step",
                step.name.name
            ));
            cx.diags.push(d);
            continue;
        }
        for (p, page) in step.pages.iter().enumerate() {
            if flow.page_state[s][p].is_none() {
                let d = Diagnostic::new(
                    UNREACHABLE_PAGE,
                    cx.file,
                    page.name.span,
                    format!("page `{}` is never reached", page.name.name),
                    "nothing leads to this page",
                )
                .with_help(format!(
                    "add `go to page {}` to a button, or a button on the page before it",
                    page.name.name
                ));
                cx.diags.push(d);
                continue;
            }
            let has_button = page
                .controls
                .iter()
                .any(|c| matches!(c, ast::Control::Button { .. }));
            let has_input = page
                .controls
                .iter()
                .any(|c| matches!(c, ast::Control::Input(_)));
            if !has_button && (has_input || p + 1 < step.pages.len()) {
                let (why, help) = if has_input {
                    (
                        "its inputs can never be submitted",
                        "add a button, e.g. `button \"Continue\" { go to page Next }`".to_string(),
                    )
                } else {
                    // Often an end page of one branch, written before another branch's.
                    (
                        "the pages after it can never be reached from it",
                        format!(
                            "if `{0}` ends a branch of the flow, give it a step of its own (`step {0}Done {{ page {0} {{ ... }} }}`, reached with `go to step`), so no page follows it; otherwise add a button that goes on",
                            page.name.name
                        ),
                    )
                };
                let d = Diagnostic::new(
                    DEAD_END_PAGE,
                    cx.file,
                    page.name.span,
                    format!("page `{}` has no button, so {why}", page.name.name),
                    "no action leads anywhere from here",
                )
                .with_help(help);
                cx.diags.push(d);
            }
        }
    }
}

/// Reports a timer started twice on one path through one action chain: the second
/// start replaces the first at once, so the first can never fire. Starting the same
/// key from different chains, or in exclusive branches, is fine.
pub(super) fn duplicate_timers(cx: &mut Cx, j: &ast::Journey) {
    fn walk(
        actions: &[ast::Action],
        started: &mut HashMap<String, Span>,
        found: &mut Vec<(String, Span, Span)>,
    ) {
        for a in actions {
            match &a.kind {
                ast::ActionKind::StartTimer(t) => {
                    if !t.key.has_interpolation() {
                        match started.get(&t.key.value) {
                            Some(first) => found.push((t.key.value.clone(), *first, t.key.span)),
                            None => {
                                started.insert(t.key.value.clone(), t.key.span);
                            }
                        }
                    }
                    // The timer's own actions run later, as a chain of their own.
                    walk(&t.actions.actions, &mut HashMap::new(), found);
                }
                ast::ActionKind::If {
                    branches,
                    otherwise,
                } => {
                    let before = started.clone();
                    let mut after = before.clone();
                    for block in branches.iter().map(|(_, b)| b).chain(otherwise.iter()) {
                        let mut path = before.clone();
                        walk(&block.actions, &mut path, found);
                        after.extend(path);
                    }
                    *started = after;
                }
                _ => {}
            }
        }
    }
    let mut chains: Vec<&ast::Actions> = Vec::new();
    for item in &j.items {
        match item {
            ast::JourneyItem::Trigger(t) => chains.extend(t.actions.as_ref()),
            ast::JourneyItem::OnStarted(a, _) => chains.push(a),
            ast::JourneyItem::OnReply { actions, .. } => chains.push(actions),
            ast::JourneyItem::Step(s) => {
                chains.extend(s.on_enter.iter());
                for p in &s.pages {
                    for c in &p.controls {
                        if let ast::Control::Button { actions, .. } = c {
                            chains.push(actions);
                        }
                    }
                }
            }
            _ => {}
        }
    }
    let mut found = Vec::new();
    for chain in chains {
        walk(&chain.actions, &mut HashMap::new(), &mut found);
    }
    for (key, first, second) in found {
        let d = Diagnostic::new(DUPLICATE_TIMER, cx.file, second, format!("timer `{key}` is started twice in a row"), "this replaces the timer started just before")
            .with_label(first, "first started here")
            .with_note("a timer key names one timer in a session: starting it again replaces it, so the first can never fire")
            .with_help("give each timer its own key, e.g. `\"nudge-1\"` and `\"nudge-2\"`, or remove one");
        cx.diags.push(d);
    }
}
