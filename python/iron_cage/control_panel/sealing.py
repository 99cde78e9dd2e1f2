"""The provider key, sealed to one runtime for one lease (docs/protocol.md, "The sealed key").

The runtime sends the public half of a fresh X25519 key pair with every handshake and
refresh. For each answer the server makes a fresh X25519 key pair of its own and seals:

- ``shared = X25519(server_ephemeral_secret, client_public)``
- ``key = HKDF-SHA256(salt = client_public_raw || server_ephemeral_public_raw, ikm = shared,
  info = b"iron-cage provider key v1", length = 32)``
- ``ciphertext = AES-256-GCM(key, nonce = 12 random bytes, plaintext = the key's UTF-8
  bytes, associated data = the lease id's UTF-8 bytes)``, the 16-byte tag at its end.

Only the holder of the runtime's secret half opens it, and only for that lease: the key is
never in an answer, log, error or event in the clear. The Rust lease client
(``crates/iron_runtime/src/sealed_key.rs``) opens it byte for byte this way.
"""

from __future__ import annotations

import base64
import os

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from iron_cage.control_panel.wire import SCHEME, SealedKey, b64url_bytes

INFO = b"iron-cage provider key v1"


class KeyExchangeError(ValueError):
    """The runtime's public key cannot be used (the message says why, never any key material)."""


def b64url(raw: bytes) -> str:
    """base64url without padding."""
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def client_public_key(text: str) -> bytes:
    """The runtime's raw 32-byte X25519 public key (``KeyExchange`` checked its form)."""
    raw = b64url_bytes(text)
    if len(raw) != 32:
        raise KeyExchangeError(f"key_exchange.public_key is {len(raw)} bytes: an X25519 public key is 32")
    return raw


def derive_key(shared: bytes, client_public: bytes, server_public: bytes) -> bytes:
    """The AES-256-GCM key both sides derive from the X25519 shared secret."""
    hkdf = HKDF(algorithm=SHA256(), length=32, salt=client_public + server_public, info=INFO)
    return hkdf.derive(shared)


def seal(client_public: bytes, plaintext: str, lease_id: str) -> SealedKey:
    """``plaintext`` sealed to ``client_public`` for ``lease_id``, with a fresh server key pair."""
    ephemeral = X25519PrivateKey.generate()
    server_public = ephemeral.public_key().public_bytes_raw()
    try:
        shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(client_public))
    except ValueError:  # a low-order point: every shared secret would be zero
        raise KeyExchangeError(
            "key_exchange.public_key is not a usable X25519 public key (a low-order point): "
            "send the public half of a freshly generated key pair"
        ) from None
    key = derive_key(shared, client_public, server_public)
    nonce = os.urandom(12)
    ciphertext = AESGCM(key).encrypt(nonce, plaintext.encode(), lease_id.encode())
    return SealedKey(
        scheme=SCHEME,
        ephemeral_public_key=b64url(server_public),
        nonce=b64url(nonce),
        ciphertext=b64url(ciphertext),
    )
