//! `journeyc test` as a CI system uses it: the examples' tests pass; an example broken
//! on purpose fails at the right step; reports come as JSON and JUnit; coverage names
//! what no test reached; runs are deterministic; and a test that names nothing real
//! fails to check before anything runs.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn journeyc(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_journeyc"))
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .args(args)
        .output()
        .expect("journeyc runs")
}

/// A fresh folder under target/tmp holding a copy of `examples/`.
fn examples_copy(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("journeyc-testing-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(root().join("examples")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
    }
    dir
}

/// The JSON lines of a run: one per test, then coverage if asked, then the summary.
fn lines(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn summary(lines: &[Value]) -> &Value {
    lines
        .iter()
        .find(|l| l["type"] == "summary")
        .expect("a summary line")
}

#[test]
fn every_example_test_passes() {
    let out = journeyc(root(), &["test", "examples", "--format", "json"]);
    let lines = lines(&out);
    let failed: Vec<&Value> = lines.iter().filter(|l| l["passed"] == false).collect();
    assert!(failed.is_empty(), "failed: {failed:#?}");
    assert_eq!(out.status.code(), Some(0));
    let s = summary(&lines);
    assert!(
        s["passed"].as_u64().unwrap() >= 12,
        "the examples have tests for every scenario: {s}"
    );
    // Each example file has tests of its own.
    for file in [
        "examples/texting_journey_links.test.journey",
        "examples/call_deflection.test.journey",
        "examples/appointment_reminder.test.journey",
    ] {
        assert!(
            lines.iter().any(|l| l["file"] == file),
            "no test ran from {file}"
        );
    }
}

#[test]
fn a_broken_example_fails_at_the_step_that_notices() {
    let dir = examples_copy("broken");
    let journey = dir.join("texting_journey_links.journey");
    let text = std::fs::read_to_string(&journey).unwrap();
    // The reminder now goes out on any day, not on business hours.
    let broken = text.replace(
        "start timer \"nudge\" after 1d on std.calendars.BusinessHoursNY if unavailable next {",
        "start timer \"nudge\" after 1d {",
    );
    assert_ne!(
        text, broken,
        "the example still has its business-hours timer"
    );
    std::fs::write(&journey, broken).unwrap();
    let out = journeyc(&dir, &["test", ".", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "a failing test exits 1");
    let lines = lines(&out);
    let failed: Vec<&Value> = lines.iter().filter(|l| l["passed"] == false).collect();
    assert_eq!(
        failed.len(),
        1,
        "only the weekend test notices: {failed:#?}"
    );
    let f = &failed[0]["failure"];
    let tests = std::fs::read_to_string(dir.join("texting_journey_links.test.journey")).unwrap();
    let (start, end) = (
        f["span"]["start"].as_u64().unwrap() as usize,
        f["span"]["end"].as_u64().unwrap() as usize,
    );
    // A day later is Saturday: the first `expect no sms` after `wait 1d` fails.
    assert_eq!(&tests[start..end], "expect no sms");
    let wait = tests.find("  wait 1d").unwrap();
    assert!(start > wait, "the failure is after `wait 1d`");
    assert!(
        f["found"].as_str().unwrap().contains("Reminder"),
        "the failure names the text that went out: {f}"
    );
    assert!(
        f["log"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l.as_str().unwrap().contains("timer `nudge` fired")),
        "the failure shows the session's log: {f}"
    );
    // People see the line itself.
    let human = journeyc(&dir, &["test", "."]);
    let stdout = String::from_utf8_lossy(&human.stdout);
    assert!(stdout.contains("FAILED"), "{stdout}");
    let line = tests[..start].matches('\n').count() + 1;
    let place = format!("texting_journey_links.test.journey:{line}:3");
    assert!(stdout.contains(&place), "{place} in {stdout}");
    assert!(
        stdout.contains("test result: FAILED. 11 passed; 1 failed"),
        "{stdout}"
    );
}

#[test]
fn junit_reports_each_test_and_each_failure() {
    let dir = examples_copy("junit");
    let path = dir.join("call_deflection.test.journey");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replace("in the morning.\"", "in the evening.\""),
    )
    .unwrap();
    let report = dir.join("report.xml");
    let out = journeyc(&dir, &["test", ".", "--junit", report.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let xml = std::fs::read_to_string(&report).unwrap();
    assert!(xml.starts_with("<?xml"), "{xml}");
    assert!(xml.contains("tests=\"12\" failures=\"1\""), "{xml}");
    assert_eq!(xml.matches("<testcase ").count(), 12, "{xml}");
    assert_eq!(xml.matches("<failure ").count(), 1, "{xml}");
    assert!(xml.contains("call_deflection.test.journey:"), "{xml}");
    // Quotes in texts are escaped, so the report stays well-formed.
    assert!(!xml.contains("\"Booked"), "{xml}");
}

#[test]
fn a_filter_runs_only_the_tests_it_names() {
    let out = journeyc(
        root(),
        &[
            "test",
            "examples",
            "--format",
            "json",
            "--filter",
            "withholds",
        ],
    );
    let lines = lines(&out);
    let tests: Vec<&Value> = lines.iter().filter(|l| l["type"] == "test").collect();
    assert_eq!(tests.len(), 1, "{tests:#?}");
    assert!(tests[0]["name"].as_str().unwrap().contains("withholds"));
}

/// Leaves in the test file at `path` only the tests whose name contains `name`.
fn keep_only(path: &Path, name: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    let only = text
        .split("\ntest ")
        .filter(|t| !t.starts_with('"') || t.split('\n').next().unwrap().contains(name))
        .collect::<Vec<_>>()
        .join("\ntest ");
    std::fs::write(path, only).unwrap();
}

#[test]
fn coverage_names_what_no_test_reached() {
    let dir = examples_copy("coverage");
    // Only the withheld-number call: nothing of the web flow is reached.
    keep_only(&dir.join("call_deflection.test.journey"), "withholds");
    let out = journeyc(
        &dir,
        &[
            "test",
            "call_deflection.test.journey",
            "--coverage",
            "--format",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    let lines = lines(&out);
    let coverage = lines.iter().find(|l| l["type"] == "coverage").unwrap();
    let journey = &coverage["journeys"][0];
    assert_eq!(journey["journey"], "CallDeflection");
    let missed: Vec<&str> = journey["not_reached"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    for name in [
        "page PickTime",
        "button \"Book\" on page PickTime",
        "page Booked",
        "notification BookingLink",
        "notification Confirmation",
    ] {
        assert!(missed.contains(&name), "{name} is not reached: {missed:?}");
    }
    assert!(
        !missed.contains(&"trigger call to \"+15005550006\""),
        "the call trigger was reached: {missed:?}"
    );
    // Each item comes with its place.
    let page = journey["not_reached"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "page PickTime")
        .unwrap();
    let source = std::fs::read_to_string(dir.join("call_deflection.journey")).unwrap();
    let line = source
        .lines()
        .position(|l| l.trim_start().starts_with("page PickTime"))
        .unwrap()
        + 1;
    assert_eq!(page["file"], "call_deflection.journey");
    assert_eq!(page["line"], line as u64, "{page}");
    assert_eq!(page["column"], 10, "{page}");
    // The whole suite reaches every item of the call deflection journey.
    let all = journeyc(root(), &["test", "examples", "--coverage"]);
    let text = String::from_utf8_lossy(&all.stdout);
    let line = text
        .lines()
        .find(|l| l.contains("CallDeflection ("))
        .unwrap_or_else(|| panic!("{text}"));
    let counts: Vec<&str> = line.split(": ").nth(1).unwrap().split(' ').collect();
    assert_eq!(counts[0], counts[2], "every item reached: {line}");
}

#[test]
fn runs_are_deterministic() {
    let run = || {
        let out = journeyc(
            root(),
            &["test", "examples", "--format", "json", "--coverage"],
        );
        let mut lines = lines(&out);
        lines.retain(|l| l["type"] != "summary");
        lines
    };
    assert_eq!(run(), run());
}

#[test]
fn a_test_that_names_nothing_real_fails_to_check_and_runs_nothing() {
    let dir = examples_copy("unknown");
    let path = dir.join("call_deflection.test.journey");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replace("expect page Booked", "expect page Booke"),
    )
    .unwrap();
    let out = journeyc(&dir, &["test", "."]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("J0102"), "{stderr}");
    assert!(stderr.contains("did you mean `Booked`?"), "{stderr}");
    assert!(stderr.contains("no test ran"), "{stderr}");
    assert!(out.stdout.is_empty(), "nothing ran");
}

#[test]
fn a_folder_without_tests_runs_none_and_says_so() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("journeyc-testing-none");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(
        root().join("examples/call_deflection.journey"),
        dir.join("call_deflection.journey"),
    )
    .unwrap();
    let out = journeyc(&dir, &["test", "."]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("running 0 tests"), "{stdout}");
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn the_graph_colours_what_no_test_reached() {
    let dir = examples_copy("graph");
    keep_only(&dir.join("call_deflection.test.journey"), "withholds");
    let graph = |dir: &Path, file: &str| {
        let out = journeyc(dir, &["graph", file, "--coverage"]);
        assert_eq!(out.status.code(), Some(0));
        String::from_utf8(out.stdout).unwrap()
    };
    let partial = graph(&dir, "call_deflection.test.journey");
    let missed = partial
        .lines()
        .find(|l| l.trim_start().starts_with("class ") && l.trim_end().ends_with(" missed"))
        .unwrap_or_else(|| panic!("{partial}"));
    // The pages were never shown; the call trigger was used.
    assert!(
        missed.contains("j0_s0_p0") && missed.contains("j0_s0_p1"),
        "{missed}"
    );
    assert!(!missed.contains("j0_t0"), "{missed}");
    let full = graph(root(), "examples/call_deflection.test.journey");
    assert!(
        full.contains("class legend_missed missed") && !full.contains("j0_s0_p0,"),
        "{full}"
    );
}

#[test]
fn a_schedule_comes_round_and_its_session_is_the_current_one() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("journeyc-testing-schedule");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let source = r#"journey Weekly {
  sms from "+15005550006"
  trigger schedule "0 9 * * MON" in "America/New_York" {
    set actor.phone = "+14155550100"
    initialize actor
    send sms Hello
  }

  step Start {
    page Hi {
      heading "Hi"
    }
  }

  notification Hello sms {
    text "Good morning"
  }
}

test "the weekly schedule texts on Monday morning" {
  clock "2026-12-03 10:00" in "America/New_York"
  wait for schedule Weekly
  expect sms Hello to "+14155550100" equal "Good morning"
  expect status active
  wait for schedule Weekly
  expect 1 sms
}
"#;
    std::fs::write(dir.join("weekly.journey"), source).unwrap();
    let out = journeyc(&dir, &["test", "weekly.journey", "--format", "json"]);
    let lines = lines(&out);
    assert_eq!(out.status.code(), Some(0), "{lines:#?}");
    // The schedule's own text is what the first expectation read.
    let wrong = source.replace("equal \"Good morning\"", "equal \"Good evening\"");
    std::fs::write(dir.join("weekly.journey"), wrong).unwrap();
    let out = journeyc(&dir, &["test", "weekly.journey", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "a wrong text fails");
}

/// Writes `source` to a fresh folder and runs `journeyc test` on it, as JSON lines.
fn run_source(name: &str, source: &str) -> (Option<i32>, Vec<Value>) {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("journeyc-testing-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("t.journey"), source).unwrap();
    let out = journeyc(&dir, &["test", "t.journey", "--format", "json"]);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_ne!(out.status.code(), Some(2), "{stderr}");
    (out.status.code(), lines(&out))
}

const TWO_JOURNEYS: &str = r#"
journey One {
  sms from "+15005550006"
  trigger link "one"
  var phone: Phone
  var name: Text

  step Ask {
    page Details {
      input phone: phone "Mobile" required
      input name: text "Name" required
      button "Next" {
        go to page Check
      }
    }
    page Check {
      button "Edit" {
        go to page Details
      }
      button "Done" {
        set actor.phone = phone
        initialize actor
        send sms Thanks
        go to step Finished
      }
    }
  }
  step Finished {
    page Bye {
      heading "Bye"
    }
  }
  notification Thanks sms {
    text "Thanks"
  }
}

journey Two {
  sms from "+15005550007"
  trigger sms to "+15005550007"
  step Hello {
    page Greet {
      heading "Hello from Two"
    }
  }
}

journey Tick {
  sms from "+15005550008"
  trigger schedule "0 9 * * *" in "America/New_York" {
    set actor.phone = "+14155550177"
    initialize actor
    send sms Ping
  }
  step Only {
    on enter {
      end session
    }
  }
  notification Ping sms {
    text "Ping"
  }
}
"#;

#[test]
fn a_press_sends_what_the_page_shows_and_a_refused_one_says_why() {
    let source = format!(
        "{TWO_JOURNEYS}\ntest \"edit and come back\" {{\n  open link \"one\"\n  fill phone = \"+14155550100\"\n  fill name = \"Jo\"\n  press \"Next\"\n  press \"Edit\"\n  expect page Details\n  press \"Next\"\n  expect page Check\n  press \"Done\"\n  expect page Bye\n  expect sms Thanks\n}}\n\ntest \"refused\" {{\n  open link \"one\"\n  fill phone = \"12\"\n  press \"Next\"\n  expect page Check\n}}\n"
    );
    let (code, lines) = run_source("press", &source);
    assert_eq!(code, Some(1));
    let by_name = |n: &str| lines.iter().find(|l| l["name"] == n).unwrap();
    assert_eq!(by_name("edit and come back")["passed"], true, "{lines:#?}");
    let refused = &by_name("refused")["failure"]["found"];
    assert!(
        refused
            .as_str()
            .unwrap()
            .contains("the last press was refused: ")
            && refused.as_str().unwrap().contains("phone: "),
        "{refused}"
    );
}

#[test]
fn a_test_follows_a_new_person_texting_and_runs_only_the_journeys_it_starts() {
    // Tick texts every morning; a test that never starts it sees none of its texts.
    let source = format!(
        "{TWO_JOURNEYS}\ntest \"two people\" {{\n  open link \"one\"\n  expect page Details\n  text \"HI\" from \"+14155550199\" to \"+15005550007\"\n  open journey link\n  expect page Greet\n  expect text \"Hello from Two\"\n  wait 2d\n  expect no sms\n}}\n"
    );
    let (code, lines) = run_source("follow", &source);
    assert_eq!(code, Some(0), "{lines:#?}");
    // With its schedule started, Tick's texts come.
    let with_tick = format!(
        "{TWO_JOURNEYS}\ntest \"tick\" {{\n  wait for schedule Tick\n  wait 1d\n  expect 2 sms\n}}\n"
    );
    let (code, lines) = run_source("tick", &with_tick);
    assert_eq!(code, Some(0), "{lines:#?}");
}
