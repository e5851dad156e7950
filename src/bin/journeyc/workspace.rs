//! The workspace folders an editor names when it starts `journeyc lsp`, and the
//! `.journey` files in them that import a file: where references and rename look for a
//! name's uses beyond the open documents. Open documents are read as the editor has
//! them, every other file from the disk, when asked: nothing is watched or kept.

use std::path::{Path, PathBuf};

use journeyc::syntax::{self, ast};
use journeyc::FileId;
use serde_json::Value;

use crate::files;

/// The folders of the workspace.
#[derive(Default)]
pub struct Workspace {
    roots: Vec<PathBuf>,
}

/// A file a name of another may be used in, with its text and the name it imports that
/// file under, if it does.
pub struct User {
    pub path: PathBuf,
    pub text: String,
    pub alias: Option<String>,
}

/// A `file://` URI's path, as the language server reads its documents' URIs.
pub fn path_of(uri: &str) -> PathBuf {
    PathBuf::from(uri.strip_prefix("file://").unwrap_or(uri))
}

/// A path made canonical where it exists, so that two names of one file compare equal.
pub fn canonical(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
}

impl Workspace {
    /// The folders of `initialize`'s parameters: `workspaceFolders`, else `rootUri`,
    /// else `rootPath`.
    pub fn from_initialize(params: &Value) -> Workspace {
        let mut roots: Vec<PathBuf> = params["workspaceFolders"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f["uri"].as_str())
            .map(path_of)
            .collect();
        if roots.is_empty() {
            roots.extend(
                params["rootUri"]
                    .as_str()
                    .map(path_of)
                    .or_else(|| params["rootPath"].as_str().map(PathBuf::from)),
            );
        }
        Workspace {
            roots: roots.iter().map(|r| canonical(r)).collect(),
        }
    }

    /// `file`, the files it imports, and the workspace's files that import it, each
    /// once: the files its names and the names it uses from others can stand in. `open`
    /// gives an open document's text by canonical path; other files are read from the
    /// disk.
    pub fn family(&self, file: &Path, open: &dyn Fn(&Path) -> Option<String>) -> Vec<User> {
        let file = canonical(file);
        let read = |p: &Path| open(p).or_else(|| std::fs::read_to_string(p).ok());
        let mut out: Vec<User> = Vec::new();
        let add = |out: &mut Vec<User>, path: PathBuf, text: String| {
            if !out.iter().any(|u| u.path == path) {
                let alias = alias_of(&path, &text, &file);
                out.push(User { path, text, alias });
            }
        };
        let Some(text) = read(&file) else {
            return out;
        };
        let (tree, _) = syntax::parse(FileId(0), &text);
        for imported in file_imports(&file, &tree) {
            if let Some(t) = read(&imported.0) {
                add(&mut out, imported.0, t);
            }
        }
        add(&mut out, file.clone(), text);
        let mut found = Vec::new();
        for root in &self.roots {
            // A folder that cannot be listed in part still gives what was listed.
            let _ = files::walk(root, &mut found);
        }
        found.sort();
        for path in found {
            let path = canonical(&path);
            let Some(text) = read(&path) else {
                continue;
            };
            if alias_of(&path, &text, &file).is_some() {
                add(&mut out, path, text);
            }
        }
        out
    }
}

/// The files `tree` (of the file at `path`) imports, canonical, each with the name code
/// uses for it: its `as`, else its file name without `.journey`.
pub fn file_imports(path: &Path, tree: &ast::File) -> Vec<(PathBuf, String)> {
    let base = path.parent().unwrap_or(Path::new(""));
    tree.items
        .iter()
        .filter_map(|i| match i {
            ast::Item::Import(ast::Import {
                target: ast::ImportTarget::File(p),
                alias,
                ..
            }) => {
                let stem = p.value.rsplit('/').next()?.trim_end_matches(".journey");
                let name = alias.as_ref().map_or(stem, |a| a.name.as_str());
                Some((canonical(&base.join(&p.value)), name.to_string()))
            }
            _ => None,
        })
        .collect()
}

/// The name `text` (the file at `path`) imports `file` under, if it imports it.
pub fn alias_of(path: &Path, text: &str, file: &Path) -> Option<String> {
    // Most files name no such file: they are not parsed.
    let name = file.file_name()?.to_str()?;
    if !text.contains(name) {
        return None;
    }
    file_imports(path, &syntax::parse(FileId(0), text).0)
        .into_iter()
        .find(|(p, _)| p == file)
        .map(|(_, alias)| alias)
}
