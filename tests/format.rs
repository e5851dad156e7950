//! `journeyc fmt` never changes meaning: for every clean file of `examples/`, `std/`
//! and `tests/ui/`, the checked IR is the same before and after formatting, and
//! formatting twice changes nothing; whitespace shuffled at random formats back to the
//! same text. The command rewrites, checks (`--check`), reads standard input (`-`) and
//! leaves a file with syntax errors as it is.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use journeyc::{ir, Compiler};
use proptest::prelude::*;

#[path = "support/corpus.rs"]
mod corpus;

use corpus::{root, Files};

/// The IR of `text` as the file `name`, or `None` when it has errors. Test spans are
/// byte offsets, which formatting moves: they are left out.
fn ir_of(name: &Path, text: &str) -> Option<ir::Module> {
    let mut c = Compiler::new(Files);
    let id = c.check_file(&name.display().to_string(), text);
    if c.diagnostics().iter().any(|d| d.is_error()) {
        return None;
    }
    let (_, modules, _) = c.into_parts();
    let (_, mut m) = modules.into_iter().find(|(i, _)| *i == id)?;
    for t in &mut m.tests {
        t.span = (0, 0);
        for s in &mut t.steps {
            s.span = (0, 0);
        }
    }
    Some(m)
}

/// Every clean `.journey` file of the folders, with its text.
fn clean_files() -> Vec<(PathBuf, String)> {
    let out: Vec<(PathBuf, String)> = corpus::journey_files()
        .into_iter()
        .filter(|(path, text)| ir_of(path, text).is_some())
        .collect();
    assert!(out.len() > 20, "enough clean files: {}", out.len());
    out
}

#[test]
fn formatting_keeps_the_ir_and_is_idempotent() {
    for (path, text) in clean_files() {
        let tidy = journeyc::format::format(&text).unwrap();
        assert_eq!(
            ir_of(&path, &tidy),
            ir_of(&path, &text),
            "{}: the IR changed",
            path.display()
        );
        assert_eq!(
            journeyc::format::format(&tidy).unwrap(),
            tidy,
            "{}: formatting twice changed it",
            path.display()
        );
    }
}

/// `text` with its layout shuffled: indentation, trailing spaces and blank lines, as
/// `noise` says (one number per line).
fn shuffled(text: &str, noise: &[u8]) -> String {
    let mut out = String::new();
    for (i, line) in text.lines().enumerate() {
        let n = noise[i % noise.len()];
        for _ in 0..(n % 7) {
            out.push(if n.is_multiple_of(2) { ' ' } else { '\t' });
        }
        out.push_str(line.trim_start());
        for _ in 0..(n % 3) {
            out.push(' ');
        }
        out.push('\n');
        // More blank lines where there was one: a group of blank lines is one.
        if line.trim().is_empty() && n.is_multiple_of(5) {
            out.push_str(" \n\t\n");
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn shuffled_whitespace_formats_back_to_the_same(noise in proptest::collection::vec(any::<u8>(), 1..64)) {
        for (path, text) in clean_files() {
            let tidy = journeyc::format::format(&text).unwrap();
            let messy = shuffled(&text, &noise);
            prop_assert_eq!(
                journeyc::format::format(&messy).map_err(|e| format!("{e:?}")),
                Ok(tidy.clone()),
                "{}", path.display()
            );
            prop_assert_eq!(ir_of(&path, &messy), ir_of(&path, &text));
        }
    }
}

fn journeyc(dir: &Path, args: &[&str], input: Option<&str>) -> (Option<i32>, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_journeyc"))
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(text) = input {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    } else {
        drop(child.stdin.take());
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_examples_std_and_docs_are_formatted() {
    let (code, out, err) = journeyc(root(), &["fmt", "--check", "examples", "std"], None);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.is_empty(), "{out}");
    // Every documented example that checks is formatted too.
    for doc in [
        "README.md",
        "docs/language.md",
        "docs/testing.md",
        "docs/diagnostics.md",
    ] {
        let text = std::fs::read_to_string(root().join(doc)).unwrap();
        let mut rest = text.as_str();
        while let Some(at) = rest.find("```journey\n") {
            let body = &rest[at + 11..];
            let end = body.find("\n```").unwrap();
            let block = format!("{}\n", &body[..end]);
            if let Ok(tidy) = journeyc::format::format(&block) {
                assert_eq!(tidy, block, "{doc}: an example is not formatted");
            }
            rest = &body[end..];
        }
    }
}

#[test]
fn fmt_rewrites_checks_reads_stdin_and_leaves_broken_files_alone() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("journeyc-fmt");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let messy = "journey J{\ntrigger link \"j\"\n\n\n  step S {\n page P {\n      heading \"x\"   // hi\n}\n}\n}\n";
    let broken = "journey J {\n  step S {\n    this is not a step item\n  }\n";
    std::fs::write(dir.join("messy.journey"), messy).unwrap();
    std::fs::write(dir.join("broken.journey"), broken).unwrap();

    let (code, out, err) = journeyc(&dir, &["fmt", "--check", "."], None);
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(out.contains("messy.journey"), "--check lists it: {out}");
    assert!(
        err.contains("broken.journey") && err.contains("not formatted"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("messy.journey")).unwrap(),
        messy,
        "--check changes nothing"
    );

    let (code, _, _) = journeyc(&dir, &["fmt", "messy.journey"], None);
    assert_eq!(code, Some(0));
    let tidy = std::fs::read_to_string(dir.join("messy.journey")).unwrap();
    assert_eq!(
        tidy,
        "journey J {\n  trigger link \"j\"\n\n  step S {\n    page P {\n      heading \"x\"   // hi\n    }\n  }\n}\n"
    );
    let (code, _, err) = journeyc(&dir, &["fmt", "broken.journey"], None);
    assert_eq!(code, Some(1));
    assert!(err.contains("J000"), "the syntax errors are shown: {err}");
    assert_eq!(
        std::fs::read_to_string(dir.join("broken.journey")).unwrap(),
        broken
    );

    let (code, out, _) = journeyc(&dir, &["fmt", "-"], Some(messy));
    assert_eq!(code, Some(0));
    assert_eq!(out, tidy, "standard input to standard output");
    let (code, out, _) = journeyc(&dir, &["fmt", "-"], Some(broken));
    assert_eq!(code, Some(1));
    assert_eq!(out, broken, "a broken input comes back as it was");
}
