//! Layering as a test: these tests read `src/` and fail when a change breaks the layers
//! that ARCHITECTURE.md describes.
//!
//! 1. The runtime executes the IR; it never parses or checks. No file under
//!    `src/runtime/` refers to `crate::syntax` or `crate::check`, by any path
//!    (`super::super::check`, or a re-export such as `crate::check_source`). Unit tests
//!    (`#[cfg(test)]`) may build their fixtures with the checker.
//! 2. The server talks to the engine, not to storage. No file under `src/server/` names
//!    the SQLite store; the wiring in `src/bin/journeyc/run.rs` picks it. Handlers reach
//!    the store only through engine methods: only the sender calls `.store()`.
//! 3. Only the binary renders diagnostics for a terminal: miette's report handlers,
//!    `render_report` and `miette::Report` appear under `src/bin/` only. The library
//!    implements `miette::Diagnostic` and leaves the rendering to its caller.
//! 4. No import cycles, between the top-level modules (`src/check/`, `src/runtime/`,
//!    `src/server/`, `src/ir.rs`, ...) and between single files.
//!
//! The scanner is small and written by hand. It blanks comments and literals, splits
//! the rest into tokens, and reads `use` trees and `crate::`, `self::`, `super::` and
//! child-module paths. A path names the deepest file that exists for it (`src/a/b.rs`,
//! `src/a/b/mod.rs`, then `src/a.rs`). A `mod x;` declaration is containment, not an
//! import, so it makes no edge; a parent's `use x::Item` or `x::f()` does. Each rule is
//! shown to fail on a small fake tree at the end of this file.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::Path;

// ---------------------------------------------------------------------------------------
// The rules, on src/ as it is.

#[test]
fn runtime_does_not_reach_the_parser_or_the_checker() {
    let found = runtime_reaches_compiler(&Source::read(), false);
    assert_none("src/runtime/ must not use src/syntax/ or src/check/", found);
}

#[test]
fn server_does_not_name_the_concrete_store() {
    let found = server_names_concrete_store(&Source::read());
    assert_none(
        "src/server/ must not name the SQLite store; src/bin/journeyc/run.rs wires it in",
        found,
    );
}

#[test]
fn server_reaches_the_store_only_through_the_engine() {
    let found = server_calls_store(&Source::read());
    assert_none(
        "src/server/ must reach the store through engine methods, not `.store()`",
        found,
    );
}

#[test]
fn only_the_binary_renders_diagnostics() {
    let found = renders_outside_binary(&Source::read());
    assert_none("only src/bin/ may render diagnostics with miette", found);
}

#[test]
fn no_import_cycles_between_top_level_modules() {
    let src = Source::read();
    let found = cycles(&top_level_graph(&src));
    assert_none("import cycle between top-level modules of src/", found);
}

#[test]
fn no_import_cycles_between_files() {
    let src = Source::read();
    let found = cycles(&file_graph(&src));
    assert_none("import cycle between files of src/", found);
}

#[test]
fn graph_uses_only_the_ir_and_coverage() {
    let g = top_level_graph(&Source::read());
    let allowed = ["src/ir.rs", "src/coverage.rs"];
    let uses = g.get("src/graph.rs").expect("src/graph.rs is read");
    // The scanner sees its imports, so an empty list would mean a broken scanner.
    assert!(uses.contains_key("src/ir.rs"), "{uses:?}");
    let found = uses
        .iter()
        .filter(|(to, _)| !allowed.contains(&to.as_str()))
        .map(|(to, at)| format!("{to} at {at:?}"))
        .collect();
    assert_none(
        "src/graph.rs may use only src/ir.rs and src/coverage.rs",
        found,
    );
}

fn assert_none(rule: &str, found: Vec<String>) {
    assert!(found.is_empty(), "{rule}:\n{}", found.join("\n"));
}

// ---------------------------------------------------------------------------------------
// The rules, on any tree.

const LIB: &str = "src/lib.rs";

/// The one file under src/server/ that may call `.store()`: the sender drains the
/// outbox, which is the store's own queue. It claims messages and records what Twilio
/// said about each; no handler does that.
const STORE_CALLER: &str = "src/server/sender.rs";

/// Rule 1: each place under src/runtime/ that refers to the parser or the checker,
/// directly or through a re-export. Unit tests count only `with_tests`.
fn runtime_reaches_compiler(src: &Source, with_tests: bool) -> Vec<String> {
    let mut found = vec![];
    for f in src.under("src/runtime/") {
        for r in f.refs.iter().filter(|r| with_tests || !r.in_test) {
            let real = src.follow(&r.target);
            if is_compiler(&r.target) {
                found.push(format!("{}:{}: `{}`", f.path, r.line, r.written));
            } else if is_compiler(&real) {
                found.push(format!(
                    "{}:{}: `{}`, which is `{}`",
                    f.path,
                    r.line,
                    r.written,
                    real.show()
                ));
            }
        }
    }
    found
}

fn is_compiler(t: &Target) -> bool {
    match t {
        Target::Local { root, module } => {
            root == LIB && matches!(module.first().map(String::as_str), Some("syntax" | "check"))
        }
        Target::Extern(_) => false,
    }
}

/// Rule 2, first half: each name under src/server/ that mentions SQLite (`sqlite`,
/// `SqliteStore`, `rusqlite`).
fn server_names_concrete_store(src: &Source) -> Vec<String> {
    let mut found = vec![];
    for f in src.under("src/server/") {
        for t in f.toks.iter().filter(|t| t.is_ident()) {
            if t.text.to_lowercase().contains("sqlite") {
                found.push(format!("{}:{}: `{}`", f.path, t.line, t.text));
            }
        }
    }
    found
}

/// Rule 2, second half: each `.store()` (or `Engine::store(`) under src/server/,
/// except in the sender.
fn server_calls_store(src: &Source) -> Vec<String> {
    let mut found = vec![];
    for f in src.under("src/server/").filter(|f| f.path != STORE_CALLER) {
        for w in f.toks.windows(3) {
            if matches!(w[0].text.as_str(), "." | "::") && w[1].text == "store" && w[2].text == "("
            {
                found.push(format!("{}:{}: `{}store(`", f.path, w[1].line, w[0].text));
            }
        }
    }
    found
}

/// Rule 3: each use of miette's rendering outside src/bin/.
fn renders_outside_binary(src: &Source) -> Vec<String> {
    let mut found = vec![];
    for f in src
        .files
        .values()
        .filter(|f| !f.path.starts_with("src/bin/"))
    {
        for t in &f.toks {
            if t.text == "render_report" || t.text.ends_with("ReportHandler") {
                found.push(format!("{}:{}: `{}`", f.path, t.line, t.text));
            }
        }
        for r in &f.refs {
            if let Target::Extern(path) = &r.target {
                if path.len() >= 2 && path[0] == "miette" && path[1] == "Report" {
                    found.push(format!("{}:{}: `{}`", f.path, r.line, r.written));
                }
            }
        }
    }
    found
}

/// Who uses whom: for each node, the nodes it refers to, each with the first place
/// ("file:line") that does.
type Graph = BTreeMap<String, BTreeMap<String, String>>;

/// Rule 4, per file: an edge for every path from one file to another.
fn file_graph(src: &Source) -> Graph {
    let mut g = Graph::new();
    for f in src.files.values() {
        let edges = g.entry(f.path.clone()).or_default();
        for r in &f.refs {
            if let Target::Local { root, module } = &r.target {
                let (to, _) = src.file_of(root, module);
                if to != f.path {
                    edges
                        .entry(to)
                        .or_insert_with(|| format!("{}:{}", f.path, r.line));
                }
            }
        }
    }
    g
}

/// Rule 4, per top-level module: the file graph with each file replaced by its module.
fn top_level_graph(src: &Source) -> Graph {
    let mut g = Graph::new();
    for (from, edges) in file_graph(src) {
        let node = top_level(&from);
        let out = g.entry(node.clone()).or_default();
        for (to, at) in edges {
            if top_level(&to) != node {
                out.entry(top_level(&to)).or_insert(at);
            }
        }
    }
    g
}

/// "src/check/", "src/ir.rs", "src/lib.rs" or "src/bin/journeyc/": the top-level
/// module a file belongs to.
fn top_level(path: &str) -> String {
    let rest = path.strip_prefix("src/").unwrap_or(path);
    match rest.split('/').collect::<Vec<_>>().as_slice() {
        ["bin", name, _, ..] => format!("src/bin/{name}/"),
        [dir, _, ..] => format!("src/{dir}/"),
        _ => format!("src/{rest}"),
    }
}

/// One shortest cycle per strongly connected group of nodes, each edge with the place
/// that makes it.
fn cycles(g: &Graph) -> Vec<String> {
    let mut covered = BTreeSet::new();
    let mut found = vec![];
    for start in g.keys() {
        if covered.contains(start) {
            continue;
        }
        let Some(cycle) = shortest_cycle(g, start) else {
            continue;
        };
        let reach = reachable(g, start);
        let group: Vec<&String> = reach
            .iter()
            .filter(|m| reachable(g, m).contains(start))
            .collect();
        let mut text = format!("cycle {}", cycle.join(" → "));
        for pair in cycle.windows(2) {
            text += &format!(
                "\n    {}: {} uses {}",
                g[&pair[0]][&pair[1]], pair[0], pair[1]
            );
        }
        if group.len() > cycle.len() - 1 {
            let names: Vec<&str> = group.iter().map(|s| s.as_str()).collect();
            text += &format!("\n    (one of several among: {})", names.join(", "));
        }
        covered.extend(group.into_iter().cloned());
        found.push(text);
    }
    found
}

/// The nodes reachable from `start` by one edge or more.
fn reachable(g: &Graph, start: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo: Vec<&str> = vec![start];
    while let Some(n) = todo.pop() {
        for m in g.get(n).into_iter().flat_map(|e| e.keys()) {
            if seen.insert(m.clone()) {
                todo.push(m);
            }
        }
    }
    seen
}

/// The shortest path from `start` back to itself, both ends included.
fn shortest_cycle(g: &Graph, start: &str) -> Option<Vec<String>> {
    let mut came_from: BTreeMap<&str, &str> = BTreeMap::new();
    let mut queue = VecDeque::from([start]);
    while let Some(n) = queue.pop_front() {
        for m in g.get(n).into_iter().flat_map(|e| e.keys()) {
            if m == start {
                let mut path = vec![start.to_string()];
                let mut at = n;
                while at != start {
                    path.push(at.to_string());
                    at = came_from[at];
                }
                path.push(start.to_string());
                path.reverse();
                return Some(path);
            }
            if !came_from.contains_key(m.as_str()) {
                came_from.insert(m, n);
                queue.push_back(m);
            }
        }
    }
    None
}

// ---------------------------------------------------------------------------------------
// The scanner.

/// The Rust files of one tree, by path from the crate's directory ("src/ir.rs").
struct Source {
    files: BTreeMap<String, File>,
}

/// One file, scanned.
struct File {
    path: String,
    /// Its tokens, without comments and literals.
    toks: Vec<Tok>,
    /// Every path it writes that starts at a crate, `self`, `super` or a child module.
    refs: Vec<Ref>,
    /// What its top-level `use` declarations bring in, by the name they bring in.
    imports: BTreeMap<String, Target>,
}

struct Tok {
    text: String,
    line: usize,
}

impl Tok {
    fn is_ident(&self) -> bool {
        self.text
            .chars()
            .next()
            .is_some_and(|c| c.is_alphabetic() || c == '_')
    }
}

/// A path as written, and what it names.
struct Ref {
    line: usize,
    written: String,
    target: Target,
    /// Inside an item marked `#[cfg(test)]`.
    in_test: bool,
}

#[derive(Clone, PartialEq, Debug)]
enum Target {
    /// A module path (with perhaps an item's name at its end) in the crate whose root
    /// file is `root`.
    Local { root: String, module: Vec<String> },
    /// A path into another crate, or one the scanner cannot place (`Value::Phone`).
    Extern(Vec<String>),
}

impl Target {
    fn show(&self) -> String {
        match self {
            Target::Local { module, .. } => format!("crate::{}", module.join("::")),
            Target::Extern(path) => path.join("::"),
        }
    }
}

impl Source {
    /// The files under src/ of this crate.
    fn read() -> Source {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = vec![];
        let mut dirs = vec![root.join("src")];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let name = path.strip_prefix(root).unwrap().to_string_lossy();
                    let text = std::fs::read_to_string(&path).unwrap();
                    files.push((name.replace('\\', "/"), text));
                }
            }
        }
        assert!(files.iter().any(|(p, _)| p == LIB), "no src/lib.rs to read");
        Source::new(files)
    }

    fn new(files: Vec<(String, String)>) -> Source {
        let files = files
            .into_iter()
            .map(|(path, text)| (path.clone(), scan(&path, &text)))
            .collect();
        Source { files }
    }

    fn under<'a>(&'a self, dir: &'a str) -> impl Iterator<Item = &'a File> + 'a {
        self.files.values().filter(move |f| f.path.starts_with(dir))
    }

    /// The deepest file that exists for `module` in the crate rooted at `root`, and how
    /// many of the path's segments it accounts for.
    fn file_of(&self, root: &str, module: &[String]) -> (String, usize) {
        let dir = &root[..=root.rfind('/').unwrap_or(0)];
        for k in (1..=module.len()).rev() {
            let base = format!("{dir}{}", module[..k].join("/"));
            for candidate in [format!("{base}.rs"), format!("{base}/mod.rs")] {
                if self.files.contains_key(&candidate) {
                    return (candidate, k);
                }
            }
        }
        (root.to_string(), 0)
    }

    /// Where `target` really points, through `use` re-exports: `crate::check_source`
    /// is `crate::check::check_source` when src/lib.rs has `pub use check::check_source`.
    fn follow(&self, target: &Target) -> Target {
        let mut t = target.clone();
        for _ in 0..16 {
            let Target::Local { root, module } = &t else {
                break;
            };
            let (file, k) = self.file_of(root, module);
            let Some(name) = module.get(k) else { break };
            let Some(Target::Local {
                root: to_root,
                module: to,
            }) = self.files.get(&file).and_then(|f| f.imports.get(name))
            else {
                break;
            };
            let mut next = to.clone();
            next.extend(module[k + 1..].iter().cloned());
            let next = Target::Local {
                root: to_root.clone(),
                module: next,
            };
            if next == t {
                break;
            }
            t = next;
        }
        t
    }
}

/// The crate a file belongs to (its root file) and the file's module path in it.
fn place(path: &str) -> (String, Vec<String>) {
    let (root, rel) = match path.strip_prefix("src/bin/") {
        Some(bin) => match bin.split_once('/') {
            Some((name, rel)) => (format!("src/bin/{name}/main.rs"), rel),
            None => (path.to_string(), "main.rs"),
        },
        None => (LIB.to_string(), path.strip_prefix("src/").unwrap_or(path)),
    };
    let mut module: Vec<String> = rel
        .trim_end_matches(".rs")
        .split('/')
        .map(String::from)
        .collect();
    if module.last().is_some_and(|m| m == "mod") || path == root {
        module.pop();
    }
    (root, module)
}

fn scan(path: &str, text: &str) -> File {
    let toks = tokenize(&strip(text));
    let (root, file_module) = place(path);
    let in_test = test_mask(&toks);
    let scopes = Scopes::of(&toks);
    let at = |i: usize| -> &[String] { &scopes.paths[scopes.of[i]] };

    let resolve = |path: &[String], i: usize| -> Target {
        let mut here = file_module.clone();
        here.extend(at(i).iter().cloned());
        let local = |module: Vec<String>| Target::Local {
            root: root.clone(),
            module,
        };
        match path[0].as_str() {
            "crate" | "$crate" => local(path[1..].to_vec()),
            "self" => local([here, path[1..].to_vec()].concat()),
            "super" => {
                let ups = path.iter().take_while(|s| *s == "super").count();
                here.truncate(here.len().saturating_sub(ups));
                local([here, path[ups..].to_vec()].concat())
            }
            "journeyc" if root != LIB => Target::Local {
                root: LIB.to_string(),
                module: path[1..].to_vec(),
            },
            first if scopes.children(at(i)).contains(first) => {
                local([here, path.to_vec()].concat())
            }
            _ => Target::Extern(path.to_vec()),
        }
    };

    let mut refs = vec![];
    let mut imports = BTreeMap::new();
    let mut i = 0;
    while i < toks.len() {
        let t = &toks[i];
        let next = toks.get(i + 1).map_or("", |t| t.text.as_str());
        let next_is_ident = toks.get(i + 1).is_some_and(Tok::is_ident);
        if t.text == "use" && (next == "::" || next == "{" || next_is_ident) {
            let mut items = vec![];
            let end = use_tree(&toks, i + 1, vec![], &mut items).min(toks.len());
            for (path, name) in items.into_iter().filter(|(p, _)| !p.is_empty()) {
                let target = resolve(&path, i);
                if let (Some(name), true) = (name, at(i).is_empty()) {
                    imports.insert(name, target.clone());
                }
                refs.push(Ref {
                    line: t.line,
                    written: path.join("::"),
                    target,
                    in_test: in_test[i],
                });
            }
            i = end;
            continue;
        }
        let after_sep = i > 0 && toks[i - 1].text == "::";
        let dollar_crate = t.text == "$" && next == "crate";
        if dollar_crate || (t.is_ident() && !after_sep && next == "::") {
            let first = if dollar_crate {
                i += 1;
                "$crate".to_string()
            } else {
                t.text.clone()
            };
            let mut path = vec![first];
            let mut j = i + 1;
            while toks.get(j).is_some_and(|s| s.text == "::")
                && toks.get(j + 1).is_some_and(Tok::is_ident)
            {
                path.push(toks[j + 1].text.clone());
                j += 2;
            }
            if path.len() > 1 {
                refs.push(Ref {
                    line: toks[i].line,
                    written: path.join("::"),
                    target: resolve(&path, i),
                    in_test: in_test[i],
                });
            }
            i = j;
            continue;
        }
        i += 1;
    }
    File {
        path: path.to_string(),
        toks,
        refs,
        imports,
    }
}

/// Reads one use tree from `toks[i]`, adding each path it names with the name it brings
/// in (none for a glob); returns the index after the tree.
fn use_tree(
    toks: &[Tok],
    mut i: usize,
    mut prefix: Vec<String>,
    out: &mut Vec<(Vec<String>, Option<String>)>,
) -> usize {
    let text = |i: usize| toks.get(i).map_or("", |t| t.text.as_str());
    if text(i) == "::" {
        i += 1;
    }
    loop {
        match text(i) {
            "{" => {
                i += 1;
                while !matches!(text(i), "}" | "") {
                    let before = i;
                    i = use_tree(toks, i, prefix.clone(), out);
                    if text(i) == "," {
                        i += 1;
                    }
                    if i == before {
                        i += 1;
                    }
                }
                return i + 1;
            }
            "*" => {
                out.push((prefix, None));
                return i + 1;
            }
            _ if toks.get(i).is_some_and(Tok::is_ident) => {
                prefix.push(toks[i].text.clone());
                i += 1;
                if text(i) == "::" {
                    i += 1;
                    continue;
                }
                if prefix.last().is_some_and(|s| s == "self") && prefix.len() > 1 {
                    prefix.pop();
                }
                let mut name = prefix.last().cloned();
                if text(i) == "as" {
                    name = toks.get(i + 1).map(|t| t.text.clone()).filter(|n| n != "_");
                    i += 2;
                }
                out.push((prefix, name));
                return i;
            }
            _ => return i,
        }
    }
}

/// The inline modules (`mod tests { ... }`) of a file: which one each token is in, and
/// the child modules each declares.
struct Scopes {
    /// Each scope's path from the file's module; the first is the file itself.
    paths: Vec<Vec<String>>,
    /// The scope of each token.
    of: Vec<usize>,
    /// The modules declared with `mod x;` or `mod x { ... }`, by the scope declaring them.
    declared: BTreeMap<Vec<String>, BTreeSet<String>>,
}

impl Scopes {
    fn of(toks: &[Tok]) -> Scopes {
        let mut s = Scopes {
            paths: vec![vec![]],
            of: vec![],
            declared: BTreeMap::new(),
        };
        // The open inline modules: scope index and the brace depth inside them.
        let mut open: Vec<(usize, usize)> = vec![];
        let mut depth = 0;
        let mut current = 0;
        let mut entering: Option<String> = None;
        for (i, t) in toks.iter().enumerate() {
            match t.text.as_str() {
                "{" => {
                    depth += 1;
                    if let Some(name) = entering.take() {
                        let mut path = s.paths[current].clone();
                        path.push(name);
                        s.paths.push(path);
                        current = s.paths.len() - 1;
                        open.push((current, depth));
                    }
                }
                "}" => {
                    if open.last().is_some_and(|&(_, d)| d == depth) {
                        open.pop();
                        current = open.last().map_or(0, |&(scope, _)| scope);
                    }
                    depth = depth.saturating_sub(1);
                }
                _ => {}
            }
            s.of.push(current);
            if t.text == "mod" && toks.get(i + 1).is_some_and(Tok::is_ident) {
                let name = toks[i + 1].text.clone();
                match toks.get(i + 2).map(|t| t.text.as_str()) {
                    Some("{") => entering = Some(name.clone()),
                    Some(";") => {}
                    _ => continue,
                }
                let here = s.paths[current].clone();
                s.declared.entry(here).or_default().insert(name);
            }
        }
        s
    }

    fn children(&self, scope: &[String]) -> BTreeSet<&str> {
        self.declared
            .get(scope)
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect()
    }
}

/// Which tokens are inside an item marked `#[cfg(test)]`.
fn test_mask(toks: &[Tok]) -> Vec<bool> {
    let mut mask = vec![false; toks.len()];
    let text = |i: usize| toks.get(i).map_or("", |t| t.text.as_str());
    let cfg_test = ["#", "[", "cfg", "(", "test", ")", "]"];
    for i in 0..toks.len() {
        if !(0..cfg_test.len()).all(|k| text(i + k) == cfg_test[k]) {
            continue;
        }
        // The item starts after its attributes and ends at its `;` or closing brace.
        let mut depth = 0i32;
        let mut j = i + cfg_test.len();
        while j < toks.len() {
            match text(j) {
                "(" | "[" | "{" => depth += 1,
                ")" | "]" => depth -= 1,
                "}" => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                ";" if depth == 0 => break,
                _ => {}
            }
            j += 1;
        }
        for m in &mut mask[i..=j.min(toks.len() - 1)] {
            *m = true;
        }
    }
    mask
}

/// The text with comments, strings and character literals blanked (newlines kept, so
/// lines still count).
fn strip(src: &str) -> String {
    let c: Vec<char> = src.chars().collect();
    let at = |i: usize| c.get(i).copied().unwrap_or('\0');
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < c.len() {
        let start = i;
        let word_before = i > 0 && (c[i - 1].is_alphanumeric() || c[i - 1] == '_');
        if at(i) == '/' && at(i + 1) == '/' {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if at(i) == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            loop {
                if at(i) == '/' && at(i + 1) == '*' {
                    depth += 1;
                    i += 2;
                } else if at(i) == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else if i >= c.len() {
                    break;
                } else {
                    i += 1;
                }
            }
        } else if let Some(end) = (matches!(c[i], '"' | '\'') || !word_before)
            .then(|| literal_end(&c, i))
            .flatten()
        {
            i = end;
        } else {
            out.push(c[i]);
            i += 1;
            continue;
        }
        let end = i.min(c.len());
        out.extend(
            c[start..end]
                .iter()
                .map(|&ch| if ch == '\n' { '\n' } else { ' ' }),
        );
        i = end;
    }
    out
}

/// Where the string or character literal starting at `c[i]` ends, if one starts there
/// (a lifetime such as `'a` is no literal).
fn literal_end(c: &[char], i: usize) -> Option<usize> {
    let at = |i: usize| c.get(i).copied().unwrap_or('\0');
    let mut j = i;
    if matches!(at(j), 'b' | 'c') {
        j += 1;
    }
    if at(j) == 'r' && matches!(at(j + 1), '"' | '#') {
        let hashes = c[j + 1..].iter().take_while(|&&ch| ch == '#').count();
        if at(j + 1 + hashes) != '"' {
            return None; // a raw identifier, r#type
        }
        let mut k = j + 2 + hashes;
        while k < c.len() {
            if c[k] == '"' && (1..=hashes).all(|h| at(k + h) == '#') {
                return Some(k + 1 + hashes);
            }
            k += 1;
        }
        return Some(c.len());
    }
    match at(j) {
        '"' => {
            let mut k = j + 1;
            while k < c.len() && c[k] != '"' {
                k += if c[k] == '\\' { 2 } else { 1 };
            }
            Some(k + 1)
        }
        '\'' if at(j + 1) == '\\' => {
            let mut k = j + 3;
            while k < c.len() && c[k] != '\'' {
                k += 1;
            }
            Some(k + 1)
        }
        '\'' if at(j + 2) == '\'' => Some(j + 3),
        _ => None,
    }
}

/// Identifiers, `::`, and single characters; numbers are dropped.
fn tokenize(text: &str) -> Vec<Tok> {
    let c: Vec<char> = text.chars().collect();
    let word = |ch: char| ch.is_alphanumeric() || ch == '_';
    let mut toks = vec![];
    let mut line = 1;
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        if ch == '\n' {
            line += 1;
            i += 1;
        } else if ch.is_whitespace() {
            i += 1;
        } else if word(ch) {
            let start = i;
            while i < c.len() && word(c[i]) {
                i += 1;
            }
            if !ch.is_ascii_digit() {
                let text = c[start..i].iter().collect();
                toks.push(Tok { text, line });
            }
        } else if ch == ':' && c.get(i + 1) == Some(&':') {
            toks.push(Tok {
                text: "::".into(),
                line,
            });
            i += 2;
        } else {
            toks.push(Tok {
                text: ch.to_string(),
                line,
            });
            i += 1;
        }
    }
    toks
}

// ---------------------------------------------------------------------------------------
// Each rule can fail: the scanner on small trees in memory.

mod the_rules_can_fail {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> Source {
        Source::new(
            files
                .iter()
                .map(|(p, t)| (p.to_string(), t.to_string()))
                .collect(),
        )
    }

    const LIB_RS: &str = "pub mod check;\npub mod runtime;\npub mod server;\n\
                          pub use check::{check_source, Compiler};\n";

    #[test]
    fn runtime_using_the_checker() {
        let src = tree(&[
            ("src/lib.rs", LIB_RS),
            (
                "src/check/mod.rs",
                "pub struct Compiler;\npub fn check_source() {}\n",
            ),
            ("src/runtime/mod.rs", "pub mod engine;\npub mod deep;\n"),
            (
                "src/runtime/engine.rs",
                "//! Unlike `crate::check::Compiler`, this runs IR.\n\
                 const S: &str = \"crate::syntax::parse\";\n\
                 use crate::check::Compiler;\n",
            ),
            (
                "src/runtime/deep/mod.rs",
                "fn f() { super::super::check::check_source(); }\n\
                 fn g() { crate::check_source(); }\n\
                 #[cfg(test)]\nmod tests {\n    fn t() { crate::check_source(); }\n}\n",
            ),
        ]);
        assert_eq!(
            runtime_reaches_compiler(&src, false),
            [
                "src/runtime/deep/mod.rs:1: `super::super::check::check_source`",
                "src/runtime/deep/mod.rs:2: `crate::check_source`, \
                 which is `crate::check::check_source`",
                "src/runtime/engine.rs:3: `crate::check::Compiler`",
            ]
        );
        assert_eq!(runtime_reaches_compiler(&src, true).len(), 4);
    }

    #[test]
    fn server_naming_the_store_or_calling_it() {
        let src = tree(&[
            ("src/lib.rs", LIB_RS),
            (
                "src/server/api.rs",
                "// e.store() in a comment is fine\n\
                 use crate::runtime::sqlite::SqliteStore;\n\
                 fn h(e: &Engine) { e.store().ping(); }\n",
            ),
            (
                "src/server/sender.rs",
                "fn s(e: &Engine) { e.store().claim(); }\n",
            ),
            (
                "src/bin/journeyc/run.rs",
                "use journeyc::runtime::sqlite::SqliteStore;\n",
            ),
        ]);
        assert_eq!(
            server_names_concrete_store(&src),
            [
                "src/server/api.rs:2: `sqlite`",
                "src/server/api.rs:2: `SqliteStore`"
            ]
        );
        assert_eq!(server_calls_store(&src), ["src/server/api.rs:3: `.store(`"]);
    }

    #[test]
    fn rendering_outside_the_binary() {
        let src = tree(&[
            ("src/lib.rs", LIB_RS),
            (
                "src/diagnostic.rs",
                "impl miette::Diagnostic for Diagnostic {}\n",
            ),
            (
                "src/check/mod.rs",
                "use miette::{GraphicalReportHandler, Report};\n\
                 fn r() { let _ = miette::Report::new(x); }\n",
            ),
            (
                "src/bin/journeyc/render.rs",
                "use miette::GraphicalReportHandler;\nfn r(h: H) { h.render_report(); }\n",
            ),
        ]);
        assert_eq!(
            renders_outside_binary(&src),
            [
                "src/check/mod.rs:1: `GraphicalReportHandler`",
                "src/check/mod.rs:1: `miette::Report`",
                "src/check/mod.rs:2: `miette::Report::new`",
            ]
        );
    }

    #[test]
    fn a_cycle_between_files_and_between_modules() {
        let src = tree(&[
            ("src/lib.rs", LIB_RS),
            ("src/check/mod.rs", "mod a;\nmod b;\npub use a::A;\n"),
            ("src/check/a.rs", "use super::b::B;\npub struct A;\n"),
            ("src/check/b.rs", "pub struct B(crate::runtime::V);\n"),
            ("src/runtime/mod.rs", "pub struct V(crate::check::A);\n"),
        ]);
        let files = cycles(&file_graph(&src));
        assert_eq!(files.len(), 1, "{files:?}");
        assert!(
            files[0].starts_with(
                "cycle src/check/a.rs → src/check/b.rs → src/runtime/mod.rs → \
                 src/check/mod.rs → src/check/a.rs"
            ),
            "{}",
            files[0]
        );
        let modules = cycles(&top_level_graph(&src));
        assert_eq!(
            modules,
            ["cycle src/check/ → src/runtime/ → src/check/\n    \
              src/check/b.rs:1: src/check/ uses src/runtime/\n    \
              src/runtime/mod.rs:1: src/runtime/ uses src/check/"]
        );
    }

    #[test]
    fn containment_is_no_cycle() {
        let src = tree(&[
            ("src/lib.rs", "pub mod runtime;\n"),
            (
                "src/runtime/mod.rs",
                "pub mod engine;\n#[cfg(test)]\nmod tests;\n",
            ),
            (
                "src/runtime/engine.rs",
                "use super::Value;\nuse self::inner::X;\n",
            ),
            ("src/runtime/tests.rs", "use super::*;\n"),
        ]);
        assert_eq!(cycles(&file_graph(&src)), Vec::<String>::new());
    }

    #[test]
    fn paths_and_places() {
        assert_eq!(place("src/lib.rs"), (LIB.to_string(), vec![]));
        assert_eq!(
            place("src/runtime/mod.rs"),
            (LIB.to_string(), vec!["runtime".to_string()])
        );
        assert_eq!(
            place("src/bin/journeyc/run.rs"),
            (
                "src/bin/journeyc/main.rs".to_string(),
                vec!["run".to_string()]
            )
        );
        assert_eq!(top_level("src/runtime/web.rs"), "src/runtime/");
        assert_eq!(top_level("src/ir.rs"), "src/ir.rs");
        assert_eq!(top_level("src/bin/journeyc/run.rs"), "src/bin/journeyc/");
        let stripped = strip("a('x', '\\'', b\"q\", r#\"s\"#, 'life) // c\n/* d /* e */ */z");
        assert_eq!(
            tokenize(&stripped)
                .iter()
                .map(|t| t.text.as_str())
                .collect::<Vec<_>>(),
            ["a", "(", ",", ",", ",", ",", "'", "life", ")", "z"]
        );
    }
}
