//! What is wrong with a config, as the operator reads it: [`ConfigProblem`] (file, key path,
//! message) and [`ConfigErrors`] (every problem of one load), their text bounded (a displayed
//! list shows a bounded number of problems, each with a bounded key and message), and
//! [`join_key`], the key path notation every check uses.
//!
//! Owns the problem types. Must not check anything: the checks live beside what they check
//! (the model's sections, `limits`, `validate`, `secrets`, `load`).

use std::fmt;

use super::quote::cut;

/// Most problems a displayed [`ConfigErrors`] lists; the rest are counted in a last line.
pub const MAX_PROBLEMS_SHOWN: usize = 20;
/// Longest key path a displayed [`ConfigProblem`] shows (longer ones are cut and marked).
pub const MAX_PROBLEM_KEY_SHOWN: usize = 256;
/// Longest message a displayed [`ConfigProblem`] shows (longer ones are cut and marked): room
/// for a parser's explanation and a quoted value, never for a whole value.
pub const MAX_PROBLEM_MESSAGE_SHOWN: usize = 512;

/// One thing wrong with a config: which file set the key (an env var's name for an override),
/// the key path, and what is wrong. Never carries a secret value (the loader scrubs messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    pub file: Option<String>,
    pub key: String,
    pub message: String,
}

impl ConfigProblem {
    /// A problem not (yet) attributed to a file.
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            file: None,
            key: key.into(),
            message: message.into(),
        }
    }

    /// Splits one of the model's `"key: message"` lines.
    pub fn from_line(line: &str) -> Self {
        match line.split_once(": ") {
            Some((key, message)) if !key.contains(' ') => Self::new(key, message),
            _ => Self::new("", line),
        }
    }
}

/// `file: key: message`, the key and the message cut to [`MAX_PROBLEM_KEY_SHOWN`] and
/// [`MAX_PROBLEM_MESSAGE_SHOWN`] bytes (a last guard: messages built here quote values by a
/// prefix already, but a parser's message may quote a whole key).
impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{file}: ")?;
        }
        if !self.key.is_empty() {
            write!(f, "{}: ", cut(&self.key, MAX_PROBLEM_KEY_SHOWN))?;
        }
        f.write_str(&cut(&self.message, MAX_PROBLEM_MESSAGE_SHOWN))
    }
}

/// Every problem found in one load, one per line when displayed (at most
/// [`MAX_PROBLEMS_SHOWN`], then how many more there are).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigProblem>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().take(MAX_PROBLEMS_SHOWN).enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{p}")?;
        }
        let more = self.0.len().saturating_sub(MAX_PROBLEMS_SHOWN);
        if more > 0 {
            write!(f, "\n… and {more} more problems")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl From<ConfigProblem> for ConfigErrors {
    fn from(p: ConfigProblem) -> Self {
        Self(vec![p])
    }
}

/// `parent.child`, or `child` at the top.
pub(crate) fn join_key(parent: &str, child: &str) -> String {
    if parent.is_empty() {
        child.to_owned()
    } else {
        format!("{parent}.{child}")
    }
}
