"""The aiops command: the local stack, the worker, topics, SLOs, anomaly detection, and a look at what flows.

One module per command group: ``stack`` (stack, topics, worker), ``points``, ``scores``,
``alerts`` (alerts, forward), ``slo``, ``anomaly`` (score, replay, evaluate),
``bench`` (detect, decode, pipeline), ``doctor``; this one mounts them and holds ``settings`` and ``generate``.
"""

from __future__ import annotations

import os

import typer
from rich.table import Table

from aiops.cli.alerts import alerts_cli, forward_cli
from aiops.cli.anomaly import evaluate_command, replay_command, score_command
from aiops.cli.bench import bench_cli
from aiops.cli.doctor import doctor_command
from aiops.cli.output import console, errors, fail
from aiops.cli.points import points_cli
from aiops.cli.scores import scores_cli
from aiops.cli.slo import slo_cli
from aiops.cli.stack import stack_cli, topics_cli, worker_command
from aiops.settings import Settings
from aiops_producers.cli import app as producers_cli

__all__ = ["cli", "main"]

cli = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__.split("\n")[0])
cli.add_typer(stack_cli, name="stack")
cli.add_typer(topics_cli, name="topics")
cli.add_typer(points_cli, name="points")
cli.add_typer(scores_cli, name="scores")
cli.add_typer(alerts_cli, name="alerts")
cli.add_typer(forward_cli, name="forward")
cli.add_typer(slo_cli, name="slo")
cli.add_typer(bench_cli, name="bench")
cli.command("worker")(worker_command)
cli.command("doctor")(doctor_command)
cli.command("score")(score_command)
cli.command("replay")(replay_command)
cli.command("evaluate")(evaluate_command)
cli.add_typer(
    producers_cli,
    name="load",
    help="Drive the demo service: steady or diurnal traffic, fault scenarios.",
)


@cli.command("settings")
def show_settings() -> None:
    """Every setting with its environment variable and current value (secrets masked)."""
    from aiops.settings import env_var

    settings = Settings()
    table = Table()
    table.add_column("variable", no_wrap=True)
    table.add_column("value")
    table.add_column("meaning")
    for name, field in Settings.model_fields.items():
        meaning = (field.description or "").split(" [env:")[0]
        table.add_row(env_var(name), str(getattr(settings, name)), meaning)
    console.print(table)


@cli.command("generate")
def generate(
    check: bool = typer.Option(
        False, "--check", help="write nothing; exit 1 if a committed file is stale"
    ),
) -> None:
    """Write every generated file: SLO rules, JSON Schemas (SLO spec, topics), dashboards, the config copies in k8s/."""
    from aiops.dashboards import dashboards_drift, write_dashboards
    from aiops.deploy.k8s_config import k8s_config_drift, write_k8s_config
    from aiops.schemas import JSON_DIR, json_schemas, write_json_schemas
    from aiops.slo.artifacts import drift, write_artifacts
    from aiops.slo.spec import SpecError

    settings = Settings()
    dashboards_dir = settings.repo_root / "grafana" / "dashboards"
    try:
        if check:
            stale = [
                *drift(settings.slo_file, settings.repo_root),
                *(
                    name
                    for name, text in json_schemas().items()
                    if not (JSON_DIR / name).is_file() or (JSON_DIR / name).read_text() != text
                ),
                *dashboards_drift(dashboards_dir),
                *k8s_config_drift(settings),
            ]
            if stale:
                raise fail(
                    f"stale: {', '.join(map(str, stale))}; run `aiops generate` and commit the result"
                )
            console.print("every generated file is up to date")
            return
        written = [
            *write_artifacts(settings.slo_file, settings.repo_root),
            *write_json_schemas(),
            *write_dashboards(dashboards_dir),
        ]
        written += write_k8s_config(settings)
    except SpecError as error:
        for problem in error.problems:
            errors.print(str(problem), markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(code=1) from None
    for path in written:
        console.print(f"wrote {path}")


def main() -> None:
    """Entry point of the ``aiops`` script; Kafka refusing the login or TLS exits with ``EX_CONFIG`` (78).

    That status tells a restart loop (``aiops worker --restart``) that
    starting again will not help until the settings change.
    """
    from aiops.kafka_config import KafkaRefused

    try:
        cli()
    except KafkaRefused as error:
        errors.print(f"[bold red]error:[/] {error}", highlight=False, soft_wrap=True)
        raise SystemExit(os.EX_CONFIG) from None
