"""What every command prints through: standard output, standard error, and a failure that exits 1."""

from __future__ import annotations

import typer
from rich.console import Console

__all__ = ["console", "errors", "fail"]

console = Console()
errors = Console(stderr=True)


def fail(message: str) -> typer.Exit:
    """Print ``error: message`` on standard error; the caller raises the returned ``typer.Exit(1)``."""
    errors.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code=1)
