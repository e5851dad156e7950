//! The `journeyc` command: file IO, argument parsing and terminal rendering around the
//! pure compiler core.

mod files;
mod fmt;
mod lsp;
mod places;
mod render;
mod run;
mod test;
mod workspace;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use std::io::Write;

use files::{check_all, lower_first, usage_error, Format};

#[derive(Parser)]
#[command(
    name = "journeyc",
    version,
    about = "Write customer journeys over the web and SMS as code, check them, and run them"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check .journey files and report every problem found.
    ///
    /// Exit status: 0 when there are no errors, 1 when there are, 2 for usage or I/O errors.
    Check {
        /// Files or folders to check; folders are searched recursively for *.journey.
        #[arg(default_value = ".")]
        paths: Vec<PathBuf>,
        /// How to print diagnostics: `human` (default) or `json` (one object per line).
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
        /// Treat warnings as errors.
        #[arg(long)]
        deny_warnings: bool,
        /// Also print the typed IR of each file as JSON on standard output.
        #[arg(long, value_enum)]
        emit: Option<Emit>,
    },
    /// Check journeys, then serve them: pages, journey links, Twilio webhooks, the API
    /// trigger, timers and the SMS sender.
    ///
    /// Twilio credentials come from TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN (without
    /// them every SMS is printed on the console), the API base from TWILIO_API_BASE,
    /// and the API trigger's bearer token from JOURNEY_API_TOKEN.
    Run(run::RunArgs),
    /// Check journeys, then run their `test` blocks: offline, on the real engine, with a
    /// store in memory and a clock that moves only when a test says `wait`.
    ///
    /// Exit status: 0 when every test passed, 1 when one failed or the journeys have
    /// errors, 2 for usage or I/O errors. See docs/testing.md.
    Test(test::TestArgs),
    /// Rewrite .journey files in the one canonical layout: two spaces per block, single
    /// spaces between words, at most one blank line; strings and comments as written.
    ///
    /// Exit status: 0 when every file is formatted (or, with --check, already was), 1 when
    /// --check finds a file to format or a file has syntax errors (it is left as it is),
    /// 2 for usage or I/O errors.
    Fmt(fmt::FmtArgs),
    /// A language server over standard input and output, for editors: diagnostics as
    /// you type, formatting, document symbols and go to definition.
    Lsp,
    /// Copy a journeyc database to a new file, safely while a server is using it.
    ///
    /// The copy is one consistent snapshot (SQLite's online backup): it holds every change
    /// committed before the backup started, is checkpointed into a single file, and is
    /// checked before it takes its name. OUT must not exist. Exit status: 0 when the copy
    /// was made, 2 otherwise.
    Backup {
        /// The database to copy, as `journeyc run` takes it: sqlite:PATH.
        #[arg(long, env = "JOURNEYC_DB", default_value = "sqlite:journey.db")]
        db: String,
        /// The new file to write the copy to.
        out: PathBuf,
    },
    /// Draw journeys as a graph: triggers, steps and their pages, buttons, `go to`s,
    /// reply handlers, timers and the texts each move sends.
    ///
    /// Mermaid (the default) renders on GitHub inside a ```mermaid block; DOT is for
    /// Graphviz; SVG is laid out here, with no other tool. Pages nothing leads to are
    /// marked unreachable. Exit status: 0 when drawn, 1 when the files have errors
    /// (printed as `check` prints them), 2 for usage or I/O errors.
    Graph(GraphArgs),
    /// Explain a diagnostic code, such as J0101, with a bad and a fixed example.
    Explain {
        /// The code, e.g. J0301.
        code: String,
    },
}

#[derive(clap::Args)]
struct GraphArgs {
    /// A .journey file, or a folder searched recursively for *.journey.
    path: PathBuf,
    /// Draw only this journey (by default, every journey of the files).
    #[arg(long, value_name = "NAME")]
    journey: Option<String>,
    /// `mermaid` (a flowchart, the default), `dot` (Graphviz) or `svg` (an image).
    #[arg(long, value_enum, default_value_t = GraphFormat::Mermaid)]
    format: GraphFormat,
    /// Write the graph to FILE instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Run the files' tests first, and colour what no test reached.
    #[arg(long)]
    coverage: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum GraphFormat {
    Mermaid,
    Dot,
    Svg,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Emit {
    Ir,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check {
            paths,
            format,
            deny_warnings,
            emit,
        } => {
            let (code, modules) = check(&paths, format, deny_warnings, emit);
            // The process ends here: handing the trees back to the allocator piece by
            // piece would only cost time.
            std::mem::forget(modules);
            code
        }
        Command::Run(args) => {
            let (code, modules) = check(
                std::slice::from_ref(args.path()),
                Format::Human,
                false,
                None,
            );
            if code != ExitCode::SUCCESS {
                eprintln!("error: the journey has errors, so the server did not start");
                return code;
            }
            let journeys = modules.into_iter().flat_map(|m| m.journeys).collect();
            run::run(args, journeys)
        }
        Command::Test(args) => test::test(args),
        Command::Fmt(args) => fmt::fmt(args),
        Command::Lsp => lsp::lsp(),
        Command::Graph(args) => graph(args),
        Command::Explain { code } => explain(&code),
        Command::Backup { db, out } => backup(&db, &out),
    }
}

fn graph(args: GraphArgs) -> ExitCode {
    let checked = check_all(std::slice::from_ref(&args.path), Format::Human, false);
    if checked.code != ExitCode::SUCCESS {
        return checked.code;
    }
    let reached = args.coverage.then(|| test::reached(&checked));
    let all: Vec<&journeyc::ir::Journey> = checked
        .modules
        .iter()
        .flat_map(|(_, m, _)| &m.journeys)
        .collect();
    let journeys = match &args.journey {
        None => all,
        Some(name) => {
            let picked: Vec<_> = all.iter().copied().filter(|j| &j.name == name).collect();
            if picked.is_empty() {
                let names: Vec<String> = all.iter().map(|j| format!("`{}`", j.name)).collect();
                let there = if names.is_empty() {
                    "there are none".to_string()
                } else {
                    format!("there are {}", names.join(", "))
                };
                return usage_error(&format!(
                    "no journey named `{name}` in `{}`; {there}",
                    args.path.display()
                ));
            }
            picked
        }
    };
    let format = match args.format {
        GraphFormat::Mermaid => journeyc::graph::Format::Mermaid,
        GraphFormat::Dot => journeyc::graph::Format::Dot,
        GraphFormat::Svg => journeyc::graph::Format::Svg,
    };
    let drawn = journeyc::graph::render(&journeys, format, reached.as_ref());
    match &args.output {
        Some(file) => match std::fs::write(file, drawn) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => usage_error(&format!(
                "cannot write `{}`: {}",
                file.display(),
                lower_first(&e.to_string())
            )),
        },
        None => {
            let _ = std::io::stdout().write_all(drawn.as_bytes());
            ExitCode::SUCCESS
        }
    }
}

fn backup(db: &str, out: &Path) -> ExitCode {
    let Some(path) = db
        .strip_prefix("sqlite:")
        .filter(|p| !p.is_empty() && *p != ":memory:")
    else {
        eprintln!(
            "error: `--db {db}` is not a database file; use sqlite:PATH, e.g. sqlite:journey.db"
        );
        return ExitCode::from(2);
    };
    match journeyc::runtime::sqlite::SqliteStore::backup(Path::new(path), out) {
        Ok(sessions) => {
            println!(
                "backed up {path} to {} ({sessions} sessions)",
                out.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

/// Checks files and reports; returns the exit status and the root files' modules.
fn check(
    paths: &[PathBuf],
    format: Format,
    deny_warnings: bool,
    emit: Option<Emit>,
) -> (ExitCode, Vec<journeyc::ir::Module>) {
    let checked = check_all(paths, format, deny_warnings);
    if let (Some(Emit::Ir), true) = (emit, checked.code != ExitCode::from(2)) {
        let root_modules: Vec<_> = checked
            .modules
            .iter()
            .filter(|(_, _, root)| *root)
            .map(|(_, m, _)| m)
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&root_modules).expect("the IR serializes")
        );
    }
    let roots = checked
        .modules
        .into_iter()
        .filter(|(_, _, root)| *root)
        .map(|(_, m, _)| m)
        .collect();
    std::mem::forget(checked.sources);
    (checked.code, roots)
}

const DIAGNOSTICS_DOC: &str = include_str!("../../../docs/diagnostics.md");

fn explain(code: &str) -> ExitCode {
    let Some(known) = journeyc::diagnostic::code_by_id(code) else {
        let ids = journeyc::diagnostic::ALL_CODES.iter().map(|c| c.id);
        let hint = journeyc::diagnostic::did_you_mean(&code.to_uppercase(), ids)
            .map(|s| format!("; did you mean `{s}`?"))
            .unwrap_or_default();
        return usage_error(&format!("`{code}` is not a journeyc diagnostic code{hint} (codes look like J0101; see docs/diagnostics.md)"));
    };
    match render::doc_section(DIAGNOSTICS_DOC, known.id) {
        Some(section) => {
            println!("{}", section.trim_end());
            ExitCode::SUCCESS
        }
        None => usage_error(&format!(
            "{} is a known code but its documentation is missing",
            known.id
        )),
    }
}

/// Parsing allocates many small nodes; mimalloc serves them faster than the system
/// allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
