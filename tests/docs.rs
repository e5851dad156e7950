//! The documentation tells the truth: every complete ```journey example in README.md
//! and docs/language.md checks clean, and in docs/diagnostics.md every "Bad" example
//! produces its section's code and every "Fixed" example checks clean.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The ```journey blocks of a Markdown text: the heading each stands under, the last
/// prose line before it (such as `Bad:`), and its text.
fn blocks(markdown: &str) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let (mut heading, mut prose) = (String::new(), String::new());
    let mut lines = markdown.lines();
    while let Some(line) = lines.next() {
        if line.starts_with('#') {
            heading = line.trim_start_matches('#').trim().to_string();
        } else if line.trim() == "```journey" {
            let body: Vec<&str> = lines.by_ref().take_while(|l| l.trim() != "```").collect();
            out.push((heading.clone(), prose.clone(), body.join("\n") + "\n"));
        } else if !line.trim().is_empty() {
            prose = line.trim().to_string();
        }
    }
    out
}

fn temp_dir(name: &str) -> PathBuf {
    // Under target/tmp, replaced by the next run: tests leave nothing in /tmp.
    let dir =
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("journeyc-docs-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Checks a file; returns the diagnostic codes and the exit status.
fn check(dir: &Path, file: &str) -> (Vec<String>, i32) {
    let out = Command::new(env!("CARGO_BIN_EXE_journeyc"))
        .current_dir(dir)
        .args(["check", "--format", "json", file])
        .output()
        .unwrap();
    let codes = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["code"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    (codes, out.status.code().unwrap())
}

/// Writes every block; a block starting `// file: PATH` is written there, for imports.
fn check_all_clean(doc: &str) {
    let text = std::fs::read_to_string(root().join(doc)).unwrap();
    let dir = temp_dir(&doc.replace('/', "-"));
    // Examples may import the example journeys, as a test file beside them does.
    for entry in std::fs::read_dir(root().join("examples")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
    }
    let mut checked = 0;
    let blocks = blocks(&text);
    for (_, _, body) in &blocks {
        if let Some(path) = body
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("// file: "))
        {
            let path = dir.join(path.trim());
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, body).unwrap();
        }
    }
    for (i, (heading, _, body)) in blocks.iter().enumerate() {
        let name = format!("block{i}.journey");
        std::fs::write(dir.join(&name), body).unwrap();
        let (codes, status) = check(&dir, &name);
        assert!(
            codes.is_empty() && status == 0,
            "{doc}, under `{heading}`: example {i} gives {codes:?}:\n{body}"
        );
        checked += 1;
    }
    assert!(checked > 0, "{doc} has examples");
}

#[test]
fn readme_examples_check_clean() {
    check_all_clean("README.md");
}

#[test]
fn testing_guide_examples_check_clean() {
    check_all_clean("docs/testing.md");
}

#[test]
fn language_reference_examples_check_clean() {
    check_all_clean("docs/language.md");
}

#[test]
fn diagnostics_reference_examples_do_what_they_say() {
    let text = std::fs::read_to_string(root().join("docs/diagnostics.md")).unwrap();
    let dir = temp_dir("diagnostics");
    let mut seen = 0;
    for (i, (heading, label, body)) in blocks(&text).iter().enumerate() {
        let Some(code) = heading.split(':').next().filter(|c| c.starts_with('J')) else {
            continue;
        };
        let name = format!("block{i}.journey");
        std::fs::write(dir.join(&name), body).unwrap();
        let (codes, _) = check(&dir, &name);
        if label.starts_with("Bad") {
            assert!(
                codes.iter().any(|c| c == code),
                "{code}: the bad example gives {codes:?}, not {code}:\n{body}"
            );
        } else {
            assert!(
                codes.is_empty(),
                "{code}: the fixed example gives {codes:?}:\n{body}"
            );
        }
        seen += 1;
    }
    // J0008's bad example is a file that is not UTF-8, which Markdown cannot hold;
    // tests/ui/not_utf8.journey holds it instead.
    assert!(
        seen >= 2 * journeyc::diagnostic::ALL_CODES.len() - 1,
        "a bad and a fixed example per code"
    );
}
