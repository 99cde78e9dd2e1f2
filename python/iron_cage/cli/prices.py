"""`iron-cage prices`: what each model will be charged, and updating the table.

- ``prices list`` (or plain ``prices``): every model in the active table;
- ``prices show MODEL``: which entry a name resolves to and all its rates;
- ``prices check [FILE]``: loads the active table (embedded + ``IRON_CAGE_PRICES``,
  with the ``IRON_CAGE_UNKNOWN_MODEL`` policy) or FILE, and says what it holds;
- ``prices import FILE [-o OUT]``: converts a LiteLLM
  ``model_prices_and_context_window.json`` into iron-cage's table format.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

import iron_cage as ic
from iron_cage import _core

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


def _list(args: argparse.Namespace) -> int:
    table = ic.active_price_table()
    if args.json:
        print(json.dumps({name: table.price(name) for name in table.models()}, indent=2))
        return 0
    print(f"price table {table.version}: {len(table.models())} models, USD per 1M tokens")
    print(f"  {'model':32s} {'input':>9s} {'output':>9s} {'cached':>9s}  provider")
    for name in table.models():
        p = table.price(name)
        std = p["standard"]
        rates = f"{std['input']:>9.3f} {std['output']:>9.3f} {std['cached_input']:>9.3f}"
        print(f"  {name:32s} {rates}  {p['provider']}")
    return 0


def _show(args: argparse.Namespace) -> int:
    table = ic.active_price_table()
    p = table.price(args.model)
    if args.json:
        print(json.dumps(p, indent=2))
        return 0
    resolved = p["model"]
    how = "" if resolved == args.model else f" (priced as {resolved})"
    print(f"{args.model}{how}: {p['provider']}, table {table.version}, USD per 1M tokens")
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


def _check(args: argparse.Namespace) -> int:
    if args.file:
        table = ic.PriceTable.from_file(args.file, merge_embedded=False)
        print(f"{args.file}: valid, version {table.version}, {len(table.models())} models")
        return 0
    table = ic.active_price_table()
    source = os.environ.get("IRON_CAGE_PRICES")
    print(f"active price table {table.version}: {len(table.models())} models")
    print(f"  embedded {ic.PRICE_TABLE_VERSION}" + (f", merged with {source}" if source else ""))
    policy = os.environ.get("IRON_CAGE_UNKNOWN_MODEL") or "refuse"
    print(f"  unknown models: {policy} (IRON_CAGE_UNKNOWN_MODEL)")
    return 0


def _import(args: argparse.Namespace) -> int:
    src = Path(args.file)
    try:
        text = src.read_text(encoding="utf-8")
    except OSError as exc:
        raise ic.ConfigError(f"cannot read {src}: {exc.strerror or exc}") from None
    converted = _core.convert_litellm_prices(text, version=args.version or f"litellm:{src.name}")
    models = json.loads(converted)["models"]
    out = Path(args.output) if args.output else DEFAULT_IMPORT
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    tmp.write_text(converted + "\n", encoding="utf-8")
    tmp.replace(out)  # never a half-written table
    print(f"wrote {len(models)} models from {src} to {out}")
    print(f"use it:  export IRON_CAGE_PRICES={out}   (merged over the embedded table)")
    return 0


COMMANDS = ("list", "show", "check", "import")


def _dispatch(args: argparse.Namespace) -> int:
    words: list[str] = args.words
    if not words or words[0] == "list":
        return _list(args)
    command, rest = (words[0], words[1:]) if words[0] in COMMANDS else ("show", words)
    if command in ("show", "import") and len(rest) != 1:
        what = "a model name" if command == "show" else "the LiteLLM JSON file"
        raise ic.ConfigError(
            f"`iron-cage prices {command}` takes {what}, e.g. `iron-cage prices {command} X`"
        )
    if command == "show":
        args.model = rest[0]
        return _show(args)
    if command == "import":
        args.file = rest[0]
        return _import(args)
    if len(rest) > 1:
        raise ic.ConfigError("`iron-cage prices check` takes at most one file")
    args.file = rest[0] if rest else None
    return _check(args)


def register(sub: Any) -> None:
    """Adds `prices` to the CLI's subparsers."""
    prices = sub.add_parser(
        "prices",
        help="see what each model is charged; check the table; import a newer price map",
        description="iron-cage prices [list]            every model in the active table\n"
        "iron-cage prices [show] MODEL      the entry MODEL resolves to and all its rates\n"
        "iron-cage prices check [FILE]      load the active table (or FILE) and say what it holds\n"
        "iron-cage prices import FILE       convert a LiteLLM model_prices_and_context_window.json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    prices.add_argument(
        "words", nargs="*", metavar="COMMAND", help="list, show MODEL, check [FILE], import FILE"
    )
    prices.add_argument("--json", action="store_true", help="list and show: print JSON")
    prices.add_argument("-o", "--output", help=f"import: where to write the table (default {DEFAULT_IMPORT})")
    prices.add_argument(
        "--version", help="import: the version to stamp on the table (default litellm:<file>)"
    )
    prices.set_defaults(func=_dispatch)
