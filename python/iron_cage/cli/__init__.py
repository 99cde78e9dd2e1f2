"""The ``iron-cage`` command line."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

import iron_cage as ic


def _demo(_args: argparse.Namespace) -> int:
    from iron_cage.demo import budget_demo

    budget_demo.run()
    return 0


def _prices(args: argparse.Namespace) -> int:
    table = ic.active_price_table()
    if args.model:
        print(json.dumps(table.price(args.model), indent=2))
    else:
        print(f"price table {table.version}")
        for name in table.models():
            std = table.price(name)["standard"]
            print(f"  {name:28s} input ${std['input']:>8.3f}  output ${std['output']:>8.3f}  per 1M tokens")
    return 0


def _version(_args: argparse.Namespace) -> int:
    print(f"iron-cage {ic.__version__} (prices {ic.PRICE_TABLE_VERSION})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="iron-cage", description="Governance runtime for AI agents.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("demo", help="run the governed demo agent").set_defaults(func=_demo)
    prices = sub.add_parser("prices", help="show the price table, or one model's prices")
    prices.add_argument("model", nargs="?", help="a model name, e.g. gpt-4o-2024-08-06")
    prices.set_defaults(func=_prices)
    sub.add_parser("version", help="print the version").set_defaults(func=_version)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except ic.IronCageError as exc:
        print(f"iron-cage: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    raise SystemExit(main())
