"""The secrets a supervised agent gets in its environment, from the local vault or from the
Control Panel (with the agent's IC token), for the configured environment."""

from __future__ import annotations

import os
import re
from pathlib import Path

from iron_cage._exceptions import ConfigError, IronCageError, SecretError
from iron_cage.supervisor.config import AgentConfig
from iron_cage.supervisor.cpclient import SupervisorClient

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def vault_path(cfg: AgentConfig) -> Path:
    return Path(
        cfg.secrets.vault or os.environ.get("IRON_CAGE_VAULT") or Path.home() / ".iron-cage" / "vault.db"
    )


def source_of(cfg: AgentConfig) -> str:
    """``control_panel``, ``vault`` or ``none`` for this configuration."""
    source = cfg.secrets.source
    if source != "auto":
        return source
    if cfg.control_panel.url:
        return "control_panel"
    return "vault" if vault_path(cfg).exists() else "none"


def load(cfg: AgentConfig, client: SupervisorClient | None) -> dict[str, str]:
    """Name -> value. Errors name the source and the fix, never a value."""
    source = source_of(cfg)
    env = cfg.vault_environment
    names = cfg.secrets.names
    values: dict[str, str]
    if source == "none":
        return {}
    if source == "control_panel":
        if client is None:
            raise ConfigError("secrets.source is control_panel, but no Control Panel is configured")
        values = client.secrets(env, names)
    else:
        from iron_cage._secrets import SecretVault

        path = vault_path(cfg)
        if not path.exists():
            raise ConfigError(
                f"secrets.source is vault, but {path} does not exist (iron-cage secret add NAME)"
            )
        try:
            vault = SecretVault(path, role="supervisor")
            listed = {s["name"] for s in vault.list(environment=env)}
            wanted = listed if names is None else [n for n in names if n in listed]
            values = {n: vault.get(n, environment=env) for n in sorted(wanted)}
        except (SecretError, ConfigError) as exc:
            raise ConfigError(f"the vault {path} cannot be read: {exc}") from None
        except IronCageError as exc:
            raise ConfigError(f"the vault {path} cannot be read: {exc}") from None
    if names is not None:
        missing = sorted(set(names) - set(values))
        if missing:
            raise ConfigError(
                f"secrets.names lists {', '.join(missing)}, not found in {source} ({env}): add them first"
            )
    bad = sorted(n for n in values if not _ENV_NAME.match(n))
    if bad:
        raise ConfigError(
            f"secret names {', '.join(bad)} are not environment variable names ([A-Za-z_][A-Za-z0-9_]*)"
        )
    return values
