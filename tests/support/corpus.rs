//! The project's own journey files, as tests read them: the folders, the files with
//! their texts, and a `Loader` that reads imports beside the importing file.

use std::path::{Path, PathBuf};

use journeyc::Loader;

pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Reads imports beside the importing file.
pub struct Files;

impl Loader for Files {
    fn load(&self, importer: &str, path: &str) -> Result<(String, String), String> {
        let full = Path::new(importer).parent().unwrap().join(path);
        let text = std::fs::read_to_string(&full).map_err(|e| e.to_string())?;
        Ok((full.display().to_string(), text))
    }
}

/// Every `.journey` file of `examples/`, `std/` and `tests/ui/` that reads as UTF-8,
/// with its text, by path.
pub fn journey_files() -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    for dir in ["examples", "std", "tests/ui"] {
        for entry in std::fs::read_dir(root().join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "journey") {
                continue;
            }
            if let Ok(text) = std::fs::read_to_string(&path) {
                out.push((path, text));
            }
        }
    }
    out.sort();
    out
}
