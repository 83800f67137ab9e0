"""The aiops command: the local stack, the worker, topics, and a look at what flows."""

from __future__ import annotations

import json
import sys

import typer
from rich.console import Console
from rich.table import Table

from aiops.anomaly_cli import evaluate_command, replay_command
from aiops.detect_cli import bench_cli, score_command
from aiops.settings import Settings
from aiops.slo.cli import slo_cli
from aiops_producers.cli import app as producers_cli

__all__ = ["cli", "main"]

cli = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
stack_cli = typer.Typer(
    no_args_is_help=True, help="Run the whole stack locally as plain processes, no Docker."
)
topics_cli = typer.Typer(no_args_is_help=True, help="The Kafka topics the project owns.")
points_cli = typer.Typer(no_args_is_help=True, help="Decoded data points on the points topic.")
alerts_cli = typer.Typer(no_args_is_help=True, help="Alert events on the alerts topic.")
forward_cli = typer.Typer(no_args_is_help=True, help="Deliver alert events to other systems.")
cli.add_typer(stack_cli, name="stack")
cli.add_typer(topics_cli, name="topics")
cli.add_typer(points_cli, name="points")
cli.add_typer(alerts_cli, name="alerts")
cli.add_typer(forward_cli, name="forward")
cli.add_typer(slo_cli, name="slo")
cli.add_typer(bench_cli, name="bench")
cli.command("score")(score_command)
cli.command("replay")(replay_command)
cli.command("evaluate")(evaluate_command)
cli.add_typer(
    producers_cli,
    name="load",
    help="Drive the demo service: steady or diurnal traffic, fault scenarios.",
)

console = Console()
errors = Console(stderr=True)


def _fail(message: str) -> typer.Exit:
    errors.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code=1)


@stack_cli.command("up")
def stack_up(
    load: bool = typer.Option(True, help="also run a steady load on the demo service"),
    rate: float = typer.Option(5.0, help="requests per second of that load"),
) -> None:
    """Prepare what is missing, start every component and wait until each is healthy."""
    from aiops.stack.local import up
    from aiops.stack.process import StartupError

    settings = Settings()
    try:
        up(settings, console.print, with_load=load, load_rate=rate)
    except StartupError as error:
        raise _fail(str(error)) from None
    console.print(
        f"\n[bold green]stack is up.[/] Watch points flow: [bold]aiops points tail[/]; "
        f"Prometheus: http://127.0.0.1:{settings.prometheus_port}; demo: {settings.demo_url}; "
        f"logs: [bold]aiops stack logs NAME[/]; stop: [bold]aiops stack down[/]"
    )


@stack_cli.command("down")
def stack_down() -> None:
    """Stop every component, last started first."""
    from aiops.stack.local import down

    down(Settings(), console.print)


@stack_cli.command("status")
def stack_status() -> None:
    """Which components run, with their pids and health."""
    from aiops.stack.local import status

    table = Table("component", "pid", "state")
    for row in status(Settings()):
        state = (
            "[green]healthy[/]"
            if row.healthy
            else ("[yellow]running[/]" if row.pid else "[red]stopped[/]")
        )
        table.add_row(row.name, str(row.pid or "-"), state)
    console.print(table)


@stack_cli.command("logs")
def stack_logs(
    name: str = typer.Argument(..., help="kafka, collector, prometheus, worker, demo or load"),
    lines: int = typer.Option(50, "--lines", "-n", help="how many lines from the end"),
) -> None:
    """The last lines of a component's log."""
    from aiops.stack.local import COMPONENTS

    if name not in COMPONENTS:
        raise _fail(f"unknown component {name!r}; one of {', '.join(COMPONENTS)}")
    path = Settings().stack_dir / "logs" / f"{name}.log"
    if not path.exists():
        raise _fail(f"no log at {path}: has the stack run here?")
    console.print(
        "\n".join(path.read_text(errors="replace").splitlines()[-lines:]),
        markup=False,
        highlight=False,
    )


@stack_cli.command("prepare")
def stack_prepare() -> None:
    """Resolve Kafka's jars, build the collector and the deploy checkers (kustomize, compose-go) now."""
    from aiops.deploy.tools import ensure_deploy_tools
    from aiops.stack.collector import ensure_collector
    from aiops.stack.kafka import ensure_kafka_jars

    settings = Settings()
    ensure_kafka_jars(settings, console.print)
    ensure_collector(settings, console.print)
    ensure_deploy_tools(settings, console.print)


@topics_cli.command("create")
def topics_create() -> None:
    """Create the project's topics (idempotent); an existing topic with other partitions is an error."""
    from aiops.stack.local import state_topics
    from aiops.topics import create_topics

    settings = Settings()
    try:
        created = create_topics(settings, extra=state_topics(settings))
    except RuntimeError as error:
        raise _fail(str(error)) from None
    console.print(f"created: {', '.join(created)}" if created else "all topics present")


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
                raise _fail(
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


@cli.command("doctor")
def doctor(
    window: float = typer.Option(10.0, help="seconds to watch the points topic for new points"),
) -> None:
    """Check a running stack end to end: each part reachable, topics present, points flowing, lag bounded."""
    from aiops.doctor import run_checks

    failed = 0
    for check in run_checks(Settings(), flow_window_s=window):
        mark = "[green]ok  [/]" if check.ok else "[bold red]FAIL[/]"
        console.print(f"{mark} {check.name:12} {check.detail}", highlight=False, soft_wrap=True)
        if not check.ok:
            failed += 1
            console.print(f"     {'':12} fix: {check.fix}", highlight=False, soft_wrap=True)
    if failed:
        raise _fail(f"{failed} check(s) failed")
    console.print("[bold green]all checks passed[/]")


@cli.command("worker")
def worker(loglevel: str = typer.Option("info", help="Faust log level")) -> None:
    """Run the stream processors (the Faust worker) in the foreground."""
    from aiops.stream.worker import run_worker

    run_worker(Settings(), loglevel=loglevel)


@points_cli.command("tail")
def points_tail(
    from_beginning: bool = typer.Option(
        False, "--from-beginning", help="start at the oldest retained point"
    ),
    limit: int = typer.Option(0, help="stop after this many points (0: follow until Ctrl-C)"),
    contains: str = typer.Option("", help="only series whose key contains this text"),
    as_json: bool = typer.Option(False, "--json", help="one JSON record per line, for piping"),
    idle_timeout: float = typer.Option(
        0, help="give up after this many seconds without a point (0: never)"
    ),
) -> None:
    """Print decoded points as they arrive on the points topic."""
    from confluent_kafka import KafkaException

    from aiops.tail import follow

    settings = Settings()
    shown = 0
    try:
        for record in follow(
            settings,
            settings.topic_points,
            from_beginning=from_beginning,
            idle_timeout_s=idle_timeout or None,
            keep=lambda r: contains in (r.key or ""),
        ):
            if as_json:
                sys.stdout.write(json.dumps(record.value) + "\n")
                sys.stdout.flush()
            else:
                console.print(_point_line(record.value or {}), highlight=False, soft_wrap=True)
            shown += 1
            if limit and shown >= limit:
                break
    except KafkaException as error:
        raise _fail(
            f"Kafka at {settings.kafka_bootstrap_servers}: {error}; is the stack up (aiops stack status)?"
        ) from None
    except KeyboardInterrupt:
        return
    if idle_timeout and (not limit or shown < limit):
        raise _fail(
            f"no point for {idle_timeout:.0f}s on {settings.topic_points}; "
            "check aiops stack status and aiops stack logs worker"
        )


def _point_line(point: dict) -> str:
    """One point in a line: kind, service, metric with its attributes, and the value or histogram delta.

    >>> _point_line({"kind": "sum", "metric": "orders", "attributes": {"shop": "eu"},
    ...              "resource": {"service.name": "demo"}, "value": 3.0})
    '[cyan]sum      [/] demo  orders{shop=eu}  [bold]3[/]'
    """
    if point.get("kind") == "histogram":
        value = f"count+{point['count']} sum+{point['sum']:.4g}"
    else:
        value = f"{point.get('value', 0):.6g}"
    attributes = ",".join(f"{k}={v}" for k, v in sorted(point.get("attributes", {}).items()))
    service = point.get("resource", {}).get("service.name", "?")
    return f"[cyan]{point.get('kind', '?'):9}[/] {service}  {point.get('metric', '?')}{{{attributes}}}  [bold]{value}[/]"


@alerts_cli.command("tail")
def alerts_tail(
    from_beginning: bool = typer.Option(
        False, "--from-beginning", help="start at the oldest retained alert"
    ),
    group: str = typer.Option(
        "", help="consumer group to join and commit in, so the next run resumes"
    ),
    severity: list[str] = typer.Option([], help="only these severities (repeatable), e.g. page"),
    service: list[str] = typer.Option([], help="only these services (repeatable)"),
    alertname: list[str] = typer.Option([], help="only these alert names (repeatable)"),
    limit: int = typer.Option(0, help="stop after this many alerts (0: follow until Ctrl-C)"),
    as_json: bool = typer.Option(False, "--json", help="one JSON event per line, for piping"),
    retry_s: float = typer.Option(5.0, help="seconds between attempts while Kafka does not answer"),
) -> None:
    """Follow firing and resolved alerts; Kafka being down is retried, not a traceback."""
    import time

    from confluent_kafka import KafkaException
    from pydantic import ValidationError

    from aiops.schemas import AlertV1
    from aiops.tail import follow

    settings = Settings()
    wanted = {"severity": set(severity), "service": set(service), "alertname": set(alertname)}

    def wanted_alert(alert: AlertV1) -> bool:
        return all(
            not values or alert.labels.get(name) in values for name, values in wanted.items()
        )

    shown = 0
    while True:
        try:
            for record in follow(
                settings, settings.topic_alerts, from_beginning=from_beginning, group=group or None
            ):
                try:
                    alert = AlertV1.model_validate(record.value)
                except ValidationError as error:
                    errors.print(
                        f"[yellow]skipped a record at offset {record.offset} that is not an "
                        f"aiops.alerts/v1 event:[/] {error.errors()[0]['msg']}"
                    )
                    continue
                if not wanted_alert(alert):
                    continue
                if as_json:
                    sys.stdout.write(alert.model_dump_json(by_alias=True) + "\n")
                    sys.stdout.flush()
                else:
                    console.print(_alert_line(alert), highlight=False, soft_wrap=True)
                shown += 1
                if limit and shown >= limit:
                    return
        except KafkaException as error:
            errors.print(
                f"[yellow]Kafka at {settings.kafka_bootstrap_servers} does not answer[/] ({error}); "
                f"retrying in {retry_s:.0f}s, Ctrl-C to stop"
            )
            try:
                time.sleep(retry_s)
            except KeyboardInterrupt:
                return
        except KeyboardInterrupt:
            return


@forward_cli.command("alertmanager")
def forward_alertmanager() -> None:
    """Post alert events to Alertmanager's API v2 (AIOPS_ALERTMANAGER_URL); runs until SIGTERM or Ctrl-C."""
    import logging
    import signal
    import threading

    from aiops.forwarder import Forwarder

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        Forwarder(Settings(), stop).run()
    except KeyboardInterrupt:
        stop.set()


def _alert_line(alert) -> str:
    """One alert event in a line: status, severity, name, its identifying labels, and the summary.

    >>> from datetime import datetime, timezone
    >>> from aiops.schemas import AlertV1
    >>> alert = AlertV1.firing({"alertname": "SLOBurnRate", "severity": "page", "service": "demo"},
    ...                        {"summary": "checkout burns its budget 14x"},
    ...                        datetime(2026, 11, 27, 21, 0, tzinfo=timezone.utc), "http://x")
    >>> _alert_line(alert)
    '[bold red]FIRING  [/] 2026-11-27 21:00:00Z page    SLOBurnRate service=demo  checkout burns its budget 14x'
    """
    colour = "bold red" if alert.status == "firing" else "green"
    at = (alert.endsAt or alert.startsAt).strftime("%Y-%m-%d %H:%M:%SZ")
    labels = " ".join(
        f"{k}={v}" for k, v in sorted(alert.labels.items()) if k not in ("alertname", "severity")
    )
    return (
        f"[{colour}]{alert.status.upper():8}[/] {at} {alert.labels['severity']:7} {alert.labels['alertname']} "
        f"{labels}  {alert.annotations.get('summary', '')}"
    )


def main() -> None:
    """Entry point of the ``aiops`` script."""
    cli()
