"""``aiops points``: the decoded data points on the points topic."""

from __future__ import annotations

import json
import sys

import typer

from aiops.cli.output import console, fail
from aiops.settings import Settings

__all__ = ["points_cli"]

points_cli = typer.Typer(no_args_is_help=True, help="Decoded data points on the points topic.")


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

    from aiops.cli.tail import follow

    settings = Settings()
    shown = 0
    try:
        for record in follow(
            settings,
            settings.topic_points,
            from_beginning=from_beginning,
            idle_timeout_s=idle_timeout or None,
        ):
            for point in _points_of(record.value or {}):
                if contains not in point.get("series", ""):
                    continue
                if as_json:
                    sys.stdout.write(json.dumps(point) + "\n")
                    sys.stdout.flush()
                else:
                    console.print(_point_line(point), highlight=False, soft_wrap=True)
                shown += 1
                if limit and shown >= limit:
                    break
            if limit and shown >= limit:
                break
    except KafkaException as error:
        raise fail(
            f"Kafka at {settings.kafka_bootstrap_servers}: {error}; is the stack up (aiops stack status)?"
        ) from None
    except KeyboardInterrupt:
        return
    if idle_timeout and (not limit or shown < limit):
        raise fail(
            f"no point for {idle_timeout:.0f}s on {settings.topic_points}; "
            "check aiops stack status and aiops stack logs worker"
        )


def _points_of(value: dict) -> list[dict]:
    """The v1 point dicts of a record on the points topic: itself (v1), or every point of a v2 record.

    >>> _points_of({"schema": "aiops.points/v1", "series": "x{}@{}"})
    [{'schema': 'aiops.points/v1', 'series': 'x{}@{}'}]
    """
    if value.get("schema") == "aiops.points/v2":
        from aiops.decode.points_v2 import expand_v1

        return expand_v1(value)
    return [value]


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
