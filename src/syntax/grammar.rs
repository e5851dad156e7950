//! The pest grammar (`grammar/journey.pest`) and its limits: the generated parser and
//! `Rule`, pest's call limit, and the nesting check made before parsing.

use std::sync::Mutex;

use pest::Parser as _;

#[derive(pest_derive::Parser)]
#[grammar = "../grammar/journey.pest"]
pub(crate) struct JourneyParser;

/// Brackets nested deeper than this are refused: no real journey comes close.
pub const MAX_NESTING: usize = 64;

/// pest's call limit is process-wide and read when each parse starts. It is raised to
/// 400 calls per byte of the largest input parsed so far (plus a floor), and never
/// lowered, so parses on other threads never see a limit below their own need; the
/// lock only orders the raises.
pub(super) static CALL_LIMIT: Mutex<usize> = Mutex::new(0);

pub(crate) fn pest_parse(
    rule: Rule,
    text: &str,
) -> Result<pest::iterators::Pairs<'_, Rule>, Box<pest::error::Error<Rule>>> {
    let needed = text.len().saturating_mul(400).saturating_add(100_000);
    {
        let mut limit = CALL_LIMIT.lock().unwrap_or_else(|e| e.into_inner());
        if *limit < needed {
            *limit = needed;
            pest::set_call_limit(std::num::NonZeroUsize::new(needed));
        }
    }
    JourneyParser::parse(rule, text).map_err(Box::new)
}

/// The offset of the first bracket nested deeper than `MAX_NESTING`, ignoring strings
/// and comments.
pub(crate) fn too_deep(text: &str) -> Option<usize> {
    #[derive(PartialEq)]
    enum Mode {
        Code,
        Text,
        Interpolation,
    }
    let bytes = text.as_bytes();
    let (mut depth, mut i) = (0usize, 0usize);
    let mut modes = vec![Mode::Code];
    let mut in_comment = false;
    while i < bytes.len() {
        let b = bytes[i];
        let next = bytes.get(i + 1).copied();
        let mode = modes.last().unwrap_or(&Mode::Code);
        if in_comment {
            in_comment = b != b'\n';
        } else if *mode == Mode::Text {
            match (b, next) {
                (b'\\', _) => i += 1,
                (b'"' | b'\n', _) => {
                    modes.pop();
                }
                (b'{', Some(b'{')) => {
                    modes.push(Mode::Interpolation);
                    i += 1;
                }
                _ => {}
            }
        } else {
            match (b, next) {
                (b'"', _) => modes.push(Mode::Text),
                (b'/', Some(b'/')) if *mode == Mode::Code => in_comment = true,
                (b'}', Some(b'}')) if *mode == Mode::Interpolation => {
                    modes.pop();
                    i += 1;
                }
                (b'(' | b'[' | b'{', _) => {
                    depth += 1;
                    if depth > MAX_NESTING {
                        return Some(i);
                    }
                }
                (b')' | b']' | b'}', _) => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        if modes.is_empty() {
            modes.push(Mode::Code);
        }
        i += 1;
    }
    None
}
