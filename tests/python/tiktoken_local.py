"""OpenAI's Python ``tiktoken`` with the BPE ranks read from the ``tiktoken-rs``
crate in the local Cargo registry, so nothing is downloaded.

Used as an independent oracle in tests and as the peer in benchmarks. The
encoding definitions (regex, special tokens) are tiktoken's own; only the rank
file loader is redirected to the file that our extension embeds.
"""

from __future__ import annotations

import base64
import functools
import glob
import os
from pathlib import Path
from typing import Any


def _rank_file(name: str) -> Path:
    cargo_home = os.environ.get("CARGO_HOME") or os.path.expanduser("~/.cargo")
    hits = sorted(glob.glob(f"{cargo_home}/registry/src/*/tiktoken-rs-*/assets/{name}.tiktoken"))
    if not hits:
        raise FileNotFoundError(
            f"{name}.tiktoken not found under {cargo_home}/registry: build the extension first (make setup)"
        )
    return Path(hits[-1])


def _load_local(url: str, expected_hash: str | None = None) -> dict[bytes, int]:
    name = url.rsplit("/", 1)[-1].removesuffix(".tiktoken")
    ranks: dict[bytes, int] = {}
    for line in _rank_file(name).read_bytes().splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


@functools.cache
def encoding(name: str) -> Any:
    """A ``tiktoken.Encoding`` for ``o200k_base`` or ``cl100k_base``."""
    import tiktoken
    import tiktoken_ext.openai_public as public

    public.load_tiktoken_bpe = _load_local
    return tiktoken.Encoding(**getattr(public, name)())
