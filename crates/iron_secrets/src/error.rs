//! Errors of the secrets engine. No variant ever carries a secret value or key.

/// What can go wrong with secrets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// The master key does not open this vault (its key check does not match).
    #[error("the vault cannot be unlocked with this master key; use the key the vault was created with (IRON_SECRETS_MASTER_KEY), or restore it from your backup")]
    WrongMasterKey,
    /// A blob was encrypted under a different master key than the one in use.
    #[error("secret {name:?} was encrypted with a different master key; unlock with the key it was written under")]
    KeyMismatch {
        /// The secret's name.
        name: String,
    },
    /// Authentication failed: the ciphertext, or the id/name/environment/version it is bound to, was changed.
    #[error("secret {name:?} failed to verify: its ciphertext or its id, name, environment or version was altered or moved; restore it from a backup or write it again")]
    Tampered {
        /// The secret's name.
        name: String,
    },
    /// Not an iron-cage blob.
    #[error("secret {name:?} is not a valid encrypted blob ({reason})")]
    Malformed {
        /// The secret's name.
        name: String,
        /// What is wrong with the format (never its content).
        reason: String,
    },
    /// A master key that is too weak to use.
    #[error("invalid master key: {0}; generate one with `iron-cage secret generate-master-key`")]
    InvalidMasterKey(String),
    /// No such secret in that environment.
    #[error("no secret {name:?} in environment {environment:?}{}", version.map(|v| format!(" at version {v}")).unwrap_or_default())]
    NotFound {
        /// The name asked for.
        name: String,
        /// The environment asked for.
        environment: String,
        /// The version asked for, if any.
        version: Option<u32>,
    },
    /// A bad argument (name, environment...).
    #[error("invalid {what}: {reason}")]
    InvalidArgument {
        /// Which argument.
        what: &'static str,
        /// Why, and what is accepted.
        reason: String,
    },
    /// The vault file cannot be read or written.
    #[error("vault storage error: {0}")]
    Storage(String),
}

impl From<rusqlite::Error> for SecretError {
    fn from(e: rusqlite::Error) -> Self {
        // SQLite messages name tables and constraints, never bound values.
        SecretError::Storage(e.to_string())
    }
}
