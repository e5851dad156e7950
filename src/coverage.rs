//! What tests reached of each journey: `journeyc test --coverage` lists the rest with
//! their places, and `journeyc graph --coverage` colours it. An item is named by its
//! indices in the IR, so the checker's spans and the graph's nodes can both find it.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::ir::{self, Action, Control};

/// One thing of a journey a test can reach.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Item {
    /// A trigger, by its place in `Journey::triggers`.
    Trigger {
        index: usize,
    },
    Step {
        step: usize,
    },
    Page {
        step: usize,
        page: usize,
    },
    /// A button, by its control's place on its page.
    Button {
        step: usize,
        page: usize,
        control: usize,
    },
    /// An `on reply` handler, by its place in `Journey::reply_handlers`.
    Reply {
        handler: usize,
    },
    /// A timer key, reached when a timer with it fired.
    Timer {
        key: String,
    },
    /// A notification, by its place in `Journey::notifications`, reached when sent.
    Notification {
        index: usize,
    },
}

/// The items reached, by journey name.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Reached(BTreeMap<String, BTreeSet<Item>>);

impl Reached {
    pub fn insert(&mut self, journey: &str, item: Item) {
        if let Some(items) = self.0.get_mut(journey) {
            items.insert(item);
        } else {
            self.0.insert(journey.to_string(), BTreeSet::from([item]));
        }
    }

    pub fn has(&self, journey: &str, item: &Item) -> bool {
        self.0
            .get(journey)
            .is_some_and(|items| items.contains(item))
    }

    /// Everything `other` reached, added to this.
    pub fn merge(&mut self, other: &Reached) {
        for (journey, items) in &other.0 {
            self.0
                .entry(journey.clone())
                .or_default()
                .extend(items.iter().cloned());
        }
    }

    /// The items of `journey` that were not reached, in the order `items` lists them.
    pub fn missed(&self, journey: &ir::Journey) -> Vec<Item> {
        items(journey)
            .into_iter()
            .filter(|i| !self.has(&journey.name, i))
            .collect()
    }
}

/// Every item of a journey, in source order: triggers, reply handlers, steps with their
/// pages and buttons, timer keys (first start first), notifications.
pub fn items(journey: &ir::Journey) -> Vec<Item> {
    let mut all: Vec<Item> = (0..journey.triggers.len())
        .map(|index| Item::Trigger { index })
        .collect();
    all.extend((0..journey.reply_handlers.len()).map(|handler| Item::Reply { handler }));
    for (s, step) in journey.steps.iter().enumerate() {
        all.push(Item::Step { step: s });
        for (p, page) in step.pages.iter().enumerate() {
            all.push(Item::Page { step: s, page: p });
            for (c, control) in page.controls.iter().enumerate() {
                if matches!(control, Control::Button { .. }) {
                    all.push(Item::Button {
                        step: s,
                        page: p,
                        control: c,
                    });
                }
            }
        }
    }
    let mut keys = Vec::new();
    for_each_chain(journey, &mut |actions| timer_keys(actions, &mut keys));
    all.extend(keys.into_iter().map(|key| Item::Timer { key }));
    all.extend((0..journey.notifications.len()).map(|index| Item::Notification { index }));
    all
}

/// Calls `f` with every action chain a journey declares (not the chains nested in
/// them: `timer_keys` walks those).
fn for_each_chain(journey: &ir::Journey, f: &mut dyn FnMut(&[Action])) {
    for t in &journey.triggers {
        match t {
            ir::Trigger::Sms { actions, .. }
            | ir::Trigger::Call { actions, .. }
            | ir::Trigger::Api { actions }
            | ir::Trigger::Schedule { actions, .. } => f(actions),
            ir::Trigger::Link { .. } => {}
        }
    }
    f(&journey.on_started);
    for h in &journey.reply_handlers {
        f(&h.actions);
    }
    for step in &journey.steps {
        f(&step.on_enter);
        for page in &step.pages {
            for control in &page.controls {
                if let Control::Button { actions, .. } = control {
                    f(actions);
                }
            }
        }
    }
}

/// The keys of the timers `actions` start, nested ones included, each once.
fn timer_keys(actions: &[Action], keys: &mut Vec<String>) {
    for action in actions {
        match action {
            Action::StartTimer { key, actions, .. } => {
                if !keys.contains(key) {
                    keys.push(key.clone());
                }
                timer_keys(actions, keys);
            }
            Action::If {
                branches,
                otherwise,
            } => {
                for (_, chain) in branches {
                    timer_keys(chain, keys);
                }
                timer_keys(otherwise, keys);
            }
            _ => {}
        }
    }
}
