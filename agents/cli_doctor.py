"""``qwengraph doctor``: check this machine for the main job and say how to fix what is missing."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from agents.cli_common import clean_errors
from agents.doctor import Check, healthy, run_checks
from agents.settings import resolve_model

_MARK = {"ok": "[green]ok[/]", "warn": "[yellow]warn[/]", "fail": "[bold red]FAIL[/]", "skip": "[dim]skip[/]"}


def doctor_command(
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="The model the main job uses (default: as `run`).")
    ] = None,
    base_url: Annotated[str | None, typer.Option("--base-url", help="Server URL to check.")] = None,
    verify: Annotated[bool, typer.Option("--verify", help="Re-hash the model file (SHA-256).")] = False,
    reprobe: Annotated[
        bool, typer.Option("--reprobe", help="Forget cached engine verdicts and probe again.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Check Python, packages, the local engine (a crash-safe test decode), models, sandbox, memory
    and the configured server; exit 0 only when the main job can run."""
    with clean_errors():
        checks = run_checks(resolve_model(model), base_url=base_url, verify=verify, reprobe=reprobe)
    ok = healthy(checks)
    if as_json:
        sys.stdout.write(json.dumps({"ok": ok, "checks": [c.to_json() for c in checks]}) + "\n")
    else:
        _print(checks, ok)
    if not ok:
        raise typer.Exit(1)


def _print(checks: list[Check], ok: bool) -> None:
    console = Console(highlight=False)
    table = Table(show_header=True, header_style="bold", expand=False)
    for column in ("check", "", "detail", "fix"):
        table.add_column(column, overflow="fold")
    for check in checks:
        name = check.name + ("" if check.required else " [dim](optional)[/]")
        table.add_row(name, _MARK[check.status], _plain(check.detail), _plain(check.fix))
    console.print(table)
    if ok:
        console.print("[green]ready:[/] the main job can run here")
    else:
        failed = ", ".join(c.name for c in checks if c.required and c.status == "fail")
        console.print(f"[bold red]not ready:[/] {failed} (see the fix column)")


def _plain(text: str) -> str:
    return text.replace("[", r"\[")
