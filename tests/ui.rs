//! UI tests: each `tests/ui/*.journey` is checked by the real binary, and
//! - every diagnostic must be announced by an inline mark on the line where its
//!   primary span starts (`//~ J0101`, or `//~^ J0101` for the line above), and every
//!   mark must be matched, so no unexpected diagnostic slips by;
//! - a snapshot shows the source, then the human output, then the JSON output.

use std::path::Path;
use std::process::Command;

fn run(dir: &Path, file: &str, format: &str) -> (String, String, i32) {
    let out = Command::new(env!("CARGO_BIN_EXE_journeyc"))
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .args(["check", "--format", format, file])
        .output()
        .expect("journeyc runs");
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
        out.status.code().unwrap_or(-1),
    )
}

/// `(line, code)` pairs from `//~` marks, 1-based lines.
fn marks(source: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (i, line) in source.lines().enumerate() {
        let Some(at) = line.find("//~") else { continue };
        let mut rest = &line[at + 3..];
        let mut target = i + 1;
        while let Some(r) = rest.strip_prefix('^') {
            target -= 1;
            rest = r;
        }
        for code in rest.split_whitespace() {
            out.push((target, code.to_string()));
        }
    }
    out.sort();
    out
}

#[test]
fn ui() {
    let mut settings = insta::Settings::clone_current();
    // Each case's expected output lives beside it, in tests/ui/snapshots/.
    settings.set_snapshot_path("ui/snapshots");
    settings.set_prepend_module_to_snapshot(false);
    let _guard = settings.bind_to_scope();
    insta::glob!("ui/*.journey", |path| {
        let dir = path.parent().unwrap();
        let file = path.file_name().unwrap().to_str().unwrap();
        // Read as the checker shows it: a file that is not UTF-8 has U+FFFD for its bytes.
        let source = String::from_utf8_lossy(&std::fs::read(path).unwrap()).into_owned();
        let (_, human, status) = run(dir, file, "human");
        let (json, _, json_status) = run(dir, file, "json");
        assert_eq!(
            status, json_status,
            "{file}: both formats agree on the exit status"
        );

        let mut found: Vec<(usize, String)> = json
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).expect("each line is JSON");
                (
                    v["line"].as_u64().unwrap() as usize,
                    v["code"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        found.sort();
        let expected = marks(&source);
        assert_eq!(
            found, expected,
            "{file}: diagnostics (line, code) found vs marked with //~"
        );
        let has_error = json.lines().any(|l| l.contains("\"severity\":\"error\""));
        assert_eq!(status, if has_error { 1 } else { 0 }, "{file}: exit status");

        let snapshot = format!(
            "{source}\n----- human (exit {status}) -----\n{human}\n----- json -----\n{json}"
        );
        insta::assert_snapshot!(snapshot);
    });
}
