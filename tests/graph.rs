//! `journeyc graph`: each example drawn in Mermaid and DOT against snapshots, its SVG
//! read as XML and shown in a real browser, and the picture's rules on small journeys.
//!
//! The browser test says SKIPPED on stderr without Chromium and chromedriver, unless
//! `JOURNEYC_REQUIRE_BROWSER` is set (see `tests/support/webdriver.rs`). It keeps each
//! screenshot in `target/test-artifacts/graph-*.png`.

mod support;

use std::path::{Path, PathBuf};

use journeyc::coverage::{Item, Reached};
use journeyc::graph::{render, Format};
use journeyc::ir;
use serde_json::json;
use support::webdriver::{browser_tools, Browser, Chromedriver};

/// The journeys a source defines; it must check without errors.
fn journeys(name: &str, text: &str) -> Vec<ir::Journey> {
    let (_, modules, diags) = journeyc::check_source(name, text);
    let errors: Vec<_> = diags
        .iter()
        .filter(|d| d.severity == journeyc::Severity::Error)
        .collect();
    assert!(errors.is_empty(), "{name}: {errors:?}");
    modules
        .into_iter()
        .map(|(_, m)| m)
        .find(|m| m.name == name)
        .expect("the root module")
        .journeys
}

fn examples() -> Vec<(String, Vec<ir::Journey>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "journey"))
        // Files of tests import their journey and draw nothing of their own.
        .filter(|p| !p.to_string_lossy().ends_with(".test.journey"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_str().unwrap().to_string();
            let text = std::fs::read_to_string(p).unwrap();
            (name.clone(), journeys(&name, &text))
        })
        .collect()
}

fn draw(journeys: &[ir::Journey], format: Format, reached: Option<&Reached>) -> String {
    let refs: Vec<&ir::Journey> = journeys.iter().collect();
    render(&refs, format, reached)
}

/// One journey's source, drawn.
fn draw_source(source: &str, format: Format) -> String {
    draw(&journeys("t.journey", source), format, None)
}

/// Every text of an SVG document, one string per `<text>` element.
fn svg_texts(svg: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("not XML: {e}"));
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .map(|n| {
            n.descendants()
                .filter(|d| d.is_text())
                .filter_map(|d| d.text())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .collect()
}

#[test]
fn examples_in_mermaid_and_dot() {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("graph/snapshots");
    settings.set_prepend_module_to_snapshot(false);
    let _guard = settings.bind_to_scope();
    for (name, js) in examples() {
        let stem = name.trim_end_matches(".journey");
        insta::assert_snapshot!(format!("{stem}.mermaid"), draw(&js, Format::Mermaid, None));
        insta::assert_snapshot!(format!("{stem}.dot"), draw(&js, Format::Dot, None));
    }
}

#[test]
fn each_example_svg_is_xml_naming_every_step_page_and_trigger() {
    for (name, js) in examples() {
        let texts = svg_texts(&draw(&js, Format::Svg, None));
        let has = |wanted: &str| texts.iter().any(|t| t.contains(wanted));
        for j in &js {
            assert!(has(&format!("journey {}", j.name)), "{name}: {}", j.name);
            for step in &j.steps {
                for page in &step.pages {
                    let label = format!("{} › {}", step.name, page.name);
                    assert!(has(&label), "{name}: no {label:?} in {texts:?}");
                }
            }
            for t in &j.triggers {
                let label = match t {
                    ir::Trigger::Link { slug } => format!("link \"{slug}\""),
                    ir::Trigger::Sms { to, .. } => format!("sms to {to}"),
                    ir::Trigger::Call { to, .. } => format!("call to {to}"),
                    ir::Trigger::Api { .. } => "api".to_string(),
                    ir::Trigger::Schedule { cron, .. } => format!("schedule \"{cron}\""),
                };
                assert!(has(&label), "{name}: no {label:?} in {texts:?}");
            }
        }
    }
}

const TRICKY: &str = r#"journey Tricky {
  trigger link "tricky"
  step One {
    page A {
      button "Say \"hi\" <b> & \\ #1" {
        go to page B
      }
    }
    page B {
      heading "B"
    }
  }
}
"#;

#[test]
fn labels_are_escaped_for_each_format() {
    let mermaid = draw_source(TRICKY, Format::Mermaid);
    assert!(
        mermaid.contains(r#"|"Say #quot;hi#quot; #lt;b#gt; & \ #35;1"|"#),
        "{mermaid}"
    );
    let dot = draw_source(TRICKY, Format::Dot);
    assert!(dot.contains(r#"[label="Say \"hi\" <b> & \\ #1"]"#), "{dot}");
    let texts = svg_texts(&draw_source(TRICKY, Format::Svg));
    assert!(
        texts.iter().any(|t| t == r#"Say "hi" <b> & \ #1"#),
        "{texts:?}"
    );
}

const NEXT: &str = r#"journey Next {
  trigger link "next"
  var name: Text
  step One {
    page A {
      button "On" {
        set name = "a"
      }
      button "Hello {{ name }}" {
        go to page C
      }
    }
    page B {
      button "Stay" {
        set name = "b"
      }
    }
    page C {
      heading "C"
    }
  }
}
"#;

#[test]
fn a_button_without_go_to_moves_to_the_next_page_and_the_last_page_stays() {
    let dot = draw_source(NEXT, Format::Dot);
    assert!(
        dot.contains("j0_s0_p0 -> j0_s0_p1 [label=\"On\"];"),
        "{dot}"
    );
    assert!(
        dot.contains("j0_s0_p0 -> j0_s0_p2 [label=\"Hello {{ name }}\"];"),
        "{dot}"
    );
    // B is not the last page, so "Stay" moves on to C; nothing on C moves.
    assert!(
        dot.contains("j0_s0_p1 -> j0_s0_p2 [label=\"Stay\"];"),
        "{dot}"
    );
    assert!(!dot.contains("j0_s0_p2 ->"), "{dot}");
}

const UNREACHABLE: &str = r#"journey Lost {
  trigger link "lost"
  step One {
    page A {
      button "Done" {
        end session
      }
    }
    page B {
      heading "Nobody comes here"
    }
  }
}
"#;

#[test]
fn a_page_nothing_leads_to_is_marked_unreachable() {
    let dot = draw_source(UNREACHABLE, Format::Dot);
    assert!(
        dot.contains("j0_s0_p1 [label=\"B\", shape=box, style=\"rounded,dashed\"];"),
        "{dot}"
    );
    assert!(
        dot.contains("j0_s0_p0 [label=\"A\", shape=box, style=\"rounded\"];"),
        "{dot}"
    );
    assert!(
        dot.contains("j0_s0_p0 -> j0_end [label=\"Done\"];"),
        "{dot}"
    );
    let mermaid = draw_source(UNREACHABLE, Format::Mermaid);
    assert!(
        mermaid.contains("class j0_s0_p1 unreachable\n"),
        "{mermaid}"
    );
    let texts = svg_texts(&draw_source(UNREACHABLE, Format::Svg));
    assert!(
        texts.iter().any(|t| t == "One › B\n(unreachable)"),
        "{texts:?}"
    );
}

#[test]
fn coverage_colours_what_no_test_reached() {
    let js = journeys("t.journey", NEXT);
    let mut reached = Reached::default();
    for item in [
        Item::Trigger { index: 0 },
        Item::Step { step: 0 },
        Item::Page { step: 0, page: 0 },
        Item::Button {
            step: 0,
            page: 0,
            control: 0,
        },
        Item::Page { step: 0, page: 1 },
    ] {
        reached.insert("Next", item);
    }
    let dot = draw(&js, Format::Dot, Some(&reached));
    let line = |id: &str| {
        dot.lines()
            .find(|l| l.trim_start().starts_with(&format!("{id} [")))
            .unwrap_or_else(|| panic!("no {id} in {dot}"))
            .to_string()
    };
    assert!(!line("j0_s0_p0").contains("fillcolor"), "{dot}");
    assert!(!line("j0_s0_p1").contains("fillcolor"), "{dot}");
    assert!(line("j0_s0_p2").contains("fillcolor=\"#ffd6d6\""), "{dot}");
    assert!(
        dot.contains("j0_s0_p0 -> j0_s0_p1 [label=\"On\"];"),
        "a reached button's edge is plain: {dot}"
    );
    assert!(
        dot.contains("j0_s0_p0 -> j0_s0_p2 [label=\"Hello {{ name }}\", color=\"#cc0000\""),
        "a missed button's edge is red: {dot}"
    );
    assert!(dot.contains("legend_missed"), "{dot}");
    let mermaid = draw(&js, Format::Mermaid, Some(&reached));
    assert!(
        mermaid.contains("class j0_s0_p2,legend_missed missed\n"),
        "{mermaid}"
    );
    assert!(
        mermaid.contains("linkStyle 2,3 stroke:#cc0000"),
        "{mermaid}"
    );
    let svg = draw(&js, Format::Svg, Some(&reached));
    assert!(
        svg.contains("class=\"page missed\" id=\"j0_s0_p2\""),
        "{svg}"
    );
    assert!(svg_texts(&svg)
        .iter()
        .any(|t| t == "not reached by any test"));
    // Without coverage nothing is coloured and there is no legend.
    let plain = draw(&js, Format::Dot, None);
    assert!(!plain.contains("#ffd6d6"), "{plain}");
}

/// Chromium opens each example's SVG as an SVG document (an XML error would replace it
/// with an error page), every label has a size, and no two labels overlap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_renders_each_example_svg() {
    let Some((chromium, chromedriver)) = browser_tools() else {
        return;
    };
    // Beside target/tmp, in whichever target folder the build uses.
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let artifacts = tmp.parent().unwrap_or(tmp).join("test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let driver = Chromedriver::start(&chromedriver).await;
    let options = json!({
        "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                 "--disable-dev-shm-usage", "--window-size=1600,1000"],
    });
    let browser = Browser::open(&driver, &chromium, options).await;
    for (name, js) in examples() {
        let stem = name.trim_end_matches(".journey");
        let svg_path = artifacts.join(format!("graph-{stem}.svg"));
        std::fs::write(&svg_path, draw(&js, Format::Svg, None)).unwrap();
        browser.go(&format!("file://{}", svg_path.display())).await;
        let root = browser
            .script("return document.documentElement.localName", vec![])
            .await;
        assert_eq!(root, "svg", "{name}: Chromium shows an SVG document");
        let errors = browser
            .script(
                "return document.getElementsByTagName('parsererror').length",
                vec![],
            )
            .await;
        assert_eq!(errors, 0, "{name}: no XML errors");
        let boxes = browser
            .script(
                "return [...document.querySelectorAll('text')].map(t => {
                   const r = t.getBoundingClientRect();
                   return [t.textContent, r.left, r.top, r.right, r.bottom];
                 })",
                vec![],
            )
            .await;
        let boxes: Vec<(String, f64, f64, f64, f64)> =
            serde_json::from_value(boxes).expect("label boxes");
        assert!(!boxes.is_empty(), "{name}: labels are drawn");
        for (i, a) in boxes.iter().enumerate() {
            assert!(a.3 > a.1 && a.4 > a.2, "{name}: {:?} has no size", a.0);
            for b in &boxes[i + 1..] {
                // A pixel of slack: neighbouring lines of one label touch.
                let apart =
                    a.3 <= b.1 + 1.0 || b.3 <= a.1 + 1.0 || a.4 <= b.2 + 1.0 || b.4 <= a.2 + 1.0;
                assert!(apart, "{name}: {:?} overlaps {:?}", a.0, b.0);
            }
        }
        // The window grows to the whole picture, so the screenshot shows all of it.
        let size = browser
            .script(
                "const s = document.documentElement; return [s.width.baseVal.value, s.height.baseVal.value]",
                vec![],
            )
            .await;
        let (w, h): (f64, f64) = serde_json::from_value(size).expect("the SVG's size");
        let window = json!({"width": w.ceil() as u64 + 40, "height": h.ceil() as u64 + 160});
        browser.post("/window/rect", window).await;
        let png = browser.screenshot().await;
        assert!(png.starts_with(b"\x89PNG"), "{name}: a PNG screenshot");
        std::fs::write(artifacts.join(format!("graph-{stem}.png")), png).unwrap();
    }
    browser.quit().await;
    drop(driver);
}
