//! `SecretCipher` and `SecretVault` for Python. Unlocking (Argon2id) and vault
//! I/O release the GIL. Values cross into Python only when asked for, and no
//! `repr` shows one.

use std::path::PathBuf;

use iron_secrets::{
    generate_master_key as generate, Binding, KdfParams, Requester, SecretCipher, Vault,
};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::{Error, Result};

/// Salt for ciphers made without one: standalone ciphers (no vault header) need
/// a stable salt; master keys are 256-bit random, so a fixed salt costs nothing.
const STANDALONE_SALT: [u8; 16] = *b"iron-cage/kdf/v1";

/// Envelope encryption of single values under a master key.
#[pyclass(name = "SecretCipher", module = "iron_cage._core", frozen)]
pub struct PySecretCipher {
    inner: SecretCipher,
}

impl std::fmt::Debug for PySecretCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretCipher(<unlocked>)")
    }
}

fn salt_arg(kdf_salt: Option<&[u8]>) -> Result<[u8; 16]> {
    match kdf_salt {
        None => Ok(STANDALONE_SALT),
        Some(s) => <[u8; 16]>::try_from(s).map_err(|_| {
            Error::from(iron_secrets::SecretError::InvalidArgument {
                what: "kdf_salt",
                reason: format!("must be 16 bytes, got {}", s.len()),
            })
        }),
    }
}

#[pymethods]
impl PySecretCipher {
    /// Derives the key-encryption key from `master_key` (Argon2id; slow on purpose, once).
    #[new]
    #[pyo3(signature = (master_key, *, kdf_salt = None))]
    fn new(py: Python<'_>, master_key: &str, kdf_salt: Option<&[u8]>) -> Result<Self> {
        let salt = salt_arg(kdf_salt)?;
        let key = zeroize::Zeroizing::new(master_key.as_bytes().to_vec());
        let inner = py.detach(move || SecretCipher::unlock(&key, KdfParams::recommended(salt)))?;
        Ok(PySecretCipher { inner })
    }

    /// Encrypts `value`, bound to `name`, `environment`, `version` (and `secret_id`).
    #[pyo3(signature = (name, value, *, environment = "production", version = 1, secret_id = ""))]
    fn encrypt(
        &self,
        name: &str,
        value: &str,
        environment: &str,
        version: u32,
        secret_id: &str,
    ) -> Result<String> {
        self.inner
            .encrypt(
                &Binding {
                    id: secret_id,
                    name,
                    environment,
                    version,
                },
                value.as_bytes(),
            )
            .map_err(Into::into)
    }

    /// Decrypts a blob with the same binding it was encrypted with.
    #[pyo3(signature = (name, blob, *, environment = "production", version = 1, secret_id = ""))]
    fn decrypt(
        &self,
        name: &str,
        blob: &str,
        environment: &str,
        version: u32,
        secret_id: &str,
    ) -> Result<String> {
        let plain = self.inner.decrypt(
            &Binding {
                id: secret_id,
                name,
                environment,
                version,
            },
            blob,
        )?;
        String::from_utf8(plain.to_vec()).map_err(|_| {
            Error::from(iron_secrets::SecretError::Malformed {
                name: name.to_owned(),
                reason: "the value is not UTF-8".into(),
            })
        })
    }

    fn __repr__(&self) -> &'static str {
        "SecretCipher(<unlocked>)"
    }
}

/// A local encrypted vault in one SQLite file.
#[pyclass(name = "SecretVaultCore", module = "iron_cage._core", frozen)]
pub struct PySecretVault {
    inner: Vault,
    path: PathBuf,
}

impl std::fmt::Debug for PySecretVault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretVault({})", self.path.display())
    }
}

#[pymethods]
impl PySecretVault {
    #[new]
    #[pyo3(signature = (path, master_key, *, role = "admin".to_owned(), agent_id = None, keep_versions = 10))]
    fn new(
        py: Python<'_>,
        path: PathBuf,
        master_key: &str,
        role: String,
        agent_id: Option<String>,
        keep_versions: u32,
    ) -> Result<Self> {
        let key = zeroize::Zeroizing::new(master_key.as_bytes().to_vec());
        let p = path.clone();
        let inner = py
            .detach(move || Vault::open(&p, &key, Requester { role, agent_id }))?
            .with_keep_versions(keep_versions);
        Ok(PySecretVault { inner, path })
    }

    #[pyo3(signature = (name, value, *, environment = "production"))]
    fn put(&self, py: Python<'_>, name: &str, value: &str, environment: &str) -> Result<u32> {
        py.detach(|| self.inner.put(name, environment, value))
            .map_err(Into::into)
    }

    #[pyo3(signature = (name, *, environment = "production", version = None))]
    fn get(
        &self,
        py: Python<'_>,
        name: &str,
        environment: &str,
        version: Option<u32>,
    ) -> Result<String> {
        let value = py.detach(|| self.inner.get(name, environment, version))?;
        Ok(value.as_str().to_owned())
    }

    #[pyo3(signature = (*, environment = None, include_deleted = false))]
    fn list<'py>(
        &self,
        py: Python<'py>,
        environment: Option<&str>,
        include_deleted: bool,
    ) -> Result<Vec<Bound<'py, PyDict>>> {
        let infos = py.detach(|| self.inner.list(environment, include_deleted))?;
        infos
            .into_iter()
            .map(|i| {
                let d = PyDict::new(py);
                d.set_item("name", i.name)?;
                d.set_item("environment", i.environment)?;
                d.set_item("version", i.version)?;
                d.set_item("masked", i.masked)?;
                d.set_item("updated_at", i.updated_at)?;
                d.set_item("deleted", i.deleted)?;
                Ok(d)
            })
            .collect()
    }

    #[pyo3(signature = (name, *, environment = "production"))]
    fn delete(&self, py: Python<'_>, name: &str, environment: &str) -> Result<()> {
        py.detach(|| self.inner.delete(name, environment))
            .map_err(Into::into)
    }

    #[pyo3(signature = (name, *, environment = "production"))]
    fn undelete(&self, py: Python<'_>, name: &str, environment: &str) -> Result<()> {
        py.detach(|| self.inner.undelete(name, environment))
            .map_err(Into::into)
    }

    #[pyo3(signature = (name, *, environment = "production"))]
    fn destroy(&self, py: Python<'_>, name: &str, environment: &str) -> Result<()> {
        py.detach(|| self.inner.destroy(name, environment))
            .map_err(Into::into)
    }

    #[pyo3(signature = (name, *, environment = "production"))]
    fn history(
        &self,
        py: Python<'_>,
        name: &str,
        environment: &str,
    ) -> Result<Vec<(u32, String, bool)>> {
        let h = py.detach(|| self.inner.history(name, environment))?;
        Ok(h.into_iter()
            .map(|v| (v.version, v.created_at, v.deleted))
            .collect())
    }

    #[pyo3(signature = (secret_name = None))]
    fn audit<'py>(
        &self,
        py: Python<'py>,
        secret_name: Option<&str>,
    ) -> Result<Vec<Bound<'py, PyDict>>> {
        let rows = py.detach(|| self.inner.audit(secret_name))?;
        rows.into_iter()
            .map(|r| {
                let d = PyDict::new(py);
                d.set_item("id", r.id)?;
                d.set_item("secret_name", r.secret_name)?;
                d.set_item("operation", r.operation)?;
                d.set_item("requester_role", r.requester_role)?;
                d.set_item("agent_id", r.agent_id)?;
                d.set_item("success", r.success)?;
                d.set_item("error_message", r.error_message)?;
                d.set_item("timestamp", r.timestamp)?;
                Ok(d)
            })
            .collect()
    }

    fn rotate_master_key(&self, py: Python<'_>, new_master_key: &str) -> Result<usize> {
        let key = zeroize::Zeroizing::new(new_master_key.as_bytes().to_vec());
        py.detach(|| self.inner.rotate_master_key(&key))
            .map_err(Into::into)
    }

    /// (name, environment, version, error) for every stored version that fails to decrypt.
    fn verify(&self, py: Python<'_>) -> Result<Vec<(String, String, u32, String)>> {
        let f = py.detach(|| self.inner.verify())?;
        Ok(f.into_iter()
            .map(|v| (v.name, v.environment, v.version, v.error))
            .collect())
    }

    #[getter]
    fn path(&self) -> PathBuf {
        self.path.clone()
    }
}

/// A new random master key (32 bytes, base64url).
#[pyfunction]
pub fn generate_master_key() -> Result<String> {
    generate().map_err(Into::into)
}

/// `sk-proj-abc...xyz`.
#[pyfunction]
pub fn mask_secret(value: &str) -> String {
    iron_secrets::mask(value)
}
