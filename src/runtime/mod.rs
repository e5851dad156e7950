//! The runtime core: what executes the typed IR. Values and expression evaluation, the
//! interpreter, sessions, the engine and its store, timers and the outbox, and the web
//! flow as an API for every front end.
//!
//! Only the store does IO, and time comes from a `Clock`; expressions see a session
//! through `Env`.

pub mod calendar;
pub mod clock;
pub mod durable;
pub mod engine;
pub mod error;
pub mod eval;
pub mod input;
pub mod interp;
pub mod lanes;
pub mod links;
pub mod pending;
pub mod postgres;
pub mod probe;
pub mod queries;
pub mod rules;
pub mod scheduler;
pub mod session;
pub mod sqlite;
pub mod store;
pub mod time;
pub mod value;
pub mod versions;
pub mod wakeup;
pub mod web;

pub use eval::{eval, Env, EvalError};
pub use value::Value;
