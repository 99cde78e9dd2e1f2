"""Where the examples send their calls: the real providers when OPENAI_API_KEY /
ANTHROPIC_API_KEY are set, otherwise a FakeProvider started on loopback."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from iron_cage.testing import FakeProvider


@dataclass
class Env:
    fake: FakeProvider | None
    openai_base_url: str | None
    anthropic_base_url: str | None
    openai_key: str
    anthropic_key: str

    @property
    def openai(self) -> dict[str, object]:
        """Keyword arguments for openai.OpenAI / AsyncOpenAI."""
        return {"base_url": self.openai_base_url, "api_key": self.openai_key, "max_retries": 0}

    @property
    def anthropic(self) -> dict[str, object]:
        """Keyword arguments for anthropic.Anthropic / AsyncAnthropic."""
        return {"base_url": self.anthropic_base_url, "api_key": self.anthropic_key, "max_retries": 0}


@contextmanager
def example_env() -> Iterator[Env]:
    openai_key = os.environ.get("OPENAI_API_KEY")
    anthropic_key = os.environ.get("ANTHROPIC_API_KEY")
    if openai_key and anthropic_key:
        yield Env(None, None, None, openai_key, anthropic_key)
        return
    with FakeProvider() as fake:
        yield Env(fake, fake.base_url, fake.base_url.removesuffix("/v1"), "fake-key", "fake-key")
