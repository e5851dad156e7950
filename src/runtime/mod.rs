//! The runtime core: what executes the typed IR. This module starts with values and
//! expression evaluation; sessions, the store, timers and the outbox build on them.
//!
//! Like the checker, it does no IO of its own: the time and the session's state come
//! in through `Env`.

pub mod calendar;
pub mod clock;
pub mod durable;
pub mod engine;
pub mod eval;
pub mod input;
pub mod interp;
pub mod lanes;
pub mod links;
pub mod pending;
pub mod queries;
pub mod rules;
pub mod scheduler;
pub mod session;
pub mod sqlite;
pub mod store;
pub mod time;
pub mod value;
pub mod versions;
pub mod web;

pub use eval::{eval, Env, EvalError};
pub use value::Value;
