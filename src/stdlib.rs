//! The standard library, written in the language itself and embedded in the binary.

/// Each `std` module: its name after `std.` and its source.
pub const MODULES: &[(&str, &str)] = &[
    ("calendars", include_str!("../std/calendars.journey")),
    (
        "notifications",
        include_str!("../std/notifications.journey"),
    ),
];

/// The source of `std.NAME`, given the full dotted name.
pub fn module(dotted: &str) -> Option<&'static str> {
    let name = dotted.strip_prefix("std.")?;
    MODULES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, text)| *text)
}
