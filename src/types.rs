//! The expression language's types and its function library's signatures, shared by
//! the checker (which types calls) and the runtime (which evaluates them).

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Type {
    Text,
    Number,
    Boolean,
    Phone,
    Email,
    Date,
    DateTime,
    Duration,
    List,
    Object,
    /// The type of `null` alone.
    Null,
    /// Unknown because of an earlier error, or any type where a function allows it;
    /// fits everywhere so one mistake is reported once.
    Any,
}

impl Type {
    pub const NAMED: [Type; 10] = [
        Type::Text,
        Type::Number,
        Type::Boolean,
        Type::Phone,
        Type::Email,
        Type::Date,
        Type::DateTime,
        Type::Duration,
        Type::List,
        Type::Object,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Type::Text => "Text",
            Type::Number => "Number",
            Type::Boolean => "Boolean",
            Type::Phone => "Phone",
            Type::Email => "Email",
            Type::Date => "Date",
            Type::DateTime => "DateTime",
            Type::Duration => "Duration",
            Type::List => "List",
            Type::Object => "Object",
            Type::Null => "Null",
            Type::Any => "Any",
        }
    }

    pub fn from_name(name: &str) -> Option<Type> {
        Type::NAMED.into_iter().find(|t| t.name() == name)
    }

    /// Whether a value of type `from` may be stored where `self` is expected.
    /// Phone and Email are Text with a guarantee, so they widen to Text; Text never
    /// narrows to Phone or Email implicitly (use `PHONE(...)`).
    pub fn accepts(self, from: Type) -> bool {
        self == from
            || matches!(self, Type::Any)
            || matches!(from, Type::Any | Type::Null)
            || (self == Type::Text && matches!(from, Type::Phone | Type::Email))
    }
}

impl std::fmt::Display for Type {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The built-in functions. The checker types them from `signature`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Func {
    Uppercase,
    Lowercase,
    Trim,
    Length,
    Contains,
    If,
    Isempty,
    Isphone,
    Isemail,
    FormatPhone,
    Phone,
    Number,
    Now,
    Today,
    AddToDatetime,
    FormatDatetime,
    ToDate,
    AtTime,
}

/// One parameter: the types it accepts.
#[derive(Clone, Copy, Debug)]
pub struct Param {
    pub name: &'static str,
    pub accepts: &'static [Type],
}

pub struct Signature {
    pub params: &'static [Param],
    /// How many trailing parameters may be left out.
    pub optional: usize,
    pub returns: Returns,
    pub doc: &'static str,
}

/// A return type, fixed or taken from an argument (as `IF` does).
#[derive(Clone, Copy, Debug)]
pub enum Returns {
    Fixed(Type),
    SameAsArg(usize),
}

const TEXT: &[Type] = &[Type::Text];
const ANY: &[Type] = &[Type::Any];

impl Func {
    pub const ALL: [Func; 18] = [
        Func::Uppercase,
        Func::Lowercase,
        Func::Trim,
        Func::Length,
        Func::Contains,
        Func::If,
        Func::Isempty,
        Func::Isphone,
        Func::Isemail,
        Func::FormatPhone,
        Func::Phone,
        Func::Number,
        Func::Now,
        Func::Today,
        Func::AddToDatetime,
        Func::FormatDatetime,
        Func::ToDate,
        Func::AtTime,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Func::Uppercase => "UPPERCASE",
            Func::Lowercase => "LOWERCASE",
            Func::Trim => "TRIM",
            Func::Length => "LENGTH",
            Func::Contains => "CONTAINS",
            Func::If => "IF",
            Func::Isempty => "ISEMPTY",
            Func::Isphone => "ISPHONE",
            Func::Isemail => "ISEMAIL",
            Func::FormatPhone => "FORMAT_PHONE",
            Func::Phone => "PHONE",
            Func::Number => "NUMBER",
            Func::Now => "NOW",
            Func::Today => "TODAY",
            Func::AddToDatetime => "ADD_TO_DATETIME",
            Func::FormatDatetime => "FORMAT_DATETIME",
            Func::ToDate => "TO_DATE",
            Func::AtTime => "AT_TIME",
        }
    }

    /// Function names are matched case-insensitively, as in Airscript.
    pub fn from_name(name: &str) -> Option<Func> {
        Func::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(name))
    }

    pub fn signature(self) -> Signature {
        macro_rules! p {
            ($name:literal, $accepts:expr) => {
                Param {
                    name: $name,
                    accepts: $accepts,
                }
            };
        }
        let (params, optional, returns, doc): (&'static [Param], usize, Returns, &'static str) =
            match self {
                Func::Uppercase => (
                    &[p!("text", TEXT)],
                    0,
                    Returns::Fixed(Type::Text),
                    "the text in upper case",
                ),
                Func::Lowercase => (
                    &[p!("text", TEXT)],
                    0,
                    Returns::Fixed(Type::Text),
                    "the text in lower case",
                ),
                Func::Trim => (
                    &[p!("text", TEXT)],
                    0,
                    Returns::Fixed(Type::Text),
                    "the text without leading and trailing white space",
                ),
                Func::Length => (
                    &[p!("value", &[Type::Text, Type::List])],
                    0,
                    Returns::Fixed(Type::Number),
                    "characters in a text, or items in a list",
                ),
                Func::Contains => (
                    &[p!("haystack", &[Type::Text, Type::List]), p!("needle", ANY)],
                    0,
                    Returns::Fixed(Type::Boolean),
                    "whether a text contains a text, or a list an item",
                ),
                Func::If => (
                    &[
                        p!("condition", &[Type::Boolean]),
                        p!("then", ANY),
                        p!("otherwise", ANY),
                    ],
                    0,
                    Returns::SameAsArg(1),
                    "`then` when the condition is true, else `otherwise`",
                ),
                Func::Isempty => (
                    &[p!("value", ANY)],
                    0,
                    Returns::Fixed(Type::Boolean),
                    "whether a value is null, empty text or an empty list",
                ),
                Func::Isphone => (
                    &[p!("text", TEXT)],
                    0,
                    Returns::Fixed(Type::Boolean),
                    "whether a text is a valid phone number",
                ),
                Func::Isemail => (
                    &[p!("text", TEXT)],
                    0,
                    Returns::Fixed(Type::Boolean),
                    "whether a text is a valid email address",
                ),
                Func::FormatPhone => (
                    &[p!("phone", &[Type::Phone])],
                    0,
                    Returns::Fixed(Type::Text),
                    "a phone number formatted for people to read",
                ),
                Func::Phone => (
                    &[p!("text", TEXT)],
                    0,
                    Returns::Fixed(Type::Phone),
                    "a text parsed as a phone number (E.164), or null",
                ),
                Func::Number => (
                    &[p!("text", TEXT)],
                    0,
                    Returns::Fixed(Type::Number),
                    "a text read as a number (`3`, ` 4.5 `, `1,200`), or null when it is not one",
                ),
                Func::Now => (
                    &[],
                    0,
                    Returns::Fixed(Type::DateTime),
                    "the current instant",
                ),
                Func::Today => (
                    &[p!("time_zone", TEXT)],
                    1,
                    Returns::Fixed(Type::Date),
                    "today's date, in a time zone (default UTC)",
                ),
                Func::AddToDatetime => (
                    &[
                        p!("datetime", &[Type::DateTime]),
                        p!("duration", &[Type::Duration]),
                    ],
                    0,
                    Returns::Fixed(Type::DateTime),
                    "an instant moved by a duration",
                ),
                Func::FormatDatetime => (
                    &[
                        p!("datetime", &[Type::DateTime]),
                        p!("format", TEXT),
                        p!("time_zone", TEXT),
                    ],
                    1,
                    Returns::Fixed(Type::Text),
                    "an instant formatted with a strftime pattern, in a time zone (default UTC)",
                ),
                Func::ToDate => (
                    &[p!("datetime", &[Type::DateTime]), p!("time_zone", TEXT)],
                    1,
                    Returns::Fixed(Type::Date),
                    "the calendar date of an instant in a time zone",
                ),
                Func::AtTime => (
                    &[
                        p!("date", &[Type::Date]),
                        p!("time", TEXT),
                        p!("time_zone", TEXT),
                    ],
                    0,
                    Returns::Fixed(Type::DateTime),
                    "the instant a date reaches a local time (`\"09:00\"`) in a time zone",
                ),
            };
        Signature {
            params,
            optional,
            returns,
            doc,
        }
    }
}

/// The actor's built-in fields and their types.
pub const ACTOR_FIELDS: &[(&str, Type)] = &[
    ("phone", Type::Phone),
    ("email", Type::Email),
    ("first_name", Type::Text),
    ("last_name", Type::Text),
    ("time_zone", Type::Text),
];

/// The session's read-only fields and their types.
pub const SESSION_FIELDS: &[(&str, Type)] = &[
    ("id", Type::Text),
    ("started_at", Type::DateTime),
    ("trigger", Type::Text),
    ("message", Type::Text),
    ("from", Type::Phone),
];
