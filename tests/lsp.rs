//! `journeyc lsp` as an editor uses it: JSON-RPC over its standard input and output.
//! Open, a burst of 200 quick incremental edits whose last diagnostics match the final
//! text (as `journeyc check` sees it), formatting, document symbols, go to definition,
//! and shutdown; diagnostics after each of a run of edits, as `journeyc check` gives
//! them; and references and rename across the workspace's files.

#[path = "support/lsp_client.rs"]
mod lsp_client;

use std::path::Path;
use std::process::Command;

use lsp_client::Client;
use serde_json::{json, Value};

const SOURCE: &str = "journey Hello {\n  trigger link \"hello\"\n\n  step Start {\n    page Ask {\n      heading \"Hi\"\n      button \"Next\" {\n        go to page Thanks\n      }\n    }\n    page Thanks {\n      heading \"Bye\"\n    }\n  }\n}\n";

#[test]
fn an_editor_conversation() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("journeyc-lsp");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("hello.journey");
    let uri = format!("file://{}", file.display());
    let mut server = Client::start(Path::new(env!("CARGO_BIN_EXE_journeyc")));
    let init = server.request(
        "initialize",
        json!({"processId": null, "rootUri": null, "capabilities": {}}),
    );
    assert_eq!(
        init["capabilities"]["textDocumentSync"]["change"], 2,
        "incremental sync"
    );
    server.notify("initialized", json!({}));

    // Open a file with a mistake: the page it goes to is misspelt.
    let broken = SOURCE.replace("go to page Thanks", "go to page Thanx");
    let d = server.open(&uri, &broken);
    assert_eq!(d.len(), 1, "{d:#?}");
    assert_eq!(d[0]["code"], "J0102");
    assert!(
        d[0]["message"]
            .as_str()
            .unwrap()
            .contains("did you mean `Thanks`?"),
        "{d:#?}"
    );
    let line = broken.lines().position(|l| l.contains("Thanx")).unwrap();
    assert_eq!(d[0]["range"]["start"]["line"], line as u64);
    // Its "did you mean" is a quick fix.
    let actions = server.request(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": uri}, "range": d[0]["range"], "context": {"diagnostics": [d[0]]}}),
    );
    assert_eq!(actions[0]["kind"], "quickfix");
    assert_eq!(
        actions[0]["edit"]["changes"][&uri][0]["newText"], "Thanks",
        "{actions}"
    );

    // 200 quick edits, one character at a time: delete "Thanx" and type a text, as a
    // person would, then fix the page name. Only the last diagnostics count.
    let mut text = broken.clone();
    let at = text.find("Thanx").unwrap();
    let column = (at - text[..at].rfind('\n').unwrap() - 1) as u64;
    let mut version = 1;
    let mut edit = |server: &mut Client, text: &mut String, start: u64, end: u64, new: &str| {
        version += 1;
        let from = text.find("go to page ").unwrap() + 11;
        text.replace_range(
            from + (start - column) as usize..from + (end - column) as usize,
            new,
        );
        server.notify(
            "textDocument/didChange",
            json!({
                "textDocument": {"uri": uri, "version": version},
                "contentChanges": [{"range": {
                    "start": {"line": line, "character": start},
                    "end": {"line": line, "character": end},
                }, "text": new}],
            }),
        );
    };
    for i in 0..5 {
        let end = column + 5 - i;
        edit(&mut server, &mut text, end - 1, end, "");
    }
    let mut typed = 0u64;
    while typed < 189 {
        let c = ["a", "b", "c"][(typed % 3) as usize];
        edit(&mut server, &mut text, column + typed, column + typed, c);
        typed += 1;
    }
    // Select what was typed and replace it: the 195th edit.
    edit(&mut server, &mut text, column, column + typed, "Thank");
    for c in ["s", "x", "y", "z"] {
        let len = text[text.find("go to page ").unwrap() + 11..]
            .find('\n')
            .unwrap() as u64;
        edit(&mut server, &mut text, column + len, column + len, c);
    }
    let len = text[text.find("go to page ").unwrap() + 11..]
        .find('\n')
        .unwrap() as u64;
    edit(&mut server, &mut text, column + 6, column + len, "");
    assert_eq!(version, 201, "200 edits after the open");
    assert_eq!(text, SOURCE, "the edits end where the text is right again");
    let last = server.diagnostics(&uri, 201);
    // As `journeyc check` sees the final text.
    std::fs::write(&file, &text).unwrap();
    let check = Command::new(env!("CARGO_BIN_EXE_journeyc"))
        .args(["check", "--format", "json", file.to_str().unwrap()])
        .output()
        .unwrap();
    let expected: Vec<String> = String::from_utf8(check.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["code"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let got: Vec<String> = last
        .iter()
        .map(|d| d["code"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(got, expected, "{last:#?}");

    // Go to definition: from `go to page Thanks` to the page.
    let use_line = text
        .lines()
        .position(|l| l.contains("go to page Thanks"))
        .unwrap();
    let def = server.request(
        "textDocument/definition",
        json!({"textDocument": {"uri": uri}, "position": {"line": use_line, "character": 20}}),
    );
    let page_line = text
        .lines()
        .position(|l| l.contains("page Thanks {"))
        .unwrap();
    assert_eq!(def["range"]["start"]["line"], page_line as u64, "{def}");
    assert_eq!(def["uri"], uri.as_str());

    // References and rename: the page and its use.
    let refs = server.request(
        "textDocument/references",
        json!({"textDocument": {"uri": uri}, "position": {"line": use_line, "character": 20}, "context": {"includeDeclaration": true}}),
    );
    let lines: Vec<u64> = refs
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["range"]["start"]["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [use_line as u64, page_line as u64], "{refs}");
    let edit = server.request(
        "textDocument/rename",
        json!({"textDocument": {"uri": uri}, "position": {"line": page_line, "character": 10}, "newName": "Done"}),
    );
    assert_eq!(edit["changes"][&uri].as_array().unwrap().len(), 2, "{edit}");
    assert!(edit["changes"][&uri]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["newText"] == "Done"));
    // A name already used would make two things one: refused.
    let refused = server.call(
        "textDocument/rename",
        json!({"textDocument": {"uri": uri}, "position": {"line": page_line, "character": 10}, "newName": "Ask"}),
    );
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("already a name"),
        "{refused}"
    );

    // Document symbols: the journey, its step and pages.
    let symbols = server.request(
        "textDocument/documentSymbol",
        json!({"textDocument": {"uri": uri}}),
    );
    assert_eq!(symbols[0]["name"], "Hello");
    assert_eq!(symbols[0]["children"][0]["name"], "Start");
    let pages: Vec<&str> = symbols[0]["children"][0]["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(pages, ["Ask", "Thanks"]);

    // Formatting answers with `journeyc fmt`'s layout.
    let messy = text.replace("    page Thanks {", "page   Thanks{");
    server.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 202}, "contentChanges": [{"text": messy}]}),
    );
    let edits = server.request(
        "textDocument/formatting",
        json!({"textDocument": {"uri": uri}, "options": {"tabSize": 2, "insertSpaces": true}}),
    );
    assert_eq!(edits[0]["newText"], SOURCE, "{edits}");

    // Hover and completion on a richer file.
    let rich_uri = format!("file://{}", dir.join("rich.journey").display());
    let rich = "import std.calendars\n\ncalendar Office {\n  time zone \"Europe/Paris\"\n  open mon-fri 09:00-17:30\n}\n\njourney Rich {\n  sms from \"+15005550006\"\n  trigger schedule \"0 9 * * MON\" in \"America/New_York\" {\n    set actor.phone = \"+14155550100\"\n    initialize actor\n    send sms Cafe\n  }\n  var count: Number = 2\n\n  step One {\n    page P {\n      heading \"{{ UPPERCASE(\"x\") }} {{ count }}\"\n    }\n  }\n\n  notification Cafe sms {\n    text \"Your table’s ready at the café.\"\n    journey link\n  }\n}\n";
    assert!(server
        .open(&rich_uri, rich)
        .iter()
        .all(|d| d["severity"] != 1));
    let hover = |server: &mut Client, needle: &str, skip: usize| {
        let at = rich.find(needle).unwrap() + skip;
        let line = rich[..at].matches('\n').count();
        let column = at - rich[..at].rfind('\n').map_or(0, |i| i + 1);
        let h = server.request(
            "textDocument/hover",
            json!({"textDocument": {"uri": rich_uri}, "position": {"line": line, "character": column}}),
        );
        h["contents"]["value"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let n = hover(&mut server, "send sms Cafe", 10);
    assert!(n.contains("1 segment in UCS-2 (because of `’`)"), "{n}");
    assert!(n.contains("the journey link"), "{n}");
    let c = hover(&mut server, "calendar Office", 10);
    assert!(
        c.contains("in Europe/Paris")
            && c.contains("Monday, Tuesday, Wednesday, Thursday, Friday from 09:00 to 17:30"),
        "{c}"
    );
    let v = hover(&mut server, "{{ count }}", 4);
    assert_eq!(v, "`var count: Number`, with a default");
    let f = hover(&mut server, "UPPERCASE", 2);
    assert!(f.starts_with("`UPPERCASE(text: Text)`"), "{f}");
    let s = hover(&mut server, "0 9 * * MON", 3);
    assert!(
        s.contains("the next runs") && s.matches("Mon ").count() == 3,
        "{s}"
    );
    let complete = |server: &mut Client, line: usize, column: usize| {
        let r = server.request(
            "textDocument/completion",
            json!({"textDocument": {"uri": rich_uri}, "position": {"line": line, "character": column}}),
        );
        r.as_array()
            .unwrap()
            .iter()
            .map(|i| i["label"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    // At the start of a line inside a page: the controls of a page.
    let page_line = rich
        .lines()
        .position(|l| l.contains("heading \"{{"))
        .unwrap();
    let labels = complete(&mut server, page_line, 0);
    assert!(
        labels.contains(&"button".to_string()) && !labels.contains(&"step".to_string()),
        "{labels:?}"
    );

    // Semantic tokens, decoded: what each piece of the rich file is.
    let tokens = server.request(
        "textDocument/semanticTokens/full",
        json!({"textDocument": {"uri": rich_uri}}),
    );
    let data: Vec<u64> = tokens["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    let (mut line, mut col) = (0u64, 0u64);
    let mut decoded = Vec::new();
    for t in data.chunks(5) {
        if t[0] > 0 {
            line += t[0];
            col = t[1];
        } else {
            col += t[1];
        }
        let text_line: Vec<u16> = rich
            .lines()
            .nth(line as usize)
            .unwrap()
            .encode_utf16()
            .collect();
        let piece = String::from_utf16(&text_line[col as usize..(col + t[2]) as usize]).unwrap();
        decoded.push((
            piece,
            [
                "keyword", "string", "comment", "number", "variable", "function", "type",
            ][t[3] as usize],
        ));
    }
    for (piece, kind) in [
        ("import", "keyword"),
        ("\"Europe/Paris\"", "string"),
        ("count", "variable"),
        ("UPPERCASE", "function"),
        ("Number", "type"),
        ("2", "number"),
        ("journey", "keyword"),
    ] {
        assert!(
            decoded.iter().any(|(p, k)| p == piece && *k == kind),
            "{piece} as {kind} in {decoded:?}"
        );
    }

    // The standard library is readable through go to definition.
    let uses = "journey Uses {\n  trigger api\n  on session started {\n    start timer \"t\" after 1d on std.calendars.BusinessHoursNY {\n      end session\n    }\n  }\n  step S {\n    page P {\n      heading \"x\"\n    }\n  }\n}\nimport std.calendars\n";
    let uses_uri = format!("file://{}", dir.join("uses.journey").display());
    server.open(&uses_uri, uses);
    let def = server.request(
        "textDocument/definition",
        json!({"textDocument": {"uri": uses_uri}, "position": {"line": 3, "character": 50}}),
    );
    let target = def["uri"]
        .as_str()
        .unwrap()
        .trim_start_matches("file://")
        .to_string();
    let std_text = std::fs::read_to_string(&target).unwrap();
    let line = def["range"]["start"]["line"].as_u64().unwrap() as usize;
    assert!(
        std_text
            .lines()
            .nth(line)
            .unwrap()
            .contains("calendar BusinessHoursNY"),
        "{def}"
    );

    // A text before the actor is initialised: the quick fix adds `initialize actor`.
    let early = "journey Early {\n  sms from \"+15005550006\"\n  trigger link \"early\"\n  var phone: Phone\n  step S {\n    page P {\n      input phone: phone \"Mobile\"\n      button \"Go\" {\n        set actor.phone = phone\n        send sms Hi\n      }\n    }\n  }\n  notification Hi sms {\n    text \"hi\"\n  }\n}\n";
    let early_uri = format!("file://{}", dir.join("early.journey").display());
    let d = server.open(&early_uri, early);
    let j0301 = d
        .iter()
        .find(|d| d["code"] == "J0301")
        .unwrap_or_else(|| panic!("{d:#?}"));
    let fix = server.request(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": early_uri}, "range": j0301["range"], "context": {"diagnostics": [j0301]}}),
    );
    let edit = &fix[0]["edit"]["changes"][&early_uri][0];
    assert_eq!(edit["newText"], "        initialize actor\n", "{fix}");
    assert_eq!(edit["range"]["start"]["line"], 9);

    // Timer keys and imports: definitions and references through their strings.
    let shared = dir.join("shared.journey");
    std::fs::write(
        &shared,
        "calendar Office {\n  time zone \"Europe/London\"\n  open mon-fri 09:00-17:00\n}\n",
    )
    .unwrap();
    let timers = "import \"shared.journey\"\nimport std.calendars\n\njourney Timers {\n  sms from \"+15005550006\"\n  trigger api\n  on session started {\n    start timer \"nudge\" after 1d on shared.Office {\n      send sms Hi\n    }\n  }\n  on reply \"STOP\" {\n    stop timer \"nudge\"\n  }\n  step S {\n    page P {\n      heading \"x\"\n    }\n  }\n  notification Hi sms {\n    text \"hi\"\n  }\n}\n";
    let timers_uri = format!("file://{}", dir.join("timers.journey").display());
    let d = server.open(&timers_uri, timers);
    assert!(d.iter().all(|d| d["severity"] != 1), "{d:#?}");
    let at = |needle: &str, skip: usize| {
        let i = timers.find(needle).unwrap() + skip;
        let line = timers[..i].matches('\n').count();
        json!({"line": line, "character": i - timers[..i].rfind('\n').map_or(0, |n| n + 1)})
    };
    let def = server.request(
        "textDocument/definition",
        json!({"textDocument": {"uri": timers_uri}, "position": at("stop timer \"nudge", 13)}),
    );
    assert_eq!(
        def["range"]["start"]["line"], 7,
        "the start timer's key: {def}"
    );
    let refs = server.request(
        "textDocument/references",
        json!({"textDocument": {"uri": timers_uri}, "position": at("stop timer \"nudge", 13), "context": {"includeDeclaration": true}}),
    );
    let lines: Vec<u64> = refs
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["range"]["start"]["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [7, 12], "{refs}");
    let shared_uri = format!("file://{}", shared.canonicalize().unwrap().display());
    let def = server.request(
        "textDocument/definition",
        json!({"textDocument": {"uri": timers_uri}, "position": at("shared.journey", 2)}),
    );
    assert_eq!(def["uri"], shared_uri.as_str(), "the imported file: {def}");
    let def = server.request(
        "textDocument/definition",
        json!({"textDocument": {"uri": timers_uri}, "position": at("shared.Office", 9)}),
    );
    assert_eq!(def["uri"], shared_uri.as_str(), "{def}");
    assert_eq!(
        def["range"]["start"]["line"], 0,
        "calendar Office, in the imported file: {def}"
    );
    let def = server.request(
        "textDocument/definition",
        json!({"textDocument": {"uri": timers_uri}, "position": at("std.calendars", 6)}),
    );
    assert!(
        def["uri"].as_str().unwrap().ends_with("calendars.journey"),
        "{def}"
    );

    let found = server.request("workspace/symbol", json!({"query": "ric"}));
    assert_eq!(found[0]["name"], "Rich", "{found}");
    assert_eq!(found[0]["location"]["uri"], rich_uri.as_str());

    let shutdown = server.request("shutdown", Value::Null);
    assert!(shutdown.is_null());
    server.notify("exit", Value::Null);
    let status = server.child.wait().unwrap();
    assert!(status.success(), "{status}");
}

/// References and rename reach the workspace's files that import the file, read from
/// the disk when they are not open: a calendar used as `shared.Office` and as
/// `common.Office` (imported under another name, from a folder below), a page named by
/// an importing file's test. A file that defines its own `Office` without importing is
/// left alone.
#[test]
fn references_and_rename_reach_the_workspace() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("journeyc-lsp-workspace");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    let dir = dir.canonicalize().unwrap();
    let shared = "calendar Office {\n  time zone \"Europe/London\"\n  open mon-fri 09:00-17:00\n}\n\njourney Greeting {\n  trigger link \"hi\"\n\n  step One {\n    page Welcome {\n      heading \"Hello\"\n    }\n  }\n}\n";
    let uses = "import \"shared.journey\"\n\njourney Nudge {\n  sms from \"+15005550006\"\n  trigger api\n  on session started {\n    start timer \"nudge\" after 1d on shared.Office {\n      send sms Hi\n    }\n  }\n  step S {\n    page P {\n      heading \"x\"\n    }\n  }\n  notification Hi sms {\n    text \"hi\"\n  }\n}\n\ntest \"greets\" {\n  open link \"hi\"\n  expect page Welcome\n}\n";
    let deeper = uses
        .replace(
            "import \"shared.journey\"",
            "import \"../shared.journey\" as common",
        )
        .replace("shared.Office", "common.Office")
        .replace("Nudge", "Later")
        .replace("+15005550006", "+15005550007")
        .replace("expect page Welcome", "expect page P");
    let unrelated = "calendar Office {\n  time zone \"UTC\"\n  open mon-fri 09:00-17:00\n}\n";
    let files = [
        ("shared.journey", shared.to_string()),
        ("uses.journey", uses.to_string()),
        ("sub/deeper.journey", deeper),
        ("unrelated.journey", unrelated.to_string()),
    ];
    for (name, text) in &files {
        std::fs::write(dir.join(name), text).unwrap();
    }
    let uri = |name: &str| uri_in(&dir, name);
    let text_of = |u: &str| {
        files
            .iter()
            .find(|(n, _)| uri(n) == u)
            .map(|(_, t)| t.clone())
            .unwrap_or_else(|| panic!("no such file: {u}"))
    };

    let mut server = Client::start(Path::new(env!("CARGO_BIN_EXE_journeyc")));
    server.request(
        "initialize",
        json!({"processId": null, "rootUri": null, "capabilities": {},
               "workspaceFolders": [{"uri": uri(""), "name": "journeys"}]}),
    );
    server.notify("initialized", json!({}));
    server.open(&uri("shared.journey"), shared);
    let at = |text: &str, needle: &str, skip: usize| {
        let i = text.find(needle).unwrap() + skip;
        json!({"line": text[..i].matches('\n').count(), "character": i - text[..i].rfind('\n').map_or(0, |n| n + 1)})
    };
    // Each location as (file, line, the text it covers).
    let located = |found: &Value| -> Vec<(String, u64, String)> {
        found
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                let u = l["uri"].as_str().unwrap();
                let text = text_of(u);
                let line = l["range"]["start"]["line"].as_u64().unwrap();
                let shown = text.lines().nth(line as usize).unwrap();
                let (from, to) = (
                    l["range"]["start"]["character"].as_u64().unwrap() as usize,
                    l["range"]["end"]["character"].as_u64().unwrap() as usize,
                );
                (
                    u.trim_start_matches(&uri("")).to_string(),
                    line,
                    shown[from..to].to_string(),
                )
            })
            .collect()
    };
    let office = vec![
        ("shared.journey".to_string(), 0, "Office".to_string()),
        ("sub/deeper.journey".to_string(), 6, "Office".to_string()),
        ("uses.journey".to_string(), 6, "Office".to_string()),
    ];
    let refs = server.request(
        "textDocument/references",
        json!({"textDocument": {"uri": uri("shared.journey")}, "position": at(shared, "Office", 2), "context": {"includeDeclaration": true}}),
    );
    assert_eq!(located(&refs), office, "{refs}");
    let refs = server.request(
        "textDocument/references",
        json!({"textDocument": {"uri": uri("shared.journey")}, "position": at(shared, "Welcome", 2), "context": {"includeDeclaration": true}}),
    );
    assert_eq!(
        located(&refs),
        [
            ("shared.journey".to_string(), 9, "Welcome".to_string()),
            ("uses.journey".to_string(), 22, "Welcome".to_string()),
        ],
        "{refs}"
    );

    // From an importing file, open now: `shared.Office` is the shared file's calendar.
    server.open(&uri("uses.journey"), uses);
    let refs = server.request(
        "textDocument/references",
        json!({"textDocument": {"uri": uri("uses.journey")}, "position": at(uses, "shared.Office", 9), "context": {"includeDeclaration": true}}),
    );
    assert_eq!(located(&refs), office, "{refs}");

    // Rename edits every file that uses the calendar, and only its name.
    let edit = server.request(
        "textDocument/rename",
        json!({"textDocument": {"uri": uri("shared.journey")}, "position": at(shared, "Office", 2), "newName": "Branch"}),
    );
    let mut renamed: Vec<(String, String)> = edit["changes"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(u, edits)| {
            let mut text = text_of(u);
            let mut edits = edits.as_array().unwrap().clone();
            edits.sort_by_key(|e| std::cmp::Reverse(e["range"]["start"]["line"].as_u64()));
            for e in edits {
                let line = e["range"]["start"]["line"].as_u64().unwrap() as usize;
                let start: usize = text.split_inclusive('\n').take(line).map(str::len).sum();
                let from = start + e["range"]["start"]["character"].as_u64().unwrap() as usize;
                let to = start + e["range"]["end"]["character"].as_u64().unwrap() as usize;
                text.replace_range(from..to, e["newText"].as_str().unwrap());
            }
            (u.trim_start_matches(&uri("")).to_string(), text)
        })
        .collect();
    renamed.sort();
    let mut expected: Vec<(String, String)> = files[..3]
        .iter()
        .map(|(n, t)| {
            let t = t
                .replace("calendar Office", "calendar Branch")
                .replace(".Office", ".Branch");
            (n.to_string(), t)
        })
        .collect();
    expected.sort();
    assert_eq!(renamed, expected, "{edit}");

    // A name an importer on the disk already uses is refused.
    let refused = server.call(
        "textDocument/rename",
        json!({"textDocument": {"uri": uri("shared.journey")}, "position": at(shared, "Office", 2), "newName": "Later"}),
    );
    let why = refused["error"]["message"].as_str().unwrap_or_default();
    assert!(
        why.contains("already a name") && why.contains("sub/deeper.journey"),
        "{refused}"
    );

    server.request("shutdown", Value::Null);
    server.notify("exit", Value::Null);
    assert!(server.child.wait().unwrap().success());
}

/// The URI of `name` in `dir`.
fn uri_in(dir: &Path, name: &str) -> String {
    format!("file://{}", dir.join(name).display())
}

/// After each of a run of edits to an example, some that leave a block open or a bad
/// line's `{` reading on (so the server parses the whole text) and some that do not, the
/// server's diagnostics are `journeyc check`'s for the same text: codes, ranges and
/// messages, in order.
#[test]
fn diagnostics_after_each_edit_are_checks() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("journeyc-lsp-edits");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("links.journey");
    let uri = format!("file://{}", file.display());
    let mut text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/texting_journey_links.journey"),
    )
    .unwrap();
    let mut server = Client::start(Path::new(env!("CARGO_BIN_EXE_journeyc")));
    server.request(
        "initialize",
        json!({"processId": null, "rootUri": null, "capabilities": {}}),
    );
    server.notify("initialized", json!({}));
    server.open(&uri, &text);
    let position = |text: &str, at: usize| {
        let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
        json!({"line": text[..at].matches('\n').count(), "character": text[line_start..at].encode_utf16().count()})
    };
    let edits = [
        ("go to page AskName", "go to page AskNam"),
        ("send sms Reminder", "send sms Remind"),
        // Page Thanks left open, then closed again.
        (
            "      text \"We'll be in touch.\"\n    }\n",
            "      text \"We'll be in touch.\"\n",
        ),
        (
            "      text \"We'll be in touch.\"\n",
            "      text \"We'll be in touch.\"\n    }\n",
        ),
        // A bad line whose `{` finds its `}` further down, then gone.
        (
            "  var full_name: Text\n",
            "  var full_name: Text\n  bogus {\n",
        ),
        ("  bogus {\n", "  bogus // {\n"),
        ("  bogus // {\n", ""),
        (
            "journey TextingJourneyLinksBySms {",
            "journey TextingJourneyLinks {",
        ),
        ("import std.calendars", "import std.calendar"),
        ("  step Done {", "  step Done {\n  step Twice {\n  }"),
        ("go to page AskNam", "go to page AskName"),
    ];
    let mut version = 1;
    for (needle, new) in edits {
        let at = text.find(needle).unwrap();
        version += 1;
        let (start, end) = (position(&text, at), position(&text, at + needle.len()));
        text.replace_range(at..at + needle.len(), new);
        server.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": uri, "version": version},
                   "contentChanges": [{"range": {"start": start, "end": end}, "text": new}]}),
        );
        let got: Vec<(String, Value, String)> = server
            .diagnostics(&uri, version)
            .iter()
            .map(|d| {
                let message = d["message"].as_str().unwrap();
                (
                    d["code"].as_str().unwrap().to_string(),
                    d["range"].clone(),
                    message.lines().next().unwrap().to_string(),
                )
            })
            .collect();
        std::fs::write(&file, &text).unwrap();
        let check = Command::new(env!("CARGO_BIN_EXE_journeyc"))
            .args(["check", "--format", "json", file.to_str().unwrap()])
            .output()
            .unwrap();
        let expected: Vec<(String, Value, String)> = String::from_utf8(check.stdout)
            .unwrap()
            .lines()
            .map(|l| {
                let d: Value = serde_json::from_str(l).unwrap();
                (
                    d["code"].as_str().unwrap().to_string(),
                    d["range"].clone(),
                    d["message"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(got, expected, "after `{needle}` became `{new}`:\n{text}");
    }
    server.request("shutdown", Value::Null);
    server.notify("exit", Value::Null);
    assert!(server.child.wait().unwrap().success());
}
