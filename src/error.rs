//! The error type at the core's boundary: each variant is one user-facing sentence, and
//! what to do next, where there is something to do, is a separate hint.

use std::path::PathBuf;

/// Everything that can go wrong, phrased for the person at the terminal.
///
/// The binary prints `agevault: error: MESSAGE` and, when [`Error::hint`] has one, a
/// second line `hint: WHAT TO DO`. Messages never contain a secret value: variants
/// carry paths, names and public keys only.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The command line was wrong (exit code 2).
    #[error("{0}")]
    Usage(String),

    /// No `.agevault.toml` was found.
    #[error("no .agevault.toml found in {start} or any parent directory")]
    NoConfig { start: PathBuf },

    /// The configuration file is unreadable or invalid.
    #[error("{path}: {message}")]
    Config { path: PathBuf, message: String },

    /// The vault file does not exist.
    #[error("vault {path} does not exist")]
    NoVault { path: PathBuf },

    /// The vault is not an age file, or is damaged.
    #[error("vault {path} is damaged: {reason}")]
    Corrupt { path: PathBuf, reason: String },

    /// The file holds git conflict markers: a merge ran without agevault's merge driver.
    #[error("{path} holds git conflict markers: git merged it line by line because `agevault git setup` was not run in this clone, and no age file survives that; nothing was read")]
    ConflictMarkers { path: PathBuf },

    /// No identity could decrypt the vault.
    #[error("{0}")]
    NoMatchingIdentity(String),

    /// The decrypted document is not a valid agevault document.
    #[error("vault {path} holds an invalid document: {reason}")]
    InvalidDocument { path: PathBuf, reason: String },

    /// The document was written by a newer agevault.
    #[error("vault {path} uses format version {version}, newer than this agevault understands (1); nothing was changed")]
    FutureVersion { path: PathBuf, version: u64 },

    /// The recipients in the config and in the vault disagree.
    #[error("{0}")]
    RecipientDrift(String),

    /// A vault's signature, writer set or generation is not trusted.
    #[error("{0}")]
    Trust(String),

    /// Standard input gave an empty value where one was expected.
    #[error("standard input gave an empty value for `{path}` (an unset variable or a closed stdin?); nothing was changed")]
    EmptyValue { path: String },

    /// A file could not be read or written.
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },

    /// Another writer holds the vault's lock and this one would not (or no longer) wait.
    #[error("{message}")]
    LockHeld { message: String },

    /// A child command could not be started (exit 126/127 like a shell).
    #[error("{message}")]
    Spawn { message: String, code: u8 },

    /// Standard output was closed by the reader (`agevault ls | head`): exit quietly.
    #[error("broken pipe")]
    BrokenPipe,

    /// A step failed for a reason the system or a library gave: `context: cause`, with
    /// the cause kept as the error's source instead of flattened into text.
    #[error("{context}: {source}")]
    Failed {
        context: String,
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// A failure told inside a longer sentence: `before`, the cause's own text, then
    /// `after` (`cannot merge X: ` … `; nothing was merged`), with the cause kept as the
    /// error's source instead of flattened into text.
    #[error("{before}{source}{after}")]
    Within {
        before: String,
        source: Box<dyn std::error::Error + Send + Sync>,
        after: String,
    },

    /// Any other failure, already phrased as one sentence.
    #[error("{0}")]
    Message(String),

    /// An error and what to do about it (see [`Error::with_hint`]). Shown inside other
    /// text (a `check` report line) it reads as one sentence, `MESSAGE; HINT`.
    #[error("{error}; {hint}")]
    Hinted { error: Box<Error>, hint: String },
}

impl Error {
    /// A one-sentence error.
    pub fn msg(text: impl Into<String>) -> Self {
        Error::Message(text.into())
    }

    /// `context: cause`, keeping `cause` as the source.
    pub fn with_source(
        context: impl Into<String>,
        cause: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Error::Failed {
            context: context.into(),
            source: Box::new(cause),
        }
    }

    /// `before`, the cause's own text, then `after`, keeping `cause` as the source.
    pub fn within(
        before: impl Into<String>,
        cause: impl std::error::Error + Send + Sync + 'static,
        after: impl Into<String>,
    ) -> Self {
        Error::Within {
            before: before.into(),
            source: Box::new(cause),
            after: after.into(),
        }
    }

    /// The cause's own text as the whole message, keeping `cause` as the source.
    pub fn from_cause(cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        Error::within("", cause, "")
    }

    /// An I/O failure on `path` while doing `action` ("reading", "writing", …).
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }

    /// The same error with `hint` as its "what to do next" line (replacing any other).
    #[must_use]
    pub fn with_hint(self, hint: impl Into<String>) -> Self {
        let error = match self {
            Error::Hinted { error, .. } => error,
            other => Box::new(other),
        };
        Error::Hinted {
            error,
            hint: hint.into(),
        }
    }

    /// No `.agevault.toml` upwards from `start`, with what to do about it.
    pub fn no_config(start: PathBuf) -> Self {
        Error::NoConfig { start }.with_hint("run `agevault init` to create one here, or pass --config FILE")
    }

    /// The vault file `path` does not exist, with what to do about it.
    pub fn no_vault(path: PathBuf) -> Self {
        Error::NoVault { path }.with_hint("run `agevault init` to create it")
    }

    /// The error line: the message without its hint.
    pub fn message(&self) -> String {
        match self {
            Error::Hinted { error, .. } => error.message(),
            other => other.to_string(),
        }
    }

    /// What the user can do next, printed as the `hint:` line under the error.
    pub fn hint(&self) -> Option<&str> {
        match self {
            Error::Hinted { hint, .. } => Some(hint),
            _ => None,
        }
    }

    /// The error without its hint (to match on the kind of failure).
    pub fn kind(&self) -> &Error {
        match self {
            Error::Hinted { error, .. } => error.kind(),
            other => other,
        }
    }

    /// The process exit code this error maps to (the README's *Exit codes*).
    pub fn exit_code(&self) -> u8 {
        match self.kind() {
            Error::Usage(_) => 2,
            Error::Spawn { code, .. } => *code,
            _ => 1,
        }
    }
}

/// The result type of the core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_reads_as_one_sentence_and_keeps_its_cause() {
        let cause = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "denied");
        let e = Error::with_source("cannot read from the terminal", cause);
        assert_eq!(e.to_string(), "cannot read from the terminal: denied");
        let source = std::error::Error::source(&e).expect("the cause is kept");
        let io = source
            .downcast_ref::<std::io::Error>()
            .expect("as the io::Error it was");
        assert_eq!(io.kind(), std::io::ErrorKind::PermissionDenied);
        assert_eq!(e.exit_code(), 1);
    }

    #[test]
    fn a_cause_inside_a_sentence_reads_as_before_and_is_kept() {
        let cause = std::io::Error::new(std::io::ErrorKind::NotFound, "gone");
        let e = Error::within("cannot merge x: ", cause, "; nothing was merged");
        assert_eq!(e.to_string(), "cannot merge x: gone; nothing was merged");
        let source = std::error::Error::source(&e).expect("the cause is kept");
        assert_eq!(
            source.downcast_ref::<std::io::Error>().map(std::io::Error::kind),
            Some(std::io::ErrorKind::NotFound)
        );
        let bare = Error::from_cause(std::io::Error::other("disk full"));
        assert_eq!(bare.to_string(), "disk full");
        assert!(std::error::Error::source(&bare).is_some());
    }
}
