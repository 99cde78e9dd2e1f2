"""The supervisor's configuration: one pydantic schema, read from a TOML or YAML file, the
``IRON_CAGE_*`` environment and the command line, in that order of increasing precedence.

Every problem (an unknown key, a wrong type, a bad value, a file that does not parse) is a
:class:`ConfigError` naming where the value came from (the file, the variable or the flag),
the key, and what is allowed.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from iron_cage._exceptions import ConfigError

SafetyMode = Literal["redact", "block", "warn", "off"]
EgressAction = Literal["allow", "warn", "redact", "pseudonymize", "block"]
EnvName = Literal["dev", "staging", "prod"]
RestartPolicy = Literal["no", "on-failure", "always"]
LogFormat = Literal["text", "json"]
LogLevel = Literal["debug", "info", "warning", "error"]
SecretSource = Literal["auto", "vault", "control_panel", "none"]

# The vault's and the Control Panel's names for the three environments.
ENVIRONMENTS: dict[str, str] = {"dev": "development", "staging": "staging", "prod": "production"}
_ENV_ALIASES = {"development": "dev", "production": "prod"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False, validate_default=True)


class PiiConfig(_Strict):
    """Allow-lists of the reply scanner (see docs/pii.md), per-entity actions for replies
    (``ingress``) and the policy for what requests send (``egress``: see docs/egress.md)."""

    entities: list[str] | None = None
    allow_domains: list[str] = Field(default_factory=list)
    allow_values: list[str] = Field(default_factory=list)
    egress: EgressAction | Literal["default", "off"] | dict[str, EgressAction] = "default"
    # Per-entity actions for replies over safety_mode (``{"EMAIL": "allow"}``).
    ingress: dict[str, Literal["allow", "warn", "redact", "block"]] | None = None


class BreakerConfig(_Strict):
    failure_threshold: int = Field(default=5, ge=1, le=1000)
    cooldown_s: float = Field(default=60.0, gt=0, le=86400)


class ControlPanelConfig(_Strict):
    url: str | None = None
    ic_token: SecretStr | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return v.rstrip("/") if v else v


class RestartConfig(_Strict):
    policy: RestartPolicy = "on-failure"
    max_restarts: int = Field(default=5, ge=0, le=10000)
    backoff_s: float = Field(default=0.2, ge=0, le=5)
    max_backoff_s: float = Field(default=2.0, ge=0, le=5)
    grace_s: float = Field(default=10.0, gt=0, le=3600)


class LoggingConfig(_Strict):
    format: LogFormat = "text"
    level: LogLevel = "info"
    retention_days: int = Field(default=7, ge=1, le=3650)
    max_bytes: int = Field(default=10 * 1024 * 1024, ge=4096)


class SecretsConfig(_Strict):
    source: SecretSource = "auto"
    vault: str | None = None
    names: list[str] | None = None


class AgentConfig(_Strict):
    """Everything ``iron-cage start`` can be told; see docs/agents.md for each key."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    budget: float | None = Field(default=None, gt=0, le=1e9)
    safety_mode: SafetyMode = "redact"
    environment: EnvName = "dev"
    thresholds: list[float] = Field(default_factory=lambda: [0.5, 0.75, 0.9])
    pii: PiiConfig = Field(default_factory=PiiConfig)
    breakers: dict[str, BreakerConfig] = Field(default_factory=dict)
    control_panel: ControlPanelConfig = Field(default_factory=ControlPanelConfig)
    restart: RestartConfig = Field(default_factory=RestartConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    secrets: SecretsConfig = Field(default_factory=SecretsConfig)

    @field_validator("environment", mode="before")
    @classmethod
    def _env(cls, v: object) -> object:
        return _ENV_ALIASES.get(v, v) if isinstance(v, str) else v

    @field_validator("thresholds")
    @classmethod
    def _thresholds(cls, v: list[float]) -> list[float]:
        for t in v:
            if not 0 < t <= 1:
                raise ValueError(f"{t} is not a fraction of the budget in (0, 1] (0.9 means 90%)")
        return sorted(set(v))

    @property
    def llm_breaker(self) -> BreakerConfig:
        """The LLM calls' breakers (``breakers.llm``; defaults otherwise)."""
        return self.breakers.get("llm") or BreakerConfig()

    @property
    def vault_environment(self) -> str:
        return ENVIRONMENTS[self.environment]


# IRON_CAGE_* variables -> key paths. The Control Panel's older names are read too.
ENV_KEYS: dict[str, tuple[str, ...]] = {
    "IRON_CAGE_BUDGET": ("budget",),
    "IRON_CAGE_SAFETY_MODE": ("safety_mode",),
    "IRON_CAGE_EGRESS": ("pii", "egress"),
    "IRON_CAGE_ENV": ("environment",),
    "IRON_CAGE_NAME": ("name",),
    "IRON_CAGE_CONTROL_PANEL": ("control_panel", "url"),
    "IRON_CAGE_SERVER_URL": ("control_panel", "url"),
    "IRON_CAGE_IC_TOKEN": ("control_panel", "ic_token"),
    "IRON_CAGE_TOKEN": ("control_panel", "ic_token"),
    "IRON_CAGE_RESTART": ("restart", "policy"),
    "IRON_CAGE_MAX_RESTARTS": ("restart", "max_restarts"),
    "IRON_CAGE_LOG_FORMAT": ("logging", "format"),
    "IRON_CAGE_LOG_LEVEL": ("logging", "level"),
    "IRON_CAGE_VAULT": ("secrets", "vault"),
}
# Command-line flags of `iron-cage start` by key path (others are --<key>).
FLAG_NAMES: dict[tuple[str, ...], str] = {
    ("environment",): "--env",
    ("control_panel", "url"): "--control-panel",
    ("control_panel", "ic_token"): "--ic-token",
    ("restart", "policy"): "--restart",
    ("restart", "max_restarts"): "--max-restarts",
    ("logging", "format"): "--log-format",
}
# Where the names above are only a fallback (the first of a pair wins).
_ENV_FALLBACK = {"IRON_CAGE_SERVER_URL", "IRON_CAGE_TOKEN"}


def read_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The file's mapping (TOML by ``.toml``, YAML by ``.yaml``/``.yml``)."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{p}: no such config file")
    text = p.read_text(encoding="utf-8")
    suffix = p.suffix.lower()
    data: object
    if suffix == ".toml":
        if sys.version_info >= (3, 11):
            import tomllib
        else:  # pragma: no cover - Python 3.10
            import tomli as tomllib
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{p}: not valid TOML: {exc}") from None
    elif suffix in (".yaml", ".yml"):
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"{p}: not valid YAML: {exc}") from None
        if data is None:
            data = {}
    else:
        raise ConfigError(f"{p}: unknown config format {suffix or '(none)'!r}: use .toml, .yaml or .yml")
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: the top level must be a mapping of keys, got {type(data).__name__}")
    return data


def _set(tree: dict[str, Any], path: tuple[str, ...], value: object) -> None:
    for key in path[:-1]:
        node = tree.get(key)
        if not isinstance(node, dict):
            node = {}
            tree[key] = node
        tree = node
    tree[path[-1]] = value


def _allowed_keys(loc: tuple[str | int, ...]) -> list[str]:
    """The keys the model at ``loc``'s parent accepts (for "unknown key" errors)."""
    model: type[BaseModel] = AgentConfig
    parts = [str(p) for p in loc[:-1]]
    i = 0
    while i < len(parts):
        if model is AgentConfig and parts[i] == "breakers":
            if i + 1 >= len(parts):
                return []  # any service name is a key here
            model, i = BreakerConfig, i + 2
            continue
        field = model.model_fields.get(parts[i])
        ann = field.annotation if field is not None else None
        if not (isinstance(ann, type) and issubclass(ann, BaseModel)):
            return []
        model, i = ann, i + 1
    return sorted(model.model_fields)


def _describe(error: Mapping[str, Any]) -> str:
    loc = tuple(error["loc"])
    kind = error["type"]
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc)
        return f"unknown key {loc[-1]!r}" + (f"; allowed keys here: {', '.join(allowed)}" if allowed else "")
    if kind == "literal_error":
        expected = error.get("ctx", {}).get("expected", "")
        return f"{error['input']!r} is not allowed; use one of {expected}"
    got = error.get("input")
    shown = "" if isinstance(got, dict | SecretStr) or kind == "missing" else f" (got {got!r})"
    return f"{error['msg']}{shown}"


def build(
    *,
    file: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    flags: Mapping[tuple[str, ...], object] | None = None,
) -> AgentConfig:
    """Defaults < ``file`` < ``IRON_CAGE_*`` in ``environ`` < ``flags`` (key path -> value)."""
    environ = os.environ if environ is None else environ
    tree: dict[str, Any] = read_file(file) if file is not None else {}
    origin: dict[tuple[str, ...], str] = {}
    done: set[tuple[str, ...]] = set()
    for var, path in ENV_KEYS.items():
        value = environ.get(var)
        if value is None or value == "" or (var in _ENV_FALLBACK and path in done):
            continue
        _set(tree, path, value)
        origin[path] = f"${var}"
        done.add(path)
    for path, flag_value in (flags or {}).items():
        if flag_value is None:
            continue
        _set(tree, path, flag_value)
        origin[path] = FLAG_NAMES.get(path) or "--" + path[-1].replace("_", "-")
    try:
        return AgentConfig.model_validate(tree)
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            loc = tuple(str(p) for p in error["loc"])
            where = next((origin[loc[:n]] for n in range(len(loc), 0, -1) if loc[:n] in origin), None)
            source = where or (str(file) if file is not None else "defaults")
            key = ".".join(loc) or "(top level)"
            lines.append(f"{source}: {key}: {_describe(error)}")
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(lines)) from None
