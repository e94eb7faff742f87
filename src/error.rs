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
    /// A key longer than [`crate::MAX_KEY_CHARS`].
    KeyTooLong {
        /// Its length in characters.
        chars: usize,
    },
    /// A value longer than [`crate::MAX_VALUE_CHARS`].
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
                crate::MAX_KEY_CHARS
            ),
            Error::ValueTooLong { chars } => write!(
                f,
                "the value has {chars} characters: values may have at most {}",
                crate::MAX_VALUE_CHARS
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
