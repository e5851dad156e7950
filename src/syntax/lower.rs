//! Turns pest's pairs into the syntax tree, and bad lines into diagnostics.

use pest::iterators::Pair;
use pest::pratt_parser::{Assoc, Op, PrattParser};

use super::ast::*;
use super::braces::Missing;
use super::grammar::{pest_parse, too_deep, Rule, MAX_NESTING};
use super::shift::Shift;
use crate::diagnostic::*;

/// Where a bad line stood, and what belongs there.
#[derive(Clone, Copy)]
struct Context {
    name: &'static str,
    keywords: &'static [&'static str],
    expected: &'static str,
}

const FILE: Context = Context {
    name: "top-level item",
    keywords: &["import", "journey", "calendar", "notification", "test"],
    expected: "`import`, `journey`, `calendar`, `notification` or `test`",
};
const TEST: Context = Context {
    name: "test step",
    keywords: &[
        "clock", "open", "fill", "press", "text", "call", "api", "wait", "mark", "expect",
    ],
    expected: "a step such as `open link`, `fill`, `press`, `text`, `wait` or `expect`",
};
const API: Context = Context {
    name: "API field",
    keywords: &["actor"],
    expected: "`actor.phone = \"+1...\"` or `variable = value`",
};
const JOURNEY: Context = Context {
    name: "journey item",
    keywords: &["sms", "expires", "journey", "on", "help", "trigger", "var", "step", "notification", "calendar"],
    expected: "a setting, `trigger`, `on session started`, `on reply`, `var`, `step`, `notification` or `calendar`",
};
const STEP: Context = Context {
    name: "step item",
    keywords: &["page", "on"],
    expected: "`page NAME { ... }` or `on enter { ... }`",
};
const PAGE: Context = Context {
    name: "page control",
    keywords: &["heading", "text", "input", "button", "link"],
    expected: "`heading`, `text`, `input`, `button` or `link`",
};
const ACTIONS: Context = Context {
    name: "action",
    keywords: &[
        "set",
        "initialize",
        "send",
        "start",
        "stop",
        "go",
        "if",
        "end",
        "extend",
        "say",
    ],
    expected:
        "an action such as `set`, `initialize actor`, `send sms`, `start timer` or `go to page`",
};
const NOTIFICATION: Context = Context {
    name: "notification part",
    keywords: &["text", "journey", "link"],
    expected: "`text \"...\"`, `journey link` or `link URL`",
};
const CALENDAR: Context = Context {
    name: "calendar item",
    keywords: &["time", "open", "closed"],
    expected: "`time zone \"...\"`, `open DAYS HH:MM-HH:MM`, `open cron \"...\" for DURATION` or `closed DATE`",
};

/// The shape of each statement, shown when a line starts with its keyword but is malformed.
fn statement_form(context: &str, keyword: &str) -> Option<&'static str> {
    Some(match (context, keyword) {
        (_, "test") => "test \"what it shows\" { ... }",
        ("test step", "clock") => "clock \"2026-12-04 09:00\" in \"America/New_York\"",
        ("test step", "open") => "open link \"slug\"   or   open journey link",
        ("test step", "fill") => "fill variable = \"what the person types\"",
        ("test step", "press") => "press \"Button label\"",
        ("test step", "text") => "text \"YES\" [from \"+1...\"] [to \"+1...\"]",
        ("test step", "call") => "call \"+1...\" [from \"+1...\"]",
        ("test step", "api") => "api JourneyName { actor.phone = \"+1...\" }",
        ("test step", "wait") => "wait 1d, wait until \"2026-12-07 09:00\" [in \"Zone\"], wait for timer \"key\" or wait for schedule JourneyName",
        ("test step", "mark") => "mark last sms delivered|undelivered|failed|sent [code 30003]",
        ("test step", "expect") => "expect page Name, expect text \"...\", expect sms [Name] [to \"+1...\"] [containing \"...\"], expect no sms, expect timer \"key\", expect status ended or expect variable = value",
        (_, "import") => "import std.calendars   or   import \"other.journey\" as other",
        (_, "journey") if context == "top-level item" => "journey Name { ... }",
        (_, "calendar") => "calendar Name { ... }",
        (_, "notification") => "notification Name sms { ... }",
        (_, "sms") => "sms from \"+15005550006\"",
        (_, "expires") => "expires after 30d",
        ("journey item", "journey") => "journey link opens last page   or   journey link opens first page",
        ("journey item", "on") => "on session started { ... }, on reply \"YES\" { ... }, on existing session keep|replace|reject or on new version keep|upgrade",
        (_, "help") => "help \"Reply STOP to opt out.\"",
        (_, "trigger") => {
            "trigger link \"slug\", trigger sms to \"+1...\", trigger call to \"+1...\" { ... }, trigger api, or trigger schedule \"CRON\" in \"Zone/Name\" { ... }"
        }
        (_, "var") => "var name: Type   or   var name: Type = value",
        (_, "step") => "step Name { ... }",
        ("step item", "page") => "page Name { ... }",
        ("step item", "on") => "on enter { ... }",
        (_, "heading") => "heading \"Text\"",
        ("page control", "text") => "text \"Some text with {{ interpolation }}\"",
        (_, "input") => "input variable: kind \"Label\" [required] [placeholder \"...\"] [options [...]] [validate EXPR else \"message\"]",
        (_, "button") => "button \"Label\" { actions }",
        ("page control", "link") => "link \"Label\" to \"https://...\"",
        (_, "set") => "set name = value",
        (_, "initialize") => "initialize actor",
        (_, "send") => "send sms NotificationName",
        (_, "start") => "start timer \"key\" after 1d [on Calendar [if unavailable skip|next|previous|anyway]] [skip if missed] { actions }",
        (_, "stop") => "stop timer \"key\"",
        (_, "go") => "go to page Name   or   go to step Name",
        (_, "if") => "if condition { ... } else if condition { ... } else { ... }",
        (_, "end") => "end session",
        (_, "extend") => "extend session by 7d",
        (_, "say") => "say \"Text to speak\"",
        ("notification part", "text") => "text \"Message with {{ interpolation }}\"",
        ("notification part", "journey") => "journey link",
        ("notification part", "link") => "link \"https://...\"",
        (_, "time") => "time zone \"America/New_York\"",
        (_, "open") => "open mon-fri 09:00-17:00   or   open cron \"0 9 * * MON-FRI\" for 8h",
        (_, "closed") => "closed 2026-12-25 \"Christmas\"   or   closed 2026-12-24..2026-12-26",
        _ => return None,
    })
}

/// Every context, to tell a user where a misplaced keyword belongs.
const ALL_CONTEXTS: &[(&Context, &str)] = &[
    (&JOURNEY, "inside a journey"),
    (&STEP, "inside a step"),
    (&PAGE, "inside a page"),
    (
        &ACTIONS,
        "in an action list (inside `{ }` after a button, trigger, timer or handler)",
    ),
    (&CALENDAR, "inside a calendar"),
    (&NOTIFICATION, "inside a notification"),
    (&TEST, "inside a test"),
    (&FILE, "at the top level of a file"),
];

pub(super) struct Lowerer<'s> {
    file: FileId,
    text: &'s str,
    pub(super) diagnostics: Vec<Diagnostic>,
    /// The `}` that `braces::repair` wrote into `text`, each reported where it closes.
    missing: &'s [Missing],
    /// How many of them closed a block.
    pub(super) missing_closed: usize,
    /// Where each bad line read, as pest matched it: `pieces` checks that one parsed
    /// alone would match the same in the whole text.
    pub(super) bad_lines: Vec<(usize, usize)>,
}

/// A pair's span, without trailing white space or a comment that trails its last line:
/// a rule ending in an optional part keeps what pest skipped before trying it.
fn span_of(pair: &Pair<'_, Rule>) -> Span {
    let start = pair.as_span().start();
    let text = pair.as_str().trim_end();
    let kept = if text.contains("//") {
        let last = text.rsplit('\n').next().unwrap_or(text);
        text.len() - last.len() + without_comment(last)
    } else {
        text.len()
    };
    Span::new(start, start + kept)
}

impl<'s> Lowerer<'s> {
    /// `missing` lists the `}` written into a repaired `text`; empty for the original.
    pub(super) fn new(file: FileId, text: &'s str, missing: &'s [Missing]) -> Self {
        Lowerer {
            file,
            text,
            diagnostics: Vec::new(),
            missing,
            missing_closed: 0,
            bad_lines: Vec::new(),
        }
    }

    fn diag(&mut self, d: Diagnostic) {
        self.diagnostics.push(d);
    }

    pub(super) fn file(&mut self, pair: Pair<'_, Rule>) -> File {
        let mut items = Vec::new();
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::import => items.push(Item::Import(self.import(p))),
                Rule::journey => items.push(Item::Journey(self.journey(p))),
                Rule::calendar => items.push(Item::Calendar(self.calendar(p))),
                Rule::notification => items.push(Item::Notification(self.notification(p))),
                Rule::test_block => items.push(Item::Test(self.test(p))),
                Rule::stray_close => {
                    let d = Diagnostic::new(
                        STRAY_CLOSE,
                        self.file,
                        span_of(&p),
                        "unexpected `}`",
                        "this closes nothing",
                    )
                    .with_help("remove it, or check that the `{` it should close is not missing");
                    self.diag(d);
                }
                Rule::bad_line => self.bad_line(&p, FILE),
                _ => {}
            }
        }
        File { items }
    }

    /// Reports a line the grammar could not read, in words that fit where it stood.
    fn bad_line(&mut self, pair: &Pair<'_, Rule>, ctx: Context) {
        self.bad_lines
            .push((pair.as_span().start(), pair.as_span().end()));
        let span = span_of(pair);
        let line = pair.as_str();
        let first_line_end = line.find('\n').unwrap_or(line.len());
        let shown = Span::new(
            span.start,
            span.start + without_comment(&line[..first_line_end]).max(1),
        );
        // An unterminated string explains the whole line better than its shape does.
        if let Some(q) = unterminated_quote(line) {
            let at = span.start + q;
            let d = Diagnostic::new(UNTERMINATED_STRING, self.file, Span::new(at, shown.end.max(at + 1)), "unterminated string", "this string has no closing `\"`")
                .with_help("add a `\"` at the end of the text; strings cannot span lines (write `\\n` for a line break)");
            self.diag(d);
            return;
        }
        let word: String = line
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        // `} esle {`: the `if` is read up to the typo, so point at the typo.
        if let Some((at, typo, meant)) = (word == "if").then(|| misspelt_else(line)).flatten() {
            let at = span.start + at;
            let d = Diagnostic::new(
                INVALID_LINE,
                self.file,
                Span::new(at, at + typo.len()),
                format!("unknown word `{typo}` after an `if` block"),
                "expected `else` or the end of the line here",
            )
            .with_help(format!("did you mean `{meant}`?"));
            self.diag(d);
            return;
        }
        let mut d = Diagnostic::new(
            INVALID_LINE,
            self.file,
            shown,
            format!("this line is not a valid {}", ctx.name),
            format!("expected {} here", ctx.expected),
        );
        if word == "else" {
            d = d.with_help(
                "put `else` on the same line as the `}` that closes the `if` block: `} else {`",
            );
        } else if ctx.keywords.contains(&word.as_str()) {
            if let Some(form) = statement_form(ctx.name, &word) {
                d = d.with_help(format!("`{word}` is written like this: {form}"));
            }
        } else if let [(_, place)] = ALL_CONTEXTS
            .iter()
            .filter(|(c, _)| c.keywords.contains(&word.as_str()))
            .collect::<Vec<_>>()[..]
        {
            // Said only when the keyword belongs to exactly one kind of block.
            let article = if ctx.name.starts_with(['a', 'e', 'i', 'o', 'u']) {
                "an"
            } else {
                "a"
            };
            d = d.with_help(format!(
                "`{word}` belongs {place}, not in {article} {}",
                ctx.name
            ));
        } else if let Some(kw) = did_you_mean(&word, ctx.keywords.iter().copied()) {
            d = d.with_help(format!("did you mean `{kw}`?"));
        }
        self.diag(d);
    }

    fn close(&mut self, pair: Option<Pair<'_, Rule>>, opener: Span, what: &str) {
        let Some(p) = pair.filter(|p| p.as_rule() == Rule::close) else {
            return;
        };
        let what = self.block_name(opener, what);
        if p.as_str().is_empty() {
            let d = Diagnostic::new(
                UNCLOSED_BLOCK,
                self.file,
                opener,
                format!("this {what} is never closed"),
                "this `{` has no matching `}`",
            )
            .with_help("add a `}` after the last line that belongs inside it");
            self.diag(d);
        } else if let Ok(i) = self
            .missing
            .binary_search_by_key(&p.as_span().start(), |m| m.at)
        {
            // A `}` the indentation said was missing: the block ends before `m.before`.
            let m = self.missing[i];
            self.missing_closed += 1;
            let rest = &self.text[m.before..];
            let word = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            let word = match word {
                0 => rest.chars().next().map_or(0, char::len_utf8),
                n => n,
            };
            let next = Span::new(m.before, m.before + word);
            let d = Diagnostic::new(
                UNCLOSED_BLOCK,
                self.file,
                opener,
                format!("this {what} is never closed"),
                "this `{` has no matching `}`",
            )
            .with_label(next, format!("the {what} should end before this line"))
            .with_help(format!(
                "add a `}}` before line {}, indented like the line that opens the {what}",
                m.line
            ));
            self.diag(d);
        }
    }

    /// "block" for an action list, named after the line that opens it where it can be:
    /// "`button` block", "`else` block", "handler".
    fn block_name(&self, opener: Span, what: &str) -> String {
        if what != "block" {
            return what.to_string();
        }
        let line_start = self.text[..opener.start].rfind('\n').map_or(0, |i| i + 1);
        let line = self.text[line_start..opener.start].trim_start();
        let line = line.strip_prefix('}').unwrap_or(line).trim_start();
        let word: String = line
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        match word.as_str() {
            "button" | "if" | "else" | "trigger" => format!("`{word}` block"),
            "start" => "`start timer` block".to_string(),
            "on" => "handler".to_string(),
            _ => what.to_string(),
        }
    }

    fn ident(&mut self, pair: Pair<'_, Rule>) -> Ident {
        Ident {
            name: pair.as_str().to_string(),
            span: span_of(&pair),
        }
    }

    fn idents(&mut self, pair: Pair<'_, Rule>) -> Vec<Ident> {
        pair.into_inner().map(|p| self.ident(p)).collect()
    }

    fn import(&mut self, pair: Pair<'_, Rule>) -> Import {
        let span = span_of(&pair);
        let mut inner = pair.into_inner();
        let target = inner.next().expect("import has a target");
        let target = match target.as_rule() {
            Rule::import_file => {
                ImportTarget::File(self.string(target.into_inner().next().expect("a string")))
            }
            _ => ImportTarget::Module(self.idents(target)),
        };
        let alias = inner.next().map(|p| self.ident(p));
        Import {
            target,
            alias,
            span,
        }
    }

    /// The span of the `{` that opens a block, found after the header.
    fn opener(&self, block_span: Span, after: usize) -> Span {
        let at = self.text[after..block_span.end]
            .find('{')
            .map(|i| after + i)
            .unwrap_or(block_span.start);
        Span::new(at, at + 1)
    }

    fn journey(&mut self, pair: Pair<'_, Rule>) -> Journey {
        let span = span_of(&pair);
        let mut inner = pair.into_inner();
        let name = self.ident(inner.next().expect("journey name"));
        let opener = self.opener(span, name.span.end);
        let mut items = Vec::new();
        let mut close = None;
        for p in inner {
            match p.as_rule() {
                Rule::close => close = Some(p),
                _ => self.journey_item(p, &mut items),
            }
        }
        self.close(close, opener, "journey");
        Journey { name, items, span }
    }

    /// A run of a journey's items parsed on their own (`journey_part`).
    pub(super) fn journey_part(&mut self, pair: Pair<'_, Rule>) -> Vec<JourneyItem> {
        let mut items = Vec::new();
        for p in pair.into_inner() {
            self.journey_item(p, &mut items);
        }
        items
    }

    /// One item of a journey, or a line that is not one.
    fn journey_item(&mut self, p: Pair<'_, Rule>, items: &mut Vec<JourneyItem>) {
        let ps = span_of(&p);
        match p.as_rule() {
            Rule::sms_from => items.push(JourneyItem::SmsFrom(
                self.string(p.into_inner().next().expect("s")),
                ps,
            )),
            Rule::expires => items.push(JourneyItem::Expires(
                self.expr(p.into_inner().next().expect("d")),
                ps,
            )),
            Rule::link_lands => {
                let lands = p.into_inner().next().expect("lands_on");
                let v = if lands.as_str().starts_with("last") {
                    LandsOn::LastPage
                } else {
                    LandsOn::FirstPage
                };
                items.push(JourneyItem::LinkLands(v, ps));
            }
            Rule::existing_session => {
                let v = match p.into_inner().next().expect("policy").as_str() {
                    "keep" => Policy::Keep,
                    "replace" => Policy::Replace,
                    _ => Policy::Reject,
                };
                items.push(JourneyItem::ExistingSession(v, ps));
            }
            Rule::new_version => {
                let upgrade = p.into_inner().next().expect("version_policy").as_str() == "upgrade";
                items.push(JourneyItem::NewVersion(upgrade, ps));
            }
            Rule::time_zone => items.push(JourneyItem::TimeZone(
                self.string(p.into_inner().next().expect("zone")),
                ps,
            )),
            Rule::help_text => items.push(JourneyItem::Help(
                self.string(p.into_inner().next().expect("s")),
                ps,
            )),
            Rule::trigger => items.push(JourneyItem::Trigger(self.trigger(p))),
            Rule::on_started => items.push(JourneyItem::OnStarted(
                self.actions(p.into_inner().next().expect("a")),
                ps,
            )),
            Rule::on_reply => {
                let mut keywords = Vec::new();
                let mut actions = None;
                for c in p.into_inner() {
                    match c.as_rule() {
                        Rule::string => keywords.push(self.string(c)),
                        _ => actions = Some(self.actions(c)),
                    }
                }
                items.push(JourneyItem::OnReply {
                    keywords,
                    actions: actions.expect("on reply has actions"),
                    span: ps,
                });
            }
            Rule::var_decl => {
                let mut c = p.into_inner();
                let name = self.ident(c.next().expect("n"));
                let ty = self.ident(c.next().expect("t").into_inner().next().expect("i"));
                let default = c.next().map(|e| self.expr(e));
                items.push(JourneyItem::Var(VarDecl {
                    name,
                    ty,
                    default,
                    span: ps,
                }));
            }
            Rule::step => items.push(JourneyItem::Step(self.step(p))),
            Rule::notification => items.push(JourneyItem::Notification(self.notification(p))),
            Rule::calendar => items.push(JourneyItem::Calendar(self.calendar(p))),
            Rule::bad_line => self.bad_line(&p, JOURNEY),
            _ => {}
        }
    }

    fn trigger(&mut self, pair: Pair<'_, Rule>) -> Trigger {
        let span = span_of(&pair);
        let kind_pair = pair.into_inner().next().expect("trigger kind");
        let rule = kind_pair.as_rule();
        let mut strings = Vec::new();
        let mut actions = None;
        for c in kind_pair.into_inner() {
            match c.as_rule() {
                Rule::string => strings.push(self.string(c)),
                _ => actions = Some(self.actions(c)),
            }
        }
        let mut strings = strings.into_iter();
        let mut next = || strings.next().expect("trigger string");
        let kind = match rule {
            Rule::trigger_link => TriggerKind::Link(next()),
            Rule::trigger_sms => TriggerKind::Sms(next()),
            Rule::trigger_call => TriggerKind::Call(next()),
            Rule::trigger_api => TriggerKind::Api,
            _ => TriggerKind::Schedule {
                cron: next(),
                zone: next(),
            },
        };
        Trigger {
            kind,
            actions,
            span,
        }
    }

    fn step(&mut self, pair: Pair<'_, Rule>) -> Step {
        let span = span_of(&pair);
        let mut inner = pair.into_inner();
        let name = self.ident(inner.next().expect("step name"));
        let opener = self.opener(span, name.span.end);
        let (mut pages, mut on_enter, mut close) = (Vec::new(), Vec::new(), None);
        for p in inner {
            match p.as_rule() {
                Rule::page => pages.push(self.page(p)),
                Rule::on_enter => on_enter.push(self.actions(p.into_inner().next().expect("a"))),
                Rule::bad_line => self.bad_line(&p, STEP),
                Rule::close => close = Some(p),
                _ => {}
            }
        }
        self.close(close, opener, "step");
        Step {
            name,
            pages,
            on_enter,
            span,
        }
    }

    fn page(&mut self, pair: Pair<'_, Rule>) -> Page {
        let span = span_of(&pair);
        let mut inner = pair.into_inner();
        let name = self.ident(inner.next().expect("page name"));
        let opener = self.opener(span, name.span.end);
        let (mut controls, mut close) = (Vec::new(), None);
        for p in inner {
            let ps = span_of(&p);
            match p.as_rule() {
                Rule::heading => controls.push(Control::Heading(
                    self.string(p.into_inner().next().expect("s")),
                    ps,
                )),
                Rule::text_ctl => controls.push(Control::Text(
                    self.string(p.into_inner().next().expect("s")),
                    ps,
                )),
                Rule::link_ctl => {
                    let mut c = p.into_inner();
                    let label = self.string(c.next().expect("label"));
                    let url = self.expr(c.next().expect("url"));
                    controls.push(Control::Link {
                        label,
                        url,
                        span: ps,
                    });
                }
                Rule::button => {
                    let mut c = p.into_inner();
                    let label = self.string(c.next().expect("label"));
                    let actions = self.actions(c.next().expect("actions"));
                    controls.push(Control::Button {
                        label,
                        actions,
                        span: ps,
                    });
                }
                Rule::input => controls.push(Control::Input(self.input(p))),
                Rule::bad_line => self.bad_line(&p, PAGE),
                Rule::close => close = Some(p),
                _ => {}
            }
        }
        self.close(close, opener, "page");
        Page {
            name,
            controls,
            span,
        }
    }

    fn input(&mut self, pair: Pair<'_, Rule>) -> Input {
        let span = span_of(&pair);
        let mut c = pair.into_inner();
        let var = self.ident(c.next().expect("var"));
        let kind = self.ident(c.next().expect("kind").into_inner().next().expect("ident"));
        let label = self.string(c.next().expect("label"));
        let mut input = Input {
            var,
            kind,
            label,
            required: false,
            placeholder: None,
            options: None,
            validate: None,
            span,
        };
        for opt in c {
            match opt.as_rule() {
                Rule::required => input.required = true,
                Rule::placeholder => {
                    input.placeholder = Some(self.string(opt.into_inner().next().expect("s")))
                }
                Rule::options => {
                    input.options = Some(self.expr(opt.into_inner().next().expect("list")))
                }
                _ => {
                    let mut v = opt.into_inner();
                    let cond = self.expr(v.next().expect("cond"));
                    let message = self.string(v.next().expect("message"));
                    input.validate = Some((cond, message));
                }
            }
        }
        input
    }

    fn actions(&mut self, pair: Pair<'_, Rule>) -> Actions {
        let span = span_of(&pair);
        let opener = Span::new(span.start, span.start + 1);
        let (mut actions, mut close) = (Vec::new(), None);
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::bad_line => self.bad_line(&p, ACTIONS),
                Rule::close => close = Some(p),
                _ => actions.push(self.action(p)),
            }
        }
        self.close(close, opener, "block");
        Actions { actions, span }
    }

    fn action(&mut self, pair: Pair<'_, Rule>) -> Action {
        let span = span_of(&pair);
        let rule = pair.as_rule();
        let mut c = pair.into_inner();
        let kind = match rule {
            Rule::set => {
                let target = self.idents(c.next().expect("target"));
                ActionKind::Set {
                    target,
                    value: self.expr(c.next().expect("value")),
                }
            }
            Rule::initialize => ActionKind::InitializeActor,
            Rule::send_sms => ActionKind::SendSms(self.idents(c.next().expect("ref"))),
            Rule::start_timer => {
                let key = self.string(c.next().expect("key"));
                let when_pair = c
                    .next()
                    .expect("when")
                    .into_inner()
                    .next()
                    .expect("after/at");
                let is_after = when_pair.as_rule() == Rule::after;
                let e = self.expr(when_pair.into_inner().next().expect("expr"));
                let when = if is_after {
                    TimerWhen::After(e)
                } else {
                    TimerWhen::At(e)
                };
                let (mut calendar, mut skip_if_missed, mut actions) = (None, false, None);
                for p in c {
                    match p.as_rule() {
                        Rule::timer_calendar => {
                            let mut t = p.into_inner().peekable();
                            let path = self.idents(t.next().expect("calendar"));
                            let zone = t
                                .next_if(|z| z.as_rule() == Rule::calendar_zone)
                                .map(|z| self.expr(z.into_inner().next().expect("zone")));
                            let unavailable =
                                match t.next().map(|u| u.as_str().to_string()).as_deref() {
                                    Some("skip") => Unavailable::Skip,
                                    Some("previous") => Unavailable::Previous,
                                    Some("anyway") => Unavailable::Anyway,
                                    _ => Unavailable::Next,
                                };
                            calendar = Some(TimerCalendar {
                                path,
                                zone,
                                unavailable,
                            });
                        }
                        Rule::skip_missed => skip_if_missed = true,
                        _ => actions = Some(self.actions(p)),
                    }
                }
                let actions = actions.expect("start timer has actions");
                ActionKind::StartTimer(Box::new(StartTimer {
                    key,
                    when,
                    calendar,
                    skip_if_missed,
                    actions,
                }))
            }
            Rule::stop_timer => ActionKind::StopTimer(self.string(c.next().expect("key"))),
            Rule::go_page => ActionKind::GoToPage(self.ident(c.next().expect("page"))),
            Rule::go_step => ActionKind::GoToStep(self.ident(c.next().expect("step"))),
            Rule::if_action => {
                let cond = self.expr(c.next().expect("cond"));
                let then = self.actions(c.next().expect("then"));
                let mut branches = vec![(cond, then)];
                let mut otherwise = None;
                for p in c {
                    if p.as_rule() == Rule::else_if {
                        let mut e = p.into_inner();
                        let cond = self.expr(e.next().expect("cond"));
                        branches.push((cond, self.actions(e.next().expect("actions"))));
                    } else {
                        otherwise = Some(self.actions(p.into_inner().next().expect("actions")));
                    }
                }
                ActionKind::If {
                    branches,
                    otherwise,
                }
            }
            Rule::end_session => ActionKind::EndSession,
            Rule::extend_session => ActionKind::ExtendSession(self.expr(c.next().expect("by"))),
            _ => ActionKind::Say(self.string(c.next().expect("text"))),
        };
        Action { kind, span }
    }

    fn notification(&mut self, pair: Pair<'_, Rule>) -> Notification {
        let span = span_of(&pair);
        let mut inner = pair.into_inner();
        let name = self.ident(inner.next().expect("name"));
        let channel = self.ident(
            inner
                .next()
                .expect("channel")
                .into_inner()
                .next()
                .expect("ident"),
        );
        let opener = self.opener(span, channel.span.end);
        let (mut parts, mut close) = (Vec::new(), None);
        for p in inner {
            let ps = span_of(&p);
            match p.as_rule() {
                Rule::text_part => parts.push(Part::Text(
                    self.string(p.into_inner().next().expect("s")),
                    ps,
                )),
                Rule::journey_link_part => parts.push(Part::JourneyLink(ps)),
                Rule::link_part => {
                    parts.push(Part::Link(self.expr(p.into_inner().next().expect("e")), ps))
                }
                Rule::bad_line => self.bad_line(&p, NOTIFICATION),
                Rule::close => close = Some(p),
                _ => {}
            }
        }
        self.close(close, opener, "notification");
        Notification {
            name,
            channel,
            parts,
            span,
        }
    }

    fn test(&mut self, pair: Pair<'_, Rule>) -> Test {
        let span = span_of(&pair);
        let mut inner = pair.into_inner();
        let name = self.string(inner.next().expect("test name"));
        let opener = self.opener(span, name.span.end);
        let (mut steps, mut close) = (Vec::new(), None);
        for p in inner {
            match p.as_rule() {
                Rule::bad_line => self.bad_line(&p, TEST),
                Rule::close => close = Some(p),
                _ => {
                    let span = span_of(&p);
                    if let Some(kind) = self.test_step(p) {
                        steps.push(TestStep { kind, span });
                    }
                }
            }
        }
        self.close(close, opener, "test");
        Test { name, steps, span }
    }

    /// A time and the optional `in "Zone"` after it, as `clock` and `wait until` take.
    fn time_in_zone<'i>(
        &mut self,
        c: &mut impl Iterator<Item = Pair<'i, Rule>>,
    ) -> (StrLit, Option<StrLit>) {
        let at = self.string(c.next().expect("time"));
        (at, self.zone(c.next()))
    }

    /// The optional `in "Zone"` after a time.
    fn zone(&mut self, pair: Option<Pair<'_, Rule>>) -> Option<StrLit> {
        pair.map(|z| self.string(z.into_inner().next().expect("zone")))
    }

    fn test_step(&mut self, pair: Pair<'_, Rule>) -> Option<TestStepKind> {
        let rule = pair.as_rule();
        let mut c = pair.into_inner().peekable();
        let tagged = |c: &mut std::iter::Peekable<pest::iterators::Pairs<'_, Rule>>,
                      me: &mut Self,
                      tag: Rule| {
            c.next_if(|p| p.as_rule() == tag)
                .map(|p| me.string(p.into_inner().next().expect("string")))
        };
        Some(match rule {
            Rule::t_clock => {
                let (at, zone) = self.time_in_zone(&mut c);
                TestStepKind::Clock { at, zone }
            }
            Rule::t_open_link => TestStepKind::OpenLink(self.string(c.next().expect("slug"))),
            Rule::t_open_journey_link => TestStepKind::OpenJourneyLink,
            Rule::t_fill => {
                let var = self.ident(c.next().expect("var"));
                TestStepKind::Fill {
                    var,
                    value: self.string(c.next().expect("value")),
                }
            }
            Rule::t_press => TestStepKind::Press(self.string(c.next().expect("label"))),
            Rule::t_text => {
                let body = self.string(c.next().expect("body"));
                let (mut from, mut to) = (None, None);
                for p in c {
                    let number = self.string(p.clone().into_inner().next().expect("number"));
                    if p.as_rule() == Rule::t_from {
                        from = Some(number);
                    } else {
                        to = Some(number);
                    }
                }
                TestStepKind::Text { body, from, to }
            }
            Rule::t_call => {
                let to = self.string(c.next().expect("number"));
                let from = tagged(&mut c, self, Rule::t_from);
                TestStepKind::Call { to, from }
            }
            Rule::t_api => {
                let journey = self.ident(c.next().expect("journey"));
                let opener = self.opener(journey.span, journey.span.end);
                let (mut fields, mut close) = (Vec::new(), None);
                for p in c {
                    match p.as_rule() {
                        Rule::t_assign => fields.push(self.assign(p)),
                        Rule::bad_line => self.bad_line(&p, API),
                        Rule::close => close = Some(p),
                        _ => {}
                    }
                }
                // The block's `{` follows the name on the same line.
                let opener = Span::new(journey.span.end, journey.span.end).to(opener);
                self.close(close, opener, "api block");
                TestStepKind::Api { journey, fields }
            }
            Rule::t_wait => TestStepKind::Wait(self.expr(c.next().expect("duration"))),
            Rule::t_wait_until => {
                let (at, zone) = self.time_in_zone(&mut c);
                TestStepKind::WaitUntil { at, zone }
            }
            Rule::t_wait_schedule => TestStepKind::WaitSchedule(self.ident(c.next().expect("j"))),
            Rule::t_wait_timer => TestStepKind::WaitTimer(self.string(c.next().expect("key"))),
            Rule::t_mark => {
                let status = self.ident(c.next().expect("status"));
                TestStepKind::Mark {
                    status,
                    code: c.next().map(|n| self.expr(n)),
                }
            }
            Rule::t_expect => TestStepKind::Expect(self.expectation(c.next().expect("what"))),
            _ => return None,
        })
    }

    /// `target = value`, in an `api` block or an `expect`.
    fn assign(&mut self, pair: Pair<'_, Rule>) -> (Vec<Ident>, Expr) {
        let mut c = pair.into_inner();
        let target = self.idents(c.next().expect("target"));
        (target, self.expr(c.next().expect("value")))
    }

    fn expectation(&mut self, pair: Pair<'_, Rule>) -> Expectation {
        let rule = pair.as_rule();
        if rule == Rule::t_assign {
            let (target, value) = self.assign(pair);
            return Expectation::Value { target, value };
        }
        // The keywords are pairs of their own, only there to be whole words.
        let mut c = pair
            .into_inner()
            .filter(|p| {
                !matches!(
                    p.as_rule(),
                    Rule::kw_page
                        | Rule::kw_text
                        | Rule::kw_error
                        | Rule::kw_no
                        | Rule::kw_sms
                        | Rule::kw_say
                        | Rule::kw_timer
                        | Rule::kw_status
                )
            })
            .peekable();
        match rule {
            Rule::e_page => Expectation::Page(self.ident(c.next().expect("page"))),
            Rule::e_text => Expectation::Text(self.string(c.next().expect("text"))),
            Rule::e_error => {
                let field = self.ident(c.next().expect("field"));
                Expectation::Error {
                    field,
                    message: c.next().map(|s| self.string(s)),
                }
            }
            Rule::e_no_sms => Expectation::NoSms,
            Rule::e_no_timer => Expectation::NoTimer(self.string(c.next().expect("key"))),
            Rule::e_count => Expectation::SmsCount(self.expr(c.next().expect("n"))),
            Rule::e_sms => {
                let (mut notification, mut to, mut matches, mut suppressed) =
                    (None, None, Vec::new(), false);
                for p in c {
                    match p.as_rule() {
                        Rule::e_notification => {
                            notification = Some(self.idents(p.into_inner().next().expect("n")))
                        }
                        Rule::t_to => to = Some(self.string(p.into_inner().next().expect("s"))),
                        Rule::e_containing => matches.push(SmsMatch::Containing(
                            self.string(p.into_inner().next().expect("s")),
                        )),
                        Rule::e_equal => matches.push(SmsMatch::Equal(
                            self.string(p.into_inner().next().expect("s")),
                        )),
                        Rule::e_link => matches.push(SmsMatch::JourneyLink),
                        Rule::e_suppressed => suppressed = true,
                        _ => {}
                    }
                }
                Expectation::Sms {
                    notification,
                    to,
                    matches,
                    suppressed,
                }
            }
            Rule::e_say => Expectation::Say(self.string(c.next().expect("words"))),
            Rule::e_timer => {
                let key = self.string(c.next().expect("key"));
                let at = c.next().map(|at| {
                    let at = self.string(at);
                    let zone = self.zone(c.next());
                    (at, zone)
                });
                Expectation::Timer { key, at }
            }
            _ => Expectation::Status(self.ident(c.next().expect("status"))),
        }
    }

    fn calendar(&mut self, pair: Pair<'_, Rule>) -> Calendar {
        let span = span_of(&pair);
        let mut inner = pair.into_inner();
        let name = self.ident(inner.next().expect("name"));
        let opener = self.opener(span, name.span.end);
        let (mut items, mut close) = (Vec::new(), None);
        for p in inner {
            let ps = span_of(&p);
            match p.as_rule() {
                Rule::time_zone => items.push(CalendarItem::TimeZone(
                    self.string(p.into_inner().next().expect("s")),
                    ps,
                )),
                Rule::open_weekly => {
                    let mut c = p.into_inner();
                    let days = c
                        .next()
                        .expect("days")
                        .into_inner()
                        .map(|r| {
                            let mut d = r.into_inner();
                            let from = self.ident(d.next().expect("day"));
                            (from, d.next().map(|t| self.ident(t)))
                        })
                        .collect();
                    let hours = c
                        .map(|r| {
                            let mut t = r.into_inner();
                            (
                                self.ident(t.next().expect("from")),
                                self.ident(t.next().expect("to")),
                            )
                        })
                        .collect();
                    items.push(CalendarItem::Weekly {
                        days,
                        hours,
                        span: ps,
                    });
                }
                Rule::open_cron => {
                    let mut c = p.into_inner();
                    let cron = self.string(c.next().expect("cron"));
                    let length = self.expr(c.next().expect("duration"));
                    items.push(CalendarItem::Cron {
                        cron,
                        length,
                        span: ps,
                    });
                }
                Rule::closed => {
                    let (mut dates, mut reason) = (Vec::new(), None);
                    for c in p.into_inner() {
                        match c.as_rule() {
                            Rule::date => dates.push(self.ident(c)),
                            _ => reason = Some(self.string(c)),
                        }
                    }
                    let mut dates = dates.into_iter();
                    let from = dates.next().expect("a date");
                    items.push(CalendarItem::Closed {
                        from,
                        to: dates.next(),
                        reason,
                        span: ps,
                    });
                }
                Rule::bad_line => self.bad_line(&p, CALENDAR),
                Rule::close => close = Some(p),
                _ => {}
            }
        }
        self.close(close, opener, "calendar");
        Calendar { name, items, span }
    }

    // ------------------------------------------------------------ literals

    /// Unescapes a string literal and splits out its `{{ }}` interpolations.
    fn string(&mut self, pair: Pair<'_, Rule>) -> StrLit {
        let span = span_of(&pair);
        let mut value = String::new();
        let mut parts = Vec::new();
        let mut text = String::new();
        for p in pair.into_inner() {
            let at = p.as_span().start();
            match p.as_rule() {
                Rule::escape => {
                    let esc = p.as_str()[1..].chars().next().unwrap_or('\\');
                    let c = match esc {
                        'n' => '\n',
                        't' => '\t',
                        '"' | '\\' | '{' | '}' => esc,
                        _ => {
                            let d = Diagnostic::new(INVALID_ESCAPE, self.file, Span::new(at, at + p.as_str().len()), format!("unknown escape `\\{esc}`"), "not a known escape")
                                .with_help("the escapes are `\\n`, `\\t`, `\\\"`, `\\\\`, `\\{` and `\\}`; write `\\\\` for a backslash");
                            self.diag(d);
                            continue;
                        }
                    };
                    value.push(c);
                    text.push(c);
                }
                Rule::interp | Rule::interp_raw => {
                    if !text.is_empty() {
                        parts.push(TemplatePart::Text(std::mem::take(&mut text)));
                    }
                    value.push_str(p.as_str());
                    let expr = if p.as_rule() == Rule::interp {
                        // The grammar read the expression in place: the common, fast path.
                        Some(self.expr(p.into_inner().next().expect("an expression")))
                    } else {
                        // Not an expression: parse it alone, to say what is wrong with it.
                        let raw = p.as_str();
                        self.interpolation(&raw[2..raw.len() - 2], at + 2)
                    };
                    parts.extend(expr.map(TemplatePart::Expr));
                }
                Rule::lone_open => {
                    let line_end = self.text[at..]
                        .find('"')
                        .map_or(self.text.len(), |i| at + i);
                    let d = Diagnostic::new(
                        BAD_INTERPOLATION,
                        self.file,
                        Span::new(at, line_end),
                        "unclosed `{{` in string",
                        "this `{{` has no matching `}}`",
                    )
                    .with_help("close it with `}}`, or write `\\{` for a literal brace");
                    self.diag(d);
                    value.push_str("{{");
                    text.push_str("{{");
                }
                _ => {
                    value.push_str(p.as_str());
                    text.push_str(p.as_str());
                }
            }
        }
        if !text.is_empty() {
            parts.push(TemplatePart::Text(text));
        }
        StrLit { value, span, parts }
    }

    fn interpolation(&mut self, inner: &str, start: usize) -> Option<Expr> {
        let span = Span::new(start, start + inner.len());
        if inner.trim().is_empty() {
            let d = Diagnostic::new(
                BAD_INTERPOLATION,
                self.file,
                Span::new(start - 2, start + inner.len() + 2),
                "empty interpolation",
                "nothing between `{{` and `}}`",
            )
            .with_help("put an expression inside, such as `{{ actor.first_name }}`");
            self.diag(d);
            return None;
        }
        if let Some(at) = too_deep(inner) {
            let d = Diagnostic::new(
                TOO_COMPLEX,
                self.file,
                Span::new(start + at, start + at + 1),
                format!("brackets are nested more than {} levels deep", MAX_NESTING),
                "nested too deeply here",
            )
            .with_help("flatten the expression, for example with intermediate variables");
            self.diag(d);
            return None;
        }
        match pest_parse(Rule::expr_only, inner) {
            Ok(mut pairs) => {
                let only = pairs.next().expect("expr_only");
                let e = only.into_inner().next().expect("expr");
                let mut sub = Lowerer::new(self.file, inner, &[]);
                let mut expr = sub.expr(e);
                expr.shift(start);
                self.diagnostics
                    .extend(sub.diagnostics.into_iter().map(|mut d| {
                        d.shift(start);
                        d
                    }));
                Some(expr)
            }
            Err(err) => {
                let at = match err.location {
                    pest::error::InputLocation::Pos(p) => p,
                    pest::error::InputLocation::Span((s, _)) => s,
                };
                let at = (start + at).min(span.end);
                let end = self.text[at..]
                    .chars()
                    .next()
                    .map_or(at, |c| at + c.len_utf8())
                    .min(span.end.max(at));
                let d = Diagnostic::new(BAD_INTERPOLATION, self.file, Span::new(at, end), "invalid expression in `{{ }}`", "the expression cannot go on from here")
                    .with_label(span, "this interpolation")
                    .with_help("write a single expression, such as `{{ actor.first_name }}` or `{{ UPPERCASE(name) }}`");
                self.diag(d);
                None
            }
        }
    }

    // ------------------------------------------------------------ expressions

    /// Lowers an expression pair: a whole `expr`, or one operand of it.
    fn expr(&mut self, pair: Pair<'_, Rule>) -> Expr {
        let span = span_of(&pair);
        match pair.as_rule() {
            Rule::expr if pair.clone().into_inner().count() > MAX_EXPRESSION_PARTS => {
                let d = Diagnostic::new(
                    TOO_COMPLEX,
                    self.file,
                    span,
                    "expression is too long",
                    format!("more than {MAX_EXPRESSION_PARTS} operands and operators"),
                )
                .with_help("split it, for example with intermediate variables");
                self.diag(d);
                Expr {
                    kind: ExprKind::Null,
                    span,
                }
            }
            Rule::expr => PRATT
                .map_primary(|p| self.expr(p))
                .map_prefix(|op, e| {
                    let kind = if op.as_rule() == Rule::not_op {
                        UnOp::Not
                    } else {
                        UnOp::Neg
                    };
                    let span = span_of(&op).to(e.span);
                    Expr {
                        kind: ExprKind::Unary(kind, Box::new(e)),
                        span,
                    }
                })
                .map_postfix(|e, field| {
                    let f = field.into_inner().next().expect("field name");
                    let f = Ident {
                        name: f.as_str().to_string(),
                        span: span_of(&f),
                    };
                    let span = e.span.to(f.span);
                    match e.kind {
                        ExprKind::Path(mut path) => {
                            path.push(f);
                            Expr {
                                kind: ExprKind::Path(path),
                                span,
                            }
                        }
                        kind => Expr {
                            kind: ExprKind::Field(Box::new(Expr { kind, span: e.span }), f),
                            span,
                        },
                    }
                })
                .map_infix(|left, op, right| {
                    let op = match op.as_str().to_ascii_uppercase().as_str() {
                        "OR" => BinOp::Or,
                        "AND" => BinOp::And,
                        "=" => BinOp::Eq,
                        "!=" => BinOp::Ne,
                        "<" => BinOp::Lt,
                        "<=" => BinOp::Le,
                        ">" => BinOp::Gt,
                        ">=" => BinOp::Ge,
                        "+" => BinOp::Add,
                        "-" => BinOp::Sub,
                        "*" => BinOp::Mul,
                        "/" => BinOp::Div,
                        _ => BinOp::Rem,
                    };
                    let span = left.span.to(right.span);
                    Expr {
                        kind: ExprKind::Binary(op, Box::new(left), Box::new(right)),
                        span,
                    }
                })
                .parse(pair.into_inner()),
            Rule::duration if pair.as_str().contains('.') => {
                let d = Diagnostic::new(
                    INVALID_DURATION,
                    self.file,
                    span,
                    format!("`{}` is not a whole duration", pair.as_str()),
                    "durations use whole numbers",
                )
                .with_help("use a smaller unit, e.g. `90m` instead of `1.5h`");
                self.diag(d);
                Expr {
                    kind: ExprKind::Null,
                    span,
                }
            }
            Rule::duration if pair.as_str().bytes().take_while(u8::is_ascii_digit).count() > 12 => {
                let d = Diagnostic::new(
                    INVALID_DURATION,
                    self.file,
                    span,
                    format!("duration `{}` is too long", pair.as_str()),
                    "longer than ten years",
                )
                .with_help("use a duration of at most ten years");
                self.diag(d);
                Expr {
                    kind: ExprKind::Null,
                    span,
                }
            }
            Rule::duration => {
                let s = pair.as_str();
                let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
                let value = s[..digits].parse::<u64>().unwrap_or(u64::MAX);
                Expr {
                    kind: ExprKind::Duration {
                        value,
                        unit: s[digits..].to_string(),
                    },
                    span,
                }
            }
            Rule::number => Expr {
                kind: ExprKind::Number(pair.as_str().parse().unwrap_or(f64::MAX)),
                span,
            },
            Rule::string => Expr {
                kind: ExprKind::Text(self.string(pair)),
                span,
            },
            Rule::boolean => Expr {
                kind: ExprKind::Bool(pair.as_str() == "true"),
                span,
            },
            Rule::null => Expr {
                kind: ExprKind::Null,
                span,
            },
            Rule::list => Expr {
                kind: ExprKind::List(pair.into_inner().map(|p| self.expr(p)).collect()),
                span,
            },
            Rule::object => {
                let fields = pair
                    .into_inner()
                    .map(|f| {
                        let mut c = f.into_inner();
                        let name = self.ident(c.next().expect("name"));
                        (name, self.expr(c.next().expect("value")))
                    })
                    .collect();
                Expr {
                    kind: ExprKind::Object(fields),
                    span,
                }
            }
            Rule::call => {
                let mut c = pair.into_inner();
                let name = self.ident(c.next().expect("a name"));
                match c.next() {
                    Some(args) => {
                        let args = args.into_inner().map(|p| self.expr(p)).collect();
                        Expr {
                            kind: ExprKind::Call(name, args),
                            span,
                        }
                    }
                    None => Expr {
                        kind: ExprKind::Path(vec![name]),
                        span,
                    },
                }
            }
            Rule::ident => Expr {
                kind: ExprKind::Path(vec![self.ident(pair)]),
                span,
            },
            _ => Expr {
                kind: ExprKind::Null,
                span,
            },
        }
    }
}

/// Longer expressions are refused: no journey needs one, and checking recurses on them.
const MAX_EXPRESSION_PARTS: usize = 512;

/// Operator precedence, loosest first.
static PRATT: std::sync::LazyLock<PrattParser<Rule>> = std::sync::LazyLock::new(|| {
    PrattParser::new()
        .op(Op::infix(Rule::or_op, Assoc::Left))
        .op(Op::infix(Rule::and_op, Assoc::Left))
        .op(Op::prefix(Rule::not_op))
        .op(Op::infix(Rule::cmp_op, Assoc::Left))
        .op(Op::infix(Rule::add_op, Assoc::Left))
        .op(Op::infix(Rule::mul_op, Assoc::Left))
        .op(Op::prefix(Rule::neg_op))
        .op(Op::postfix(Rule::field_access))
});

/// In a bad line that starts an `if`, the first word after a block's `}` that looks
/// like a misspelt `else`: its offset, the word, and what was probably meant. Braces
/// and strings are counted as the grammar's `bad_line` counts them.
fn misspelt_else(line: &str) -> Option<(usize, &str, &'static str)> {
    let bytes = line.as_bytes();
    let (mut depth, mut in_string, mut i) = (0usize, false, 0);
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if in_string => i += 1,
            b'"' => in_string = !in_string,
            b'\n' | b'\r' => in_string = false,
            b'{' if !in_string => depth += 1,
            b'}' if !in_string && depth > 0 => {
                depth -= 1;
                if depth == 0 {
                    let rest = &line[i + 1..];
                    let start = i + 1 + (rest.len() - rest.trim_start_matches([' ', '\t']).len());
                    let end = line[start..]
                        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                        .map_or(line.len(), |n| start + n);
                    let word = &line[start..end];
                    if matches!(word, "elseif" | "elsif" | "elif") {
                        return Some((start, word, "else if"));
                    }
                    if did_you_mean(word, ["else"]).is_some() {
                        return Some((start, word, "else"));
                    }
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// The offset of an opening quote on the first line of `line` that is never closed.
fn unterminated_quote(line: &str) -> Option<usize> {
    let first = &line[..line.find('\n').unwrap_or(line.len())];
    let mut open = None;
    let mut chars = first.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' if open.is_some() => {
                chars.next();
            }
            '"' => open = if open.is_some() { None } else { Some(i) },
            '/' if open.is_none() && chars.peek().is_some_and(|(_, n)| *n == '/') => break,
            _ => {}
        }
    }
    open
}

/// The length of a line without a trailing `//` comment (outside strings) and spaces.
fn without_comment(line: &str) -> usize {
    let mut in_string = false;
    let mut chars = line.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' if in_string => {
                chars.next();
            }
            '"' => in_string = !in_string,
            '/' if !in_string && chars.peek().is_some_and(|(_, n)| *n == '/') => {
                return line[..i].trim_end().len()
            }
            _ => {}
        }
    }
    line.trim_end().len()
}
