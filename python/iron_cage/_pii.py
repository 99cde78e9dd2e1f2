"""PII detection and redaction: ``PiiScanner``.

Detection runs in Rust (``crates/iron_safety``): one pass over the text for
every pattern, then validators (Luhn and issuer ranges for cards, mod-97 for
IBANs, SSA rules for SSNs, ...). Findings carry the entity, ``str`` offsets,
a severity and ``value_hmac``, an HMAC-SHA256 of the value under a key that is
generated once per install, never the value itself.
"""

from __future__ import annotations

import os
import secrets
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from iron_cage import _core
from iron_cage._exceptions import ConfigError, PiiBlockedError

HMAC_KEY_ENV = "IRON_CAGE_PII_HMAC_KEY"
HOME_ENV = "IRON_CAGE_HOME"


def iron_cage_home() -> Path:
    """``$IRON_CAGE_HOME`` or ``~/.iron-cage``."""
    return Path(os.environ.get(HOME_ENV) or Path.home() / ".iron-cage")


def load_hmac_key(key: bytes | str | None = None) -> bytes:
    """The key for findings' HMACs: the argument, ``$IRON_CAGE_PII_HMAC_KEY``, or a
    random key generated once and kept in ``$IRON_CAGE_HOME/pii_hmac.key`` (mode 0600)."""
    if key is None:
        key = os.environ.get(HMAC_KEY_ENV) or None
    if key is not None:
        raw = key.encode() if isinstance(key, str) else bytes(key)
        if len(raw) < 16:
            raise ConfigError("the PII HMAC key must be at least 16 bytes; leave it unset to generate one")
        return raw
    path = iron_cage_home() / "pii_hmac.key"
    try:
        return bytes.fromhex(path.read_text().strip())
    except FileNotFoundError:
        pass
    except ValueError as exc:
        raise ConfigError(f"{path} is not a hex key; delete it to generate a new one") from exc
    path.parent.mkdir(parents=True, exist_ok=True)
    new = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(new.hex())
    return new


def _blocked(findings: Sequence[_core.Finding]) -> PiiBlockedError:
    counts = Counter(f.entity for f in findings)
    summary = ", ".join(f"{n} x{c}" for n, c in sorted(counts.items()))
    return PiiBlockedError(
        f"PII found in block mode ({summary}); nothing was returned", findings=list(findings)
    )


class PiiScanner:
    """Finds and handles PII and secrets in text.

    ``mode``: ``"redact"`` (default: values become ``[EMAIL_REDACTED]``, ...),
    ``"block"`` (raise :class:`PiiBlockedError`, return nothing) or ``"warn"``
    (report, leave the text). ``entities`` limits detection to some of
    ``EMAIL, PHONE, US_SSN, CREDIT_CARD, IBAN, IP_ADDRESS, MAC_ADDRESS, API_KEY``.
    ``allow_domains`` (``"company.com"``) and ``allow_values`` are never reported.
    ``custom_patterns``: ``{"EMPLOYEE_ID": r"EMP-\\d{6}"}`` or ``(name, regex, severity)`` triples.
    """

    def __init__(
        self,
        mode: str = "redact",
        entities: Iterable[str] | None = None,
        allow_domains: Iterable[str] = (),
        allow_values: Iterable[str] = (),
        custom_patterns: Mapping[str, str] | Iterable[tuple[str, str, str]] = (),
        hmac_key: bytes | str | None = None,
    ) -> None:
        if isinstance(custom_patterns, Mapping):
            custom = [(name, pattern, "high") for name, pattern in custom_patterns.items()]
        else:
            custom = [tuple(c) for c in custom_patterns]  # type: ignore[misc]
        self.mode = mode
        self._core = _core.PiiScannerCore(
            mode=mode,
            hmac_key=load_hmac_key(hmac_key),
            entities=list(entities) if entities is not None else None,
            allow_domains=list(allow_domains),
            allow_values=list(allow_values),
            custom_patterns=custom,
        )

    def scan(self, text: str, *, raise_on_block: bool = True) -> _core.ScanResult:
        """Scans ``text``. In block mode a finding raises PiiBlockedError unless ``raise_on_block=False``."""
        result = self._core.scan(text)
        if result.blocked and raise_on_block:
            raise _blocked(result.findings)
        return result

    def stream(self) -> PiiStream:
        """A streaming scan: ``feed(chunk)`` returns what is safe to emit, ``finish()`` the rest."""
        return PiiStream(self._core.stream())

    def __repr__(self) -> str:
        return f"PiiScanner(mode={self.mode!r})"


class PiiStream:
    """Streaming scan. PII split across chunks is still caught: up to
    ``HOLD_BACK`` (512) bytes are held until it is clear nothing spans them."""

    def __init__(self, core: _core.PiiStream) -> None:
        self._core = core
        self.findings: list[_core.Finding] = []
        self.blocked = False

    def _take(self, step: tuple[str, list[_core.Finding], bool]) -> str:
        text, found, blocked = step
        self.findings.extend(found)
        if blocked and not self.blocked:
            self.blocked = True
            raise _blocked(self.findings)
        return text

    def feed(self, chunk: str) -> str:
        return self._take(self._core.feed(chunk))

    def finish(self) -> str:
        return self._take(self._core.finish())
