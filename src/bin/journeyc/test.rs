//! `journeyc test`: checks the files, runs every `test` block on the engine (each on its
//! own thread's engine, in memory, with a manual clock), and reports like `cargo test`:
//! a line per test, failures with the step's source, and a summary. `--format json`,
//! `--junit FILE` and `--coverage` serve CI systems and authors.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Args;
use journeyc::coverage::{self, Item, Reached};
use journeyc::diagnostic::{Code, Diagnostic, Span};
use journeyc::ir;
use journeyc::tester::{self, Outcome};
use journeyc::{Severity, SourceFile};
use serde_json::json;

use crate::files::{check_all, colored, Checked, Format};
use crate::{places, render};

#[derive(Args)]
pub struct TestArgs {
    /// Files or folders to test; folders are searched recursively for *.journey.
    #[arg(default_value = ".")]
    paths: Vec<PathBuf>,
    /// Run only the tests whose name contains this text.
    #[arg(long)]
    filter: Option<String>,
    /// How to report: `human` (default) or `json` (one object per test, then a summary).
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Also write a JUnit XML report to this file, for CI systems.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Report the steps, pages, buttons, reply handlers, timers and notifications of each
    /// journey that no test reached.
    #[arg(long)]
    coverage: bool,
}

/// What a failed test is reported as: not a checker diagnostic, so no J code.
const TEST_FAILED: Code = Code {
    id: "test failed",
    title: "a test's expectation did not hold",
    severity: Severity::Error,
};

/// One test as it ran, with where it came from.
struct Ran {
    file: usize,
    outcome: Outcome,
}

pub fn test(args: TestArgs) -> ExitCode {
    let checked = check_all(&args.paths, args.format, false);
    if checked.code == ExitCode::from(1) {
        eprintln!("error: the journeys have errors, so no test ran");
    }
    if checked.code != ExitCode::SUCCESS {
        return checked.code;
    }
    let journeys: Vec<ir::Journey> = checked
        .modules
        .iter()
        .flat_map(|(_, m, _)| m.journeys.iter().cloned())
        .collect();
    let mut todo = Vec::new();
    for (file, module, root) in &checked.modules {
        if !root {
            continue;
        }
        for t in &module.tests {
            if args.filter.as_ref().is_none_or(|f| t.name.contains(f)) {
                todo.push((*file, t));
            }
        }
    }
    let started = Instant::now();
    // Tests are independent: one engine each, on as many threads as there are cores.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = todo.len().div_ceil(threads).max(1);
    let ran: Vec<Ran> = std::thread::scope(|scope| {
        let handles: Vec<_> = todo
            .chunks(chunk)
            .map(|part| {
                let journeys = &journeys;
                scope.spawn(move || {
                    part.iter()
                        .map(|(file, t)| Ran {
                            file: *file,
                            outcome: tester::run(t, journeys),
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    let elapsed = started.elapsed();
    let failed = ran.iter().filter(|r| r.outcome.failure.is_some()).count();
    let steps: usize = ran.iter().map(|r| r.outcome.steps).sum();
    let mut reached = Reached::default();
    for r in &ran {
        reached.merge(&r.outcome.reached);
    }
    let sources = &checked.sources;
    // Coverage is of every journey checked, those imported by test files included.
    let roots: Vec<&ir::Module> = checked.modules.iter().map(|(_, m, _)| m).collect();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match args.format {
        Format::Human => {
            let renderer = render::Renderer::new(colored(Format::Human));
            let _ = writeln!(
                out,
                "running {} test{}",
                ran.len(),
                if ran.len() == 1 { "" } else { "s" }
            );
            for r in &ran {
                let verdict = if r.outcome.failure.is_some() {
                    "FAILED"
                } else {
                    "ok"
                };
                let _ = writeln!(
                    out,
                    "test {} :: {} ... {verdict}",
                    sources[r.file].name, r.outcome.name
                );
            }
            for r in ran.iter().filter(|r| r.outcome.failure.is_some()) {
                let _ = writeln!(
                    out,
                    "\n---- {} :: {} ----",
                    sources[r.file].name, r.outcome.name
                );
                let _ = write!(out, "{}", renderer.render(&failure(r), sources));
            }
            if args.coverage {
                let _ = write!(out, "{}", coverage_text(&roots, &reached, sources));
            }
            let _ = writeln!(
                out,
                "\ntest result: {}. {} passed; {failed} failed; {steps} steps in {:.0?}",
                if failed == 0 { "ok" } else { "FAILED" },
                ran.len() - failed,
                elapsed
            );
        }
        Format::Json => {
            for r in &ran {
                let f = r.outcome.failure.as_ref();
                let line = json!({
                    "type": "test",
                    "file": sources[r.file].name,
                    "name": r.outcome.name,
                    "passed": f.is_none(),
                    "steps": r.outcome.steps,
                    "failure": f.map(|f| json!({
                        "span": {"start": f.span.0, "end": f.span.1},
                        "line": line_of(&sources[r.file], f.span.0),
                        "expected": f.expected,
                        "found": f.found,
                        "log": f.log,
                    })),
                });
                let _ = writeln!(out, "{line}");
            }
            if args.coverage {
                let _ = writeln!(out, "{}", coverage_json(&roots, &reached, sources));
            }
            let summary = json!({
                "type": "summary",
                "passed": ran.len() - failed,
                "failed": failed,
                "steps": steps,
                "seconds": elapsed.as_secs_f64(),
            });
            let _ = writeln!(out, "{summary}");
        }
    }
    if let Some(path) = &args.junit {
        if let Err(e) = std::fs::write(path, junit(&ran, sources, elapsed.as_secs_f64())) {
            eprintln!("error: cannot write `{}`: {e}", path.display());
            return ExitCode::from(2);
        }
    }
    if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// What every test of the checked root files reached, for `journeyc graph --coverage`.
pub fn reached(checked: &Checked) -> Reached {
    let journeys: Vec<ir::Journey> = checked
        .modules
        .iter()
        .flat_map(|(_, m, _)| m.journeys.iter().cloned())
        .collect();
    let mut reached = Reached::default();
    for (_, module, root) in &checked.modules {
        for t in module.tests.iter().filter(|_| *root) {
            reached.merge(&tester::run(t, &journeys).reached);
        }
    }
    reached
}

/// A failure as a diagnostic: the step's line, what was expected, what happened, and
/// the session's recent log.
fn failure(r: &Ran) -> Diagnostic {
    let f = r.outcome.failure.as_ref().expect("only failures are shown");
    let mut d = Diagnostic::new(
        TEST_FAILED,
        journeyc::FileId(r.file as u32),
        Span::new(f.span.0, f.span.1),
        format!("expected {}", f.expected),
        f.found.clone(),
    );
    if !f.log.is_empty() {
        d = d.with_note(format!(
            "what happened, newest last (`test:` lines are the test's own steps):\n{}",
            f.log.join("\n")
        ));
    }
    d
}

fn line_of(source: &SourceFile, at: usize) -> usize {
    source.text[..at.min(source.text.len())]
        .matches('\n')
        .count()
        + 1
}

/// An item of a journey in words, as coverage lists it.
fn item_name(j: &ir::Journey, item: &Item) -> String {
    match item {
        Item::Trigger { index } => match &j.triggers[*index] {
            ir::Trigger::Link { slug } => format!("trigger link \"{slug}\""),
            ir::Trigger::Sms { to, .. } => format!("trigger sms to \"{to}\""),
            ir::Trigger::Call { to, .. } => format!("trigger call to \"{to}\""),
            ir::Trigger::Api { .. } => "trigger api".into(),
            ir::Trigger::Schedule { cron, .. } => format!("trigger schedule \"{cron}\""),
        },
        Item::Reply { handler } => {
            let keywords = &j.reply_handlers[*handler].keywords;
            if keywords.is_empty() {
                "on reply (any)".into()
            } else {
                format!("on reply \"{}\"", keywords.join("\", \""))
            }
        }
        Item::Step { step } => format!("step {}", j.steps[*step].name),
        Item::Page { step, page } => format!("page {}", j.steps[*step].pages[*page].name),
        Item::Button {
            step,
            page,
            control,
        } => {
            let p = &j.steps[*step].pages[*page];
            // A label with `{{ }}` has no text of its own: the button is named by its
            // place among the page's buttons.
            let nth = p.controls[..*control]
                .iter()
                .filter(|c| matches!(c, ir::Control::Button { .. }))
                .count()
                + 1;
            match p.controls.get(*control) {
                Some(ir::Control::Button { label, .. }) => match &label.kind {
                    ir::ExprKind::Text(t) => format!("button \"{t}\" on page {}", p.name),
                    _ => format!("button {nth} on page {}", p.name),
                },
                _ => format!("button {nth} on page {}", p.name),
            }
        }
        Item::Timer { key } => format!("timer \"{key}\""),
        Item::Notification { index } => format!("notification {}", j.notifications[*index].name),
    }
}

/// Where `item` of `j`, a journey of module `m`, is written: `file:line:column`.
fn place_of(
    m: &ir::Module,
    j: &ir::Journey,
    item: &Item,
    sources: &[SourceFile],
) -> Option<(String, usize, usize)> {
    let source = sources.iter().find(|s| s.name == m.name)?;
    let span = places::place(&source.text, j, item)?;
    let (line, column) = places::line_col(&source.text, span.start);
    Some((source.name.clone(), line, column))
}

fn coverage_text(roots: &[&ir::Module], reached: &Reached, sources: &[SourceFile]) -> String {
    let mut s = String::from("\ncoverage:\n");
    for m in roots {
        for j in &m.journeys {
            let all = coverage::items(j);
            let missed = reached.missed(j);
            s += &format!(
                "  {} ({}): {} of {} reached\n",
                j.name,
                m.name,
                all.len() - missed.len(),
                all.len()
            );
            for item in &missed {
                let at = place_of(m, j, item, sources)
                    .map(|(file, line, column)| format!(" at {file}:{line}:{column}"))
                    .unwrap_or_default();
                s += &format!("    not reached: {}{at}\n", item_name(j, item));
            }
        }
    }
    s
}

fn coverage_json(
    roots: &[&ir::Module],
    reached: &Reached,
    sources: &[SourceFile],
) -> serde_json::Value {
    let journeys: Vec<_> = roots
        .iter()
        .flat_map(|m| m.journeys.iter().map(move |j| (m, j)))
        .map(|(m, j)| {
            let missed: Vec<_> = reached
                .missed(j)
                .iter()
                .map(|i| {
                    let at = place_of(m, j, i, sources);
                    json!({
                        "item": i,
                        "name": item_name(j, i),
                        "file": at.as_ref().map(|a| &a.0),
                        "line": at.as_ref().map(|a| a.1),
                        "column": at.as_ref().map(|a| a.2),
                    })
                })
                .collect();
            json!({
                "journey": j.name,
                "file": m.name,
                "items": coverage::items(j).len(),
                "not_reached": missed,
            })
        })
        .collect();
    json!({"type": "coverage", "journeys": journeys})
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn junit(ran: &[Ran], sources: &[SourceFile], seconds: f64) -> String {
    let failed = ran.iter().filter(|r| r.outcome.failure.is_some()).count();
    let mut s = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"journeyc test\" tests=\"{}\" failures=\"{failed}\" time=\"{seconds:.3}\">\n  <testsuite name=\"journeyc\" tests=\"{}\" failures=\"{failed}\">\n",
        ran.len(),
        ran.len()
    );
    for r in ran {
        let source = &sources[r.file];
        s += &format!(
            "    <testcase classname=\"{}\" name=\"{}\"",
            xml(&source.name),
            xml(&r.outcome.name)
        );
        match &r.outcome.failure {
            None => s += "/>\n",
            Some(f) => {
                s += &format!(
                    ">\n      <failure message=\"{}\">{}:{}: expected {}\n{}\n{}</failure>\n    </testcase>\n",
                    xml(&format!("expected {}", f.expected)),
                    xml(&source.name),
                    line_of(source, f.span.0),
                    xml(&f.expected),
                    xml(&f.found),
                    xml(&f.log.join("\n"))
                )
            }
        }
    }
    s += "  </testsuite>\n</testsuites>\n";
    s
}
