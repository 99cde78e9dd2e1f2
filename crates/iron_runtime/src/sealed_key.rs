//! The provider key, sealed by the Control Panel to this runtime and opened
//! only here.
//!
//! Each handshake and refresh sends the public half of a fresh X25519 key
//! pair. The server answers with the provider key sealed to it: a fresh
//! server key pair, `HKDF-SHA256(salt = client_public || server_public, ikm =
//! X25519 shared secret, info = "iron-cage provider key v1")` as the key of
//! AES-256-GCM, the lease id as associated data. The opened key lives in a
//! [`KeySlot`] (zeroized when replaced or dropped) that the router and the
//! key proxy read when they sign an upstream request; no Python object, log,
//! event or error ever holds it.

use std::sync::{Arc, RwLock};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hkdf::Hkdf;
use serde_json::{json, Value};
use sha2::Sha256;
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroizing;

/// The one scheme the handshake speaks.
pub const SCHEME: &str = "x25519-hkdf-sha256-aes256gcm";
const INFO: &[u8] = b"iron-cage provider key v1";

/// One handshake's key pair: the secret half never leaves this value (and is
/// zeroized with it).
pub struct KeyExchange {
    secret: StaticSecret,
    public: PublicKey,
}

impl std::fmt::Debug for KeyExchange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyExchange").finish_non_exhaustive()
    }
}

fn b64(s: &Value, what: &str) -> Result<Vec<u8>, String> {
    let text = s
        .get(what)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("the sealed provider key has no {what}"))?;
    URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .map_err(|_| format!("the sealed provider key's {what} is not base64url"))
}

impl KeyExchange {
    /// A fresh key pair.
    ///
    /// # Errors
    /// The operating system's random source failed.
    pub fn new() -> Result<Self, String> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        getrandom::fill(bytes.as_mut())
            .map_err(|e| format!("no random bytes for the key exchange: {e}"))?;
        let secret = StaticSecret::from(*bytes);
        let public = PublicKey::from(&secret);
        Ok(KeyExchange { secret, public })
    }

    /// The `key_exchange` member of a handshake or refresh.
    #[must_use]
    pub fn request(&self) -> Value {
        json!({"scheme": SCHEME, "public_key": URL_SAFE_NO_PAD.encode(self.public.as_bytes())})
    }

    /// Opens a `provider_key_sealed` answer bound to `lease_id`.
    ///
    /// # Errors
    /// Another scheme, a malformed member, or a key that does not open (sealed
    /// to another key pair, for another lease, or tampered with). The message
    /// never contains key material.
    pub fn open(&self, sealed: &Value, lease_id: &str) -> Result<Zeroizing<String>, String> {
        match sealed.get("scheme").and_then(Value::as_str) {
            Some(SCHEME) => {}
            other => {
                return Err(format!(
                    "the Control Panel sealed the provider key with {other:?}; this runtime speaks {SCHEME:?}"
                ))
            }
        }
        let server: [u8; 32] = b64(sealed, "ephemeral_public_key")?
            .try_into()
            .map_err(|_| "the server's public key is not 32 bytes".to_owned())?;
        let nonce: [u8; 12] = b64(sealed, "nonce")?
            .try_into()
            .map_err(|_| "the nonce is not 12 bytes".to_owned())?;
        let ciphertext = b64(sealed, "ciphertext")?;
        let shared = self.secret.diffie_hellman(&PublicKey::from(server));
        let mut salt = [0u8; 64];
        salt[..32].copy_from_slice(self.public.as_bytes());
        salt[32..].copy_from_slice(&server);
        let hk = Hkdf::<Sha256>::new(Some(&salt), shared.as_bytes());
        let mut key = Zeroizing::new([0u8; 32]);
        hk.expand(INFO, key.as_mut())
            .map_err(|_| "HKDF refused a 32-byte key".to_owned())?;
        let cipher =
            Aes256Gcm::new_from_slice(key.as_ref()).map_err(|_| "a 32-byte key".to_owned())?;
        let plain = Zeroizing::new(
            cipher
                .decrypt(
                    &Nonce::from(nonce),
                    Payload {
                        msg: &ciphertext,
                        aad: lease_id.as_bytes(),
                    },
                )
                .map_err(|_| {
                    "the sealed provider key does not open for this runtime and lease".to_owned()
                })?,
        );
        let text = std::str::from_utf8(&plain)
            .map_err(|_| "the opened provider key is not UTF-8".to_owned())?;
        Ok(Zeroizing::new(text.to_owned()))
    }
}

/// Where an opened provider key is kept: written by the lease client at each
/// handshake and refresh, read by whatever signs upstream requests. Its
/// `Debug` never shows the key.
#[derive(Clone, Default)]
pub struct KeySlot(Arc<RwLock<Option<Zeroizing<String>>>>);

impl std::fmt::Debug for KeySlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let held = self.with(|k| k.is_some());
        write!(
            f,
            "KeySlot({})",
            if held { "sealed key held" } else { "empty" }
        )
    }
}

impl KeySlot {
    /// A slot holding `key` (a key given by the caller, as in local mode).
    #[must_use]
    pub fn holding(key: Option<String>) -> Self {
        let slot = KeySlot::default();
        slot.set(key.map(Zeroizing::new));
        slot
    }

    /// Replaces the key (the old one is zeroized).
    pub fn set(&self, key: Option<Zeroizing<String>>) {
        *self
            .0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = key;
    }

    /// Runs `f` with the key, if one is held.
    pub fn with<R>(&self, f: impl FnOnce(Option<&str>) -> R) -> R {
        let guard = self
            .0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(guard.as_ref().map(|k| k.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the Control Panel does, written out here from the same description.
    fn seal(client_public: &str, key: &str, lease_id: &str) -> Value {
        let client: [u8; 32] = URL_SAFE_NO_PAD
            .decode(client_public)
            .expect("b64")
            .try_into()
            .expect("32");
        let server = KeyExchange::new().expect("pair");
        let shared = server.secret.diffie_hellman(&PublicKey::from(client));
        let mut salt = client.to_vec();
        salt.extend_from_slice(server.public.as_bytes());
        let mut k = [0u8; 32];
        Hkdf::<Sha256>::new(Some(&salt), shared.as_bytes())
            .expand(INFO, &mut k)
            .expect("hkdf");
        let nonce = [7u8; 12];
        let ct = Aes256Gcm::new_from_slice(&k)
            .expect("key")
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: key.as_bytes(),
                    aad: lease_id.as_bytes(),
                },
            )
            .expect("seal");
        json!({"scheme": SCHEME, "ephemeral_public_key": URL_SAFE_NO_PAD.encode(server.public.as_bytes()),
               "nonce": URL_SAFE_NO_PAD.encode(nonce), "ciphertext": URL_SAFE_NO_PAD.encode(ct)})
    }

    #[test]
    fn a_key_sealed_to_this_pair_and_lease_opens_and_nothing_else_does() {
        let pair = KeyExchange::new().expect("pair");
        let public = pair.request()["public_key"]
            .as_str()
            .expect("str")
            .to_owned();
        let sealed = seal(&public, "sk-proj-real-key", "lease-1");
        assert_eq!(
            pair.open(&sealed, "lease-1").expect("opens").as_str(),
            "sk-proj-real-key"
        );
        let err = pair
            .open(&sealed, "lease-2")
            .expect_err("bound to its lease");
        assert!(!err.contains("sk-proj"), "{err}");
        let other = KeyExchange::new().expect("pair");
        assert!(
            other.open(&sealed, "lease-1").is_err(),
            "sealed to one pair"
        );
        let mut tampered = sealed.clone();
        tampered["scheme"] = json!("rsa");
        assert!(pair.open(&tampered, "lease-1").is_err());
    }

    #[test]
    fn a_slot_never_shows_its_key() {
        let slot = KeySlot::holding(Some("sk-proj-secret".into()));
        assert!(!format!("{slot:?}").contains("sk-proj"));
        assert_eq!(slot.with(|k| k.map(str::len)), Some(14));
        slot.set(None);
        assert!(slot.with(|k| k.is_none()));
    }
}
