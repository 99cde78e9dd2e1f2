//! iron-cage's secrets engine: [`SecretCipher`] (Argon2id KEK, per-secret
//! HKDF subkeys, AES-256-GCM bound to id/name/environment/version) and a local
//! SQLite vault with versions, soft delete, masking, rotation and an audit
//! table that the database itself keeps append-only. No Python here.

mod cipher;
mod error;
mod vault;

pub use cipher::{
    generate_master_key, random, Binding, KdfParams, SecretCipher, ARGON2_M_KIB, ARGON2_P,
    ARGON2_T, MIN_MASTER_KEY_LEN,
};
pub use error::SecretError;
pub use vault::{
    mask, AuditRow, Requester, SecretInfo, Vault, VerifyFailure, VersionInfo,
    DEFAULT_KEEP_VERSIONS, ENVIRONMENTS,
};
