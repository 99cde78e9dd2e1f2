//! A local vault: one SQLite file holding encrypted secrets, their versions,
//! and an audit log that SQLite triggers keep append-only.
//!
//! The header (`vault_meta`) stores the Argon2 parameters and salt and a key
//! check, so a wrong master key is recognised at open, before any secret is
//! touched. Every operation, failed ones included, appends an audit row; no
//! row, message or error ever contains a secret value.

use std::path::Path;
use std::sync::{Mutex, MutexGuard, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{params, Connection, OptionalExtension};
use zeroize::Zeroizing;

use crate::cipher::{random, Binding, KdfParams, SecretCipher};
use crate::error::SecretError;

/// Environments a secret can live in.
pub const ENVIRONMENTS: [&str; 3] = ["development", "staging", "production"];
/// Versions kept per secret unless configured otherwise.
pub const DEFAULT_KEEP_VERSIONS: u32 = 10;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS vault_meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS secrets (
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    environment TEXT NOT NULL,
    version INTEGER NOT NULL,
    blob TEXT NOT NULL,
    created_at TEXT NOT NULL,
    deleted_at TEXT,
    PRIMARY KEY (name, environment, version)
);
CREATE TABLE IF NOT EXISTS secret_audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    secret_name TEXT NOT NULL,
    operation TEXT NOT NULL,
    requester_role TEXT NOT NULL,
    agent_id TEXT,
    success INTEGER NOT NULL,
    error_message TEXT,
    timestamp TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS secret_audit_no_update BEFORE UPDATE ON secret_audit
BEGIN SELECT RAISE(ABORT, 'secret_audit is append-only: audit rows cannot be changed'); END;
CREATE TRIGGER IF NOT EXISTS secret_audit_no_delete BEFORE DELETE ON secret_audit
BEGIN SELECT RAISE(ABORT, 'secret_audit is append-only: audit rows cannot be deleted'); END;
";

/// Who is asking, recorded in the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requester {
    /// `admin`, `developer`, `viewer`, `agent`, `cli`...
    pub role: String,
    /// The agent, when an agent asks.
    pub agent_id: Option<String>,
}

/// One secret as listed: never the value, only its mask.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretInfo {
    /// Its name.
    pub name: String,
    /// Its environment.
    pub environment: String,
    /// The latest version.
    pub version: u32,
    /// `sk-proj-abc...xyz`.
    pub masked: String,
    /// When the latest version was written (RFC 3339, UTC).
    pub updated_at: String,
    /// Whether it is soft-deleted.
    pub deleted: bool,
}

/// One version of a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionInfo {
    /// The version number.
    pub version: u32,
    /// When it was written.
    pub created_at: String,
    /// Whether it is soft-deleted.
    pub deleted: bool,
}

/// One audit row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    /// Row id (increasing).
    pub id: i64,
    /// The secret concerned (`*` for vault-wide operations).
    pub secret_name: String,
    /// `create`, `read`, `update`, `list`, `delete`, `undelete`, `destroy`, `rotate`, `verify`.
    pub operation: String,
    /// Who asked.
    pub requester_role: String,
    /// Which agent asked.
    pub agent_id: Option<String>,
    /// Whether it worked.
    pub success: bool,
    /// Why not, if not (never a value).
    pub error_message: Option<String>,
    /// When (RFC 3339, UTC).
    pub timestamp: String,
}

/// A row that failed verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyFailure {
    /// The secret.
    pub name: String,
    /// Its environment.
    pub environment: String,
    /// The version that failed.
    pub version: u32,
    /// What failed (tampered, other key, malformed).
    pub error: String,
}

/// The vault. See the module docs.
pub struct Vault {
    conn: Mutex<Connection>,
    cipher: RwLock<SecretCipher>,
    keep_versions: u32,
    requester: Requester,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field("requester", &self.requester)
            .finish_non_exhaustive()
    }
}

/// `sk-proj-abc...xyz`: the prefix up to the last separator in the first 12
/// characters plus 3 more, `...`, and the last 3. Short values show only stars.
#[must_use]
pub fn mask(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    if chars.len() < 12 {
        return "*".repeat(chars.len().clamp(4, 8));
    }
    let sep = chars
        .iter()
        .take(12)
        .rposition(|c| *c == '-' || *c == '_')
        .map_or(0, |i| i + 1);
    let head: String = chars[..(sep + 3).min(chars.len() - 6)].iter().collect();
    let tail: String = chars[chars.len() - 3..].iter().collect();
    format!("{head}...{tail}")
}

fn now_rfc3339() -> String {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = d.as_secs();
    let (y, m, day) = civil_from_days(i64::try_from(secs / 86_400).unwrap_or(0));
    let rem = secs % 86_400;
    format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// (year, month, day) of days since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let m = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn check_environment(environment: &str) -> Result<(), SecretError> {
    if ENVIRONMENTS.contains(&environment) {
        Ok(())
    } else {
        Err(SecretError::InvalidArgument {
            what: "environment",
            reason: format!("{environment:?} is not one of development, staging, production"),
        })
    }
}

fn check_name(name: &str) -> Result<(), SecretError> {
    if name.is_empty() || name.len() > 256 || name.chars().any(char::is_control) || name == "*" {
        return Err(SecretError::InvalidArgument {
            what: "secret name",
            reason: "use 1 to 256 printable characters, for example OPENAI_API_KEY".into(),
        });
    }
    Ok(())
}

impl Vault {
    /// Opens the vault at `path`, creating it (with a fresh Argon2 salt) if it
    /// does not exist.
    ///
    /// # Errors
    /// [`SecretError::WrongMasterKey`] for a key the vault was not created with,
    /// [`SecretError::InvalidMasterKey`], or storage errors.
    pub fn open(path: &Path, master_key: &[u8], requester: Requester) -> Result<Self, SecretError> {
        let conn = Connection::open(path)?;
        conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON;")?;
        conn.execute_batch(SCHEMA)?;
        let stored: Option<Vec<u8>> = conn
            .query_row("SELECT value FROM vault_meta WHERE key = 'kdf'", [], |r| {
                r.get(0)
            })
            .optional()?;
        let cipher = match stored {
            Some(kdf) => {
                let params = decode_kdf(&kdf)?;
                let cipher = SecretCipher::unlock(master_key, params)?;
                let check: Vec<u8> = conn.query_row(
                    "SELECT value FROM vault_meta WHERE key = 'key_check'",
                    [],
                    |r| r.get(0),
                )?;
                if !cipher.matches_key_check(&check) {
                    return Err(SecretError::WrongMasterKey);
                }
                cipher
            }
            None => {
                let cipher = SecretCipher::unlock(master_key, KdfParams::generate()?)?;
                write_header(&conn, &cipher)?;
                cipher
            }
        };
        Ok(Vault {
            conn: Mutex::new(conn),
            cipher: RwLock::new(cipher),
            keep_versions: DEFAULT_KEEP_VERSIONS,
            requester,
        })
    }

    /// Keep at most `n` versions per secret (older ones are destroyed on write).
    #[must_use]
    pub fn with_keep_versions(mut self, n: u32) -> Self {
        self.keep_versions = n.max(1);
        self
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn audit_row(
        &self,
        conn: &Connection,
        name: &str,
        operation: &str,
        result: Result<(), &SecretError>,
    ) -> Result<(), SecretError> {
        conn.execute(
            "INSERT INTO secret_audit (secret_name, operation, requester_role, agent_id, success, error_message, timestamp)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                name,
                operation,
                self.requester.role,
                self.requester.agent_id,
                result.is_ok(),
                result.err().map(ToString::to_string),
                now_rfc3339()
            ],
        )?;
        Ok(())
    }

    /// Runs `op` and records it in the audit log whether it worked or not.
    fn audited<T>(
        &self,
        name: &str,
        operation: &str,
        op: impl FnOnce(&Connection) -> Result<T, SecretError>,
    ) -> Result<T, SecretError> {
        let conn = self.conn();
        let result = op(&conn);
        self.audit_row(&conn, name, operation, result.as_ref().map(|_| ()))?;
        result
    }

    /// Writes a new version of `name` in `environment`; returns the version.
    ///
    /// # Errors
    /// Bad name or environment, storage errors.
    pub fn put(&self, name: &str, environment: &str, value: &str) -> Result<u32, SecretError> {
        check_name(name)?;
        check_environment(environment)?;
        let latest = self.latest(name, environment)?;
        let operation = if latest.is_some() { "update" } else { "create" };
        self.audited(name, operation, |conn| {
            let (id, version) = match latest {
                Some((id, v)) => (id, v + 1),
                None => (hex(&random::<16>()?), 1),
            };
            let cipher = self.cipher.read().unwrap_or_else(std::sync::PoisonError::into_inner);
            let blob = cipher.encrypt(&Binding { id: &id, name, environment, version }, value.as_bytes())?;
            let tx = conn.unchecked_transaction()?;
            tx.execute(
                "INSERT INTO secrets (id, name, environment, version, blob, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![id, name, environment, version, blob, now_rfc3339()],
            )?;
            tx.execute(
                "DELETE FROM secrets WHERE name = ?1 AND environment = ?2 AND version <= ?3",
                params![name, environment, i64::from(version) - i64::from(self.keep_versions)],
            )?;
            tx.commit()?;
            Ok(version)
        })
    }

    fn latest(&self, name: &str, environment: &str) -> Result<Option<(String, u32)>, SecretError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT id, version FROM secrets WHERE name = ?1 AND environment = ?2 ORDER BY version DESC LIMIT 1",
                params![name, environment],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, u32>(1)?)),
            )
            .optional()?)
    }

    /// The value of `name` (latest version unless `version` is given). Deleted secrets are not found.
    ///
    /// # Errors
    /// Not found, tampered, other key, storage.
    pub fn get(
        &self,
        name: &str,
        environment: &str,
        version: Option<u32>,
    ) -> Result<Zeroizing<String>, SecretError> {
        check_environment(environment)?;
        self.audited(name, "read", |conn| {
            let row: Option<(String, u32, String)> = conn
                .query_row(
                    "SELECT id, version, blob FROM secrets WHERE name = ?1 AND environment = ?2 AND deleted_at IS NULL
                     AND (?3 IS NULL OR version = ?3) ORDER BY version DESC LIMIT 1",
                    params![name, environment, version],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            let (id, v, blob) = row.ok_or_else(|| SecretError::NotFound { name: name.to_owned(), environment: environment.to_owned(), version })?;
            let cipher = self.cipher.read().unwrap_or_else(std::sync::PoisonError::into_inner);
            let plain = cipher.decrypt(&Binding { id: &id, name, environment, version: v }, &blob)?;
            let text = String::from_utf8(plain.to_vec()).map_err(|_| SecretError::Malformed { name: name.to_owned(), reason: "the value is not UTF-8".into() })?;
            Ok(Zeroizing::new(text))
        })
    }

    /// Every secret (latest version), masked, optionally in one environment.
    ///
    /// # Errors
    /// Storage errors, or a secret that fails to decrypt (named in the error).
    pub fn list(
        &self,
        environment: Option<&str>,
        include_deleted: bool,
    ) -> Result<Vec<SecretInfo>, SecretError> {
        if let Some(env) = environment {
            check_environment(env)?;
        }
        self.audited("*", "list", |conn| {
            let mut stmt = conn.prepare(
                "SELECT s.id, s.name, s.environment, s.version, s.blob, s.created_at, s.deleted_at FROM secrets s
                 WHERE s.version = (SELECT MAX(version) FROM secrets t WHERE t.name = s.name AND t.environment = s.environment)
                 AND (?1 IS NULL OR s.environment = ?1) ORDER BY s.name, s.environment",
            )?;
            let rows = stmt.query_map(params![environment], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, u32>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, Option<String>>(6)?,
                ))
            })?;
            let cipher = self.cipher.read().unwrap_or_else(std::sync::PoisonError::into_inner);
            let mut out = Vec::new();
            for row in rows {
                let (id, name, env, version, blob, created_at, deleted_at) = row?;
                if deleted_at.is_some() && !include_deleted {
                    continue;
                }
                let plain = cipher.decrypt(&Binding { id: &id, name: &name, environment: &env, version }, &blob)?;
                let masked = mask(&String::from_utf8_lossy(&plain));
                out.push(SecretInfo { name, environment: env, version, masked, updated_at: created_at, deleted: deleted_at.is_some() });
            }
            Ok(out)
        })
    }

    fn set_deleted(&self, name: &str, environment: &str, deleted: bool) -> Result<(), SecretError> {
        check_environment(environment)?;
        self.audited(name, if deleted { "delete" } else { "undelete" }, |conn| {
            let stamp = deleted.then(now_rfc3339);
            let n = conn.execute(
                "UPDATE secrets SET deleted_at = ?3 WHERE name = ?1 AND environment = ?2",
                params![name, environment, stamp],
            )?;
            found_any(n, name, environment)
        })
    }

    /// Soft-deletes every version (reads stop finding it; `undelete` restores it).
    ///
    /// # Errors
    /// Not found, storage.
    pub fn delete(&self, name: &str, environment: &str) -> Result<(), SecretError> {
        self.set_deleted(name, environment, true)
    }

    /// Restores a soft-deleted secret.
    ///
    /// # Errors
    /// Not found, storage.
    pub fn undelete(&self, name: &str, environment: &str) -> Result<(), SecretError> {
        self.set_deleted(name, environment, false)
    }

    /// Removes every version for good.
    ///
    /// # Errors
    /// Not found, storage.
    pub fn destroy(&self, name: &str, environment: &str) -> Result<(), SecretError> {
        check_environment(environment)?;
        self.audited(name, "destroy", |conn| {
            let n = conn.execute(
                "DELETE FROM secrets WHERE name = ?1 AND environment = ?2",
                params![name, environment],
            )?;
            found_any(n, name, environment)
        })
    }

    /// The versions kept for `name`, newest first.
    ///
    /// # Errors
    /// Storage errors.
    pub fn history(&self, name: &str, environment: &str) -> Result<Vec<VersionInfo>, SecretError> {
        check_environment(environment)?;
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT version, created_at, deleted_at IS NOT NULL FROM secrets WHERE name = ?1 AND environment = ?2 ORDER BY version DESC",
        )?;
        let rows = stmt.query_map(params![name, environment], |r| {
            Ok(VersionInfo {
                version: r.get(0)?,
                created_at: r.get(1)?,
                deleted: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Audit rows, oldest first, optionally for one secret.
    ///
    /// # Errors
    /// Storage errors.
    pub fn audit(&self, secret_name: Option<&str>) -> Result<Vec<AuditRow>, SecretError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT id, secret_name, operation, requester_role, agent_id, success, error_message, timestamp
             FROM secret_audit WHERE (?1 IS NULL OR secret_name = ?1) ORDER BY id",
        )?;
        let rows = stmt.query_map(params![secret_name], |r| {
            Ok(AuditRow {
                id: r.get(0)?,
                secret_name: r.get(1)?,
                operation: r.get(2)?,
                requester_role: r.get(3)?,
                agent_id: r.get(4)?,
                success: r.get(5)?,
                error_message: r.get(6)?,
                timestamp: r.get(7)?,
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Re-encrypts every secret version under `new_master_key` (with a fresh
    /// Argon2 salt) in one transaction: afterwards only the new key opens the
    /// vault. Returns how many versions were re-wrapped.
    ///
    /// # Errors
    /// A weak new key, a row that fails to decrypt (nothing is changed then), storage.
    pub fn rotate_master_key(&self, new_master_key: &[u8]) -> Result<usize, SecretError> {
        let new_cipher = SecretCipher::unlock(new_master_key, KdfParams::generate()?)?;
        let mut cipher = self
            .cipher
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let count = self.audited("*", "rotate", |conn| {
            let tx = conn.unchecked_transaction()?;
            let rows: Vec<(String, String, String, u32, String)> = {
                let mut stmt = tx.prepare("SELECT id, name, environment, version, blob FROM secrets")?;
                let mapped = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?;
                mapped.collect::<Result<_, _>>()?
            };
            for (id, name, environment, version, blob) in &rows {
                let binding = Binding { id, name, environment, version: *version };
                let plain = cipher.decrypt(&binding, blob)?;
                let sealed = new_cipher.encrypt(&binding, &plain)?;
                tx.execute(
                    "UPDATE secrets SET blob = ?1 WHERE name = ?2 AND environment = ?3 AND version = ?4",
                    params![sealed, name, environment, version],
                )?;
            }
            write_header(&tx, &new_cipher)?;
            tx.commit()?;
            Ok(rows.len())
        })?;
        *cipher = new_cipher;
        Ok(count)
    }

    /// Decrypts every stored version and reports those that fail, by name.
    ///
    /// # Errors
    /// Storage errors.
    pub fn verify(&self) -> Result<Vec<VerifyFailure>, SecretError> {
        self.audited("*", "verify", |conn| {
            let mut stmt = conn.prepare("SELECT id, name, environment, version, blob FROM secrets ORDER BY name, environment, version")?;
            let rows = stmt.query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, u32>(3)?, r.get::<_, String>(4)?))
            })?;
            let cipher = self.cipher.read().unwrap_or_else(std::sync::PoisonError::into_inner);
            let mut failures = Vec::new();
            for row in rows {
                let (id, name, environment, version, blob) = row?;
                if let Err(e) = cipher.decrypt(&Binding { id: &id, name: &name, environment: &environment, version }, &blob) {
                    failures.push(VerifyFailure { name, environment, version, error: e.to_string() });
                }
            }
            Ok(failures)
        })
    }
}

/// `NotFound` when a statement touched no row of `name` in `environment`.
fn found_any(rows: usize, name: &str, environment: &str) -> Result<(), SecretError> {
    if rows == 0 {
        return Err(SecretError::NotFound {
            name: name.to_owned(),
            environment: environment.to_owned(),
            version: None,
        });
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn encode_kdf(p: &KdfParams) -> Vec<u8> {
    let mut v = Vec::with_capacity(28);
    v.extend_from_slice(&p.m_kib.to_le_bytes());
    v.extend_from_slice(&p.t.to_le_bytes());
    v.extend_from_slice(&p.p.to_le_bytes());
    v.extend_from_slice(&p.salt);
    v
}

fn decode_kdf(v: &[u8]) -> Result<KdfParams, SecretError> {
    if v.len() != 28 {
        return Err(SecretError::Storage(
            "the vault header's KDF parameters are corrupt".into(),
        ));
    }
    let word = |i: usize| u32::from_le_bytes([v[i], v[i + 1], v[i + 2], v[i + 3]]);
    let mut salt = [0u8; 16];
    salt.copy_from_slice(&v[12..28]);
    Ok(KdfParams {
        m_kib: word(0),
        t: word(4),
        p: word(8),
        salt,
    })
}

fn write_header(conn: &Connection, cipher: &SecretCipher) -> Result<(), SecretError> {
    conn.execute(
        "INSERT INTO vault_meta (key, value) VALUES ('kdf', ?1) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        params![encode_kdf(&cipher.params())],
    )?;
    conn.execute(
        "INSERT INTO vault_meta (key, value) VALUES ('key_check', ?1) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        params![cipher.key_check().to_vec()],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks() {
        assert_eq!(
            mask("sk-proj-abcdefghijklmnopqrstuvwxyz"),
            "sk-proj-abc...xyz"
        );
        assert_eq!(mask("ghp_ABCDEFGHIJKLMNOPQRSTUVWXYZ"), "ghp_ABC...XYZ");
        assert_eq!(mask("AKIAIOSFODNN7EXAMPLE"), "AKI...PLE");
        assert_eq!(mask("short"), "*****");
        assert_eq!(mask("ab"), "****");
    }

    #[test]
    fn dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_778), (2026, 11, 21));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }
}
