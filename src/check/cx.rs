//! The checker's context for one file (`Cx`): where diagnostics go, what the file
//! imports and what it defines so far. Each concern adds its methods in its own file.

use std::collections::HashMap;
use std::sync::Arc;

use super::exports::Exports;
use crate::diagnostic::{Diagnostic, FileId};

/// State shared by everything checked in one file.
pub(super) struct Cx<'a> {
    pub file: FileId,
    pub diags: &'a mut Vec<Diagnostic>,
    pub imports: &'a HashMap<String, Arc<Exports>>,
    /// What this file defines so far, which its journeys may use.
    pub local: Exports,
}
