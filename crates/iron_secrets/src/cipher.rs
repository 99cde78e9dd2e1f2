//! Envelope encryption of single secrets.
//!
//! Unlocking runs Argon2id (m = 19456 KiB, t = 2, p = 1) ONCE over the master
//! key to get a 256-bit key-encryption key (KEK), held in zeroizing memory.
//! Each encryption draws a fresh 16-byte salt and 12-byte nonce, derives a
//! per-secret AES-256 key with HKDF-SHA256(salt, KEK), and seals the value with
//! AES-256-GCM, binding the secret's id, name, environment and version as
//! associated data: a ciphertext copied to another row or version fails to open.
//!
//! Blob format `v1:` + base64url(no padding) of
//! `fingerprint[4] ‖ salt[16] ‖ nonce[12] ‖ ciphertext ‖ tag[16]`, where the
//! fingerprint (HMAC of the KEK, truncated) tells a blob written under another
//! master key apart from a tampered one without revealing anything useful.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::error::SecretError;

/// Argon2id memory cost in KiB (OWASP's first recommended configuration).
pub const ARGON2_M_KIB: u32 = 19_456;
/// Argon2id passes.
pub const ARGON2_T: u32 = 2;
/// Argon2id lanes.
pub const ARGON2_P: u32 = 1;
/// Shortest master key accepted, in bytes.
pub const MIN_MASTER_KEY_LEN: usize = 16;

const PREFIX: &str = "v1:";
const FP_LEN: usize = 4;
const SALT_LEN: usize = 16;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const HEADER_LEN: usize = FP_LEN + SALT_LEN + NONCE_LEN;
const HKDF_INFO: &[u8] = b"iron-cage secret subkey v1";

/// Argon2id parameters and salt, stored in a vault's header so they can be raised later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory in KiB.
    pub m_kib: u32,
    /// Passes.
    pub t: u32,
    /// Lanes.
    pub p: u32,
    /// Random salt of the vault (or a fixed one for standalone ciphers).
    pub salt: [u8; SALT_LEN],
}

impl KdfParams {
    /// The recommended parameters with `salt`.
    #[must_use]
    pub fn recommended(salt: [u8; SALT_LEN]) -> Self {
        KdfParams {
            m_kib: ARGON2_M_KIB,
            t: ARGON2_T,
            p: ARGON2_P,
            salt,
        }
    }

    /// The recommended parameters with a fresh random salt.
    ///
    /// # Errors
    /// The operating system's random source failed.
    pub fn generate() -> Result<Self, SecretError> {
        Ok(Self::recommended(random()?))
    }
}

/// What a secret's ciphertext is bound to.
#[derive(Debug, Clone, Copy)]
pub struct Binding<'a> {
    /// The secret's stable id.
    pub id: &'a str,
    /// Its name.
    pub name: &'a str,
    /// Its environment (development, staging, production).
    pub environment: &'a str,
    /// Its version.
    pub version: u32,
}

impl Binding<'_> {
    fn aad(&self) -> Vec<u8> {
        let mut out =
            Vec::with_capacity(32 + self.id.len() + self.name.len() + self.environment.len());
        out.extend_from_slice(b"iron-cage/v1\0");
        for field in [self.id, self.name, self.environment] {
            out.extend_from_slice(&u32::try_from(field.len()).unwrap_or(u32::MAX).to_le_bytes());
            out.extend_from_slice(field.as_bytes());
        }
        out.extend_from_slice(&self.version.to_le_bytes());
        out
    }
}

/// Fills an array from the operating system's random source.
///
/// # Errors
/// The random source failed.
pub fn random<const N: usize>() -> Result<[u8; N], SecretError> {
    let mut out = [0u8; N];
    getrandom::fill(&mut out).map_err(|e| {
        SecretError::Storage(format!("the operating system's random source failed: {e}"))
    })?;
    Ok(out)
}

/// A new random master key: 32 bytes as base64url (43 characters).
///
/// # Errors
/// The random source failed.
pub fn generate_master_key() -> Result<String, SecretError> {
    let bytes = Zeroizing::new(random::<32>()?);
    Ok(URL_SAFE_NO_PAD.encode(*bytes))
}

/// An unlocked cipher: the KEK and what identifies it.
pub struct SecretCipher {
    kek: Zeroizing<[u8; 32]>,
    fingerprint: [u8; FP_LEN],
    params: KdfParams,
}

impl std::fmt::Debug for SecretCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretCipher")
            .field("kek", &"<redacted>")
            .field("params", &self.params)
            .finish()
    }
}

type HmacSha256 = Hmac<Sha256>;

fn hmac(key: &[u8], msg: &[u8]) -> [u8; 32] {
    #[allow(clippy::expect_used)]
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(msg);
    mac.finalize().into_bytes().into()
}

impl SecretCipher {
    /// Derives the KEK from `master_key` with Argon2id. This is the slow step
    /// (tens of milliseconds by design); do it once and keep the cipher.
    ///
    /// # Errors
    /// A master key shorter than 16 bytes, or parameters Argon2 rejects.
    pub fn unlock(master_key: &[u8], params: KdfParams) -> Result<Self, SecretError> {
        if master_key.len() < MIN_MASTER_KEY_LEN {
            return Err(SecretError::InvalidMasterKey(format!(
                "it is {} bytes long; use at least {MIN_MASTER_KEY_LEN}",
                master_key.len()
            )));
        }
        let argon_params =
            Params::new(params.m_kib, params.t, params.p, Some(32)).map_err(|e| {
                SecretError::InvalidArgument {
                    what: "kdf parameters",
                    reason: e.to_string(),
                }
            })?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, argon_params);
        let mut kek = Zeroizing::new([0u8; 32]);
        argon
            .hash_password_into(master_key, &params.salt, kek.as_mut())
            .map_err(|e| SecretError::InvalidArgument {
                what: "kdf parameters",
                reason: e.to_string(),
            })?;
        let mut fingerprint = [0u8; FP_LEN];
        fingerprint.copy_from_slice(&hmac(kek.as_ref(), b"iron-cage key fingerprint v1")[..FP_LEN]);
        Ok(SecretCipher {
            kek,
            fingerprint,
            params,
        })
    }

    /// The KDF parameters this cipher was unlocked with.
    #[must_use]
    pub fn params(&self) -> KdfParams {
        self.params
    }

    /// A value a vault stores to recognise its master key at unlock.
    #[must_use]
    pub fn key_check(&self) -> [u8; 32] {
        hmac(self.kek.as_ref(), b"iron-cage key check v1")
    }

    /// Whether `stored` is this cipher's key check (constant time).
    #[must_use]
    pub fn matches_key_check(&self, stored: &[u8]) -> bool {
        let mine = self.key_check();
        stored.len() == mine.len()
            && stored
                .iter()
                .zip(mine.iter())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }

    fn subkey_cipher(&self, salt: &[u8]) -> Aes256Gcm {
        let hk = Hkdf::<Sha256>::new(Some(salt), self.kek.as_ref());
        let mut okm = Zeroizing::new([0u8; 32]);
        #[allow(clippy::expect_used)]
        hk.expand(HKDF_INFO, okm.as_mut())
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        #[allow(clippy::expect_used)]
        Aes256Gcm::new_from_slice(okm.as_ref()).expect("32-byte key")
    }

    /// Seals `plaintext` bound to `binding`.
    ///
    /// # Errors
    /// The random source failed.
    pub fn encrypt(&self, binding: &Binding<'_>, plaintext: &[u8]) -> Result<String, SecretError> {
        let salt: [u8; SALT_LEN] = random()?;
        let nonce: [u8; NONCE_LEN] = random()?;
        let aad = binding.aad();
        let sealed = self
            .subkey_cipher(&salt)
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .map_err(|_| {
                SecretError::Storage("AES-GCM refused to encrypt (message too long)".into())
            })?;
        let mut raw = Vec::with_capacity(HEADER_LEN + sealed.len());
        raw.extend_from_slice(&self.fingerprint);
        raw.extend_from_slice(&salt);
        raw.extend_from_slice(&nonce);
        raw.extend_from_slice(&sealed);
        Ok(format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(raw)))
    }

    /// Opens a blob made by [`SecretCipher::encrypt`] with the same binding.
    ///
    /// # Errors
    /// [`SecretError::Malformed`], [`SecretError::KeyMismatch`] (another master
    /// key) or [`SecretError::Tampered`] (any altered byte, or another binding).
    pub fn decrypt(
        &self,
        binding: &Binding<'_>,
        blob: &str,
    ) -> Result<Zeroizing<Vec<u8>>, SecretError> {
        let malformed = |reason: &str| SecretError::Malformed {
            name: binding.name.to_owned(),
            reason: reason.to_owned(),
        };
        let body = blob
            .strip_prefix(PREFIX)
            .ok_or_else(|| malformed("it does not start with \"v1:\""))?;
        let raw = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| malformed("it is not base64url"))?;
        if raw.len() < HEADER_LEN + TAG_LEN {
            return Err(malformed("it is too short"));
        }
        if raw[..FP_LEN] != self.fingerprint {
            return Err(SecretError::KeyMismatch {
                name: binding.name.to_owned(),
            });
        }
        let salt = &raw[FP_LEN..FP_LEN + SALT_LEN];
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&raw[FP_LEN + SALT_LEN..HEADER_LEN]);
        let aad = binding.aad();
        self.subkey_cipher(salt)
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: &raw[HEADER_LEN..],
                    aad: &aad,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| SecretError::Tampered {
                name: binding.name.to_owned(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cipher(key: &str) -> SecretCipher {
        SecretCipher::unlock(key.as_bytes(), KdfParams::recommended([7; 16])).expect("valid key")
    }

    const B: Binding<'static> = Binding {
        id: "id-1",
        name: "openai",
        environment: "production",
        version: 1,
    };

    #[test]
    fn round_trip_and_fresh_randomness() {
        let c = cipher("correct horse battery staple");
        let a = c.encrypt(&B, b"sk-proj-abc").expect("encrypt");
        let b = c.encrypt(&B, b"sk-proj-abc").expect("encrypt");
        assert_ne!(a, b, "fresh salt and nonce per encryption");
        assert_eq!(
            c.decrypt(&B, &a).expect("decrypt").as_slice(),
            b"sk-proj-abc"
        );
    }

    #[test]
    fn binding_wrong_key_and_tampering_are_distinguished() {
        let c = cipher("correct horse battery staple");
        let blob = c.encrypt(&B, b"value").expect("encrypt");
        for other in [
            Binding { version: 2, ..B },
            Binding {
                name: "anthropic",
                ..B
            },
            Binding {
                environment: "staging",
                ..B
            },
            Binding { id: "id-2", ..B },
        ] {
            assert!(matches!(
                c.decrypt(&other, &blob),
                Err(SecretError::Tampered { .. })
            ));
        }
        assert!(matches!(
            cipher("another key of sixteen+").decrypt(&B, &blob),
            Err(SecretError::KeyMismatch { .. })
        ));
        let mut bytes = blob.into_bytes();
        let last = bytes.len() - 1;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(bytes).expect("ascii");
        assert!(c.decrypt(&B, &flipped).is_err());
        assert!(matches!(
            c.decrypt(&B, "v2:xyz"),
            Err(SecretError::Malformed { .. })
        ));
        assert!(matches!(
            SecretCipher::unlock(b"short", KdfParams::recommended([0; 16])),
            Err(SecretError::InvalidMasterKey(_))
        ));
    }

    #[test]
    fn debug_never_shows_the_key() {
        let c = cipher("correct horse battery staple");
        assert!(format!("{c:?}").contains("<redacted>"));
        assert_eq!(generate_master_key().expect("random").len(), 43);
    }
}
