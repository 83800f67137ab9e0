"""``python -m aiops_producers``: the load generator on the command line.

``app`` is a Typer app, so the ``aiops`` CLI can mount it (``add_typer``) or
call ``run_load`` itself.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from aiops_producers.loadgen import DEFAULT_URL, LoadError, run_load
from aiops_producers.scenarios import SCENARIOS
from aiops_producers.shapes import SHAPES

__all__ = ["app"]

app = typer.Typer(help="Traffic for the aiops demo service.", no_args_is_help=True)


@app.command("run")
def load(
    url: Annotated[
        str, typer.Option(help="base URL of the demo service; nothing else is called")
    ] = DEFAULT_URL,
    rate: Annotated[float, typer.Option(help="requests per second (the peak for diurnal)")] = 10.0,
    duration: Annotated[
        float | None, typer.Option(help="seconds to run [default: 60 unless --requests]")
    ] = None,
    requests: Annotated[int | None, typer.Option(help="requests to send")] = None,
    shape: Annotated[str, typer.Option(help=f"traffic shape: {', '.join(SHAPES)}")] = "steady",
    min_rate: Annotated[
        float | None, typer.Option(help="diurnal trough [default: rate / 10]")
    ] = None,
    period: Annotated[float, typer.Option(help="diurnal period in seconds")] = 300.0,
    scenario: Annotated[
        str | None, typer.Option(help=f"fault scenario: {', '.join(SCENARIOS)}")
    ] = None,
    fault_route: Annotated[
        str | None, typer.Option(help="move the scenario's faults to this route or '*'")
    ] = None,
    concurrency: Annotated[int, typer.Option(help="most requests in flight")] = 64,
    seed: Annotated[int | None, typer.Option(help="seed of the route and id draws")] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="also write the summary as JSON here")
    ] = None,
    fault_token: Annotated[
        str | None,
        typer.Option(
            envvar="AIOPS_DEMO_FAULT_TOKEN",
            help="the demo service's fault token, sent with a scenario's fault calls (needed when "
            "the service is not on loopback; prefer the variable: a flag shows in the process list)",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Send traffic to the demo service and print the counts per (route, status)."""
    console = Console(stderr=True)
    try:
        summary = run_load(
            url,
            rate,
            duration_s=duration if duration or requests else 60.0,
            requests=requests,
            shape=shape,
            scenario=scenario,
            fault_route=fault_route,
            min_rate=min_rate,
            period_s=period,
            concurrency=concurrency,
            seed=seed,
            fault_token=fault_token,
            console=console,
        )
    except (LoadError, ValueError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        console.print("[yellow]interrupted; faults cleared[/yellow]")
        raise typer.Exit(130) from None
    if json_out:
        json_out.write_text(json.dumps(summary.to_dict(), indent=2) + "\n")


@app.command()
def scenarios() -> None:
    """List the fault scenarios and traffic shapes."""
    table = Table("scenario", "what happens")
    for scenario in SCENARIOS.values():
        table.add_row(scenario.name, scenario.description)
    Console().print(table)
    Console().print(f"shapes: {', '.join(SHAPES)}")
