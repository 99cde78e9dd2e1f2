"""`iron-cage prices`: what each model will be charged, and updating the table.

- ``prices list`` (or plain ``prices``): every model in the active table;
- ``prices show MODEL``: which entry a name resolves to and all its rates;
- ``prices check [FILE]``: loads the active table (embedded + ``IRON_CAGE_PRICES``,
  with the ``IRON_CAGE_UNKNOWN_MODEL`` policy) or FILE, and says what it holds;
- ``prices import FILE [-o OUT]``: converts a LiteLLM
  ``model_prices_and_context_window.json`` into iron-cage's table format.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

import iron_cage as ic
from iron_cage import _core
from iron_cage.cli import _output as out
from iron_cage.cli._params import json_option

DEFAULT_IMPORT = Path.home() / ".iron-cage" / "prices.json"


def _rates(r: dict[str, Any]) -> str:
    parts = [f"in ${r['input']:g}", f"out ${r['output']:g}"]
    for key, label in (
        ("cached_input", "cached"),
        ("cache_write_5m", "cache write 5m"),
        ("cache_write_1h", "1h"),
        ("audio_input", "audio in"),
        ("audio_output", "audio out"),
    ):
        if r.get(key):
            parts.append(f"{label} ${r[key]:g}")
    return ", ".join(parts)


def _list(as_json: bool) -> int:
    table = ic.active_price_table()
    if as_json:
        print(json.dumps({name: table.price(name) for name in table.models()}, indent=2))
        return 0
    print(f"price table {table.version}: {len(table.models())} models, USD per 1M tokens", flush=True)
    rows = []
    for name in table.models():
        p = table.price(name)
        std = p["standard"]
        rows.append({"model": name, **std, "provider": p["provider"]})
    out.table(
        rows,
        (
            out.col("model"),
            out.Column("input", "Input", "usd"),
            out.Column("output", "Output", "usd"),
            out.Column("cached_input", "Cached input", "usd"),
            out.col("provider"),
        ),
    )
    return 0


def _show(model: str, as_json: bool) -> int:
    table = ic.active_price_table()
    p = table.price(model)
    if as_json:
        print(json.dumps(p, indent=2))
        return 0
    resolved = p["model"]
    how = "" if resolved == model else f" (priced as {resolved})"
    print(f"{model}{how}: {p['provider']}, table {table.version}, USD per 1M tokens")
    print(f"  standard  {_rates(p['standard'])}")
    print(f"  batch     {_rates(p['batch'])}")
    print(f"  priority  {_rates(p['priority']) if p['priority'] else 'not offered'}")
    long = p.get("long_context")
    if long:
        print(f"  above {long['threshold']:,} input tokens: {_rates(long)}")
    window = f"{p['context_window']:,}" if p["context_window"] else "unknown"
    most = f"{p['max_output_tokens']:,}" if p["max_output_tokens"] else "unknown (128,000 assumed)"
    print(f"  context window {window} tokens; most output {most} tokens")
    return 0


def _check(file: str | None) -> int:
    if file:
        table = ic.PriceTable.from_file(file, merge_embedded=False)
        print(f"{file}: valid, version {table.version}, {len(table.models())} models")
        return 0
    table = ic.active_price_table()
    source = os.environ.get("IRON_CAGE_PRICES")
    print(f"active price table {table.version}: {len(table.models())} models")
    print(f"  embedded {ic.PRICE_TABLE_VERSION}" + (f", merged with {source}" if source else ""))
    policy = os.environ.get("IRON_CAGE_UNKNOWN_MODEL") or "refuse"
    print(f"  unknown models: {policy} (IRON_CAGE_UNKNOWN_MODEL)")
    return 0


def _import(file: str, output: str | None, version: str | None) -> int:
    src = Path(file)
    try:
        text = src.read_text(encoding="utf-8")
    except OSError as exc:
        raise ic.ConfigError(f"cannot read {src}: {exc.strerror or exc}") from None
    converted = _core.convert_litellm_prices(text, version=version or f"litellm:{src.name}")
    models = json.loads(converted)["models"]
    dest = Path(output) if output else DEFAULT_IMPORT
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(dest.suffix + ".tmp")
    tmp.write_text(converted + "\n", encoding="utf-8")
    tmp.replace(dest)  # never a half-written table
    print(f"wrote {len(models)} models from {src} to {dest}")
    print(f"use it:  export IRON_CAGE_PRICES={dest}   (merged over the embedded table)")
    return 0


class _PricesGroup(click.Group):
    """``iron-cage prices MODEL`` is ``prices show MODEL``."""

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            return "show", self.commands["show"], args
        return super().resolve_command(ctx, args)


@click.group(cls=_PricesGroup, invoke_without_command=True)
@json_option
@click.pass_context
def prices(ctx: click.Context, as_json: bool) -> int:
    """See what each model is charged; check the table; import a newer price map.

    Plain `iron-cage prices` lists every model; `iron-cage prices MODEL` shows one.

    \b
    Examples:
      iron-cage prices
      iron-cage prices gpt-4o-mini-2024-07-18
      iron-cage prices check
      iron-cage prices import model_prices_and_context_window.json
    """
    if ctx.invoked_subcommand is None:
        return _list(as_json)
    return 0


@prices.command("list")
@json_option
def prices_list(as_json: bool) -> int:
    """Every model in the active table, USD per 1M tokens.

    \b
    Examples:
      iron-cage prices list
      iron-cage prices list --json | jq 'keys | length'
    """
    return _list(as_json)


@prices.command("show")
@click.argument("model")
@json_option
def prices_show(model: str, as_json: bool) -> int:
    """The entry MODEL resolves to and all its rates.

    \b
    Examples:
      iron-cage prices show claude-sonnet-4-5
      iron-cage prices gpt-4o --json
    """
    return _show(model, as_json)


@prices.command("check")
@click.argument("file", required=False)
def prices_check(file: str | None) -> int:
    """Load the active table (embedded + $IRON_CAGE_PRICES), or FILE alone, and say what it holds.

    \b
    Examples:
      iron-cage prices check
      iron-cage prices check ~/.iron-cage/prices.json
    """
    return _check(file)


@prices.command("import")
@click.argument("file")
@click.option(
    "-o",
    "--output",
    metavar="OUT",
    default=None,
    help="Where to write the table (default ~/.iron-cage/prices.json).",
)
@click.option(
    "--version", metavar="TEXT", default=None, help="The version to stamp on it (default litellm:<file>)."
)
def prices_import(file: str, output: str | None, version: str | None) -> int:
    """Convert a LiteLLM model_prices_and_context_window.json into iron-cage's table format.

    \b
    Example:
      iron-cage prices import model_prices_and_context_window.json -o prices.json
      export IRON_CAGE_PRICES=$PWD/prices.json
    """
    return _import(file, output, version)
