//! What an imported module offers to the files that import it.

use std::collections::HashMap;

use crate::ir;

/// What an imported module offers to the files that import it.
#[derive(Clone, Debug, Default)]
pub(crate) struct Exports {
    pub calendars: HashMap<String, ir::Calendar>,
    /// With whether the notification contains a journey link.
    pub notifications: HashMap<String, (ir::Notification, bool)>,
    /// Its journeys, which the importing file's tests run with.
    pub journeys: Vec<ir::Journey>,
    /// The import itself failed and was reported; uses of it report nothing more.
    pub failed: bool,
}

impl Exports {
    pub(super) fn failed() -> Exports {
        Exports {
            failed: true,
            ..Exports::default()
        }
    }
}
