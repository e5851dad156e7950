//! Source text to syntax tree. Parsing never fails: it returns the tree it could
//! build and the syntax diagnostics, and it knows nothing about names or types.

pub mod ast;
mod braces;
mod grammar;
mod lower;
pub mod pieces;
mod shift;

use crate::diagnostic::{Diagnostic, FileId, Span, TOO_COMPLEX, UNCLOSED_BLOCK};
use grammar::{pest_parse, too_deep};
pub use grammar::{Rule, MAX_NESTING};

/// Files larger than this are refused with a diagnostic rather than parsed.
pub const MAX_FILE_BYTES: usize = 32 * 1024 * 1024;

/// The stack for parsing: pest and the lowering recurse once per nesting level, and
/// debug builds use large frames. Only the pages touched are ever committed.
pub(crate) const PARSE_STACK_BYTES: usize = 256 * 1024 * 1024;

/// Parses one file. Always returns a tree, possibly with parts left out.
pub fn parse(file: FileId, text: &str) -> (ast::File, Vec<Diagnostic>) {
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("journeyc-parse".into())
            .stack_size(PARSE_STACK_BYTES)
            .spawn_scoped(scope, || parse_here(file, text))
            .expect("a parser thread can be started")
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

fn parse_here(file: FileId, text: &str) -> (ast::File, Vec<Diagnostic>) {
    let empty = ast::File { items: Vec::new() };
    if text.len() > MAX_FILE_BYTES {
        let d = Diagnostic::new(
            TOO_COMPLEX,
            file,
            Span::new(0, 0),
            format!("file is too large to check ({} bytes)", text.len()),
            "this file",
        )
        .with_help(format!(
            "split it into files of at most {} MiB and import them",
            MAX_FILE_BYTES >> 20
        ));
        return (empty, vec![d]);
    }
    if let Some(at) = too_deep(text) {
        let d = Diagnostic::new(
            TOO_COMPLEX,
            file,
            Span::new(at, at + 1),
            format!("brackets are nested more than {MAX_NESTING} levels deep"),
            "nested too deeply here",
        )
        .with_help("flatten the expression, for example with intermediate variables");
        return (empty, vec![d]);
    }
    match pest_parse(Rule::file, text) {
        Ok(mut pairs) => {
            let mut lowerer = lower::Lowerer::new(file, text, &[]);
            let tree = lowerer.file(pairs.next().expect("the file rule always produces a pair"));
            let diagnostics = lowerer.diagnostics;
            drop(pairs);
            if diagnostics.iter().any(|d| d.code == UNCLOSED_BLOCK) {
                if let Some(repaired) = reparse(file, text, diagnostics.len()) {
                    return repaired;
                }
            }
            (tree, diagnostics)
        }
        Err(err) => {
            // The grammar accepts any text, so only a resource limit gets here.
            let (start, end) = match err.location {
                pest::error::InputLocation::Pos(p) => (p, p),
                pest::error::InputLocation::Span(s) => s,
            };
            let d = Diagnostic::new(
                TOO_COMPLEX,
                file,
                Span::new(start, end),
                "file is too complex to parse",
                "parsing stopped here",
            )
            .with_help("split the file, or simplify the lines around this point");
            (empty, vec![d])
        }
    }
}

/// A block left open reaches the end of the file, so every line after the gap was read
/// into the wrong block. Parses again with the `}` that the indentation says are
/// missing (`braces::repair` keeps every offset), each reported where it belongs. The
/// second reading is kept only if each written `}` closed a block and it reports no
/// more than the first, so a file whose indentation misleads keeps its first reading.
fn reparse(file: FileId, text: &str, reported: usize) -> Option<(ast::File, Vec<Diagnostic>)> {
    let (repaired, missing) = braces::repair(text)?;
    let mut pairs = pest_parse(Rule::file, &repaired).ok()?;
    let mut lowerer = lower::Lowerer::new(file, &repaired, &missing);
    let tree = lowerer.file(pairs.next()?);
    (lowerer.missing_closed == missing.len() && lowerer.diagnostics.len() <= reported)
        .then_some((tree, lowerer.diagnostics))
}

/// Words for a grammar rule, for the rare message that must name one.
pub fn describe_rule(rule: Rule) -> &'static str {
    match rule {
        Rule::EOI => "end of file",
        Rule::WHITESPACE => "whitespace",
        Rule::COMMENT => "a comment",
        Rule::file | Rule::top_item => "an import, journey, calendar, notification or test",
        Rule::eol => "the end of the line",
        Rule::stray_close | Rule::close => "`}`",
        Rule::bad_line | Rule::bad_group => "a line",
        Rule::import | Rule::import_file | Rule::module_path => "an import",
        Rule::journey | Rule::journey_item | Rule::journey_part => "a journey",
        Rule::setting | Rule::sms_from | Rule::expires | Rule::link_lands | Rule::lands_on => {
            "a journey setting"
        }
        Rule::existing_session
        | Rule::policy
        | Rule::new_version
        | Rule::version_policy
        | Rule::help_text => "a journey setting",
        Rule::trigger | Rule::trigger_link | Rule::trigger_sms | Rule::trigger_call => "a trigger",
        Rule::trigger_api | Rule::trigger_schedule => "a trigger",
        Rule::on_started | Rule::on_reply | Rule::on_enter => "an event handler",
        Rule::var_decl | Rule::type_name => "a variable declaration",
        Rule::step | Rule::step_item => "a step",
        Rule::page => "a page",
        Rule::control | Rule::heading | Rule::text_ctl | Rule::link_ctl | Rule::button => {
            "a page control"
        }
        Rule::input | Rule::input_kind | Rule::input_opt | Rule::required | Rule::placeholder => {
            "an input"
        }
        Rule::options | Rule::validate => "an input",
        Rule::actions | Rule::action => "an action",
        Rule::set | Rule::target => "`set`",
        Rule::initialize => "`initialize actor`",
        Rule::send_sms => "`send sms`",
        Rule::start_timer
        | Rule::timer_when
        | Rule::after
        | Rule::at
        | Rule::timer_calendar
        | Rule::calendar_zone => "`start timer`",
        Rule::unavailable | Rule::skip_missed => "`start timer`",
        Rule::stop_timer => "`stop timer`",
        Rule::go_page | Rule::go_step => "`go to`",
        Rule::if_action | Rule::else_if | Rule::else_block => "`if`",
        Rule::end_session => "`end session`",
        Rule::extend_session => "`extend session`",
        Rule::say => "`say`",
        Rule::ref_path => "a name",
        Rule::notification | Rule::channel | Rule::part => "a notification",
        Rule::text_part | Rule::journey_link_part | Rule::link_part => "a notification part",
        Rule::calendar | Rule::calendar_item | Rule::time_zone => "a calendar",
        Rule::open_weekly | Rule::days | Rule::day_range | Rule::day => "weekly opening hours",
        Rule::clock_range | Rule::clock => "a time of day",
        Rule::open_cron => "cron opening hours",
        Rule::closed | Rule::date => "a closed date",
        Rule::expr_only | Rule::expr | Rule::operand | Rule::primary => "an expression",
        Rule::call_args => "arguments",
        Rule::call | Rule::list | Rule::object | Rule::field => "an expression",
        Rule::field_access => "a field",
        Rule::infix | Rule::prefix | Rule::or_op | Rule::and_op | Rule::not_op => "an operator",
        Rule::cmp_op | Rule::add_op | Rule::mul_op | Rule::neg_op => "an operator",
        Rule::boolean => "`true` or `false`",
        Rule::null => "`null`",
        Rule::number => "a number",
        Rule::duration => "a duration",
        Rule::ident | Rule::ident_char => "a name",
        Rule::string | Rule::str_plain | Rule::escape | Rule::interp_raw => "a string",
        Rule::interp | Rule::lone_open => "an interpolation",
        Rule::test_block | Rule::test_item => "a test",
        Rule::t_clock | Rule::t_zone => "`clock`",
        Rule::t_open_link | Rule::t_open_journey_link => "`open`",
        Rule::t_fill => "`fill`",
        Rule::t_press => "`press`",
        Rule::t_text | Rule::t_from | Rule::t_to => "`text`",
        Rule::t_call => "`call`",
        Rule::t_api | Rule::t_api_field | Rule::t_assign => "`api`",
        Rule::t_wait_schedule | Rule::t_wait_timer | Rule::t_wait_until | Rule::t_wait => "`wait`",
        Rule::t_mark => "`mark last sms`",
        Rule::t_expect | Rule::e_page | Rule::e_text | Rule::e_error | Rule::e_no_sms => "`expect`",
        Rule::e_no_timer | Rule::e_count | Rule::e_sms | Rule::e_notification => "`expect`",
        Rule::sms_word | Rule::e_containing | Rule::e_equal | Rule::e_link => "`expect sms`",
        Rule::e_suppressed | Rule::e_say | Rule::e_timer | Rule::e_status => "`expect`",
        Rule::kw_page | Rule::kw_text | Rule::kw_error | Rule::kw_no | Rule::kw_sms => "`expect`",
        Rule::kw_say | Rule::kw_timer | Rule::kw_status => "`expect`",
    }
}

#[cfg(test)]
mod tests {
    use super::grammar::CALL_LIMIT;
    use super::*;

    /// pest's call limit turns a parse that would run away into a diagnostic. The limit
    /// is forced low here by hand (in use it is 400 calls per byte of input), then the
    /// same text parses again once it is restored. One test, so nothing runs between.
    #[test]
    fn the_call_limit_gives_a_diagnostic_not_a_hang() {
        let text = "journey J {\n  step S {\n    page P {\n      heading \"hi\"\n    }\n  }\n}\n";
        let saved = std::mem::replace(&mut *CALL_LIMIT.lock().unwrap(), usize::MAX);
        pest::set_call_limit(std::num::NonZeroUsize::new(50));
        let (tree, diags) = parse(FileId(0), text);
        *CALL_LIMIT.lock().unwrap() = 0;
        pest::set_call_limit(std::num::NonZeroUsize::new(saved.max(1)));
        assert!(tree.items.is_empty());
        assert_eq!(diags.len(), 1);
        assert_eq!(diags[0].code.id, "J0005");
        assert_eq!(diags[0].message, "file is too complex to parse");

        let (tree, diags) = parse(FileId(0), text);
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(tree.items.len(), 1);
    }
}
