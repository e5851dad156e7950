//! Where an item of a journey is written: coverage names items by their indices in the
//! IR, which keeps no spans, so the file is read again and the item found by the same
//! order the checker kept (a file that checks clean lowers one IR item per written one).

use journeyc::coverage::Item;
use journeyc::ir;
use journeyc::syntax::{self, ast};
use journeyc::{FileId, Span};

/// The span of `item` of `journey` in `text`, if it is written there (an imported
/// notification is written in another file).
pub fn place(text: &str, journey: &ir::Journey, item: &Item) -> Option<Span> {
    let (tree, _) = syntax::parse(FileId(0), text);
    let j = tree.items.iter().find_map(|i| match i {
        ast::Item::Journey(j) if j.name.name == journey.name => Some(j),
        _ => None,
    })?;
    let triggers = j.items.iter().filter_map(|i| match i {
        ast::JourneyItem::Trigger(t) => Some(t),
        _ => None,
    });
    let mut replies = j.items.iter().filter_map(|i| match i {
        ast::JourneyItem::OnReply { span, .. } => Some(*span),
        _ => None,
    });
    let steps: Vec<&ast::Step> = j
        .items
        .iter()
        .filter_map(|i| match i {
            ast::JourneyItem::Step(s) => Some(s),
            _ => None,
        })
        .collect();
    match item {
        Item::Trigger { index } => triggers.map(|t| t.span).nth(*index),
        Item::Reply { handler } => replies.nth(*handler),
        Item::Step { step } => steps.get(*step).map(|s| s.name.span),
        Item::Page { step, page } => Some(steps.get(*step)?.pages.get(*page)?.name.span),
        Item::Button {
            step,
            page,
            control,
        } => match steps.get(*step)?.pages.get(*page)?.controls.get(*control)? {
            ast::Control::Button { label, .. } => Some(label.span),
            _ => None,
        },
        Item::Timer { key } => {
            let mut chains: Vec<&ast::Actions> = Vec::new();
            for i in &j.items {
                match i {
                    ast::JourneyItem::Trigger(t) => chains.extend(&t.actions),
                    ast::JourneyItem::OnStarted(a, _) => chains.push(a),
                    ast::JourneyItem::OnReply { actions, .. } => chains.push(actions),
                    ast::JourneyItem::Step(s) => {
                        chains.extend(&s.on_enter);
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
            chains.into_iter().find_map(|a| timer_start(a, key))
        }
        Item::Notification { index } => {
            let name = &journey.notifications.get(*index)?.name;
            let own = j.items.iter().find_map(|i| match i {
                ast::JourneyItem::Notification(n) if &n.name.name == name => Some(n.name.span),
                _ => None,
            });
            own.or_else(|| {
                tree.items.iter().find_map(|i| match i {
                    ast::Item::Notification(n) if &n.name.name == name => Some(n.name.span),
                    _ => None,
                })
            })
        }
    }
}

/// The first `start timer "key"` in `actions`, nested chains included.
fn timer_start(actions: &ast::Actions, key: &str) -> Option<Span> {
    actions.actions.iter().find_map(|a| match &a.kind {
        ast::ActionKind::StartTimer(t) if t.key.value == key => Some(t.key.span),
        ast::ActionKind::StartTimer(t) => timer_start(&t.actions, key),
        ast::ActionKind::If {
            branches,
            otherwise,
        } => branches
            .iter()
            .find_map(|(_, b)| timer_start(b, key))
            .or_else(|| otherwise.as_ref().and_then(|o| timer_start(o, key))),
        _ => None,
    })
}

/// 1-based line and column (in characters) of byte offset `at`.
pub fn line_col(text: &str, at: usize) -> (usize, usize) {
    let before = &text[..at.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, column)
}
