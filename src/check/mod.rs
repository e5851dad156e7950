//! Name resolution, type checking and flow analysis: syntax tree to typed IR.
//!
//! Checking never fails on user input: it returns the IR it could build plus the
//! diagnostics. It does no IO of its own; imports of other files go through a
//! `Loader` that the caller provides, and `std` modules are embedded.

mod actions;
mod calls;
mod claims;
mod constants;
mod cx;
mod exports;
mod expr;
mod flow;
mod items;
mod journey;
mod pages;
mod report;
mod scope;
mod test_blocks;
mod triggers;

use std::collections::HashMap;
use std::sync::Arc;

use crate::diagnostic::*;
use crate::ir;
use crate::syntax::{self, ast};
use exports::Exports;
use report::{seen_before, suggestion, twice};

/// A source file known to a compilation.
#[derive(Clone, Debug)]
pub struct SourceFile {
    pub id: FileId,
    /// The name shown to users: a path, or `std/NAME.journey`.
    pub name: String,
    pub text: Arc<str>,
}

/// Reads the files that `import "path"` names.
pub trait Loader {
    /// Resolves `path` relative to the importing file; returns a canonical name (equal
    /// names mean the same file) and the text, or a message saying why not.
    fn load(&self, importer: &str, path: &str) -> Result<(String, String), String>;
}

/// A loader for callers without a file system: every file import is an error.
pub struct NoFiles;

impl Loader for NoFiles {
    fn load(&self, _importer: &str, _path: &str) -> Result<(String, String), String> {
        Err("file imports are not available here".to_string())
    }
}

enum ModuleState {
    InProgress,
    Done(FileId),
}

/// One compilation: the files read so far, their IR and their diagnostics.
pub struct Compiler<L: Loader> {
    loader: L,
    files: Vec<SourceFile>,
    modules: HashMap<String, ModuleState>,
    exports: HashMap<FileId, Arc<Exports>>,
    outputs: Vec<(FileId, ir::Module)>,
    diagnostics: Vec<Diagnostic>,
    /// Files parsed ahead of checking, by name.
    parsed: HashMap<String, (ast::File, Vec<Diagnostic>)>,
    /// What each checked file's journeys claim, until the file is known to be a root.
    unclaimed: HashMap<FileId, Vec<claims::Claim>>,
    /// What the root files' journeys claim: their journeys are served together.
    claims: claims::Claims,
}

impl<L: Loader> Compiler<L> {
    pub fn new(loader: L) -> Self {
        Compiler {
            loader,
            files: Vec::new(),
            modules: HashMap::new(),
            exports: HashMap::new(),
            outputs: Vec::new(),
            diagnostics: Vec::new(),
            parsed: HashMap::new(),
            unclaimed: HashMap::new(),
            claims: claims::Claims::default(),
        }
    }

    /// Checks one root file (and what it imports), unless it was already checked as an
    /// import. `name` should be canonical, as the loader's names are. The journeys of
    /// every root file are served together, so they must not claim the same names,
    /// links or numbers.
    pub fn check_file(&mut self, name: &str, text: &str) -> FileId {
        let id = match self.modules.get(name) {
            Some(ModuleState::Done(id)) => *id,
            _ => self.check_module(name.to_string(), text.to_string()),
        };
        if let Some(claims) = self.unclaimed.remove(&id) {
            let diags = self.claims.add(id, claims);
            self.diagnostics.extend(diags);
        }
        id
    }

    /// `check_file` with the file already parsed, as `syntax::parse` parses it (the
    /// language server parses in pieces, reusing what an edit left alone).
    pub fn check_parsed(
        &mut self,
        name: &str,
        text: &str,
        parsed: (ast::File, Vec<Diagnostic>),
    ) -> FileId {
        if !self.modules.contains_key(name) {
            self.parsed.insert(name.to_string(), parsed);
        }
        self.check_file(name, text)
    }

    /// Records a file whose bytes are not UTF-8 text: one diagnostic at the first byte
    /// that is not, in the text read as well as it can be (each such byte shown as
    /// U+FFFD); nothing else of it is checked, since its text is not what was written.
    pub fn not_utf8(&mut self, name: &str, bytes: &[u8]) -> FileId {
        let valid = std::str::from_utf8(bytes)
            .err()
            .map_or(bytes.len(), |e| e.valid_up_to());
        let text = String::from_utf8_lossy(bytes).into_owned();
        let end = valid + text[valid..].chars().next().map_or(0, char::len_utf8);
        let id = FileId(self.files.len() as u32);
        self.files.push(SourceFile {
            id,
            name: name.to_string(),
            text: Arc::from(text.as_str()),
        });
        self.modules.insert(name.to_string(), ModuleState::Done(id));
        let d = Diagnostic::new(
            NOT_UTF8,
            id,
            Span::new(valid, end),
            "this file is not UTF-8 text",
            format!("byte {valid} is not UTF-8"),
        )
        .with_help("save the file as UTF-8 (in most editors: Save with Encoding, UTF-8); journeys are read as UTF-8 only");
        self.diagnostics.push(d);
        id
    }

    /// Checks several files, parsing them in parallel first. Returns their ids in order.
    pub fn check_files(&mut self, files: &[(String, String)]) -> Vec<FileId> {
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(files.len().max(1));
        let todo: Vec<&(String, String)> = files
            .iter()
            .filter(|(name, _)| !self.modules.contains_key(name))
            .collect();
        let chunk = todo.len().div_ceil(threads).max(1);
        let parsed: Vec<(String, (ast::File, Vec<Diagnostic>))> = std::thread::scope(|scope| {
            let handles: Vec<_> = todo
                .chunks(chunk)
                .map(|part| {
                    scope.spawn(move || {
                        part.iter()
                            .map(|(name, text)| (name.clone(), syntax::parse(FileId(0), text)))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect()
        });
        self.parsed.extend(parsed);
        files
            .iter()
            .map(|(name, text)| self.check_file(name, text))
            .collect()
    }

    pub fn files(&self) -> &[SourceFile] {
        &self.files
    }

    pub fn file(&self, id: FileId) -> &SourceFile {
        &self.files[id.0 as usize]
    }

    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics
    }

    /// The IR of every file checked, in the order they finished.
    pub fn modules(&self) -> impl Iterator<Item = (FileId, &ir::Module)> {
        self.outputs.iter().map(|(id, m)| (*id, m))
    }

    pub fn into_parts(self) -> (Vec<SourceFile>, Vec<(FileId, ir::Module)>, Vec<Diagnostic>) {
        (self.files, self.outputs, self.diagnostics)
    }

    fn check_module(&mut self, name: String, text: String) -> FileId {
        let id = FileId(self.files.len() as u32);
        self.files.push(SourceFile {
            id,
            name: name.clone(),
            text: Arc::from(text.as_str()),
        });
        self.modules.insert(name.clone(), ModuleState::InProgress);
        let (tree, mut diags) = match self.parsed.remove(&name) {
            Some((tree, mut diags)) => {
                diags.iter_mut().for_each(|d| d.file = id);
                (tree, diags)
            }
            None => syntax::parse(id, &text),
        };
        let imports = self.imports(id, &name, &tree, &mut diags);
        self.unclaimed.insert(id, claims::of_file(&tree));
        // Checking recurses over the tree, like parsing; give it the same large stack.
        let (module, exports) = std::thread::scope(|scope| {
            std::thread::Builder::new()
                .name("journeyc-check".into())
                .stack_size(syntax::PARSE_STACK_BYTES)
                .spawn_scoped(scope, || {
                    journey::check_module(id, &name, &tree, &imports, &mut diags)
                })
                .expect("a checker thread can be started")
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        });
        self.exports.insert(id, Arc::new(exports));
        diags.sort_by_key(|d| (d.primary.span.start, d.primary.span.end));
        self.diagnostics.extend(diags);
        self.outputs.push((id, module));
        self.modules.insert(name, ModuleState::Done(id));
        id
    }

    /// Loads each import of a file and returns its exports by the name code uses for it.
    fn imports(
        &mut self,
        file: FileId,
        importer: &str,
        tree: &ast::File,
        diags: &mut Vec<Diagnostic>,
    ) -> HashMap<String, Arc<Exports>> {
        let mut out: HashMap<String, Arc<Exports>> = HashMap::new();
        let mut seen: HashMap<String, Span> = HashMap::new();
        for item in &tree.items {
            let ast::Item::Import(import) = item else {
                continue;
            };
            let (key, loaded) = match &import.target {
                ast::ImportTarget::Module(path) => {
                    let dotted = path
                        .iter()
                        .map(|i| i.name.as_str())
                        .collect::<Vec<_>>()
                        .join(".");
                    let span = path[0].span.to(path[path.len() - 1].span);
                    let loaded: Result<(String, String), ()> = match crate::stdlib::module(&dotted)
                    {
                        Some(text) => {
                            Ok((format!("<std>/{}.journey", &dotted[4..]), text.to_string()))
                        }
                        None => {
                            let names: Vec<String> = crate::stdlib::MODULES
                                .iter()
                                .map(|(n, _)| format!("std.{n}"))
                                .collect();
                            let guess = did_you_mean(&dotted, names.iter().map(String::as_str));
                            let help = suggestion(guess).unwrap_or_else(|| format!("the standard modules are {}; to import a file, write its path in quotes", names.join(", ")));
                            let d = Diagnostic::new(
                                UNKNOWN_IMPORT,
                                file,
                                span,
                                format!("unknown module `{dotted}`"),
                                "no such module",
                            )
                            .with_help(help);
                            diags.push(d);
                            let key = import.alias.as_ref().map_or(dotted, |a| a.name.clone());
                            out.insert(key, Arc::new(Exports::failed()));
                            continue;
                        }
                    };
                    (
                        import
                            .alias
                            .as_ref()
                            .map(|a| a.name.clone())
                            .unwrap_or(dotted),
                        loaded.expect("std modules are embedded"),
                    )
                }
                ast::ImportTarget::File(path) => {
                    let stem = path
                        .value
                        .rsplit('/')
                        .next()
                        .unwrap_or("")
                        .trim_end_matches(".journey")
                        .to_string();
                    let key = import
                        .alias
                        .as_ref()
                        .map(|a| a.name.clone())
                        .unwrap_or(stem);
                    match self.loader.load(importer, &path.value) {
                        Ok(loaded) => (key, loaded),
                        Err(why) => {
                            let d = Diagnostic::new(UNKNOWN_IMPORT, file, path.span, format!("cannot import `{}`", path.value), why)
                                .with_help("paths are relative to the importing file, e.g. `import \"shared/calendars.journey\" as cal`");
                            diags.push(d);
                            out.insert(key, Arc::new(Exports::failed()));
                            continue;
                        }
                    }
                }
            };
            if let Some(first) = seen_before(&mut seen, key.clone(), import.span) {
                let d = twice(
                    file,
                    format!("`{key}` is imported twice"),
                    (import.span, "imported again here"),
                    (first, "first imported here"),
                    "remove one of the imports, or give one a different name with `as`",
                );
                diags.push(d);
                continue;
            }
            let (canonical, text) = loaded;
            let exports = match self.modules.get(&canonical) {
                Some(ModuleState::Done(id)) => self.exports[id].clone(),
                Some(ModuleState::InProgress) => {
                    let d = Diagnostic::new(
                        UNKNOWN_IMPORT,
                        file,
                        import.span,
                        format!("import cycle through `{canonical}`"),
                        "this import leads back to a file being checked",
                    )
                    .with_help(
                        "move what both files need into a third file that neither imports back",
                    );
                    diags.push(d);
                    out.insert(key, Arc::new(Exports::failed()));
                    continue;
                }
                None => {
                    let id = self.check_module(canonical, text);
                    self.exports[&id].clone()
                }
            };
            out.insert(key, exports);
        }
        out
    }
}

/// Checks one self-contained source (it may import `std`, not other files).
pub fn check_source(
    name: &str,
    text: &str,
) -> (Vec<SourceFile>, Vec<(FileId, ir::Module)>, Vec<Diagnostic>) {
    let mut c = Compiler::new(NoFiles);
    c.check_file(name, text);
    c.into_parts()
}
