//! `journeyc fmt`: rewrites files in the canonical layout (`journeyc::format`), lists
//! those that would change with `--check`, or formats standard input to standard
//! output with `-`, for editors. A file with syntax errors is left as it is.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use journeyc::{FileId, SourceFile};

use crate::files::{collect_journeys, colored, display_name, usage_error, Format};
use crate::render;

#[derive(Args)]
pub struct FmtArgs {
    /// Files or folders to format (folders are searched recursively for *.journey),
    /// or `-` to format standard input to standard output.
    #[arg(default_value = ".")]
    paths: Vec<PathBuf>,
    /// Change nothing: list the files that are not formatted, and exit 1 if there are any.
    #[arg(long)]
    check: bool,
}

pub fn fmt(args: FmtArgs) -> ExitCode {
    if args.paths.len() == 1 && args.paths[0].as_os_str() == "-" {
        return stdin();
    }
    let files = match collect_journeys(&args.paths) {
        Ok(f) => f,
        Err(e) => return usage_error(&e),
    };
    let (mut unformatted, mut broken) = (0, 0);
    for path in &files {
        let name = path
            .canonicalize()
            .map(|c| display_name(&c))
            .unwrap_or_else(|_| path.display().to_string());
        let text = match std::fs::read(path).map(String::from_utf8) {
            Ok(Ok(t)) => t,
            Ok(Err(_)) => {
                eprintln!("error: `{name}` is not UTF-8 text, so it was not formatted");
                broken += 1;
                continue;
            }
            Err(e) => return usage_error(&format!("cannot read `{name}`: {e}")),
        };
        match journeyc::format::format(&text) {
            Ok(tidy) if tidy == text => {}
            Ok(_) if args.check => {
                println!("{name}");
                unformatted += 1;
            }
            Ok(tidy) => {
                if let Err(e) = std::fs::write(path, tidy) {
                    return usage_error(&format!("cannot write `{name}`: {e}"));
                }
                println!("formatted {name}");
            }
            Err(errors) => {
                report(&name, &text, &errors);
                broken += 1;
            }
        }
    }
    if broken > 0 || unformatted > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// Standard input to standard output; with syntax errors, the input unchanged and
/// the errors on standard error.
fn stdin() -> ExitCode {
    let mut text = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut text) {
        return usage_error(&format!("cannot read standard input: {e}"));
    }
    match journeyc::format::format(&text) {
        Ok(tidy) => {
            let _ = std::io::stdout().write_all(tidy.as_bytes());
            ExitCode::SUCCESS
        }
        Err(errors) => {
            let _ = std::io::stdout().write_all(text.as_bytes());
            report("<stdin>", &text, &errors);
            ExitCode::from(1)
        }
    }
}

/// The syntax errors that kept a file from being formatted, as `check` draws them.
fn report(name: &str, text: &str, errors: &[journeyc::Diagnostic]) {
    let sources = [SourceFile {
        id: FileId(0),
        name: name.to_string(),
        text: text.into(),
    }];
    let renderer = render::Renderer::new(colored(Format::Human));
    let mut out = String::new();
    for d in errors {
        out.push_str(&renderer.render(d, &sources));
    }
    out.push_str(&format!(
        "error: `{name}` has syntax errors, so it was not formatted\n"
    ));
    let _ = std::io::stderr().write_all(out.as_bytes());
}
