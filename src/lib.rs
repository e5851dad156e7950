//! journeyc: the journey language's compiler core.
//!
//! Pure: no file system, no clock, no printing. The binary and the server do IO
//! around it. See ARCHITECTURE.md for the phases and their invariants.

pub mod check;
pub mod diagnostic;
pub mod ir;
pub mod runtime;
pub mod stdlib;
pub mod syntax;
pub mod types;

pub use check::{check_source, Compiler, Loader, NoFiles, SourceFile};
pub use diagnostic::{Diagnostic, FileId, Severity, Span};
