//! journeyc: the journey language's compiler and runtime cores.
//!
//! The compiler (`syntax`, `check`) is pure: no file system, no clock, no printing.
//! The runtime does IO only through its `Store` and reads time only from a `Clock`.
//! See ARCHITECTURE.md for the phases and their invariants.

pub mod check;
pub mod coverage;
pub mod diagnostic;
pub mod format;
pub mod graph;
pub mod ir;
pub mod literals;
pub mod runtime;
pub mod server;
pub mod stdlib;
pub mod syntax;
pub mod tester;
pub mod types;

pub use check::{check_source, Compiler, Loader, NoFiles, SourceFile};
pub use diagnostic::{Diagnostic, FileId, Severity, Span};
