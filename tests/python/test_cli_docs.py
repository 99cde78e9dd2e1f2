"""docs/cli.md is generated from the CLI's own help; this keeps it current."""

from __future__ import annotations

from pathlib import Path

from iron_cage.cli import _docs, cli

DOC = Path(__file__).parents[2] / "docs" / "cli.md"


def test_the_cli_page_is_what_the_help_makes() -> None:
    assert DOC.read_text(encoding="utf-8") == _docs.generate(), (
        "docs/cli.md is out of date: run `python -m iron_cage.cli._docs`"
    )


def test_the_page_shows_every_command_with_an_example() -> None:
    text = DOC.read_text(encoding="utf-8")
    for path, ctx in _docs._walk(cli, None, "iron-cage"):
        if ctx.parent is not None:
            assert f"`{path}`" in text, path
    assert text.count("Example") >= 50
