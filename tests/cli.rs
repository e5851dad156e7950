//! The `journeyc` command as users run it: exit statuses, formats, folders, explain.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn journeyc_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_journeyc"))
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .args(args)
        .output()
        .expect("journeyc runs")
}

fn temp_dir(name: &str) -> PathBuf {
    // Under target/tmp, replaced by the next run: tests leave nothing in /tmp.
    let dir =
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("journeyc-cli-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const CLEAN: &str = "journey Hello {\n  trigger link \"hi\"\n  step One {\n    page Welcome {\n      heading \"Hello\"\n    }\n  }\n}\n";
const WARNING: &str = "journey Warn {\n  trigger link \"w\"\n  step One {\n    page A {\n      heading \"A\"\n    }\n  }\n  step Two {\n    page B {\n      heading \"B\"\n    }\n  }\n}\n";
const ERROR: &str = "journey Broken {\n  trigger link \"b\"\n  step One {\n    page A {\n      heading \"{{ nme }}\"\n    }\n  }\n}\n";

#[test]
fn exit_status_is_0_for_clean_1_for_errors_2_for_io() {
    let dir = temp_dir("status");
    std::fs::write(dir.join("clean.journey"), CLEAN).unwrap();
    std::fs::write(dir.join("error.journey"), ERROR).unwrap();
    std::fs::write(dir.join("warn.journey"), WARNING).unwrap();
    assert_eq!(
        journeyc_in(&dir, &["check", "clean.journey"]).status.code(),
        Some(0)
    );
    assert_eq!(
        journeyc_in(&dir, &["check", "warn.journey"]).status.code(),
        Some(0)
    );
    assert_eq!(
        journeyc_in(&dir, &["check", "error.journey"]).status.code(),
        Some(1)
    );
    assert_eq!(
        journeyc_in(&dir, &["check", "--deny-warnings", "warn.journey"])
            .status
            .code(),
        Some(1)
    );
    let missing = journeyc_in(&dir, &["check", "missing.journey"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("cannot read `missing.journey`"));
    assert_eq!(
        journeyc_in(&dir, &["check", "--format", "yaml"])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn folders_are_searched_recursively_and_summarised() {
    let dir = temp_dir("folders");
    std::fs::create_dir_all(dir.join("a/b")).unwrap();
    std::fs::write(dir.join("a/clean.journey"), CLEAN).unwrap();
    std::fs::write(dir.join("a/b/error.journey"), ERROR).unwrap();
    std::fs::write(dir.join("a/b/notes.txt"), "not a journey").unwrap();
    let out = journeyc_in(&dir, &["check", "a"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("a/b/error.journey:5:"), "{stderr}");
    assert!(stderr.contains("unknown variable `nme`"), "{stderr}");
    assert_eq!(
        stderr.lines().last(),
        Some("error: 1 error, 0 warnings in 2 files")
    );
    assert!(!stderr.contains("\x1b["), "no colour when not a terminal");
}

#[test]
fn json_lines_carry_positions_in_every_form() {
    let dir = temp_dir("json");
    // A multi-byte character before the error shifts bytes, chars and UTF-16 units differently.
    std::fs::write(
        dir.join("e.journey"),
        ERROR.replace("heading \"{{ nme }}\"", "heading \"😀 é {{ nme }}\""),
    )
    .unwrap();
    let out = journeyc_in(&dir, &["check", "--format", "json", "e.journey"]);
    let line = String::from_utf8(out.stdout).unwrap();
    assert_eq!(line.lines().count(), 1);
    let v: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
    assert_eq!(v["code"], "J0101");
    assert_eq!(v["severity"], "error");
    assert_eq!(v["file"], "e.journey");
    let text = std::fs::read_to_string(dir.join("e.journey")).unwrap();
    let start = text.find("nme").unwrap();
    assert_eq!(v["span"]["start"], start);
    assert_eq!(v["span"]["end"], start + 3);
    assert_eq!(v["line"], 5);
    // `      heading "😀 é {{ ` is 22 characters, 23 UTF-16 units.
    assert_eq!(v["column"], 23);
    assert_eq!(v["end_column"], 26);
    assert_eq!(v["range"]["start"]["line"], 4);
    assert_eq!(v["range"]["start"]["character"], 23);
    assert_eq!(v["range"]["end"]["character"], 26);
    assert_eq!(v["labels"][0]["primary"], true);
    assert!(v["rendered"]
        .as_str()
        .unwrap()
        .contains("unknown variable `nme`"));
    assert!(v["help"].is_string());
}

#[test]
fn explain_prints_the_documented_entry() {
    let dir = temp_dir("explain");
    let out = journeyc_in(&dir, &["explain", "J0301"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("## J0301"), "{text}");
    assert!(text.contains("Bad") && text.contains("Fixed"), "{text}");
    assert!(!text.contains("## J0302"), "only one entry");
    let lower = journeyc_in(&dir, &["explain", "j0101"]);
    assert!(String::from_utf8_lossy(&lower.stdout).starts_with("## J0101"));
    let unknown = journeyc_in(&dir, &["explain", "J0999"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("not a journeyc diagnostic code"));
}

#[test]
fn every_code_is_documented() {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/diagnostics.md"))
            .unwrap();
    for code in journeyc::diagnostic::ALL_CODES {
        let heading = format!("\n## {}: {}\n", code.id, code.title);
        assert!(
            doc.contains(&heading),
            "docs/diagnostics.md lacks `{}`",
            heading.trim()
        );
    }
}

#[test]
fn every_code_has_a_ui_test() {
    let ui = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ui");
    let all: String = std::fs::read_dir(ui)
        .unwrap()
        .map(|e| {
            String::from_utf8_lossy(&std::fs::read(e.unwrap().path()).unwrap_or_default())
                .into_owned()
        })
        .collect();
    // The codes named by `//~` marks, which the UI test holds to the real output.
    let marked: Vec<&str> = all
        .lines()
        .filter_map(|l| l.split_once("//~"))
        .flat_map(|(_, codes)| codes.trim_start_matches('^').split_whitespace())
        .collect();
    for code in journeyc::diagnostic::ALL_CODES {
        assert!(marked.contains(&code.id), "no UI test marks {}", code.id);
    }
}

#[test]
fn file_imports_resolve_relative_to_the_importer() {
    let dir = temp_dir("imports");
    std::fs::create_dir_all(dir.join("shared")).unwrap();
    std::fs::write(
        dir.join("shared/hours.journey"),
        "calendar Office {\n  time zone \"Europe/London\"\n  open mon-fri 09:00-17:30\n}\n",
    )
    .unwrap();
    let main = "import \"shared/hours.journey\" as hours\n\njourney J {\n  sms from \"+15005550006\"\n  trigger api\n  on session started {\n    start timer \"t\" after 1h on hours.Office {\n      send sms Hi\n    }\n  }\n  step One {\n    page P {\n      heading \"x\"\n    }\n  }\n  notification Hi sms {\n    text \"hi\"\n  }\n}\n";
    std::fs::write(dir.join("main.journey"), main).unwrap();
    let out = journeyc_in(&dir, &["check", "--emit", "ir", "main.journey"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ir: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(ir[0]["journeys"][0]["calendars"][0]["name"], "hours.Office");
    assert_eq!(
        ir[0]["journeys"][0]["calendars"][0]["time_zone"],
        "Europe/London"
    );

    std::fs::write(
        dir.join("broken.journey"),
        "import \"nowhere.journey\" as x\n",
    )
    .unwrap();
    let out = journeyc_in(&dir, &["check", "--format", "json", "broken.journey"]);
    let v: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().next().unwrap()).unwrap();
    assert_eq!(v["code"], "J0108");
}

#[test]
fn help_describes_the_commands() {
    let out = journeyc_in(Path::new("."), &["check", "--help"]);
    let text = String::from_utf8_lossy(&out.stdout);
    for flag in ["--format", "--deny-warnings", "--emit", "Exit status"] {
        assert!(text.contains(flag), "check --help mentions {flag}");
    }
}

#[test]
fn journeys_across_files_claim_names_links_and_numbers_once() {
    let dir = temp_dir("claims");
    let a = "journey Same {\n  sms from \"+15005550006\"\n  trigger link \"start\"\n  trigger sms to \"+15005550006\"\n  trigger api\n  step One {\n    page A {\n      heading \"A\"\n    }\n  }\n}\n";
    // The same number written another way is the same number.
    let b = "journey Same {\n  trigger link \"other\"\n  trigger api\n  step One {\n    page B {\n      heading \"B\"\n    }\n  }\n}\njourney Else {\n  trigger link \"start\"\n  trigger sms to \"+1 (500) 555-0006\"\n  trigger call to \"+15005550006\"\n  step One {\n    page C {\n      heading \"C\"\n    }\n  }\n}\n";
    let c = "journey Third {\n  trigger call to \"+15005550006\"\n  step One {\n    page D {\n      heading \"D\"\n    }\n  }\n}\n";
    std::fs::write(dir.join("a.journey"), a).unwrap();
    std::fs::write(dir.join("b.journey"), b).unwrap();
    std::fs::write(dir.join("c.journey"), c).unwrap();
    // Each file alone is clean.
    for f in ["a.journey", "b.journey", "c.journey"] {
        assert_eq!(
            journeyc_in(&dir, &["check", f]).status.code(),
            Some(0),
            "{f}"
        );
    }
    let out = journeyc_in(
        &dir,
        &[
            "check",
            "--format",
            "json",
            "a.journey",
            "b.journey",
            "c.journey",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let messages: Vec<&str> = lines
        .iter()
        .map(|d| d["message"].as_str().unwrap())
        .collect();
    assert_eq!(
        messages,
        [
            "the journey `Same` is defined twice",
            "two journeys named `Same` take `trigger api`",
            "the starting link \"start\" belongs to two journeys",
            "texts to +15005550006 would start two journeys",
            "calls to +15005550006 would start two journeys",
        ],
        "{lines:#?}"
    );
    for d in &lines {
        assert_eq!(d["code"], "J0109");
        let labels = d["labels"].as_array().unwrap();
        assert_eq!(labels.len(), 2, "{d}");
        // Both places are labelled: the second claim here, the first in its own file.
        let first = &labels[1];
        let expect_first_in = if d["file"] == "c.journey" {
            "b.journey"
        } else {
            "a.journey"
        };
        assert_eq!(first["file"], expect_first_in, "{d}");
        let text = std::fs::read_to_string(dir.join(expect_first_in)).unwrap();
        let span = &first["span"];
        let claimed =
            &text[span["start"].as_u64().unwrap() as usize..span["end"].as_u64().unwrap() as usize];
        assert!(
            ["Same", "\"start\"", "\"+15005550006\"", "trigger api"].contains(&claimed),
            "{claimed}"
        );
    }
    let human = journeyc_in(&dir, &["check", "a.journey", "b.journey"]);
    let stderr = String::from_utf8_lossy(&human.stderr);
    assert!(
        stderr.contains("first defined here in a.journey"),
        "{stderr}"
    );
    assert!(stderr.contains("╭─[a.journey:1:9]"), "{stderr}");
    // `run` checks the folder first and refuses to serve journeys that claim the same
    // things.
    let run = journeyc_in(
        &dir,
        &[
            "run",
            "--listen",
            "127.0.0.1:0",
            "--db",
            "sqlite::memory:",
            ".",
        ],
    );
    assert_eq!(run.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&run.stderr).contains("the journey `Same` is defined twice"));
}

#[test]
fn a_file_that_is_not_utf8_is_a_diagnostic_in_both_formats() {
    let dir = temp_dir("not-utf8");
    let mut bytes = b"journey Cafe {\n  trigger link \"cafe\"\n  step One {\n    page Menu {\n      heading \"Caf".to_vec();
    let at = bytes.len();
    bytes.extend(b"\xe9\"\n    }\n  }\n}\n");
    std::fs::write(dir.join("cafe.journey"), &bytes).unwrap();
    let out = journeyc_in(&dir, &["check", "--format", "json", "cafe.journey"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "an error in the file, not a usage error"
    );
    let line: serde_json::Value =
        serde_json::from_slice(out.stdout.split(|b| *b == b'\n').next().unwrap()).unwrap();
    assert_eq!(line["code"], "J0008");
    assert_eq!(line["span"]["start"], at as u64, "{line}");
    assert_eq!(line["line"], 5);
    let human = journeyc_in(&dir, &["check", "cafe.journey"]);
    assert_eq!(human.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&human.stderr).contains("J0008"));
}

#[test]
fn a_named_folder_without_journeys_is_a_warning_and_exit_2() {
    let dir = temp_dir("no-journeys");
    std::fs::create_dir_all(dir.join("empty")).unwrap();
    std::fs::write(dir.join("empty/notes.txt"), "not a journey").unwrap();
    let out = journeyc_in(&dir, &["check", "empty"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning: `empty` holds no .journey files"),
        "{stderr}"
    );
    assert!(!stderr.contains("ok:"), "{stderr}");
    let out = journeyc_in(&dir, &["check", "emtpy"]);
    assert_eq!(out.status.code(), Some(2), "a mistyped path");
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read `emtpy`"));
}
