"""Commands that need no Control Panel: ``demo``, ``version``, ``secret`` (the local vault, or the
Control Panel's with ``--remote``), ``fake-provider`` and ``router``."""

from __future__ import annotations

import getpass
import os
import sys
import time
from pathlib import Path
from typing import Any

import click

import iron_cage as ic
from iron_cage.cli import _output as out
from iron_cage.cli._params import ENVIRONMENTS, PORT, USD, json_option

DEFAULT_VAULT = Path.home() / ".iron-cage" / "vault.db"


@click.command()
@click.option("--serve", is_flag=True, help="Keep the Control Panel and its dashboard running afterwards.")
@click.option(
    "--supervised",
    is_flag=True,
    help="Run examples/lead_gen/agent.py (a LangChain agent, unmodified) under `iron-cage start`.",
)
@click.option("--agent", metavar="PATH", default=None, help="With --supervised: the agent script.")
@click.option(
    "--triggers",
    metavar="SPEC",
    default=None,
    help="With --supervised: the leads where things happen, e.g. linkedin=34,pii=67,budget=85.",
)
@click.option(
    "--rate",
    type=click.FloatRange(min=0, min_open=True),
    default=5.0,
    show_default=True,
    help="With --supervised: leads per second.",
)
@click.option(
    "--budget",
    type=click.FloatRange(min=0, min_open=True),
    default=50.0,
    show_default=True,
    help="With --supervised: the agent's budget in USD.",
)
def demo(
    serve: bool, supervised: bool, agent: str | None, triggers: str | None, rate: float, budget: float
) -> int:
    """Run the governed demo agent under an embedded Control Panel.

    A breaker opens, PII is redacted from a reply and the budget stops the agent before
    the call that could overspend; the Control Panel saw every call.

    \b
    Examples:
      iron-cage demo
      iron-cage demo --supervised --budget 20
      iron-cage demo --supervised --serve       # then open the dashboard it prints
    """
    if supervised:
        from iron_cage.demo import supervised as sup

        return sup.run(agent=agent, triggers=triggers, rate=rate, budget=budget, serve=serve)
    from iron_cage.demo import budget_demo

    budget_demo.run(serve=serve)
    return 0


@click.command()
def version() -> int:
    """Print iron-cage's version and its price table's.

    \b
    Example:
      iron-cage version
    """
    print(f"iron-cage {ic.__version__} (prices {ic.PRICE_TABLE_VERSION})")
    return 0


# --- secret ---------------------------------------------------------------------------------


def _vault(ctx: click.Context) -> ic.SecretVault:
    return ic.SecretVault(ctx.obj["vault"], role="cli")


def _read_value(name: str) -> str:
    if sys.stdin.isatty():
        value = getpass.getpass(f"value for {name} (input hidden): ")
    else:
        value = sys.stdin.read().rstrip("\n")
    if not value:
        raise ic.ConfigError("empty value: pipe the secret on standard input or type it at the prompt")
    return value


def _remote(ctx: click.Context) -> Any:
    from iron_cage.cli import admin

    return admin.Remote(ctx.obj["server"])


env_option = click.option(
    "--env",
    type=click.Choice(ENVIRONMENTS),
    default="production",
    show_default=True,
    help="The environment the secret belongs to.",
)


@click.group()
@click.option(
    "--vault",
    metavar="FILE",
    default=lambda: os.environ.get("IRON_CAGE_VAULT") or str(DEFAULT_VAULT),
    help="Vault file (default: $IRON_CAGE_VAULT, else ~/.iron-cage/vault.db).",
)
@click.option("--remote", is_flag=True, help="The Control Panel's secrets instead (see `iron-cage login`).")
@click.option("--server", metavar="URL", default=None, help="With --remote: the Control Panel's URL.")
@click.option("--json", "as_json", is_flag=True, help="list and audit: print JSON.")
@click.pass_context
def secret(ctx: click.Context, vault: str, remote: bool, server: str | None, as_json: bool) -> None:
    """Encrypted secrets: the local vault, or the Control Panel's with --remote.

    The local vault is unlocked with $IRON_SECRETS_MASTER_KEY
    (`iron-cage secret generate-master-key` makes one).

    \b
    Examples:
      export IRON_SECRETS_MASTER_KEY=$(iron-cage secret generate-master-key)
      echo -n sk-... | iron-cage secret add OPENAI_API_KEY
      iron-cage secret list --env staging
      iron-cage secret --remote get DB_URL          # an admin's audited reveal
    """
    ctx.obj = {"vault": vault, "remote": remote, "server": server, "json": as_json}


@secret.command("generate-master-key")
def generate_master_key() -> int:
    """Print a new random master key.

    \b
    Example:
      export IRON_SECRETS_MASTER_KEY=$(iron-cage secret generate-master-key)
    """
    print(ic.generate_master_key())
    out.note(
        "store it in a password manager and export it as IRON_SECRETS_MASTER_KEY; "
        "without it the vault cannot be read"
    )
    return 0


@secret.command("add")
@click.argument("name")
@env_option
@click.pass_context
def secret_add(ctx: click.Context, name: str, env: str) -> int:
    """Store a new version of secret NAME (the value from stdin, or a hidden prompt).

    \b
    Examples:
      echo -n "$TOKEN" | iron-cage secret add SLACK_TOKEN
      iron-cage secret --remote add DB_URL --env staging < db-url.txt
    """
    value = _read_value(name)
    if ctx.obj["remote"]:
        made = _remote(ctx).run(lambda c: c.create_secret(name, value, environment=env))
        print(f"stored {made.name} ({made.environment}) version {made.version} as {made.masked}")
        return 0
    version_ = _vault(ctx).put(name, value, environment=env)
    print(f"stored {name} ({env}) version {version_}")
    return 0


SECRET_COLUMNS = (
    out.col("name"),
    out.col("environment"),
    out.col("version", "Version", "int"),
    out.col("masked", "Value (masked)"),
    out.col("updated_at", "Updated"),
)


@secret.command("list")
@click.option("--env", type=click.Choice(ENVIRONMENTS), default=None, help="Only this environment's.")
@json_option
@click.pass_context
def secret_list(ctx: click.Context, env: str | None, as_json: bool) -> int:
    """List secrets, values masked.

    \b
    Examples:
      iron-cage secret list
      iron-cage secret --remote list --json
    """
    as_json = as_json or ctx.obj["json"]
    if ctx.obj["remote"]:
        rows = _remote(ctx).run(lambda c: c.list_secrets(environment=env))
        out.show(rows, (out.col("id", "ID", "int"), *SECRET_COLUMNS), as_json, empty="no secrets")
        return 0
    out.show(_vault(ctx).list(environment=env), SECRET_COLUMNS, as_json, empty="no secrets")
    return 0


@secret.command("get")
@click.argument("name")
@env_option
@click.option("--version", "version_", type=click.IntRange(min=1), default=None, help="An older version.")
@click.pass_context
def secret_get(ctx: click.Context, name: str, env: str, version_: int | None) -> int:
    """Print the value of secret NAME (with --remote: an admin's reveal, audited).

    \b
    Examples:
      iron-cage secret get OPENAI_API_KEY
      iron-cage secret get OPENAI_API_KEY --version 1
    """
    if ctx.obj["remote"]:
        from iron_cage.cli import admin

        print(admin.reveal_remote(_remote(ctx), name, env))
        return 0
    print(_vault(ctx).get(name, environment=env, version=version_))
    return 0


@secret.command("delete")
@click.argument("name")
@env_option
@click.pass_context
def secret_delete(ctx: click.Context, name: str, env: str) -> int:
    """Soft-delete secret NAME (its versions stay in the audit trail).

    \b
    Example:
      iron-cage secret delete OLD_TOKEN --env staging
    """
    if ctx.obj["remote"]:
        from iron_cage.cli import admin

        admin.delete_remote(_remote(ctx), name, env)
    else:
        _vault(ctx).delete(name, environment=env)
    print(f"deleted {name} ({env})")
    return 0


AUDIT_COLUMNS = (
    out.col("timestamp", "When"),
    out.col("requester_role", "Role"),
    out.col("user_id", "User"),
    out.col("agent_id", "Agent"),
    out.col("operation"),
    out.col("success", "OK", "bool"),
    out.col("secret_name", "Secret"),
    out.col("environment"),
    out.col("error_message", "Error"),
)


@secret.command("audit")
@click.argument("name", required=False)
@json_option
@click.pass_context
def secret_audit(ctx: click.Context, name: str | None, as_json: bool) -> int:
    """Who did what to which secret (NAME: only that one's).

    \b
    Examples:
      iron-cage secret audit
      iron-cage secret --remote audit DB_URL --json
    """
    as_json = as_json or ctx.obj["json"]
    remote = ctx.obj["remote"]
    rows = _remote(ctx).run(lambda c: c.secret_audit(name)) if remote else _vault(ctx).audit(name)
    out.show(rows, AUDIT_COLUMNS, as_json, empty="no audit entries")
    return 0


@secret.command("rotate")
@click.pass_context
def secret_rotate(ctx: click.Context) -> int:
    """Re-encrypt every secret under $IRON_SECRETS_NEW_MASTER_KEY.

    \b
    Example:
      IRON_SECRETS_NEW_MASTER_KEY=$(iron-cage secret generate-master-key) iron-cage secret rotate
    """
    if ctx.obj["remote"]:
        raise ic.ConfigError("`secret rotate` works on the local vault only")
    new_key = os.environ.get("IRON_SECRETS_NEW_MASTER_KEY")
    if not new_key:
        raise ic.ConfigError(
            "set IRON_SECRETS_NEW_MASTER_KEY to the new key "
            "(generate one with `iron-cage secret generate-master-key`)"
        )
    n = _vault(ctx).rotate_master_key(new_key)
    print(f"re-encrypted {n} secret versions; from now on use the new key as IRON_SECRETS_MASTER_KEY")
    return 0


# --- fake-provider, router ------------------------------------------------------------------


def _wait_forever(what: str) -> None:
    print(f"{what}; Ctrl-C to stop", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass


@click.command("fake-provider")
@click.option("--port", type=PORT, default=0, show_default=True, help="Port to listen on (0: any free one).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--api-key", metavar="KEY", default=None, help="Require this key from clients.")
def fake_provider(port: int, host: str, api_key: str | None) -> int:
    """Serve a deterministic OpenAI/Anthropic-compatible API on loopback (for tests and demos).

    \b
    Examples:
      iron-cage fake-provider --port 9000
      OPENAI_BASE_URL=http://127.0.0.1:9000/v1 python my_agent.py
    """
    from iron_cage.testing import FakeProvider

    with FakeProvider(port=port, host=host, api_key=api_key) as fp:
        _wait_forever(f"FakeProvider serving OpenAI and Anthropic APIs at {fp.base_url}")
    return 0


@click.command()
@click.option("--budget", type=USD, default=None, help="USD limit (default: unlimited, tracked).")
@click.option(
    "--upstream",
    metavar="URL",
    default=None,
    help="Upstream base URL with /v1, e.g. http://127.0.0.1:9000/v1 (default: OpenAI's).",
)
@click.option(
    "--safety-mode",
    type=click.Choice(["redact", "block", "warn", "off"]),
    default="redact",
    show_default=True,
    help="What to do with PII in replies.",
)
@click.option(
    "--egress",
    type=click.Choice(["default", "pseudonymize", "redact", "warn", "allow", "block", "off"]),
    default="default",
    show_default=True,
    help="What requests may send (default: credentials refused, other PII as placeholders).",
)
@click.option("--port", type=PORT, default=0, show_default=True, help="Port to listen on (0: any free one).")
@click.option("--events", metavar="FILE", default=None, help="Append events as JSON lines to FILE.")
def router(
    budget: str | None, upstream: str | None, safety_mode: str, egress: str, port: int, events: str | None
) -> int:
    """Run a governed OpenAI/Anthropic-compatible proxy on loopback.

    Point any client at the printed base URL and key; the router holds the provider key
    ($OPENAI_API_KEY) and enforces the budget on every call.

    \b
    Examples:
      iron-cage router --budget 5
      iron-cage router --budget 1 --upstream http://127.0.0.1:9000/v1 --events calls.jsonl
    """
    if upstream is not None:
        from iron_cage.cli.admin import check_url

        upstream = check_url(upstream, "--upstream", "https://api.openai.com/v1")
    with ic.LlmRouter(
        budget=budget,
        upstream=upstream,
        safety_mode=safety_mode,
        egress=egress,
        port=port,
        events_path=events,
    ) as r:
        print(f"export OPENAI_BASE_URL={r.base_url}")
        print(f"export OPENAI_API_KEY={r.api_key}")
        _wait_forever(f"LlmRouter governing calls at {r.base_url} (budget {budget or 'unlimited'})")
        spent, limit = r.budget_status
        print(f"spent {out.money(spent)} of {'unlimited' if limit is None else out.money(limit)}")
    return 0
