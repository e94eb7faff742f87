//! Errors a user can cause. Each says what was wrong in words a person can act on;
//! an operation that fails changes nothing.

use std::fmt;

/// Why a command or a setting was refused.
#[derive(Clone, Debug, PartialEq)]
pub enum Error {
    /// A node id outside `1..=nodes`.
    UnknownNode {
        /// The id given.
        id: i64,
        /// How many nodes the cluster has.
        nodes: u32,
    },
    /// A key with no characters.
    EmptyKey,
    /// A key longer than [`crate::ids::MAX_KEY_CHARS`].
    KeyTooLong {
        /// Its length in characters.
        chars: usize,
    },
    /// A value longer than [`crate::ids::MAX_VALUE_CHARS`].
    ValueTooLong {
        /// Its length in characters.
        chars: usize,
    },
    /// A setting outside its allowed range or of the wrong form.
    InvalidSetting {
        /// The setting's name as the README documents it.
        name: &'static str,
        /// What was wrong.
        problem: String,
    },
    /// A command whose arguments do not fit together (e.g. a link from a node to itself).
    InvalidCommand(String),
    /// A saved session (a file, a link) that cannot be loaded; nothing was changed.
    InvalidSession(String),
    /// A place in time that a run cannot go to.
    InvalidTime(String),
    /// A run that a session cannot hold (too long, or its early history forgotten).
    CannotSave(String),
    /// A lesson file that cannot be used.
    InvalidLesson(String),
}

impl Error {
    pub(crate) fn setting(name: &'static str, problem: impl Into<String>) -> Error {
        Error::InvalidSetting {
            name,
            problem: problem.into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::UnknownNode { id, nodes } => {
                write!(f, "there is no node {id}: nodes are numbered 1 to {nodes}")
            }
            Error::EmptyKey => write!(f, "the key is empty: give a key of at least one character"),
            Error::KeyTooLong { chars } => write!(
                f,
                "the key has {chars} characters: keys may have at most {}",
                crate::ids::MAX_KEY_CHARS
            ),
            Error::ValueTooLong { chars } => write!(
                f,
                "the value has {chars} characters: values may have at most {}",
                crate::ids::MAX_VALUE_CHARS
            ),
            Error::InvalidSetting { name, problem } => write!(f, "setting {name}: {problem}"),
            Error::InvalidCommand(problem) => f.write_str(problem),
            Error::InvalidSession(problem) => {
                write!(f, "this session cannot be loaded: {problem}")
            }
            Error::InvalidTime(problem) => f.write_str(problem),
            Error::CannotSave(problem) => write!(f, "this run cannot be saved: {problem}"),
            Error::InvalidLesson(problem) => write!(f, "this lesson cannot be used: {problem}"),
        }
    }
}

impl std::error::Error for Error {}

/// The longest message [`humane`] lets through, in characters.
pub const MAX_MESSAGE_CHARS: usize = 400;

/// A message as a person should read it, whatever it quotes: Rust's type names in words
/// ("expected u32" says "expected a whole number from 0"), quoted text longer than 40
/// characters and numbers of more than 20 digits shortened (a 100 KB key, 1e300 written out),
/// and the whole at most [`MAX_MESSAGE_CHARS`] characters. For messages that cross to the page.
pub fn humane(message: &str) -> String {
    const WORDS: [(&str, &str); 12] = [
        ("expected f64", "expected a number"),
        ("expected f32", "expected a number"),
        ("expected u64", "expected a whole number from 0"),
        ("expected u32", "expected a whole number from 0"),
        ("expected u16", "expected a whole number from 0"),
        ("expected u8", "expected a whole number from 0"),
        ("expected usize", "expected a whole number from 0"),
        ("expected i64", "expected a whole number"),
        ("expected i32", "expected a whole number"),
        ("expected a sequence", "expected a list"),
        ("expected a map", "expected an object"),
        ("expected a boolean", "expected true or false"),
    ];
    let mut text = shorten(message);
    for (jargon, words) in WORDS {
        text = text.replace(jargon, words);
    }
    if let Some(at) = text.find("data did not match any variant of untagged enum") {
        let end = text[at..].find([',', ';']).map_or(text.len(), |e| at + e);
        text.replace_range(at..end, "it has the wrong form");
    }
    while let Some(at) = text.find("expected struct ") {
        let rest = &text[at + "expected struct ".len()..];
        let name = rest
            .find(|c: char| !c.is_alphanumeric() && c != '_')
            .unwrap_or(rest.len());
        let end = at + "expected struct ".len() + name;
        text.replace_range(at..end, "expected an object");
    }
    if text.chars().count() > MAX_MESSAGE_CHARS {
        text = text.chars().take(MAX_MESSAGE_CHARS - 1).collect();
        text.push('…');
    }
    text
}

/// Shortens quoted text (between `"` or `` ` ``) to 40 characters and numbers to 20 digits.
fn shorten(message: &str) -> String {
    let chars: Vec<char> = message.chars().collect();
    let mut out = String::with_capacity(message.len().min(4 * MAX_MESSAGE_CHARS));
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '"' || c == '`' {
            if let Some(len) = chars[i + 1..].iter().position(|d| *d == c) {
                let inner = &chars[i + 1..i + 1 + len];
                out.push(c);
                out.extend(inner.iter().take(40));
                if inner.len() > 40 {
                    out.push('…');
                }
                out.push(c);
                i += len + 2;
                continue;
            }
        } else if c.is_ascii_digit() {
            let len = chars[i..]
                .iter()
                .position(|d| !(d.is_ascii_digit() || *d == '.'))
                .unwrap_or(chars.len() - i);
            let digits: String = chars[i..i + len].iter().collect();
            match digits.trim_end_matches('.').parse::<f64>() {
                Ok(x) if len > 20 => out.push_str(&format!("{x:e}")),
                _ => out.push_str(&digits),
            }
            i += len;
            continue;
        }
        out.push(c);
        i += 1;
    }
    out
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    #[test]
    fn messages_say_types_in_words() {
        assert_eq!(
            humane("settings.loss: invalid type: string \"abc\", expected f64"),
            "settings.loss: invalid type: string \"abc\", expected a number"
        );
        assert_eq!(
            humane("options.w: invalid value: integer `-1`, expected u32"),
            "options.w: invalid value: integer `-1`, expected a whole number from 0"
        );
        assert_eq!(
            humane("link: invalid type: sequence, expected struct LinkOverride"),
            "link: invalid type: sequence, expected an object"
        );
        assert_eq!(
            humane("data did not match any variant of untagged enum Bound"),
            "it has the wrong form"
        );
        assert_eq!(humane("a plain message"), "a plain message");
    }

    #[test]
    fn long_quotes_and_numbers_are_shortened_and_the_whole_is_bounded() {
        let key = "k".repeat(100_000);
        let said = humane(&format!(
            "there is no event kind \"{key}\": kinds are write, read"
        ));
        assert_eq!(
            said,
            format!(
                "there is no event kind \"{}…\": kinds are write, read",
                "k".repeat(40)
            )
        );
        let big = format!("1{}", "0".repeat(300));
        assert_eq!(
            humane(&format!("{big} is out of range: give 0 to 10")),
            "1e300 is out of range: give 0 to 10"
        );
        assert_eq!(
            humane("seed 12345678901234567890"),
            "seed 12345678901234567890"
        );
        assert_eq!(
            humane("1.5 is not a whole number"),
            "1.5 is not a whole number"
        );
        let long = humane(&"word ".repeat(1_000));
        assert_eq!(long.chars().count(), MAX_MESSAGE_CHARS);
        assert!(long.ends_with('…'));
        // An unmatched quote is left as it is.
        assert_eq!(humane("it said \"oops"), "it said \"oops");
    }
}
