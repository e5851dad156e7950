//! The VS Code extension's tests, from `cargo test`: runs `node --test` on the files of
//! `editors/vscode/test/` from the repository root. They tokenise every example, std and
//! UI file with the TextMate grammar (vscode-textmate over vscode-oniguruma) and check
//! the scopes, and check what the client says when `journeyc lsp` cannot start.
//!
//! Without `node`, or without `editors/vscode/node_modules` (`npm ci --prefix
//! editors/vscode`), the test says SKIPPED on stderr and returns; with
//! `JOURNEYC_REQUIRE_NODE` set (as `.ci/test` does) it fails instead.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

#[test]
fn the_vscode_extension_tests_pass_under_node() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let extension = root.join("editors").join("vscode");
    if let Some(why) = missing_tools(&extension) {
        let required = std::env::var("JOURNEYC_REQUIRE_NODE").is_ok_and(|v| !v.is_empty());
        assert!(!required, "JOURNEYC_REQUIRE_NODE is set but {why}");
        // Straight to stderr: libtest would hide an `eprintln!` of a passing test.
        let _ = writeln!(std::io::stderr(), "SKIPPED: {why}");
        return;
    }

    // The files are named one by one: `node --test DIR` reads DIR as a directory on
    // Node 18 and 20 but as a glob pattern from Node 21 on.
    let tests = test_files(&extension.join("test"));
    assert!(!tests.is_empty(), "no *.test.js under editors/vscode/test");
    let out = Command::new("node")
        .arg("--test")
        .args(&tests)
        .current_dir(root)
        .output()
        .expect("node could not be started");
    assert!(
        out.status.success(),
        "`node --test editors/vscode/test/` failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Why the tests cannot run here, if they cannot.
fn missing_tools(extension: &Path) -> Option<String> {
    let node = Command::new("node").arg("--version").output();
    if !node.is_ok_and(|o| o.status.success()) {
        return Some("node is not installed (apt-get install nodejs npm)".into());
    }
    let modules = extension.join("node_modules");
    if !["vscode-textmate", "vscode-oniguruma"]
        .iter()
        .all(|p| modules.join(p).is_dir())
    {
        return Some(
            "editors/vscode/node_modules is missing (npm ci --prefix editors/vscode)".into(),
        );
    }
    None
}

/// `DIR/*.test.js`, relative to the repository root, sorted.
fn test_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("editors/vscode/test is readable")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.to_string_lossy().ends_with(".test.js"))
        .map(|p| {
            let name = p.file_name().expect("a file name").to_owned();
            Path::new("editors").join("vscode").join("test").join(name)
        })
        .collect();
    files.sort();
    files
}
