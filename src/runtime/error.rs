//! Why a store call failed, by kind, so that callers answer from the kind: its own
//! file, so that the store and a change's completion (`durable`) both use it without
//! using each other.

/// Why the store failed; the engine reports it and the change did not happen.
#[derive(Clone, Debug)]
pub enum StoreError {
    /// The session changed since the revision this change was based on, so the change
    /// was not written: read the session again and redo the event on what is there.
    Conflict { session: String },
    /// A stored session does not fit what it should be (its row does not read, or its
    /// journey's version is missing): it cannot run, and is to be failed.
    Broken { session: String, problem: String },
    /// The event was for a state the session has left (a form from a page another
    /// event moved it on from): nothing was kept.
    Stale { session: String },
    /// What the event names does not exist: a journey, a starting link, a session, a
    /// number no journey answers. A server answers 404.
    NotFound(String),
    /// The journey's own rules refuse the event: `existing session reject` when the
    /// actor has an active session, or a session that has ended. A server answers 409.
    Rejected(String),
    /// The store cannot serve right now (the database is busy or unreachable, its
    /// disk is full, its writer has stopped); nothing was kept and trying again later
    /// may work. A server answers 503.
    Unavailable(String),
    /// Anything else: a fault, not the caller's doing. A server answers 500.
    Other(String),
}

impl StoreError {
    pub fn new(message: impl Into<String>) -> StoreError {
        StoreError::Other(message.into())
    }

    pub fn is_conflict(&self) -> bool {
        matches!(self, StoreError::Conflict { .. })
    }

    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Conflict { session } => write!(
                f,
                "session `{session}` was changed by another event at the same time"
            ),
            StoreError::Broken { session, problem } => {
                write!(f, "session `{session}` cannot run: {problem}")
            }
            StoreError::Stale { session } => {
                write!(f, "session `{session}` moved on before the event was kept")
            }
            StoreError::NotFound(message)
            | StoreError::Rejected(message)
            | StoreError::Unavailable(message)
            | StoreError::Other(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for StoreError {}

pub type Result<T> = std::result::Result<T, StoreError>;
