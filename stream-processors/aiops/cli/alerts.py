"""``aiops alerts`` (follow alert events) and ``aiops forward`` (deliver them to Alertmanager)."""

from __future__ import annotations

import sys

import typer

from aiops.cli.output import console, errors
from aiops.settings import Settings

__all__ = ["alerts_cli", "forward_cli"]

alerts_cli = typer.Typer(no_args_is_help=True, help="Alert events on the alerts topic.")
forward_cli = typer.Typer(no_args_is_help=True, help="Deliver alert events to other systems.")


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

    from aiops.cli.tail import follow
    from aiops.schemas import AlertV1

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
