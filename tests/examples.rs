//! Every file of `examples/` and `std/` checks clean, and its IR survives a JSON round
//! trip (the runtime loads what `--emit ir` prints).

use std::process::Command;

use journeyc::ir;

fn journeyc(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_journeyc"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .output()
        .expect("journeyc runs")
}

fn journey_files(dir: &str) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> =
        std::fs::read_dir(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "journey"))
            .collect();
    files.sort();
    files
}

#[test]
fn examples_and_std_check_clean() {
    let out = journeyc(&[
        "check",
        "--format",
        "json",
        "--deny-warnings",
        "examples",
        "std",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout, "", "no diagnostics expected");
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn the_expected_examples_exist() {
    let names: Vec<String> = journey_files("examples")
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for wanted in [
        "texting_journey_links.journey",
        "call_deflection.journey",
        "appointment_reminder.journey",
    ] {
        assert!(
            names.iter().any(|n| n == wanted),
            "examples/{wanted} is missing"
        );
    }
}

#[test]
fn embedded_std_matches_the_std_folder() {
    for (name, text) in journeyc::stdlib::MODULES {
        let on_disk = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("std")
                .join(format!("{name}.journey")),
        )
        .unwrap();
        assert_eq!(&on_disk, text);
        let (_, _, diags) = journeyc::check_source(&format!("std/{name}.journey"), text);
        assert!(diags.is_empty(), "std.{name}: {diags:?}");
    }
    assert_eq!(
        journey_files("std").len(),
        journeyc::stdlib::MODULES.len(),
        "every std file is embedded"
    );
}

#[test]
fn emitted_ir_round_trips() {
    for file in journey_files("examples") {
        let out = journeyc(&["check", "--emit", "ir", file.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0), "{}", file.display());
        let modules: Vec<ir::Module> =
            serde_json::from_slice(&out.stdout).expect("the IR parses back");
        assert_eq!(modules.len(), 1);
        // A file of tests imports its journey instead of defining one.
        let tests_only = file.to_string_lossy().ends_with(".test.journey");
        assert!(
            if tests_only {
                !modules[0].tests.is_empty()
            } else {
                !modules[0].journeys.is_empty()
            },
            "{} defines a journey, or tests",
            file.display()
        );
    }
}

#[test]
fn seed_scenario_ir_has_what_the_runtime_needs() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/texting_journey_links.journey");
    let text = std::fs::read_to_string(path).unwrap();
    let (_, modules, diags) = journeyc::check_source("texting_journey_links.journey", &text);
    assert!(diags.is_empty(), "{diags:?}");
    let module = modules
        .iter()
        .map(|(_, m)| m)
        .find(|m| m.name == "texting_journey_links.journey")
        .expect("the root module");
    let j = &module.journeys[0];
    assert_eq!(j.sms_from.as_deref(), Some("+15005550006"));
    assert!(matches!(&j.triggers[0], ir::Trigger::Link { slug } if slug == "start"));
    let ir::Control::Button { actions, .. } = &j.steps[0].pages[0].controls[3] else {
        panic!("the fourth control is the button")
    };
    assert!(
        matches!(&actions[0], ir::Action::Set { target: ir::Place::Actor(f), .. } if f == "phone")
    );
    assert!(matches!(actions[1], ir::Action::InitializeActor));
    let ir::Action::SendSms { notification } = actions[2] else {
        panic!("third action sends an SMS")
    };
    assert_eq!(j.notifications[notification].name, "LinkToJourney");
    let ir::Action::StartTimer {
        key,
        calendar: Some(cal),
        ..
    } = &actions[3]
    else {
        panic!("fourth action starts a timer on a calendar")
    };
    assert_eq!(key, "nudge");
    assert_eq!(
        j.calendars[cal.calendar].name,
        "std.calendars.BusinessHoursNY"
    );
    assert_eq!(j.calendars[cal.calendar].time_zone, "America/New_York");
    assert_eq!(cal.if_unavailable, ir::Unavailable::Next);
}
