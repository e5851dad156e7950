//! Moving what was parsed from a piece of a file to the piece's place in the file:
//! every span of a tree, or of a diagnostic, moved by the piece's offset. Each type is
//! taken apart field by field, without `..`, so a new field with a span cannot be
//! forgotten here.

use super::ast::*;
use crate::diagnostic::{Diagnostic, Span};

pub(crate) trait Shift {
    /// Adds `by` to every offset.
    fn shift(&mut self, by: usize);
}

impl Shift for Span {
    fn shift(&mut self, by: usize) {
        *self = Span::new(self.start + by, self.end + by);
    }
}

impl<T: Shift> Shift for Vec<T> {
    fn shift(&mut self, by: usize) {
        self.iter_mut().for_each(|x| x.shift(by));
    }
}

impl<T: Shift> Shift for Option<T> {
    fn shift(&mut self, by: usize) {
        if let Some(x) = self {
            x.shift(by);
        }
    }
}

impl<T: Shift> Shift for Box<T> {
    fn shift(&mut self, by: usize) {
        (**self).shift(by);
    }
}

impl<A: Shift, B: Shift> Shift for (A, B) {
    fn shift(&mut self, by: usize) {
        self.0.shift(by);
        self.1.shift(by);
    }
}

/// Values without offsets.
macro_rules! unmoved {
    ($($t:ty),*) => {
        $(impl Shift for $t {
            fn shift(&mut self, _by: usize) {}
        })*
    };
}
unmoved!(bool, String, LandsOn, Policy, Unavailable);

impl Shift for Diagnostic {
    fn shift(&mut self, by: usize) {
        // Labels in other files keep their offsets.
        self.primary.span.shift(by);
        self.secondary.iter_mut().for_each(|l| l.span.shift(by));
    }
}

impl Shift for Ident {
    fn shift(&mut self, by: usize) {
        let Ident { name: _, span } = self;
        span.shift(by);
    }
}

impl Shift for StrLit {
    fn shift(&mut self, by: usize) {
        let StrLit {
            value: _,
            span,
            parts,
        } = self;
        span.shift(by);
        parts.shift(by);
    }
}

impl Shift for TemplatePart {
    fn shift(&mut self, by: usize) {
        match self {
            TemplatePart::Text(_) => {}
            TemplatePart::Expr(e) => e.shift(by),
        }
    }
}

impl Shift for Item {
    fn shift(&mut self, by: usize) {
        match self {
            Item::Import(i) => i.shift(by),
            Item::Journey(j) => j.shift(by),
            Item::Calendar(c) => c.shift(by),
            Item::Notification(n) => n.shift(by),
            Item::Test(t) => t.shift(by),
        }
    }
}

impl Shift for Import {
    fn shift(&mut self, by: usize) {
        let Import {
            target,
            alias,
            span,
        } = self;
        match target {
            ImportTarget::Module(path) => path.shift(by),
            ImportTarget::File(s) => s.shift(by),
        }
        alias.shift(by);
        span.shift(by);
    }
}

impl Shift for Journey {
    fn shift(&mut self, by: usize) {
        let Journey { name, items, span } = self;
        name.shift(by);
        items.shift(by);
        span.shift(by);
    }
}

impl Shift for JourneyItem {
    fn shift(&mut self, by: usize) {
        match self {
            JourneyItem::SmsFrom(s, span)
            | JourneyItem::TimeZone(s, span)
            | JourneyItem::Help(s, span) => {
                s.shift(by);
                span.shift(by);
            }
            JourneyItem::Expires(e, span) => {
                e.shift(by);
                span.shift(by);
            }
            JourneyItem::LinkLands(_, span)
            | JourneyItem::ExistingSession(_, span)
            | JourneyItem::NewVersion(_, span) => span.shift(by),
            JourneyItem::Trigger(t) => t.shift(by),
            JourneyItem::OnStarted(a, span) => {
                a.shift(by);
                span.shift(by);
            }
            JourneyItem::OnReply {
                keywords,
                actions,
                span,
            } => {
                keywords.shift(by);
                actions.shift(by);
                span.shift(by);
            }
            JourneyItem::Var(v) => v.shift(by),
            JourneyItem::Step(s) => s.shift(by),
            JourneyItem::Notification(n) => n.shift(by),
            JourneyItem::Calendar(c) => c.shift(by),
        }
    }
}

impl Shift for Trigger {
    fn shift(&mut self, by: usize) {
        let Trigger {
            kind,
            actions,
            span,
        } = self;
        match kind {
            TriggerKind::Link(s) | TriggerKind::Sms(s) | TriggerKind::Call(s) => s.shift(by),
            TriggerKind::Api => {}
            TriggerKind::Schedule { cron, zone } => {
                cron.shift(by);
                zone.shift(by);
            }
        }
        actions.shift(by);
        span.shift(by);
    }
}

impl Shift for VarDecl {
    fn shift(&mut self, by: usize) {
        let VarDecl {
            name,
            ty,
            default,
            span,
        } = self;
        name.shift(by);
        ty.shift(by);
        default.shift(by);
        span.shift(by);
    }
}

impl Shift for Step {
    fn shift(&mut self, by: usize) {
        let Step {
            name,
            pages,
            on_enter,
            span,
        } = self;
        name.shift(by);
        pages.shift(by);
        on_enter.shift(by);
        span.shift(by);
    }
}

impl Shift for Page {
    fn shift(&mut self, by: usize) {
        let Page {
            name,
            controls,
            span,
        } = self;
        name.shift(by);
        controls.shift(by);
        span.shift(by);
    }
}

impl Shift for Control {
    fn shift(&mut self, by: usize) {
        match self {
            Control::Heading(s, span) | Control::Text(s, span) => {
                s.shift(by);
                span.shift(by);
            }
            Control::Link { label, url, span } => {
                label.shift(by);
                url.shift(by);
                span.shift(by);
            }
            Control::Button {
                label,
                actions,
                span,
            } => {
                label.shift(by);
                actions.shift(by);
                span.shift(by);
            }
            Control::Input(i) => i.shift(by),
        }
    }
}

impl Shift for Input {
    fn shift(&mut self, by: usize) {
        let Input {
            var,
            kind,
            label,
            required: _,
            placeholder,
            options,
            validate,
            span,
        } = self;
        var.shift(by);
        kind.shift(by);
        label.shift(by);
        placeholder.shift(by);
        options.shift(by);
        validate.shift(by);
        span.shift(by);
    }
}

impl Shift for Actions {
    fn shift(&mut self, by: usize) {
        let Actions { actions, span } = self;
        actions.shift(by);
        span.shift(by);
    }
}

impl Shift for Action {
    fn shift(&mut self, by: usize) {
        let Action { kind, span } = self;
        span.shift(by);
        match kind {
            ActionKind::Set { target, value } => {
                target.shift(by);
                value.shift(by);
            }
            ActionKind::InitializeActor | ActionKind::EndSession => {}
            ActionKind::SendSms(path) => path.shift(by),
            ActionKind::StartTimer(t) => t.shift(by),
            ActionKind::StopTimer(s) | ActionKind::Say(s) => s.shift(by),
            ActionKind::GoToPage(i) | ActionKind::GoToStep(i) => i.shift(by),
            ActionKind::If {
                branches,
                otherwise,
            } => {
                branches.shift(by);
                otherwise.shift(by);
            }
            ActionKind::ExtendSession(e) => e.shift(by),
        }
    }
}

impl Shift for StartTimer {
    fn shift(&mut self, by: usize) {
        let StartTimer {
            key,
            when,
            calendar,
            skip_if_missed: _,
            actions,
        } = self;
        key.shift(by);
        match when {
            TimerWhen::After(e) | TimerWhen::At(e) => e.shift(by),
        }
        calendar.shift(by);
        actions.shift(by);
    }
}

impl Shift for TimerCalendar {
    fn shift(&mut self, by: usize) {
        let TimerCalendar {
            path,
            zone,
            unavailable: _,
        } = self;
        path.shift(by);
        zone.shift(by);
    }
}

impl Shift for Notification {
    fn shift(&mut self, by: usize) {
        let Notification {
            name,
            channel,
            parts,
            span,
        } = self;
        name.shift(by);
        channel.shift(by);
        parts.shift(by);
        span.shift(by);
    }
}

impl Shift for Part {
    fn shift(&mut self, by: usize) {
        match self {
            Part::Text(s, span) => {
                s.shift(by);
                span.shift(by);
            }
            Part::JourneyLink(span) => span.shift(by),
            Part::Link(e, span) => {
                e.shift(by);
                span.shift(by);
            }
        }
    }
}

impl Shift for Calendar {
    fn shift(&mut self, by: usize) {
        let Calendar { name, items, span } = self;
        name.shift(by);
        items.shift(by);
        span.shift(by);
    }
}

impl Shift for CalendarItem {
    fn shift(&mut self, by: usize) {
        match self {
            CalendarItem::TimeZone(s, span) => {
                s.shift(by);
                span.shift(by);
            }
            CalendarItem::Weekly { days, hours, span } => {
                days.shift(by);
                hours.shift(by);
                span.shift(by);
            }
            CalendarItem::Cron { cron, length, span } => {
                cron.shift(by);
                length.shift(by);
                span.shift(by);
            }
            CalendarItem::Closed {
                from,
                to,
                reason,
                span,
            } => {
                from.shift(by);
                to.shift(by);
                reason.shift(by);
                span.shift(by);
            }
        }
    }
}

impl Shift for Expr {
    fn shift(&mut self, by: usize) {
        let Expr { kind, span } = self;
        span.shift(by);
        match kind {
            ExprKind::Number(_) | ExprKind::Bool(_) | ExprKind::Null => {}
            ExprKind::Duration { value: _, unit: _ } => {}
            ExprKind::Text(s) => s.shift(by),
            ExprKind::List(items) => items.shift(by),
            ExprKind::Object(fields) => fields.shift(by),
            ExprKind::Path(path) => path.shift(by),
            ExprKind::Field(e, f) => {
                e.shift(by);
                f.shift(by);
            }
            ExprKind::Call(name, args) => {
                name.shift(by);
                args.shift(by);
            }
            ExprKind::Binary(_, l, r) => {
                l.shift(by);
                r.shift(by);
            }
            ExprKind::Unary(_, e) => e.shift(by),
        }
    }
}

impl Shift for Test {
    fn shift(&mut self, by: usize) {
        let Test { name, steps, span } = self;
        name.shift(by);
        steps.shift(by);
        span.shift(by);
    }
}

impl Shift for TestStep {
    fn shift(&mut self, by: usize) {
        let TestStep { kind, span } = self;
        span.shift(by);
        match kind {
            TestStepKind::Clock { at, zone } | TestStepKind::WaitUntil { at, zone } => {
                at.shift(by);
                zone.shift(by);
            }
            TestStepKind::OpenLink(s) | TestStepKind::Press(s) | TestStepKind::WaitTimer(s) => {
                s.shift(by)
            }
            TestStepKind::OpenJourneyLink => {}
            TestStepKind::Fill { var, value } => {
                var.shift(by);
                value.shift(by);
            }
            TestStepKind::Text { body, from, to } => {
                body.shift(by);
                from.shift(by);
                to.shift(by);
            }
            TestStepKind::Call { to, from } => {
                to.shift(by);
                from.shift(by);
            }
            TestStepKind::Api { journey, fields } => {
                journey.shift(by);
                fields.shift(by);
            }
            TestStepKind::Wait(e) => e.shift(by),
            TestStepKind::WaitSchedule(i) => i.shift(by),
            TestStepKind::Mark { status, code } => {
                status.shift(by);
                code.shift(by);
            }
            TestStepKind::Expect(e) => e.shift(by),
        }
    }
}

impl Shift for Expectation {
    fn shift(&mut self, by: usize) {
        match self {
            Expectation::Page(i) | Expectation::Status(i) => i.shift(by),
            Expectation::Text(s) | Expectation::Say(s) | Expectation::NoTimer(s) => s.shift(by),
            Expectation::Error { field, message } => {
                field.shift(by);
                message.shift(by);
            }
            Expectation::NoSms => {}
            Expectation::SmsCount(e) => e.shift(by),
            Expectation::Sms {
                notification,
                to,
                matches,
                suppressed: _,
            } => {
                notification.shift(by);
                to.shift(by);
                matches.shift(by);
            }
            Expectation::Timer { key, at } => {
                key.shift(by);
                at.shift(by);
            }
            Expectation::Value { target, value } => {
                target.shift(by);
                value.shift(by);
            }
        }
    }
}

impl Shift for SmsMatch {
    fn shift(&mut self, by: usize) {
        match self {
            SmsMatch::Containing(s) | SmsMatch::Equal(s) => s.shift(by),
            SmsMatch::JourneyLink => {}
        }
    }
}
