//! `journeyc lsp`: a language server over standard input and output, with
//! rust-analyzer's `lsp-server`. Messages are handled one at a time, in the order they
//! arrive, so edits are applied in order (a pitfall of servers with concurrent
//! handlers); edits that queued up while a check ran are checked once, together. It
//! serves: full and incremental text sync; diagnostics on open and change, for the
//! edited file and every other open one (an import may have changed under them), with
//! the same codes, messages, labels, notes and help as `check`, each text parsed in
//! pieces so that an edit parses again only what it touched (`syntax::pieces`);
//! formatting with `journeyc fmt`'s layout; document symbols; go to definition;
//! references and rename across the open documents and the workspace's files that
//! import the file (`workspace.rs`); hover, completion, quick fixes and semantic
//! tokens.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::rc::Rc;

use journeyc::syntax::{self, ast, pieces::Pieces};
use journeyc::{Compiler, Diagnostic, FileId, Loader, Severity, Span};
use lsp_server::{Connection, Message, Notification, Request, Response};
use lsp_types as lsp;
use serde_json::{json, Value};

use crate::render::position;
use crate::workspace::{self, canonical, path_of, Workspace};

/// The open documents by URI: their text and version; what was made of each since it
/// last changed (its checked IR, its syntax tree), so that a hover or a definition
/// reads rather than checks again; and the pieces of each text's last parse, so that
/// an edit parses only the pieces it touched.
#[derive(Default)]
struct Docs {
    open: HashMap<String, (String, i32)>,
    made: RefCell<HashMap<String, Made>>,
    pieces: RefCell<HashMap<String, Pieces>>,
}

/// What was made of one document's current text.
#[derive(Default)]
struct Made {
    module: Option<Rc<journeyc::ir::Module>>,
    tree: Option<Rc<ast::File>>,
}

impl Docs {
    /// Forgets what was made of `uri`'s text, which changed.
    fn changed(&self, uri: &str) {
        self.made.borrow_mut().remove(uri);
    }

    fn tree(&self, uri: &str, text: &str) -> Rc<ast::File> {
        let mut made = self.made.borrow_mut();
        let entry = made.entry(uri.to_string()).or_default();
        entry
            .tree
            .get_or_insert_with(|| Rc::new(self.parse(uri, text).0))
            .clone()
    }

    /// `text` parsed as `syntax::parse` parses it, in pieces: only those the last
    /// edit of `uri` touched are parsed again.
    fn parse(&self, uri: &str, text: &str) -> (ast::File, Vec<Diagnostic>) {
        self.pieces
            .borrow_mut()
            .entry(uri.to_string())
            .or_default()
            .parse(FileId(0), text)
    }
}

/// Reads imports from the open documents first, then from the disk.
struct OpenFirst<'a>(&'a Docs);

impl Loader for OpenFirst<'_> {
    fn load(&self, importer: &str, path: &str) -> Result<(String, String), String> {
        let base = Path::new(importer).parent().unwrap_or(Path::new(""));
        let full = base.join(path);
        let name = full.canonicalize().unwrap_or(full.clone());
        let uri = uri_of(&name);
        if let Some((text, _)) = self.0.open.get(&uri) {
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

pub fn lsp() -> ExitCode {
    let (connection, io) = Connection::stdio();
    let capabilities = json!({
        "textDocumentSync": {"openClose": true, "change": 2},
        "documentFormattingProvider": true,
        "documentSymbolProvider": true,
        "definitionProvider": true,
        "hoverProvider": true,
        "completionProvider": {"triggerCharacters": [".", "\""]},
        "codeActionProvider": true,
        "referencesProvider": true,
        "renameProvider": true,
        "workspaceSymbolProvider": true,
        "semanticTokensProvider": {
            "legend": {"tokenTypes": TOKEN_TYPES, "tokenModifiers": []},
            "full": true,
        },
    });
    let workspace = match connection.initialize(capabilities) {
        Ok(params) => Workspace::from_initialize(&params),
        Err(e) => {
            eprintln!("error: the editor did not start the conversation: {e}");
            return ExitCode::from(2);
        }
    };
    let mut docs = Docs::default();
    // Documents changed and not yet checked: a burst of edits that arrived while the
    // last check ran is applied in order and checked once, at its end.
    let mut unchecked: Vec<String> = Vec::new();
    loop {
        let message = match connection.receiver.try_recv() {
            Ok(m) => m,
            Err(_) => {
                for uri in unchecked.drain(..) {
                    publish(&connection, &docs, &uri);
                }
                match connection.receiver.recv() {
                    Ok(m) => m,
                    Err(_) => break,
                }
            }
        };
        match message {
            Message::Request(req) => {
                // A request sees the diagnostics of the text it was asked about.
                for uri in unchecked.drain(..) {
                    publish(&connection, &docs, &uri);
                }
                if connection.handle_shutdown(&req).unwrap_or(true) {
                    break;
                }
                let response = answer(&docs, &workspace, req);
                let _ = connection.sender.send(Message::Response(response));
            }
            Message::Notification(n) => {
                if let Some(changed) = note(&mut docs, n) {
                    if !unchecked.contains(&changed) {
                        unchecked.push(changed);
                    }
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
            docs.changed(&uri);
            docs.open
                .insert(uri.clone(), (p.text_document.text, p.text_document.version));
            Some(uri)
        }
        "textDocument/didChange" => {
            let p: lsp::DidChangeTextDocumentParams = serde_json::from_value(n.params).ok()?;
            let uri = p.text_document.uri.to_string();
            docs.changed(&uri);
            let (text, version) = docs.open.get_mut(&uri)?;
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
            let uri = p.text_document.uri.to_string();
            docs.changed(&uri);
            docs.open.remove(&uri);
            docs.pieces.borrow_mut().remove(&uri);
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
    let mut uris: Vec<&String> = docs.open.keys().filter(|u| *u != changed).collect();
    uris.sort();
    let changed = changed.to_string();
    for uri in std::iter::once(&changed).chain(uris) {
        let Some((text, version)) = docs.open.get(uri) else {
            continue;
        };
        let name = path_of(uri).display().to_string();
        let parsed = docs.parse(uri, text);
        let mut compiler = Compiler::new(OpenFirst(docs));
        let id = compiler.check_parsed(&name, text, parsed);
        let (sources, modules, diagnostics) = compiler.into_parts();
        // Kept for hover and completion until the text changes.
        let module = modules
            .into_iter()
            .find(|(i, _)| *i == id)
            .map(|(_, m)| Rc::new(m));
        docs.made
            .borrow_mut()
            .entry(uri.clone())
            .or_default()
            .module = module;
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

fn answer(docs: &Docs, workspace: &Workspace, req: Request) -> Response {
    if req.method == "workspace/symbol" {
        let query = req.params["query"]
            .as_str()
            .unwrap_or_default()
            .to_lowercase();
        return Response::new_ok(req.id, workspace_symbols(docs, &query));
    }
    let uri = req.params["textDocument"]["uri"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let Some((text, _)) = docs.open.get(&uri) else {
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
        "textDocument/documentSymbol" => symbols(&docs.tree(&uri, text), text),
        "textDocument/definition" => {
            let at: lsp::Position =
                serde_json::from_value(req.params["position"].clone()).unwrap_or_default();
            definition(&docs.tree(&uri, text), &uri, text, offset(text, at))
        }
        "textDocument/hover" => {
            let at: lsp::Position =
                serde_json::from_value(req.params["position"].clone()).unwrap_or_default();
            hover(docs, &uri, text, offset(text, at))
        }
        "textDocument/completion" => {
            let at: lsp::Position =
                serde_json::from_value(req.params["position"].clone()).unwrap_or_default();
            completion(docs, &uri, text, offset(text, at))
        }
        "textDocument/codeAction" => code_actions(&uri, text, &req.params),
        "textDocument/semanticTokens/full" => json!({"data": semantic_tokens(text)}),
        "textDocument/references" => {
            let at: lsp::Position =
                serde_json::from_value(req.params["position"].clone()).unwrap_or_default();
            let here = offset(text, at);
            let name = word_at(text, here);
            // A timer key is a string: its uses are the timers started and stopped with it.
            let key = string_at(text, here).filter(|_| {
                let line_start = text[..here].rfind('\n').map_or(0, |i| i + 1);
                text[line_start..]
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .contains("timer \"")
            });
            let mut found = Vec::new();
            match key {
                Some((k, _)) => {
                    for (u, (t, _)) in sorted(docs) {
                        for span in timer_uses(t, k) {
                            found.push(json!({"uri": u, "range": range(t, span)}));
                        }
                    }
                }
                None => {
                    let (file, name) = named(docs, &uri, text, name);
                    for u in users(docs, workspace, &file) {
                        for span in uses(&u, name) {
                            found.push(json!({"uri": u.uri, "range": range(&u.text, span)}));
                        }
                    }
                }
            }
            Value::Array(found)
        }
        "textDocument/rename" => {
            let at: lsp::Position =
                serde_json::from_value(req.params["position"].clone()).unwrap_or_default();
            let (file, name) = named(docs, &uri, text, word_at(text, offset(text, at)));
            let new = req.params["newName"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            match rename(&users(docs, workspace, &file), name, &new) {
                Ok(edit) => edit,
                Err(why) => {
                    return Response::new_err(
                        req.id,
                        lsp_server::ErrorCode::InvalidParams as i32,
                        why,
                    )
                }
            }
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
fn symbols(tree: &ast::File, text: &str) -> Value {
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
/// The file of a standard module, as `std_definition` writes it.
fn std_module_file(dotted: &str) -> Option<Value> {
    let module = dotted.strip_prefix("std.")?;
    let text = journeyc::stdlib::module(dotted)?;
    let dir = std::env::temp_dir().join(format!("journeyc-{}-std", env!("CARGO_PKG_VERSION")));
    std::fs::create_dir_all(&dir).ok()?;
    let path = dir.join(format!("{module}.journey"));
    if std::fs::read_to_string(&path).ok().as_deref() != Some(text) {
        std::fs::write(&path, text).ok()?;
    }
    Some(
        json!({"uri": uri_of(&path), "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}}}),
    )
}

/// A name of a standard module (`std.calendars.BusinessHoursNY`), in the module's text
/// written where an editor can open it: the embedded modules have no file of their own.
fn std_definition(dotted: &str) -> Option<Value> {
    let rest = dotted.strip_prefix("std.")?;
    let (module, name) = rest.split_once('.')?;
    let text = journeyc::stdlib::module(&format!("std.{module}"))?;
    let dir = std::env::temp_dir().join(format!("journeyc-{}-std", env!("CARGO_PKG_VERSION")));
    std::fs::create_dir_all(&dir).ok()?;
    let path = dir.join(format!("{module}.journey"));
    if std::fs::read_to_string(&path).ok().as_deref() != Some(text) {
        std::fs::write(&path, text).ok()?;
    }
    let (tree, _) = syntax::parse(FileId(0), text);
    let span = tree.items.iter().find_map(|i| match i {
        ast::Item::Calendar(c) if c.name.name == name => Some(c.name.span),
        ast::Item::Notification(n) if n.name.name == name => Some(n.name.span),
        _ => None,
    })?;
    Some(json!({"uri": uri_of(&path), "range": range(text, span)}))
}

/// The string literal around byte `at` on its line, without its quotes, and where it
/// starts.
fn string_at(text: &str, at: usize) -> Option<(&str, usize)> {
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let line_end = at + text[at..].find('\n').unwrap_or(text.len() - at);
    let line = &text[line_start..line_end];
    let mut open = None;
    for (i, c) in line.char_indices() {
        if c == '"' {
            match open {
                None => open = Some(i),
                Some(o) => {
                    if line_start + o < at && at <= line_start + i {
                        return Some((&line[o + 1..i], line_start + o + 1));
                    }
                    open = None;
                }
            }
        }
    }
    None
}

/// Where timer key `key` stands in `text`: each `timer "KEY"` (started, stopped, or
/// expected by a test).
fn timer_uses(text: &str, key: &str) -> Vec<Span> {
    let needle = format!("timer \"{key}\"");
    text.match_indices(&needle)
        .map(|(at, _)| {
            let start = at + "timer \"".len();
            Span::new(start, start + key.len())
        })
        .collect()
}

/// A timer key's definition: its first `start timer "KEY"`.
fn timer_definition(uri: &str, text: &str, key: &str) -> Option<Value> {
    let needle = format!("start timer \"{key}\"");
    let at = text.find(&needle)? + "start timer \"".len();
    Some(json!({"uri": uri, "range": range(text, Span::new(at, at + key.len()))}))
}

/// `ALIAS.NAME` of a file import (`import "shared.journey"` is `shared`, or as its `as`
/// says): NAME's definition in that file, read from the disk.
fn imported_definition(tree: &ast::File, uri: &str, dotted: &str) -> Option<Value> {
    let (alias, name) = dotted.split_once('.')?;
    let (file, _) = workspace::file_imports(&canonical(&path_of(uri)), tree)
        .into_iter()
        .find(|(_, a)| a == alias)?;
    let other = std::fs::read_to_string(&file).ok()?;
    let (tree, _) = syntax::parse(FileId(0), &other);
    let span = tree.items.iter().find_map(|i| match i {
        ast::Item::Calendar(c) if c.name.name == name => Some(c.name.span),
        ast::Item::Notification(n) if n.name.name == name => Some(n.name.span),
        ast::Item::Journey(j) if j.name.name == name => Some(j.name.span),
        _ => None,
    })?;
    Some(json!({"uri": uri_of(&file), "range": range(&other, span)}))
}

/// The file an `import "PATH"` names, from the importing file's folder.
fn import_definition(uri: &str, path: &str) -> Option<Value> {
    let base = path_of(uri);
    let file = base.parent()?.join(path);
    let file = file.canonicalize().ok()?;
    Some(
        json!({"uri": uri_of(&file), "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}}}),
    )
}

fn definition(tree: &ast::File, uri: &str, text: &str, at: usize) -> Value {
    if let Some(found) = std_definition(word_at(text, at)) {
        return found;
    }
    // In a string: a timer key (of `stop timer`, `start timer` or a test's `timer`), or
    // the file an import names.
    if let Some((quoted, _)) = string_at(text, at) {
        let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
        let line = text[line_start..]
            .lines()
            .next()
            .unwrap_or_default()
            .trim_start();
        if line.starts_with("import ") {
            return import_definition(uri, quoted).unwrap_or(Value::Null);
        }
        if line.contains("timer \"") {
            return timer_definition(uri, text, quoted).unwrap_or(Value::Null);
        }
        return Value::Null;
    }
    // `import std.MODULE`: the module's text.
    let dotted = word_at(text, at);
    if let Some(found) = imported_definition(tree, uri, dotted) {
        return found;
    }
    if dotted.starts_with("std.") && dotted.matches('.').count() == 1 {
        let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
        if text[line_start..].trim_start().starts_with("import ") {
            if let Some(found) = std_module_file(dotted) {
                return found;
            }
        }
    }
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

/// The checked IR of an open document (imports read as `publish` reads them): the one
/// `publish` made for its text, else made now.
fn module_of(docs: &Docs, uri: &str, text: &str) -> Rc<journeyc::ir::Module> {
    if let Some(m) = docs.made.borrow().get(uri).and_then(|m| m.module.clone()) {
        return m;
    }
    let mut compiler = Compiler::new(OpenFirst(docs));
    let id = compiler.check_file(&path_of(uri).display().to_string(), text);
    let (_, modules, _) = compiler.into_parts();
    Rc::new(
        modules
            .into_iter()
            .find(|(i, _)| *i == id)
            .map(|(_, m)| m)
            .unwrap_or_default(),
    )
}

/// The name (dots included) around byte `at`.
fn word_at(text: &str, at: usize) -> &str {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '.';
    let start = text[..at].rfind(|c: char| !word(c)).map_or(0, |i| i + 1);
    let end = at
        + text[at..]
            .find(|c: char| !word(c))
            .unwrap_or(text.len() - at);
    text[start..end].trim_matches('.')
}

/// A text part of a notification, with `{{ }}` for what is filled in at run time.
fn shown(e: &journeyc::ir::Expr) -> String {
    use journeyc::ir::ExprKind;
    match &e.kind {
        ExprKind::Text(t) => t.clone(),
        ExprKind::Template(parts) => parts
            .iter()
            .map(|p| match &p.kind {
                ExprKind::Text(t) => t.clone(),
                _ => "{{ … }}".into(),
            })
            .collect(),
        _ => "{{ … }}".into(),
    }
}

fn notification_hover(n: &journeyc::ir::Notification) -> String {
    use journeyc::ir::NotificationPart;
    let mut out = format!(
        "**notification {}**, {} part(s), each its own text\n",
        n.name,
        n.parts.len()
    );
    for part in &n.parts {
        match part {
            NotificationPart::Text { text } => {
                let t = shown(text);
                let odd = journeyc::literals::ucs2_chars(&t);
                let encoding = if odd.is_empty() {
                    "GSM-7".to_string()
                } else {
                    let names: Vec<String> = odd.iter().map(|c| format!("`{c}`")).collect();
                    format!("UCS-2 (because of {})", names.join(", "))
                };
                let segments = journeyc::literals::sms_segments(&t);
                out.push_str(&format!(
                    "\n- \"{t}\": {segments} segment{} in {encoding}{}",
                    if segments == 1 { "" } else { "s" },
                    if t.contains("{{ … }}") {
                        ", before what is filled in"
                    } else {
                        ""
                    }
                ));
            }
            NotificationPart::JourneyLink => {
                out.push_str("\n- the journey link, a text of its own")
            }
            NotificationPart::Link { url } => out.push_str(&format!("\n- a link: {}", shown(url))),
        }
    }
    out
}

fn calendar_hover(c: &journeyc::ir::Calendar) -> String {
    const DAYS: [&str; 7] = [
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    ];
    let clock = |m: u16| format!("{:02}:{:02}", m / 60, m % 60);
    let mut out = format!("**calendar {}**, in {}\n", c.name, c.time_zone);
    for w in &c.weekly {
        let days: Vec<&str> = w.days.iter().map(|d| DAYS[(*d as usize).min(6)]).collect();
        out.push_str(&format!(
            "\n- open {} from {} to {}",
            days.join(", "),
            clock(w.from_minute),
            clock(w.to_minute)
        ));
    }
    for w in &c.cron {
        out.push_str(&format!(
            "\n- open at `{}` for {} minutes",
            w.cron,
            w.length_secs / 60
        ));
    }
    for d in &c.closed {
        let when = if d.from == d.to {
            d.from.clone()
        } else {
            format!("{} to {}", d.from, d.to)
        };
        out.push_str(&format!(
            "\n- closed {when}{}",
            d.reason
                .as_ref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        ));
    }
    out
}

/// The next three runs of a schedule, in its zone.
fn cron_hover(cron: &str, zone: &str) -> Option<String> {
    use std::str::FromStr;
    let schedule = cron::Schedule::from_str(cron).ok()?;
    let tz = journeyc::literals::parse_time_zone(zone)?;
    let now = chrono::Utc::now().with_timezone(&tz);
    let runs: Vec<String> = schedule
        .after(&now)
        .take(3)
        .map(|t| format!("- {}", t.format("%a %-d %b %Y %H:%M %Z")))
        .collect();
    Some(format!(
        "**schedule** `{cron}` in {zone}; the next runs:\n\n{}",
        runs.join("\n")
    ))
}

fn hover(docs: &Docs, uri: &str, text: &str, at: usize) -> Value {
    let name = word_at(text, at);
    if name.is_empty() {
        return Value::Null;
    }
    let module = module_of(docs, uri, text);
    let last = name.rsplit('.').next().unwrap_or(name);
    let mut found = None;
    if let Some(f) = journeyc::types::Func::from_name(last) {
        let sig = f.signature();
        let params: Vec<String> = sig
            .params
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let optional = i >= sig.params.len() - sig.optional;
                let types: Vec<String> = p.accepts.iter().map(|t| t.to_string()).collect();
                format!(
                    "{}{}: {}",
                    p.name,
                    if optional { "?" } else { "" },
                    types.join(" | ")
                )
            })
            .collect();
        found = Some(format!(
            "`{}({})`\n\n{}",
            f.name(),
            params.join(", "),
            sig.doc
        ));
    }
    for j in &module.journeys {
        if found.is_some() {
            break;
        }
        if let Some(v) = j.vars.iter().find(|v| v.name == last) {
            found = Some(format!(
                "`var {}: {}`{}",
                v.name,
                v.ty,
                if v.default.is_some() {
                    ", with a default"
                } else {
                    ", null until set"
                }
            ));
        } else if let Some(n) = j
            .notifications
            .iter()
            .find(|n| n.name == name || n.name == last)
        {
            found = Some(notification_hover(n));
        } else if let Some(c) = j
            .calendars
            .iter()
            .find(|c| c.name == name || c.name == last)
        {
            found = Some(calendar_hover(c));
        } else if let Some((field, ty)) = name
            .strip_prefix("actor.")
            .and_then(|f| journeyc::types::ACTOR_FIELDS.iter().find(|(n, _)| *n == f))
        {
            found = Some(format!(
                "`actor.{field}: {ty}`: one of the actor's fields, kept with the session"
            ));
        }
    }
    // The file's own calendars and notifications, used by a journey or not.
    if found.is_none() {
        if let Some(c) = module.calendars.iter().find(|c| c.name == last) {
            found = Some(calendar_hover(c));
        } else if let Some(n) = module.notifications.iter().find(|n| n.name == last) {
            found = Some(notification_hover(n));
        }
    }
    if found.is_none() {
        // Inside a schedule's cron expression.
        let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
        let line_end = at + text[at..].find('\n').unwrap_or(text.len() - at);
        let line = &text[line_start..line_end];
        if line.trim_start().starts_with("trigger schedule") {
            for j in &module.journeys {
                for t in &j.triggers {
                    if let journeyc::ir::Trigger::Schedule {
                        cron, time_zone, ..
                    } = t
                    {
                        if found.is_none() {
                            found = cron_hover(cron, time_zone);
                        }
                    }
                }
            }
        }
    }
    match found {
        Some(markdown) => json!({"contents": {"kind": "markdown", "value": markdown}}),
        None => Value::Null,
    }
}

/// Words that begin a line in each kind of block.
const KEYWORDS: &[(&str, &[&str])] = &[
    (
        "file",
        &["import", "journey", "calendar", "notification", "test"],
    ),
    (
        "journey",
        &[
            "sms from",
            "expires after",
            "journey link opens",
            "on existing session",
            "on new version",
            "help",
            "time zone",
            "trigger link",
            "trigger sms to",
            "trigger call to",
            "trigger api",
            "trigger schedule",
            "on session started",
            "on reply",
            "var",
            "step",
            "notification",
            "calendar",
        ],
    ),
    ("step", &["page", "on enter"]),
    ("page", &["heading", "text", "input", "button", "link"]),
    (
        "actions",
        &[
            "set",
            "initialize actor",
            "send sms",
            "start timer",
            "stop timer",
            "go to page",
            "go to step",
            "if",
            "end session",
            "extend session by",
            "say",
        ],
    ),
    ("notification", &["text", "journey link", "link"]),
    ("calendar", &["time zone", "open", "closed"]),
    (
        "test",
        &[
            "clock",
            "open link",
            "open journey link",
            "fill",
            "press",
            "text",
            "call",
            "api",
            "wait",
            "wait until",
            "wait for timer",
            "wait for schedule",
            "mark last sms",
            "expect",
        ],
    ),
];

/// The kind of the innermost block open at `at`, from the lines that open blocks.
fn block_at(text: &str, at: usize) -> &'static str {
    let mut stack: Vec<&'static str> = Vec::new();
    for line in text[..at].lines() {
        let t = line.trim();
        let opens = t.ends_with('{');
        for _ in 0..t.matches('}').count().min(stack.len()) {
            if !(opens && t.starts_with('}')) {
                stack.pop();
            }
        }
        if opens {
            let first = t.split_whitespace().next().unwrap_or("");
            stack.push(match first {
                "journey" => "journey",
                "step" => "step",
                "page" => "page",
                "notification" => "notification",
                "calendar" => "calendar",
                "test" => "test",
                "}" => "actions",
                _ => "actions",
            });
        }
    }
    stack.last().copied().unwrap_or("file")
}

fn completion(docs: &Docs, uri: &str, text: &str, at: usize) -> Value {
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let before = &text[line_start..at];
    let mut items: Vec<Value> = Vec::new();
    let item = |label: String, kind: u32, detail: String| json!({"label": label, "kind": kind, "detail": detail});
    // Time zone names in quotes, after `time zone "` or `in "`.
    if before.ends_with("zone \"") || before.ends_with("in \"") {
        for z in journeyc::literals::time_zone_names() {
            items.push(item(z.to_string(), 12, "time zone".into()));
        }
        return Value::Array(items);
    }
    // `std.` members: the standard modules' calendars and notifications.
    if let Some(prefix) = before
        .rsplit(|c: char| c.is_whitespace() || c == '(')
        .next()
    {
        if prefix.starts_with("std.") {
            for (module, source) in journeyc::stdlib::MODULES {
                let (tree, _) = syntax::parse(FileId(0), source);
                for i in &tree.items {
                    let (name, kind) = match i {
                        ast::Item::Calendar(c) => (&c.name.name, "calendar"),
                        ast::Item::Notification(n) => (&n.name.name, "notification"),
                        _ => continue,
                    };
                    items.push(item(format!("std.{module}.{name}"), 9, kind.into()));
                }
            }
            return Value::Array(items);
        }
    }
    if before.trim().is_empty() {
        let block = block_at(text, line_start);
        if let Some((_, words)) = KEYWORDS.iter().find(|(k, _)| *k == block) {
            items.extend(
                words
                    .iter()
                    .map(|w| item(w.to_string(), 14, format!("in a {block}"))),
            );
        }
        return Value::Array(items);
    }
    // Anywhere else: names in scope, functions, input kinds.
    let module = module_of(docs, uri, text);
    for j in &module.journeys {
        for s in &j.steps {
            items.push(item(s.name.clone(), 9, "step".into()));
            for p in &s.pages {
                items.push(item(p.name.clone(), 9, format!("page of {}", s.name)));
            }
        }
        for v in &j.vars {
            items.push(item(v.name.clone(), 6, format!("var: {}", v.ty)));
        }
        for n in &j.notifications {
            items.push(item(n.name.clone(), 23, "notification".into()));
        }
        for c in &j.calendars {
            items.push(item(c.name.clone(), 22, "calendar".into()));
        }
    }
    for f in journeyc::types::Func::ALL {
        items.push(item(
            format!("{}()", f.name()),
            3,
            f.signature().doc.to_string(),
        ));
    }
    for (name, _, ty) in journeyc::ir::InputKind::ALL {
        items.push(item(
            name.to_string(),
            12,
            format!("input kind, for a {ty}"),
        ));
    }
    Value::Array(items)
}

/// Quick fixes from the diagnostics the editor sends back: a "did you mean" replaces
/// the name, and a missing import is added at the top.
fn code_actions(uri: &str, text: &str, params: &Value) -> Value {
    let mut actions = Vec::new();
    for d in params["context"]["diagnostics"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let message = d["message"].as_str().unwrap_or_default();
        // A text sent before the actor is initialised: `initialize actor` just before.
        if d["code"] == "J0301" {
            let line = d["range"]["start"]["line"].as_u64().unwrap_or(0);
            let shown = text.lines().nth(line as usize).unwrap_or_default();
            let indent = &shown[..shown.len() - shown.trim_start().len()];
            actions.push(json!({
                "title": "Add `initialize actor` before this",
                "kind": "quickfix",
                "diagnostics": [d],
                "edit": {"changes": {uri: [{
                    "range": {"start": {"line": line, "character": 0}, "end": {"line": line, "character": 0}},
                    "newText": format!("{indent}initialize actor\n"),
                }]}},
            }));
        }
        if let Some(guess) = message
            .split("did you mean `")
            .nth(1)
            .and_then(|r| r.split('`').next())
        {
            actions.push(json!({
                "title": format!("Change to `{guess}`"),
                "kind": "quickfix",
                "diagnostics": [d],
                "isPreferred": true,
                "edit": {"changes": {uri: [{"range": d["range"], "newText": guess}]}},
            }));
        }
        if let Some(import) = message
            .split("add `import ")
            .nth(1)
            .and_then(|r| r.split('`').next())
        {
            actions.push(json!({
                "title": format!("Add `import {import}`"),
                "kind": "quickfix",
                "diagnostics": [d],
                "edit": {"changes": {uri: [{
                    "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}},
                    "newText": format!("import {import}\n"),
                }]}},
            }));
        }
    }
    Value::Array(actions)
}

/// The open documents, in a stable order.
fn sorted(docs: &Docs) -> Vec<(&String, &(String, i32))> {
    let mut all: Vec<_> = docs.open.iter().collect();
    all.sort_by(|a, b| a.0.cmp(b.0));
    all
}

/// Where `name` stands in `text` as a name: a whole word in code or inside a string's
/// `{{ }}`, not in a string's text nor a comment, nor after a `.` (a field or another
/// module's name).
fn occurrences(text: &str, name: &str) -> Vec<Span> {
    let mut out = Vec::new();
    if name.is_empty() || name.contains('.') {
        return out;
    }
    let bytes = text.as_bytes();
    let (mut in_string, mut in_interp, mut i) = (false, false, 0);
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    while i < bytes.len() {
        let b = bytes[i];
        let code = !in_string || in_interp;
        if in_string && !in_interp {
            match b {
                b'\\' => i += 1,
                b'"' => in_string = false,
                b'\n' => in_string = false,
                b'{' if bytes.get(i + 1) == Some(&b'{') => {
                    in_interp = true;
                    i += 1;
                }
                _ => {}
            }
        } else if in_interp && b == b'}' && bytes.get(i + 1) == Some(&b'}') {
            in_interp = false;
            i += 1;
        } else if !in_string && b == b'/' && bytes.get(i + 1) == Some(&b'/') {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
            continue;
        } else if !in_string && b == b'"' {
            in_string = true;
        } else if code && word(b) && (i == 0 || (!word(bytes[i - 1]) && bytes[i - 1] != b'.')) {
            let end = (i..bytes.len())
                .find(|&k| !word(bytes[k]))
                .unwrap_or(bytes.len());
            if &text[i..end] == name {
                out.push(Span::new(i, end));
            }
            i = end;
            continue;
        }
        i += 1;
    }
    out
}

/// A document a name may be used in, with the name it imports the name's file under.
struct Using {
    uri: String,
    text: String,
    alias: Option<String>,
}

/// The file a name at the cursor belongs to, and the name: `ALIAS.NAME` of a file
/// import is NAME of that file; any other name is taken as the document's own.
fn named<'a>(docs: &Docs, uri: &str, text: &str, dotted: &'a str) -> (PathBuf, &'a str) {
    let here = canonical(&path_of(uri));
    if let Some((alias, name)) = dotted.rsplit_once('.') {
        let imported = workspace::file_imports(&here, &docs.tree(uri, text))
            .into_iter()
            .find(|(_, a)| a == alias);
        if let Some((file, _)) = imported {
            return (file, name);
        }
    }
    (here, dotted)
}

/// Where a name of `file` may be used: every open document, as before, and the files
/// of `file`'s family in the workspace (those it imports and those that import it),
/// from the disk when they are not open. In a stable order.
fn users(docs: &Docs, workspace: &Workspace, file: &Path) -> Vec<Using> {
    let open: HashMap<PathBuf, (&String, &String)> = docs
        .open
        .iter()
        .map(|(u, (t, _))| (canonical(&path_of(u)), (u, t)))
        .collect();
    let mut out: Vec<Using> = Vec::new();
    for user in workspace.family(file, &|p| open.get(p).map(|(_, t)| t.to_string())) {
        let uri = open
            .get(&user.path)
            .map_or_else(|| uri_of(&user.path), |(u, _)| u.to_string());
        out.push(Using {
            uri,
            text: user.text,
            alias: user.alias,
        });
    }
    for (path, (uri, text)) in &open {
        if !out.iter().any(|u| &u.uri == *uri) {
            out.push(Using {
                uri: uri.to_string(),
                text: text.to_string(),
                alias: workspace::alias_of(path, text, file),
            });
        }
    }
    out.sort_by(|a, b| a.uri.cmp(&b.uri));
    out
}

/// Where `name` stands in a document: as a name of its own, and as `ALIAS.NAME` where
/// it imports the name's file as ALIAS.
fn uses(user: &Using, name: &str) -> Vec<Span> {
    let mut spans = occurrences(&user.text, name);
    if let Some(alias) = &user.alias {
        spans.extend(qualified(&user.text, alias, name));
        spans.sort_by_key(|s| s.start);
    }
    spans
}

/// Where `ALIAS.NAME` stands in `text`: the spans of NAME.
fn qualified(text: &str, alias: &str, name: &str) -> Vec<Span> {
    if name.is_empty() || name.contains('.') {
        return Vec::new();
    }
    let word = |b: &u8| b.is_ascii_alphanumeric() || *b == b'_';
    occurrences(text, alias)
        .into_iter()
        .filter_map(|s| {
            let after = text[s.end..].strip_prefix('.')?.strip_prefix(name)?;
            (!after.as_bytes().first().is_some_and(word))
                .then(|| Span::new(s.end + 1, s.end + 1 + name.len()))
        })
        .collect()
}

/// Every use of `name` in `users`, renamed to `new`; refused when `new` is not a name
/// or is already one in a document that uses `name`.
fn rename(users: &[Using], name: &str, new: &str) -> Result<Value, String> {
    let is_name = new
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && new.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !is_name {
        return Err(format!(
            "`{new}` is not a name: letters, digits and `_`, not starting with a digit"
        ));
    }
    if name.is_empty() {
        return Err("there is no name here to rename".into());
    }
    let mut changes = serde_json::Map::new();
    for user in users {
        let spans = uses(user, name);
        if spans.is_empty() {
            continue;
        }
        if !uses(user, new).is_empty() {
            return Err(format!(
                "`{new}` is already a name in {}: renaming would make two things one",
                user.uri
            ));
        }
        let edits: Vec<Value> = spans
            .iter()
            .map(|s| json!({"range": range(&user.text, *s), "newText": new}))
            .collect();
        changes.insert(user.uri.clone(), Value::Array(edits));
    }
    Ok(json!({"changes": changes}))
}

/// The symbols of every open document whose name contains `query`.
fn workspace_symbols(docs: &Docs, query: &str) -> Value {
    fn walk(uri: &str, list: &Value, container: Option<&str>, query: &str, out: &mut Vec<Value>) {
        for s in list.as_array().into_iter().flatten() {
            let name = s["name"].as_str().unwrap_or_default();
            if name.to_lowercase().contains(query) {
                out.push(json!({
                    "name": name,
                    "kind": s["kind"],
                    "location": {"uri": uri, "range": s["range"]},
                    "containerName": container,
                }));
            }
            walk(uri, &s["children"], Some(name), query, out);
        }
    }
    let mut out = Vec::new();
    for (uri, (text, _)) in sorted(docs) {
        walk(
            uri,
            &symbols(&docs.tree(uri, text), text),
            None,
            query,
            &mut out,
        );
    }
    Value::Array(out)
}

/// The semantic token types, by index, as the legend gives them.
const TOKEN_TYPES: [&str; 7] = [
    "keyword", "string", "comment", "number", "variable", "function", "type",
];

/// Words the language reserves in some place: highlighted as keywords wherever they
/// stand outside strings, which is where they mean something.
const WORDS: &[&str] = &[
    "journey",
    "step",
    "page",
    "trigger",
    "link",
    "sms",
    "call",
    "api",
    "schedule",
    "on",
    "reply",
    "enter",
    "session",
    "started",
    "var",
    "set",
    "initialize",
    "actor",
    "send",
    "start",
    "stop",
    "timer",
    "after",
    "at",
    "go",
    "to",
    "if",
    "else",
    "end",
    "extend",
    "by",
    "say",
    "heading",
    "text",
    "input",
    "button",
    "notification",
    "calendar",
    "import",
    "as",
    "from",
    "expires",
    "opens",
    "first",
    "last",
    "existing",
    "keep",
    "replace",
    "reject",
    "new",
    "version",
    "upgrade",
    "help",
    "time",
    "zone",
    "in",
    "open",
    "closed",
    "cron",
    "for",
    "required",
    "placeholder",
    "options",
    "validate",
    "unavailable",
    "skip",
    "next",
    "previous",
    "anyway",
    "missed",
    "test",
    "expect",
    "fill",
    "press",
    "wait",
    "until",
    "clock",
    "mark",
    "no",
    "containing",
    "equal",
    "with",
    "suppressed",
    "status",
    "error",
    "and",
    "or",
    "not",
    "true",
    "false",
    "null",
];

/// Semantic tokens of `text`, LSP's relative encoding: keywords, strings (their
/// `{{ }}` parts as code), comments, numbers and durations, names, functions, types.
fn semantic_tokens(text: &str) -> Vec<u32> {
    let mut data = Vec::new();
    let (mut last_line, mut last_start) = (0u32, 0u32);
    for (line_no, line) in text.lines().enumerate() {
        let mut tokens: Vec<(usize, usize, u32)> = Vec::new();
        let bytes = line.as_bytes();
        let (mut i, mut in_string, mut string_from) = (0, false, 0);
        let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
        while i < bytes.len() {
            let b = bytes[i];
            if in_string {
                if b == b'\\' {
                    i += 2;
                    continue;
                }
                if b == b'"' {
                    tokens.push((string_from, i + 1, 1));
                    in_string = false;
                } else if b == b'{' && bytes.get(i + 1) == Some(&b'{') {
                    tokens.push((string_from, i, 1));
                    // The interpolation is code, up to its `}}`.
                    let end = line[i..].find("}}").map_or(bytes.len(), |e| i + e + 2);
                    code_tokens(&line[..end], i + 2, &mut tokens);
                    i = end;
                    string_from = end;
                    continue;
                }
                i += 1;
                continue;
            }
            if b == b'/' && bytes.get(i + 1) == Some(&b'/') {
                tokens.push((i, bytes.len(), 2));
                break;
            }
            if b == b'"' {
                in_string = true;
                string_from = i;
                i += 1;
                continue;
            }
            if word(b) {
                let end = (i..bytes.len())
                    .find(|&k| !word(bytes[k]))
                    .unwrap_or(bytes.len());
                tokens.push((i, end, kind_of(line, i, end)));
                i = end;
                continue;
            }
            i += 1;
        }
        if in_string {
            tokens.push((string_from, bytes.len(), 1));
        }
        for (start, end, kind) in tokens {
            if end <= start {
                continue;
            }
            let col = line[..start].encode_utf16().count() as u32;
            let len = line[start..end].encode_utf16().count() as u32;
            let line_no = line_no as u32;
            let delta_line = line_no - last_line;
            let delta_start = if delta_line == 0 {
                col - last_start
            } else {
                col
            };
            data.extend([delta_line, delta_start, len, kind, 0]);
            last_line = line_no;
            last_start = col;
        }
    }
    data
}

/// Tokens of the code in `line` from `from` (inside `{{ }}`).
fn code_tokens(line: &str, from: usize, tokens: &mut Vec<(usize, usize, u32)>) {
    let bytes = line.as_bytes();
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut i = from;
    while i < bytes.len() {
        if word(bytes[i]) {
            let end = (i..bytes.len())
                .find(|&k| !word(bytes[k]))
                .unwrap_or(bytes.len());
            tokens.push((i, end, kind_of(line, i, end)));
            i = end;
        } else {
            i += 1;
        }
    }
}

/// What the word at `start..end` of `line` is: a number or duration, a function (a
/// name before `(`), a type (after `var NAME:`), a keyword, or a name.
fn kind_of(line: &str, start: usize, end: usize) -> u32 {
    let w = &line[start..end];
    if w.as_bytes()[0].is_ascii_digit() {
        return 3;
    }
    if line[end..].starts_with('(') {
        return 5;
    }
    let before = line[..start].trim_end();
    if before.ends_with(':') && line.trim_start().starts_with("var ") {
        return 6;
    }
    if WORDS.contains(&w) || WORDS.contains(&w.to_ascii_lowercase().as_str()) && w.len() <= 3 {
        return 0;
    }
    4
}
