//! `journeyc check` throughput. Run with `cargo bench --bench check` (release build).
//!
//! Reports, for a generated multi-megabyte project:
//! - a baseline pass that only counts lines (the floor for touching every byte),
//! - parsing alone, and the whole check (parse, resolve, type, flow), in MB/s;
//! - the release binary checking the generated project as a whole process, in MB/s;
//! - the release binary checking `examples/` and `std/` as a whole process, in ms,
//!   next to `journeyc --version` (process start-up alone) as its baseline.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const EXAMPLES: &[&str] = &[
    include_str!("../examples/texting_journey_links.journey"),
    include_str!("../examples/call_deflection.journey"),
    include_str!("../examples/appointment_reminder.journey"),
];

/// File `file` of the generated project: `copies` renamed copies of every example
/// journey. A project's journeys must not claim the same name, starting-link slug or
/// SMS or call trigger number (J0109, across files too), so each copy gets its own,
/// numbered across the whole project; the numbers stay Twilio test numbers.
fn generated_file(file: usize, copies: usize) -> String {
    let mut out = String::from("import std.calendars\nimport std.notifications\n\n");
    for i in (file * copies)..((file + 1) * copies) {
        assert!(i < 10_000, "Twilio test numbers end in four digits");
        for example in EXAMPLES {
            let body: String = example
                .lines()
                .filter(|l| !l.starts_with("import "))
                .map(|l| format!("{l}\n"))
                .collect();
            let renamed = body
                .replace(
                    "journey TextingJourneyLinksBySms {",
                    &format!("journey TextingJourneyLinksBySms{i} {{"),
                )
                .replace(
                    "journey TextingJourneyLinks {",
                    &format!("journey TextingJourneyLinks{i} {{"),
                )
                .replace(
                    "journey CallDeflection {",
                    &format!("journey CallDeflection{i} {{"),
                )
                .replace(
                    "journey AppointmentReminder {",
                    &format!("journey AppointmentReminder{i} {{"),
                )
                .replace(
                    "trigger link \"start\"",
                    &format!("trigger link \"start-{i}\""),
                )
                .replace(
                    "trigger sms to \"+15005550006\"",
                    &format!("trigger sms to \"+1500555{i:04}\""),
                )
                .replace(
                    "trigger call to \"+15005550006\"",
                    &format!("trigger call to \"+1500555{i:04}\""),
                );
            out.push_str(&renamed);
        }
    }
    out
}

fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> Duration {
    (0..runs)
        .map(|_| {
            let start = Instant::now();
            std::hint::black_box(f());
            start.elapsed()
        })
        .min()
        .expect("at least one run")
}

fn median_of(runs: usize, mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[runs / 2]
}

fn mb_per_s(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / 1e6 / d.as_secs_f64()
}

fn main() {
    let files: Vec<String> = (0..8).map(|file| generated_file(file, 60)).collect();
    let total: usize = files.iter().map(String::len).sum();
    println!(
        "generated project: {} files, {:.1} MB",
        files.len(),
        total as f64 / 1e6
    );

    let baseline = best_of(5, || {
        files
            .iter()
            .map(|f| f.bytes().filter(|b| *b == b'\n').count())
            .sum::<usize>()
    });
    let parse = best_of(3, || {
        files
            .iter()
            .map(|f| journeyc::syntax::parse(journeyc::FileId(0), f).1.len())
            .sum::<usize>()
    });
    let check = best_of(3, || {
        let mut diags = 0;
        for (i, f) in files.iter().enumerate() {
            let (_, _, d) = journeyc::check_source(&format!("gen{i}.journey"), f);
            diags += d.len();
        }
        assert_eq!(diags, 0, "the generated project checks clean");
        diags
    });
    println!(
        "baseline (count lines)    {:>9.1} MB/s",
        mb_per_s(total, baseline)
    );
    println!(
        "parse only                {:>9.1} MB/s  ({:.1}x the baseline's time)",
        mb_per_s(total, parse),
        parse.as_secs_f64() / baseline.as_secs_f64()
    );
    let parallel = best_of(3, || {
        let inputs: Vec<(String, String)> = files
            .iter()
            .enumerate()
            .map(|(i, f)| (format!("gen{i}.journey"), f.clone()))
            .collect();
        let mut compiler = journeyc::Compiler::new(journeyc::NoFiles);
        compiler.check_files(&inputs);
        assert!(compiler.diagnostics().is_empty());
    });
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "check (library, 1 thread) {:>9.1} MB/s",
        mb_per_s(total, check)
    );
    println!(
        "check (library, {threads} threads) {:>8.1} MB/s  (target: at least 20 MB/s)",
        mb_per_s(total, parallel)
    );

    let exe = env!("CARGO_BIN_EXE_journeyc");
    let dir = std::env::temp_dir().join(format!("journeyc-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (i, f) in files.iter().enumerate() {
        std::fs::write(dir.join(format!("gen{i}.journey")), f).unwrap();
    }
    let process = best_of(3, || {
        let out = Command::new(exe)
            .args(["check", "--format", "json"])
            .arg(&dir)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
    });
    println!(
        "check (process, project)  {:>9.1} MB/s  (target: at least 20 MB/s)",
        mb_per_s(total, process)
    );
    let _ = std::fs::remove_dir_all(&dir);

    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let startup = median_of(30, || {
        Command::new(exe).arg("--version").output().unwrap();
    });
    let examples = median_of(30, || {
        let out = Command::new(exe)
            .current_dir(root)
            .args(["check", "examples", "std"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
    });
    println!(
        "process start-up baseline {:>9.2} ms (journeyc --version, median of 30)",
        startup.as_secs_f64() * 1e3
    );
    println!(
        "check examples/ + std/    {:>9.2} ms (median of 30; target: under 20 ms)",
        examples.as_secs_f64() * 1e3
    );
}

/// The same allocator as the `journeyc` binary, so the library figures match what ships.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
