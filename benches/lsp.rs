//! `journeyc lsp` and `journeyc fmt` as an editor feels them, on the release binary.
//! Run with `cargo bench --bench lsp`.
//!
//! - Opens a generated 5,000-line journey file, then types one character at a time
//!   (`JOURNEYC_LSP_KEYS`, default 100 keystrokes), each an incremental change, and
//!   times each from sending it to the diagnostics for its version; then hover and go to
//!   definition. Next to it, the baseline in the same run: `journeyc check` of the same
//!   file as a whole process (start-up included), and the time the server takes for a
//!   request that does nothing (an unknown method).
//! - Times `journeyc fmt --check examples std` as a whole process.
//!
//! Targets: diagnostics after a keystroke at most 20 ms (p50 and p95 reported); hover
//! and definition at most 5 ms; `fmt` of examples and std at most 20 ms.

#[path = "../tests/support/lsp_client.rs"]
mod lsp_client;

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use lsp_client::Client;
use serde_json::{json, Value};

/// A journey of about `lines` lines: steps of pages, each page a heading, an input and
/// a button that goes to the next page.
fn big_journey(lines: usize) -> String {
    let mut s = String::from(
        "journey Big {\n  sms from \"+15005550006\"\n  trigger link \"big\"\n  var name: Text\n\n",
    );
    let pages_per_step = 10;
    let mut n = 0;
    while s.lines().count() < lines - 10 {
        s.push_str(&format!("  step S{n} {{\n"));
        for p in 0..pages_per_step {
            let next = if p + 1 < pages_per_step {
                format!("go to page P{n}_{}", p + 1)
            } else {
                format!("go to step S{}", n + 1)
            };
            s.push_str(&format!(
                "    page P{n}_{p} {{\n      heading \"Page {p} of step {n}, {{{{ name }}}}\"\n      input name: text \"Your name\"\n      button \"Next\" {{\n        {next}\n      }}\n    }}\n"
            ));
        }
        s.push_str("  }\n");
        n += 1;
    }
    s.push_str(&format!(
        "  step S{n} {{\n    page End {{\n      heading \"Done\"\n    }}\n  }}\n}}\n"
    ));
    s
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let keys: usize = std::env::var("JOURNEYC_LSP_KEYS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let dir = std::env::temp_dir().join(format!("journeyc-lsp-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("big.journey");
    let text = big_journey(5_000);
    std::fs::write(&file, &text).unwrap();
    let uri = format!("file://{}", file.display());
    let bin = env!("CARGO_BIN_EXE_journeyc");

    // Baseline: the whole check as a process.
    let mut check_ms = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let out = Command::new(bin)
            .args(["check", file.to_str().unwrap()])
            .output()
            .unwrap();
        check_ms.push(t.elapsed().as_secs_f64() * 1e3);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    check_ms.sort_by(f64::total_cmp);

    let mut lsp = Client::start(Path::new(bin));
    lsp.request(
        "initialize",
        json!({"processId": null, "rootUri": null, "capabilities": {}}),
    );
    lsp.notify("initialized", json!({}));
    lsp.open(&uri, &text);

    // Typing into a heading in the middle of the file, one character at a time.
    let line = text
        .lines()
        .position(|l| l.contains("Page 5 of step 20,"))
        .unwrap_or(100);
    let column = text.lines().nth(line).unwrap().find("Page").unwrap() + 4;
    let mut keystroke_ms = Vec::new();
    for k in 0..keys {
        let version = 2 + k as i64;
        let t = Instant::now();
        lsp.send(json!({"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {
            "textDocument": {"uri": uri, "version": version},
            "contentChanges": [{"range": {"start": {"line": line, "character": column + k}, "end": {"line": line, "character": column + k}}, "text": "x"}],
        }}));
        let d = lsp.diagnostics(&uri, version);
        keystroke_ms.push(t.elapsed().as_secs_f64() * 1e3);
        assert!(d.is_empty(), "{d:?}");
    }
    keystroke_ms.sort_by(f64::total_cmp);

    let time = |lsp: &mut Client, method: &str, params: Value| {
        let mut ms = Vec::new();
        for _ in 0..50 {
            let t = Instant::now();
            let r = lsp.call(method, params.clone());
            ms.push(t.elapsed().as_secs_f64() * 1e3);
            assert!(r.get("result").is_some() || r.get("error").is_some());
        }
        ms.sort_by(f64::total_cmp);
        ms
    };
    let use_line = text
        .lines()
        .position(|l| l.contains("go to page P30_3"))
        .unwrap_or(200);
    let use_col = text.lines().nth(use_line).unwrap().find("P30_3").unwrap() + 1;
    let at =
        json!({"textDocument": {"uri": uri}, "position": {"line": use_line, "character": use_col}});
    let definition = time(&mut lsp, "textDocument/definition", at.clone());
    let var_line = text.lines().position(|l| l.contains("{{ name }}")).unwrap();
    let var_col = text.lines().nth(var_line).unwrap().find("{{ name").unwrap() + 4;
    let hover = time(
        &mut lsp,
        "textDocument/hover",
        json!({"textDocument": {"uri": uri}, "position": {"line": var_line, "character": var_col}}),
    );
    let nothing = time(
        &mut lsp,
        "journeyc/nothing",
        json!({"textDocument": {"uri": uri}}),
    );
    lsp.request("shutdown", Value::Null);
    lsp.send(json!({"jsonrpc": "2.0", "method": "exit"}));
    let _ = lsp.child.wait();

    // fmt of the examples and std, as a process.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut fmt_ms = Vec::new();
    for _ in 0..10 {
        let t = Instant::now();
        let out = Command::new(bin)
            .current_dir(root)
            .args(["fmt", "--check", "examples", "std"])
            .output()
            .unwrap();
        fmt_ms.push(t.elapsed().as_secs_f64() * 1e3);
        assert!(out.status.success());
    }
    fmt_ms.sort_by(f64::total_cmp);
    let _ = std::fs::remove_dir_all(&dir);

    println!(
        "journeyc lsp on a {}-line file (release)",
        text.lines().count()
    );
    println!(
        "  diagnostics after a keystroke: p50 {:.1} ms, p95 {:.1} ms over {keys} keystrokes (target at most 20 ms)",
        percentile(&keystroke_ms, 0.5),
        percentile(&keystroke_ms, 0.95)
    );
    println!(
        "  hover: p50 {:.2} ms, p95 {:.2} ms; definition: p50 {:.2} ms, p95 {:.2} ms (target at most 5 ms)",
        percentile(&hover, 0.5),
        percentile(&hover, 0.95),
        percentile(&definition, 0.5),
        percentile(&definition, 0.95)
    );
    println!(
        "  baselines: a request that does nothing p50 {:.2} ms; journeyc check of the file as a process p50 {:.1} ms",
        percentile(&nothing, 0.5),
        percentile(&check_ms, 0.5)
    );
    println!(
        "journeyc fmt --check examples std as a process: p50 {:.1} ms, max {:.1} ms (target at most 20 ms)",
        percentile(&fmt_ms, 0.5),
        fmt_ms[fmt_ms.len() - 1]
    );
}
