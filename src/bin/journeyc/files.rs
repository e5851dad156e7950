//! Reading and checking the files a command names: folders searched for `*.journey`,
//! imports read through the file system, and diagnostics rendered for people or as
//! JSON. `check`, `run`, `test` and `graph` all start here.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::ValueEnum;
use journeyc::{Compiler, Loader, Severity};

use crate::render;

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Human,
    Json,
}

/// Shows paths relative to the working directory when they are below it.
pub fn display_name(canonical: &Path) -> String {
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

pub fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_lowercase().chain(c).collect())
        .unwrap_or_default()
}

fn read(path: &Path) -> Result<String, String> {
    String::from_utf8(read_bytes(path)?).map_err(|e| {
        format!(
            "`{}` is not UTF-8 text (invalid byte at offset {})",
            path.display(),
            e.utf8_error().valid_up_to()
        )
    })
}

fn read_bytes(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| {
        format!(
            "cannot read `{}`: {}",
            path.display(),
            lower_first(&e.to_string())
        )
    })
}

/// Expands folders to the `*.journey` files below them, sorted for stable output.
fn collect(paths: &[PathBuf], empty: &mut bool) -> Result<Vec<PathBuf>, String> {
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
            // A folder named on the command line that holds no journey is most likely
            // a mistyped path: it is said, and the command does not report success.
            if found.is_empty() {
                eprintln!("warning: `{}` holds no .journey files", p.display());
                *empty = true;
            }
            out.extend(found);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

/// Adds the `*.journey` files below `dir` to `out`, leaving out hidden folders and
/// `target`.
pub fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
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

/// What `check_all` found: the exit status, every module (by file index, and whether
/// it is a root file's), and the sources.
pub struct Checked {
    pub code: ExitCode,
    pub modules: Vec<(usize, journeyc::ir::Module, bool)>,
    pub sources: Vec<journeyc::SourceFile>,
}

/// Whether to print in colour: for people, on a terminal, unless NO_COLOR says not.
pub fn colored(format: Format) -> bool {
    format == Format::Human
        && std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// The `*.journey` files `paths` name, folders searched; a named folder without any is
/// warned about, as `check` does.
pub fn collect_journeys(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut empty = false;
    collect(paths, &mut empty)
}

/// How many of `sources` are the user's files, not the embedded standard library.
fn inputs_checked(sources: &[journeyc::SourceFile]) -> usize {
    sources
        .iter()
        .filter(|s| !s.name.starts_with("<std>/"))
        .count()
}

/// Checks files and reports their diagnostics.
pub fn check_all(paths: &[PathBuf], format: Format, deny_warnings: bool) -> Checked {
    let failed = |code| Checked {
        code,
        modules: Vec::new(),
        sources: Vec::new(),
    };
    let mut empty = false;
    let files = match collect(paths, &mut empty) {
        Ok(f) => f,
        Err(e) => return failed(usage_error(&e)),
    };
    let (mut inputs, mut not_utf8) = (Vec::new(), Vec::new());
    for f in &files {
        let canonical = match f.canonicalize() {
            Ok(c) => c,
            Err(e) => {
                return failed(usage_error(&format!(
                    "cannot read `{}`: {}",
                    f.display(),
                    lower_first(&e.to_string())
                )))
            }
        };
        // A file that is not UTF-8 is a diagnostic of its own, which an editor shows.
        match read_bytes(&canonical).map(String::from_utf8) {
            Ok(Ok(text)) => inputs.push((display_name(&canonical), text)),
            Ok(Err(e)) => not_utf8.push((display_name(&canonical), e.into_bytes())),
            Err(e) => return failed(usage_error(&e)),
        }
    }
    let mut compiler = Compiler::new(FsLoader);
    let mut roots = compiler.check_files(&inputs);
    for (name, bytes) in &not_utf8 {
        roots.push(compiler.not_utf8(name, bytes));
    }
    let (sources, modules, mut diagnostics) = compiler.into_parts();
    if deny_warnings {
        for d in &mut diagnostics {
            d.severity = Severity::Error;
        }
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let color = colored(format);
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
    let errors = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let warnings = diagnostics.len() - errors;
    // A named folder without journeys was warned about; "ok" would say otherwise.
    if format == Format::Human && !(empty && inputs_checked(&sources) == 0) {
        let checked = sources
            .iter()
            .filter(|s| !s.name.starts_with("<std>/"))
            .count();
        rendered_human.push_str(&render::summary(errors, warnings, checked, color));
        let _ = std::io::stderr().write_all(rendered_human.as_bytes());
    }
    let modules = modules
        .into_iter()
        .map(|(id, m)| (id.0 as usize, m, roots.contains(&id)))
        .collect();
    std::mem::forget(diagnostics);
    let code = if errors > 0 {
        ExitCode::from(1)
    } else if empty {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    };
    Checked {
        code,
        modules,
        sources,
    }
}

pub fn usage_error(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}
