//! `journeyc lsp`: a language server over standard input and output, with
//! rust-analyzer's `lsp-server`. Messages are handled one at a time, in the order they
//! arrive, so edits are applied in order (a pitfall of servers with concurrent
//! handlers). It serves: full and incremental text sync; diagnostics on open and
//! change, for the edited file and every other open one (an import may have changed
//! under them), with the same codes, messages, labels, notes and help as `check`;
//! formatting with `journeyc fmt`'s layout; document symbols; and go to definition for
//! steps, pages, notifications, calendars, journeys and variables within a file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use journeyc::syntax::{self, ast};
use journeyc::{Compiler, Diagnostic, FileId, Loader, Severity, Span};
use lsp_server::{Connection, Message, Notification, Request, Response};
use lsp_types as lsp;
use serde_json::{json, Value};

use crate::render::position;

/// The open documents by URI: their text and version.
#[derive(Default)]
struct Docs(HashMap<String, (String, i32)>);

/// Reads imports from the open documents first, then from the disk.
struct OpenFirst<'a>(&'a Docs);

impl Loader for OpenFirst<'_> {
    fn load(&self, importer: &str, path: &str) -> Result<(String, String), String> {
        let base = Path::new(importer).parent().unwrap_or(Path::new(""));
        let full = base.join(path);
        let name = full.canonicalize().unwrap_or(full.clone());
        let uri = uri_of(&name);
        if let Some((text, _)) = self.0 .0.get(&uri) {
            return Ok((name.display().to_string(), text.clone()));
        }
        let text = std::fs::read_to_string(&name)
            .map_err(|e| format!("cannot read `{}`: {e}", full.display()))?;
        Ok((name.display().to_string(), text))
    }
}

fn uri_of(path: &Path) -> String {
    format!("file://{}", path.display())
}

fn path_of(uri: &str) -> PathBuf {
    PathBuf::from(uri.strip_prefix("file://").unwrap_or(uri))
}

pub fn lsp() -> ExitCode {
    let (connection, io) = Connection::stdio();
    let capabilities = json!({
        "textDocumentSync": {"openClose": true, "change": 2},
        "documentFormattingProvider": true,
        "documentSymbolProvider": true,
        "definitionProvider": true,
    });
    if let Err(e) = connection.initialize(capabilities) {
        eprintln!("error: the editor did not start the conversation: {e}");
        return ExitCode::from(2);
    }
    let mut docs = Docs::default();
    for message in &connection.receiver {
        match message {
            Message::Request(req) => {
                if connection.handle_shutdown(&req).unwrap_or(true) {
                    break;
                }
                let response = answer(&docs, req);
                let _ = connection.sender.send(Message::Response(response));
            }
            Message::Notification(n) => {
                if let Some(changed) = note(&mut docs, n) {
                    publish(&connection, &docs, &changed);
                }
            }
            Message::Response(_) => {}
        }
    }
    drop(connection);
    let _ = io.join();
    ExitCode::SUCCESS
}

/// Applies a notification; gives the URI whose diagnostics changed, if any.
fn note(docs: &mut Docs, n: Notification) -> Option<String> {
    match n.method.as_str() {
        "textDocument/didOpen" => {
            let p: lsp::DidOpenTextDocumentParams = serde_json::from_value(n.params).ok()?;
            let uri = p.text_document.uri.to_string();
            docs.0
                .insert(uri.clone(), (p.text_document.text, p.text_document.version));
            Some(uri)
        }
        "textDocument/didChange" => {
            let p: lsp::DidChangeTextDocumentParams = serde_json::from_value(n.params).ok()?;
            let uri = p.text_document.uri.to_string();
            let (text, version) = docs.0.get_mut(&uri)?;
            for change in p.content_changes {
                match change.range {
                    Some(range) => {
                        let start = offset(text, range.start);
                        let end = offset(text, range.end).max(start);
                        text.replace_range(start..end, &change.text);
                    }
                    None => *text = change.text,
                }
            }
            *version = p.text_document.version;
            Some(uri)
        }
        "textDocument/didClose" => {
            let p: lsp::DidCloseTextDocumentParams = serde_json::from_value(n.params).ok()?;
            docs.0.remove(&p.text_document.uri.to_string());
            None
        }
        _ => None,
    }
}

/// The byte offset of an LSP position (line, UTF-16 column) in `text`, clamped to it.
fn offset(text: &str, at: lsp::Position) -> usize {
    let mut line_start = 0;
    for _ in 0..at.line {
        match text[line_start..].find('\n') {
            Some(i) => line_start += i + 1,
            None => return text.len(),
        }
    }
    let line = &text[line_start..];
    let line = &line[..line.find('\n').unwrap_or(line.len())];
    let mut units = 0;
    for (i, c) in line.char_indices() {
        if units >= at.character as usize {
            return line_start + i;
        }
        units += c.len_utf16();
    }
    line_start + line.len()
}

fn range(text: &str, span: Span) -> Value {
    let (s, e) = (position(text, span.start), position(text, span.end));
    json!({
        "start": {"line": s.line, "character": s.column_utf16},
        "end": {"line": e.line, "character": e.column_utf16},
    })
}

/// Checks `uri` (and, since an import may have changed under them, every other open
/// document) and publishes their diagnostics, each with the version it was made for.
fn publish(connection: &Connection, docs: &Docs, changed: &str) {
    let mut uris: Vec<&String> = docs.0.keys().filter(|u| *u != changed).collect();
    uris.sort();
    let changed = changed.to_string();
    for uri in std::iter::once(&changed).chain(uris) {
        let Some((text, version)) = docs.0.get(uri) else {
            continue;
        };
        let name = path_of(uri).display().to_string();
        let mut compiler = Compiler::new(OpenFirst(docs));
        let id = compiler.check_file(&name, text);
        let (sources, _, diagnostics) = compiler.into_parts();
        let list: Vec<Value> = diagnostics
            .iter()
            .filter(|d| d.file == id)
            .map(|d| diagnostic(d, text, &sources))
            .collect();
        let params = json!({"uri": uri, "version": version, "diagnostics": list});
        let _ = connection
            .sender
            .send(Message::Notification(Notification::new(
                "textDocument/publishDiagnostics".into(),
                params,
            )));
    }
}

/// A diagnostic as LSP has it: `check`'s code, message and help, its other labels as
/// related information (in its file or another), and its notes in the message.
fn diagnostic(d: &Diagnostic, text: &str, sources: &[journeyc::SourceFile]) -> Value {
    let mut message = d.message.clone();
    for note in &d.notes {
        message.push_str(&format!("\nnote: {note}"));
    }
    if let Some(help) = &d.help {
        message.push_str(&format!("\nhelp: {help}"));
    }
    let file = &sources[d.file.0 as usize];
    let mut related: Vec<Value> = d
        .secondary
        .iter()
        .map(|l| json!({"location": {"uri": uri_of(Path::new(&file.name)), "range": range(text, l.span)}, "message": l.message}))
        .collect();
    related.extend(d.elsewhere.iter().map(|(f, l)| {
        let other = &sources[f.0 as usize];
        json!({"location": {"uri": uri_of(Path::new(&other.name)), "range": range(&other.text, l.span)}, "message": l.message})
    }));
    json!({
        "range": range(text, d.primary.span),
        "severity": match d.severity { Severity::Error => 1, Severity::Warning => 2 },
        "code": d.code.id,
        "source": "journeyc",
        "message": format!("{message}\n{}", d.primary.message).trim_end().to_string(),
        "relatedInformation": related,
    })
}

fn answer(docs: &Docs, req: Request) -> Response {
    let uri = req.params["textDocument"]["uri"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let Some((text, _)) = docs.0.get(&uri) else {
        return Response::new_ok(req.id, Value::Null);
    };
    let result = match req.method.as_str() {
        "textDocument/formatting" => match journeyc::format::format(text) {
            Ok(tidy) if tidy != *text => {
                let end = position(text, text.len());
                json!([{
                    "range": {"start": {"line": 0, "character": 0}, "end": {"line": end.line, "character": end.column_utf16}},
                    "newText": tidy,
                }])
            }
            Ok(_) => json!([]),
            // A file with syntax errors is not formatted; its diagnostics say why.
            Err(_) => Value::Null,
        },
        "textDocument/documentSymbol" => symbols(text),
        "textDocument/definition" => {
            let at: lsp::Position =
                serde_json::from_value(req.params["position"].clone()).unwrap_or_default();
            definition(&uri, text, offset(text, at))
        }
        _ => {
            return Response::new_err(
                req.id,
                lsp_server::ErrorCode::MethodNotFound as i32,
                format!("journeyc lsp does not answer {}", req.method),
            )
        }
    };
    Response::new_ok(req.id, result)
}

/// A named thing of a file, with its kind (LSP's SymbolKind) and the span of its block.
fn symbol(name: &ast::Ident, kind: u32, span: Span, text: &str, children: Vec<Value>) -> Value {
    json!({
        "name": name.name,
        "kind": kind,
        "range": range(text, span),
        "selectionRange": range(text, name.span),
        "children": children,
    })
}

/// Journeys with their steps and pages, notifications and calendars (LSP kinds:
/// class 5, module 2, method 6, event 24, struct 23).
fn symbols(text: &str) -> Value {
    let (tree, _) = syntax::parse(FileId(0), text);
    let mut out = Vec::new();
    for item in &tree.items {
        match item {
            ast::Item::Journey(j) => {
                let mut children = Vec::new();
                for i in &j.items {
                    match i {
                        ast::JourneyItem::Step(s) => {
                            let pages = s
                                .pages
                                .iter()
                                .map(|p| symbol(&p.name, 6, p.span, text, vec![]))
                                .collect();
                            children.push(symbol(&s.name, 2, s.span, text, pages));
                        }
                        ast::JourneyItem::Notification(n) => {
                            children.push(symbol(&n.name, 24, n.span, text, vec![]))
                        }
                        ast::JourneyItem::Calendar(c) => {
                            children.push(symbol(&c.name, 23, c.span, text, vec![]))
                        }
                        _ => {}
                    }
                }
                out.push(symbol(&j.name, 5, j.span, text, children));
            }
            ast::Item::Notification(n) => out.push(symbol(&n.name, 24, n.span, text, vec![])),
            ast::Item::Calendar(c) => out.push(symbol(&c.name, 23, c.span, text, vec![])),
            _ => {}
        }
    }
    Value::Array(out)
}

/// Where the name at `at` is defined in this file: a step, page, notification,
/// calendar, journey or variable of that name.
fn definition(uri: &str, text: &str, at: usize) -> Value {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let start = text[..at].rfind(|c: char| !word(c)).map_or(0, |i| i + 1);
    let end = at
        + text[at..]
            .find(|c: char| !word(c))
            .unwrap_or(text.len() - at);
    let name = &text[start..end];
    if name.is_empty() {
        return Value::Null;
    }
    let (tree, _) = syntax::parse(FileId(0), text);
    let mut found: Option<Span> = None;
    let mut consider = |id: &ast::Ident| {
        if id.name == name && found.is_none() {
            found = Some(id.span);
        }
    };
    for item in &tree.items {
        match item {
            ast::Item::Journey(j) => {
                consider(&j.name);
                for i in &j.items {
                    match i {
                        ast::JourneyItem::Step(s) => {
                            consider(&s.name);
                            s.pages.iter().for_each(|p| consider(&p.name));
                        }
                        ast::JourneyItem::Notification(n) => consider(&n.name),
                        ast::JourneyItem::Calendar(c) => consider(&c.name),
                        ast::JourneyItem::Var(v) => consider(&v.name),
                        _ => {}
                    }
                }
            }
            ast::Item::Notification(n) => consider(&n.name),
            ast::Item::Calendar(c) => consider(&c.name),
            _ => {}
        }
    }
    match found {
        Some(span) => json!({"uri": uri, "range": range(text, span)}),
        None => Value::Null,
    }
}
