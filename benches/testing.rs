//! `journeyc test`'s speed. Run with `cargo bench --bench testing` (release).
//!
//! Runs every test of `examples/` on one thread, `JOURNEYC_TEST_ROUNDS` times (default
//! 50), and reports test steps per second. Beside it, a baseline from the same run:
//! tests with no steps, which cost only the fresh engine each test gets (a store in
//! memory, the journeys deployed), so the report shows how much of a test's time is
//! its steps and how much its set-up.
//!
//! Target: at least 2,000 test steps per second on one core.

use std::path::Path;
use std::time::Instant;

use journeyc::{ir, tester, Compiler, Loader};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Reads the files `import "..."` names, beside `examples/`.
struct Examples;

impl Loader for Examples {
    fn load(&self, _importer: &str, path: &str) -> Result<(String, String), String> {
        let full = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples")
            .join(path);
        let text = std::fs::read_to_string(&full).map_err(|e| e.to_string())?;
        Ok((path.to_string(), text))
    }
}

fn main() {
    let rounds: usize = std::env::var("JOURNEYC_TEST_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut files: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".journey"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect();
    files.sort();
    let mut compiler = Compiler::new(Examples);
    compiler.check_files(&files);
    let (_, modules, diagnostics) = compiler.into_parts();
    assert!(
        diagnostics.iter().all(|d| !d.is_error()),
        "the examples check clean"
    );
    let journeys: Vec<ir::Journey> = modules
        .iter()
        .flat_map(|(_, m)| m.journeys.iter().cloned())
        .collect();
    let tests: Vec<&ir::Test> = modules.iter().flat_map(|(_, m)| &m.tests).collect();
    assert!(!tests.is_empty(), "the examples have tests");

    // Warm up: the first engine pays for the allocator's first pages.
    for t in &tests {
        assert!(tester::run(t, &journeys).failure.is_none(), "{}", t.name);
    }

    let started = Instant::now();
    let mut steps = 0;
    for _ in 0..rounds {
        for t in &tests {
            let outcome = tester::run(t, &journeys);
            assert!(outcome.failure.is_none(), "{}", t.name);
            steps += outcome.steps;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();

    // The baseline: the same tests without their steps.
    let empty: Vec<ir::Test> = tests
        .iter()
        .map(|t| ir::Test {
            steps: Vec::new(),
            ..(*t).clone()
        })
        .collect();
    let base_started = Instant::now();
    for _ in 0..rounds {
        for t in &empty {
            tester::run(t, &journeys);
        }
    }
    let base = base_started.elapsed().as_secs_f64();

    let runs = (rounds * tests.len()) as f64;
    println!(
        "journeyc test: {} tests x {rounds} rounds on one thread, {steps} steps",
        tests.len()
    );
    println!(
        "  {:.0} steps/s ({:.2} ms per test; target at least 2,000 steps/s)",
        steps as f64 / elapsed,
        elapsed * 1000.0 / runs
    );
    println!(
        "  baseline, a fresh engine per test and no steps: {:.2} ms per test ({:.0}% of a test's time)",
        base * 1000.0 / runs,
        100.0 * base / elapsed
    );
    println!(
        "  steps alone: {:.0} steps/s",
        steps as f64 / (elapsed - base).max(f64::EPSILON)
    );
}
