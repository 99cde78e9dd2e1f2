"""Control Panel fixtures: a Control Panel, a TestClient with helpers per role, the runtime's
side of the sealed key, and for the dashboard's tests Debian's Chromium and an embedded Control
Panel on a SQLite file. Every test that takes ``database_url`` (``tests/python/conftest.py``)
runs on a SQLite file and on a real PostgreSQL server.
"""

from __future__ import annotations

import base64
import itertools
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, sync_playwright

from iron_cage import _core
from iron_cage.control_panel import ControlPanel, Settings, create_app
from iron_cage.control_panel.dashboard import STATIC
from iron_cage.control_panel.embedded import EmbeddedControlPanel

ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "admin-password-123"
PASSWORD = "developer-password-1"
MASTER_KEY = _core.generate_master_key()
_names = itertools.count()


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class RuntimeKeys:
    """The runtime's side of the sealed provider key, written from docs/protocol.md with
    ``cryptography`` alone (as the Rust lease client does it): a fresh X25519 key pair, and
    the opening of ``provider_key_sealed``."""

    SCHEME = "x25519-hkdf-sha256-aes256gcm"

    def __init__(self) -> None:
        self.secret = X25519PrivateKey.generate()
        self.public = self.secret.public_key().public_bytes_raw()

    def request(self) -> dict[str, str]:
        return {"scheme": self.SCHEME, "public_key": b64url(self.public)}

    def open(self, sealed: dict[str, str], lease_id: str) -> str:
        assert sealed["scheme"] == self.SCHEME
        server = unb64url(sealed["ephemeral_public_key"])
        nonce = unb64url(sealed["nonce"])
        assert len(server) == 32 and len(nonce) == 12
        shared = self.secret.exchange(X25519PublicKey.from_public_bytes(server))
        key = HKDF(
            algorithm=SHA256(), length=32, salt=self.public + server, info=b"iron-cage provider key v1"
        ).derive(shared)
        plain = AESGCM(key).decrypt(nonce, unb64url(sealed["ciphertext"]), lease_id.encode())
        return plain.decode()


def make_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "master_key": MASTER_KEY,
        "admin_email": ADMIN_EMAIL,
        "admin_password": ADMIN_PASSWORD,
        "bcrypt_rounds": 4,  # the cost-12 default is tested on its own; 4 keeps the suite fast
        "sweep_interval_s": 0,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def cp(database_url: str) -> Iterator[ControlPanel]:
    panel = ControlPanel(make_settings(database_url))
    panel.bootstrap_admin()
    yield panel
    panel.close()


@dataclass
class Api:
    """A TestClient plus helpers that log in as each role and set up agents."""

    client: TestClient
    cp: ControlPanel
    tokens: dict[str, str] = field(default_factory=dict)

    def auth(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    def login(self, email: str, password: str) -> dict[str, Any]:
        r = self.client.post("/api/v1/auth/login", json={"email": email, "password": password})
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    def as_(self, role: str) -> dict[str, str]:
        """Authorization headers of a user with ``role`` (created on first use)."""
        if role not in self.tokens:
            if role == "admin":
                self.tokens[role] = self.login(ADMIN_EMAIL, ADMIN_PASSWORD)["access_token"]
            else:
                email = f"{role}@example.com"
                r = self.client.post(
                    "/api/v1/users",
                    json={"email": email, "name": role.title(), "role": role, "password": PASSWORD},
                    headers=self.as_("admin"),
                )
                assert r.status_code == 201, r.text
                self.tokens[role] = self.login(email, PASSWORD)["access_token"]
        return self.auth(self.tokens[role])

    def user_id(self, role: str) -> int:
        r = self.client.get("/api/v1/users/me", headers=self.as_(role))
        return int(r.json()["id"])

    def agent(self, budget_usd: float | str = 10, owner: str = "developer", **extra: Any) -> dict[str, Any]:
        body = {
            "name": f"agent-{next(_names)}",
            "owner_id": self.user_id(owner),
            "budget_usd": budget_usd,
            **extra,
        }
        r = self.client.post("/api/v1/agents", json=body, headers=self.as_("admin"))
        assert r.status_code == 201, r.text
        out: dict[str, Any] = r.json()
        return out

    def ic_token(self, agent_id: int) -> str:
        r = self.client.post(
            f"/api/v1/agents/{agent_id}/tokens", json={"name": "t"}, headers=self.as_("admin")
        )
        assert r.status_code == 201, r.text
        token: str = r.json()["token"]
        return token

    def budget(self, agent_id: int) -> dict[str, float]:
        r = self.client.get(f"/api/v1/agents/{agent_id}/budget", headers=self.as_("admin"))
        assert r.status_code == 200, r.text
        out: dict[str, float] = r.json()
        return out


@pytest.fixture
def api(cp: ControlPanel) -> Iterator[Api]:
    with TestClient(create_app(control_panel=cp)) as client:
        yield Api(client, cp)


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps dialling Google's hosts.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not (STATIC / "index.html").is_file():
        pytest.fail("the dashboard is not built: run `make dashboard` (make test does)")
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: `make chromium` installs Debian's package (make test does)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield b
        b.close()


@pytest.fixture
def panel(tmp_path: Path) -> Iterator[EmbeddedControlPanel]:
    with EmbeddedControlPanel(make_settings(f"sqlite:///{tmp_path / 'cp.db'}")) as cp:
        yield cp
