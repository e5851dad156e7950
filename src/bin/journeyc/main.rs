//! The `journeyc` command: file IO, argument parsing and terminal rendering around the
//! pure compiler core.

mod render;
mod run;

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use journeyc::{Compiler, Loader, Severity};

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
    // `--coverage` goes here: run the journeys' tests and pass what they reached to
    // `journeyc::graph::render`, which colours the rest.
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum GraphFormat {
    Mermaid,
    Dot,
    Svg,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Human,
    Json,
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
        Command::Graph(args) => graph(args),
        Command::Explain { code } => explain(&code),
        Command::Backup { db, out } => backup(&db, &out),
    }
}

fn graph(args: GraphArgs) -> ExitCode {
    let (code, modules) = check(std::slice::from_ref(&args.path), Format::Human, false, None);
    if code != ExitCode::SUCCESS {
        return code;
    }
    let all: Vec<&journeyc::ir::Journey> = modules.iter().flat_map(|m| &m.journeys).collect();
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
    let drawn = journeyc::graph::render(&journeys, format, None);
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

/// Shows paths relative to the working directory when they are below it.
fn display_name(canonical: &Path) -> String {
    // Read once: a folder of many files would otherwise ask for it per file.
    static CWD: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    let cwd = CWD.get_or_init(|| {
        std::env::current_dir()
            .ok()
            .and_then(|d| d.canonicalize().ok())
    });
    match cwd
        .as_deref()
        .and_then(|cwd| canonical.strip_prefix(cwd).ok())
    {
        Some(rel) => rel.display().to_string(),
        None => canonical.display().to_string(),
    }
}

struct FsLoader;

impl Loader for FsLoader {
    fn load(&self, importer: &str, path: &str) -> Result<(String, String), String> {
        let base = Path::new(importer).parent().unwrap_or(Path::new(""));
        let full = base.join(path);
        let canonical = full.canonicalize().map_err(|e| {
            format!(
                "cannot read `{}`: {}",
                full.display(),
                lower_first(&e.to_string())
            )
        })?;
        let text = read(&canonical)?;
        Ok((display_name(&canonical), text))
    }
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_lowercase().chain(c).collect())
        .unwrap_or_default()
}

fn read(path: &Path) -> Result<String, String> {
    let bytes = std::fs::read(path).map_err(|e| {
        format!(
            "cannot read `{}`: {}",
            path.display(),
            lower_first(&e.to_string())
        )
    })?;
    String::from_utf8(bytes).map_err(|e| {
        format!(
            "`{}` is not UTF-8 text (invalid byte at offset {})",
            path.display(),
            e.utf8_error().valid_up_to()
        )
    })
}

/// Expands folders to the `*.journey` files below them, sorted for stable output.
fn collect(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|e| {
            format!(
                "cannot read `{}`: {}",
                p.display(),
                lower_first(&e.to_string())
            )
        })?;
        if meta.is_dir() {
            let mut found = Vec::new();
            walk(p, &mut found).map_err(|e| {
                format!(
                    "cannot list `{}`: {}",
                    p.display(),
                    lower_first(&e.to_string())
                )
            })?;
            found.sort();
            out.extend(found);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let name = entry.file_name();
        let hidden = name.to_string_lossy().starts_with('.') || name == "target";
        if entry.file_type()?.is_dir() {
            if !hidden {
                walk(&path, out)?;
            }
        } else if path.extension().is_some_and(|e| e == "journey") {
            out.push(path);
        }
    }
    Ok(())
}

/// Checks files and reports; returns the exit status and the root files' modules.
fn check(
    paths: &[PathBuf],
    format: Format,
    deny_warnings: bool,
    emit: Option<Emit>,
) -> (ExitCode, Vec<journeyc::ir::Module>) {
    let files = match collect(paths) {
        Ok(f) => f,
        Err(e) => return (usage_error(&e), Vec::new()),
    };
    let mut inputs = Vec::new();
    for f in &files {
        let canonical = match f.canonicalize() {
            Ok(c) => c,
            Err(e) => {
                return (
                    usage_error(&format!(
                        "cannot read `{}`: {}",
                        f.display(),
                        lower_first(&e.to_string())
                    )),
                    Vec::new(),
                )
            }
        };
        match read(&canonical) {
            Ok(text) => inputs.push((display_name(&canonical), text)),
            Err(e) => return (usage_error(&e), Vec::new()),
        }
    }
    let mut compiler = Compiler::new(FsLoader);
    let roots = compiler.check_files(&inputs);
    let (sources, modules, mut diagnostics) = compiler.into_parts();
    if deny_warnings {
        for d in &mut diagnostics {
            d.severity = Severity::Error;
        }
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let color = format == Format::Human
        && std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let renderer = render::Renderer::new(color);
    let mut rendered_human = String::new();
    for d in &diagnostics {
        match format {
            Format::Human => rendered_human.push_str(&renderer.render(d, &sources)),
            Format::Json => {
                let line = render::json(d, &sources, &render::Renderer::new(false));
                let _ = writeln!(out, "{line}");
            }
        }
    }
    if let Some(Emit::Ir) = emit {
        let root_modules: Vec<_> = modules
            .iter()
            .filter(|(id, _)| roots.contains(id))
            .map(|(_, m)| m)
            .collect();
        let _ = writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&root_modules).expect("the IR serializes")
        );
    }
    let errors = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let warnings = diagnostics.len() - errors;
    if format == Format::Human {
        let checked = sources
            .iter()
            .filter(|s| !s.name.starts_with("<std>/"))
            .count();
        rendered_human.push_str(&render::summary(errors, warnings, checked, color));
        let _ = std::io::stderr().write_all(rendered_human.as_bytes());
    }
    let roots: Vec<journeyc::ir::Module> = modules
        .into_iter()
        .filter(|(id, _)| roots.contains(id))
        .map(|(_, m)| m)
        .collect();
    std::mem::forget((sources, diagnostics));
    let code = if errors > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    };
    (code, roots)
}

fn usage_error(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
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
