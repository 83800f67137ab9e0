"""``aiops slo``: validate an SLO file, and generate the Prometheus rules and JSON Schema from it.

The shell around ``spec``, ``objective``, ``rules`` and ``artifacts``: it
reads the settings, prints, and sets the exit code. Mount it with
``cli.add_typer(slo_cli, name="slo")``; ``generate_command`` is the same
generation as a plain command for a top-level ``aiops generate``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from aiops.core.budget import budget_consumed
from aiops.settings import Settings
from aiops.slo.artifacts import drift, write_artifacts
from aiops.slo.durations import format_duration
from aiops.slo.objective import LatencyIndicator, Objective, objectives_from
from aiops.slo.spec import SpecError, load_slos

__all__ = ["generate_command", "slo_cli", "validate_command"]

slo_cli = typer.Typer(
    no_args_is_help=True,
    help="SLOs: validate a spec; generate Prometheus rules and the JSON Schema.",
)

_out = Console()
_err = Console(stderr=True)


@slo_cli.command("validate")
def validate_command(
    file: Annotated[
        Path | None,
        typer.Argument(
            help="SLO spec (OpenSLO v1 subset); default: AIOPS_SLO_FILE", show_default=False
        ),
    ] = None,
) -> None:
    """Check an SLO file; print every problem (file:line: field: reason) and exit 1, or summarise it."""
    path = file or Settings().slo_file
    try:
        objectives = objectives_from(load_slos(path))
    except SpecError as error:
        for problem in error.problems:
            _err.print(str(problem), markup=False, highlight=False, soft_wrap=True)
        _err.print(
            f"[bold red]{len(error.problems)} problem(s)[/] in {path}; nothing was generated or started"
        )
        raise typer.Exit(code=1) from None
    _out.print(f"[bold green]{path}[/]: {len(objectives)} SLO(s) valid")
    _out.print(_summary(objectives))
    _out.print(_alerts(objectives))


@slo_cli.command("generate")
def generate_command(
    spec: Annotated[
        Path | None, typer.Option(help="SLO spec; default: AIOPS_SLO_FILE", show_default=False)
    ] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option(
            help="write under this folder instead of the repository root", show_default=False
        ),
    ] = None,
    check: Annotated[
        bool, typer.Option("--check", help="write nothing; exit 1 if the committed files are stale")
    ] = False,
) -> None:
    """Write storage/prometheus/rules/slos.yml and the spec's JSON Schema (validating the spec first)."""
    settings = Settings()
    path = spec or settings.slo_file
    try:
        if check:
            stale = drift(path, settings.repo_root)
            if stale:
                _err.print(
                    f"stale: {', '.join(map(str, stale))}; run `aiops slo generate` and commit the result"
                )
                raise typer.Exit(code=1)
            _out.print("SLO rules and schema are up to date")
            return
        written = write_artifacts(path, settings.repo_root, out_dir)
    except SpecError as error:
        for problem in error.problems:
            _err.print(str(problem), markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(code=1) from None
    for written_path in written:
        _out.print(f"wrote {written_path}")
    _out.print(
        f"reload Prometheus to apply: curl -X POST 127.0.0.1:{settings.prometheus_port}/-/reload"
    )


def _summary(objectives: list[Objective]) -> Table:
    table = Table("SLO", "SLI", "target", "window", "group by", "windows kept", title="SLOs")
    for o in objectives:
        if isinstance(o.indicator, LatencyIndicator):
            sli = f"latency <= {o.indicator.threshold:g}s ({o.indicator.source.metric})"
        else:
            side = "good" if o.indicator.good is not None else "bad"
            sli = f"ratio: {side} / total ({o.indicator.total.metric})"
        table.add_row(
            o.id,
            sli,
            f"{o.target * 100:g}%",
            format_duration(o.window_s),
            ", ".join(o.group_by) or "-",
            " ".join(format_duration(w) for w in o.windows_s),
        )
    return table


def _alerts(objectives: list[Objective]) -> Table:
    table = Table(
        "SLO",
        "alert",
        "pair",
        "long / short",
        "burn rate",
        "error ratio >",
        "budget spent",
        "min events",
        title="burn-rate alerts (AND within a pair, OR across pairs)",
    )
    for o in objectives:
        for pair in o.pairs:
            enabled = pair.severity not in o.disabled_severities
            table.add_row(
                o.id,
                o.alert_name if enabled else "(disabled)",
                pair.name,
                f"{format_duration(pair.long_s)} / {format_duration(pair.short_s)}",
                f"{pair.factor:.4g}x",
                f"{pair.threshold(o.target):.4g}",
                f"{budget_consumed(pair.factor, pair.long_s, o.window_s):.1%}",
                str(o.min_events),
            )
    return table
