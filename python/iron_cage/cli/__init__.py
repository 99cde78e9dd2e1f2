"""The ``iron-cage`` command line."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import iron_cage as ic
from iron_cage import SecretVault
from iron_cage.cli import admin, agents, control_panel
from iron_cage.cli import prices as prices_cli


def _demo(args: argparse.Namespace) -> int:
    if args.supervised:
        from iron_cage.demo import supervised

        return supervised.run(
            agent=args.agent, triggers=args.triggers, rate=args.rate, budget=args.budget, serve=args.serve
        )
    from iron_cage.demo import budget_demo

    budget_demo.run(serve=args.serve)
    return 0


def _vault(args: argparse.Namespace) -> SecretVault:
    return SecretVault(args.vault, role="cli")


def _secret_generate(_args: argparse.Namespace) -> int:
    print(ic.generate_master_key())
    print(
        "store it in a password manager and export it as IRON_SECRETS_MASTER_KEY; "
        "without it the vault cannot be read",
        file=sys.stderr,
    )
    return 0


def _secret_add(args: argparse.Namespace) -> int:
    if sys.stdin.isatty():
        value = getpass.getpass(f"value for {args.name} (input hidden): ")
    else:
        value = sys.stdin.read().rstrip("\n")
    if not value:
        raise ic.ConfigError("empty value: pipe the secret on standard input or type it at the prompt")
    version = _vault(args).put(args.name, value, environment=args.env)
    print(f"stored {args.name} ({args.env}) version {version}")
    return 0


def _secret_list(args: argparse.Namespace) -> int:
    for s in _vault(args).list(environment=args.env):
        print(
            f"{s['name']:32s} {s['environment']:12s} v{s['version']:<4d} {s['masked']:24s} {s['updated_at']}"
        )
    return 0


def _secret_get(args: argparse.Namespace) -> int:
    print(_vault(args).get(args.name, environment=args.env, version=args.version))
    return 0


def _secret_rotate(args: argparse.Namespace) -> int:
    new_key = os.environ.get("IRON_SECRETS_NEW_MASTER_KEY")
    if not new_key:
        raise ic.ConfigError(
            "set IRON_SECRETS_NEW_MASTER_KEY to the new key "
            "(generate one with `iron-cage secret generate-master-key`)"
        )
    n = _vault(args).rotate_master_key(new_key)
    print(f"re-encrypted {n} secret versions; from now on use the new key as IRON_SECRETS_MASTER_KEY")
    return 0


def _add_secret_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    secret = sub.add_parser("secret", help="the local encrypted vault")
    secret.add_argument(
        "--vault",
        default=os.environ.get("IRON_CAGE_VAULT", str(Path.home() / ".iron-cage" / "vault.db")),
        help="vault file (default $IRON_CAGE_VAULT or ~/.iron-cage/vault.db)",
    )
    secret.add_argument(
        "--remote", action="store_true", help="the Control Panel's secrets (see `iron-cage login`)"
    )
    secret.add_argument("--server", default=None, help="Control Panel URL, with --remote")
    secret.add_argument("--json", action="store_true", help="print JSON, with --remote")
    ssub = secret.add_subparsers(dest="secret_command", required=True)
    ssub.add_parser("generate-master-key", help="print a new random master key").set_defaults(
        func=_secret_generate
    )
    env = {"default": "production", "choices": ["development", "staging", "production"]}
    add = ssub.add_parser("add", help="store a new version of a secret (value from stdin or a hidden prompt)")
    add.add_argument("name")
    add.add_argument("--env", **env)  # type: ignore[arg-type]
    add.set_defaults(func=_local_or_remote(_secret_add))
    lst = ssub.add_parser("list", help="list secrets, values masked")
    lst.add_argument("--env", choices=env["choices"])
    lst.set_defaults(func=_local_or_remote(_secret_list))
    get = ssub.add_parser("get", help="print a secret's value")
    get.add_argument("name")
    get.add_argument("--env", **env)  # type: ignore[arg-type]
    get.add_argument("--version", type=int)
    get.set_defaults(func=_local_or_remote(_secret_get))
    ssub.add_parser("rotate", help="re-encrypt everything under IRON_SECRETS_NEW_MASTER_KEY").set_defaults(
        func=_secret_rotate
    )
    delete = ssub.add_parser("delete", help="soft-delete a secret")
    delete.add_argument("name")
    delete.add_argument("--env", **env)  # type: ignore[arg-type]
    delete.set_defaults(func=_local_or_remote(_secret_delete))
    audit = ssub.add_parser("audit", help="who did what to which secret")
    audit.add_argument("name", nargs="?")
    audit.set_defaults(func=_local_or_remote(_secret_audit))


def _local_or_remote(local: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        return admin.remote_secret(args) if args.remote else local(args)

    return run


def _secret_delete(args: argparse.Namespace) -> int:
    _vault(args).delete(args.name, environment=args.env)
    print(f"deleted {args.name} ({args.env})")
    return 0


def _secret_audit(args: argparse.Namespace) -> int:
    for row in _vault(args).audit(args.name):
        print(json.dumps(row, default=str))
    return 0


def _wait_forever(what: str) -> None:
    import time

    print(f"{what}; Ctrl-C to stop", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass


def _fake_provider(args: argparse.Namespace) -> int:
    from iron_cage.testing import FakeProvider

    with FakeProvider(port=args.port, host=args.host, api_key=args.api_key) as fp:
        _wait_forever(f"FakeProvider serving OpenAI and Anthropic APIs at {fp.base_url}")
    return 0


def _router(args: argparse.Namespace) -> int:
    with ic.LlmRouter(
        budget=args.budget,
        upstream=args.upstream,
        safety_mode=args.safety_mode,
        egress=args.egress,
        port=args.port,
        events_path=args.events,
    ) as router:
        print(f"export OPENAI_BASE_URL={router.base_url}")
        print(f"export OPENAI_API_KEY={router.api_key}")
        _wait_forever(f"LlmRouter governing calls at {router.base_url} (budget {args.budget})")
        spent, limit = router.budget_status
        print(f"spent ${spent:.6f} of {'unlimited' if limit is None else f'${limit:.2f}'}")
    return 0


def _add_server_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    fake = sub.add_parser(
        "fake-provider", help="serve a deterministic OpenAI/Anthropic-compatible API on loopback"
    )
    fake.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    fake.add_argument("--host", default="127.0.0.1")
    fake.add_argument("--api-key", default=None, help="require this key from clients")
    fake.set_defaults(func=_fake_provider)
    router = sub.add_parser("router", help="run a governed OpenAI/Anthropic-compatible proxy on loopback")
    router.add_argument("--budget", default=None, help="USD limit (default: unlimited, tracked)")
    router.add_argument("--upstream", default=None, help="upstream base URL with /v1 (default: OpenAI's)")
    router.add_argument("--safety-mode", default="redact", choices=["redact", "block", "warn", "off"])
    router.add_argument(
        "--egress",
        default="default",
        choices=["default", "pseudonymize", "redact", "warn", "allow", "block", "off"],
        help="what requests may send (default: credentials refused, other PII as placeholders)",
    )
    router.add_argument("--port", type=int, default=0)
    router.add_argument("--events", default=None, help="append events as JSON lines to this file")
    router.set_defaults(func=_router)


def _version(_args: argparse.Namespace) -> int:
    print(f"iron-cage {ic.__version__} (prices {ic.PRICE_TABLE_VERSION})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="iron-cage", description="Governance runtime for AI agents.")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run the governed demo agent (under an embedded Control Panel)")
    demo.add_argument("--serve", action="store_true", help="keep the Control Panel running afterwards")
    demo.add_argument(
        "--supervised",
        action="store_true",
        help="run examples/lead_gen/agent.py under `iron-cage start` (a LangChain agent, unmodified)",
    )
    demo.add_argument("--agent", default=None, help="with --supervised: the agent script")
    demo.add_argument("--triggers", default=None, help="with --supervised: linkedin=34,pii=67,budget=85")
    demo.add_argument("--rate", type=float, default=5.0, help="with --supervised: leads per second (5)")
    demo.add_argument("--budget", type=float, default=50.0, help="with --supervised: USD (50)")
    demo.set_defaults(func=_demo)
    prices_cli.register(sub)
    sub.add_parser("version", help="print the version").set_defaults(func=_version)
    _add_secret_commands(sub)
    _add_server_commands(sub)
    control_panel.add_commands(sub)
    admin.add_commands(sub)
    agents.add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if args.command == "start":
        agents.split_start_args(args, extra)
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        code: int = args.func(args)
    except ic.IronCageError as exc:
        print(f"iron-cage: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    raise SystemExit(main())
